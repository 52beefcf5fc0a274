"""Every topic page's downloads, written next to the page once its snippets have run.

A topic page links ``<topic>.ipynb`` and ``<topic>.py`` beside it (relative links, so they work
wherever the site is served), and, when the site's ``repo_url`` is on GitHub, "Open in Colab"
at the copy that ``mkdocs gh-deploy`` publishes on the ``gh-pages`` branch. The files are made
by :mod:`refkit.engine.notebook` from the page and this build's results; nothing is committed.
What was made is kept in the cache folder (``downloads/``), one file per page, by what it was
made from, so a build whose pages and results did not change only writes the files out.

The hosts only say where a page's HTML goes (:func:`write_downloads` takes a function of the
page's path); the rest is here, without a host.
"""

from __future__ import annotations

import functools
import hashlib
import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from refkit.engine import notebook as notebook_module
from refkit.engine import standalone as standalone_module
from refkit.engine.atomic import write_atomic
from refkit.engine.notebook import colab_url, page_downloads
from refkit.engine.session import BuildSession, PagePlan, Problem
from refkit.engine.standalone import StandaloneError

__all__ = ["DownloadLinks", "download_links", "write_downloads", "write_page_downloads"]

# Where `mkdocs gh-deploy` (and `zensical`'s equivalent) publishes the built site.
PUBLISHED_BRANCH = "gh-pages"


@dataclass(frozen=True)
class DownloadLinks:
    """What a topic page links: its two files, by name beside the page, and Colab's address."""

    notebook: str
    script: str
    colab: str | None = None


def download_links(topic: str, page_url: str, repo_url: str) -> DownloadLinks:
    """The links of the topic page at ``page_url`` (its folder in the site, ``topics/x/``).

    Examples:
        >>> download_links("conv1d_head", "topics/conv1d_head/", "https://github.com/acme/notes").colab
        'https://colab.research.google.com/github/acme/notes/blob/gh-pages/topics/conv1d_head/conv1d_head.ipynb'
        >>> download_links("conv1d_head", "topics/conv1d_head/", "").script
        'conv1d_head.py'
    """
    notebook = f"{topic}.ipynb"
    folder = page_url if page_url.endswith("/") else posixpath.dirname(page_url)
    site_path = posixpath.join(folder, notebook)
    return DownloadLinks(notebook, f"{topic}.py", colab_url(repo_url, PUBLISHED_BRANCH, site_path))


def write_downloads(
    session: BuildSession, folder_of: Callable[[str], Path | None]
) -> tuple[list[Path], list[Problem]]:
    """Write the notebook and script of every planned topic page into the page's folder.

    Args:
        session: A build whose snippets have run (their results are what the files carry).
        folder_of: The folder of the site a page's HTML goes to, from the page's path in the
            docs folder; ``None`` for a page the host does not build.

    Returns:
        The files written, and a problem (page, what went wrong) for each page whose files
        could not be made or written; the page itself is unharmed.
    """
    written: list[Path] = []
    problems: list[Problem] = []
    for plan in session.pages.values():
        folder = folder_of(plan.path) if plan.topic else None
        if folder is not None:
            files, found = write_page_downloads(session, plan, folder)
            written += files
            problems += found
    return written, problems


def write_page_downloads(
    session: BuildSession, plan: PagePlan, folder: Path
) -> tuple[list[Path], list[Problem]]:
    """Write one topic page's notebook and script into ``folder``; see :func:`write_downloads`.

    Making them copies every demonstration with its helpers; a warm build would pay that for
    nothing, so what was made is kept in the cache folder by what it was made from (the page,
    its snippets' fingerprints, their results, this code), and only written out again.
    """
    topic = session.catalog.topics.get(plan.topic)
    if topic is None:
        return [], []  # no topic page: assembling it already said so
    ids = [d.snippet_id for d in plan.directives if d.kind == "snippet"]
    results = {i: r for i in ids if (r := session.result(i)) is not None}
    snippets = session.catalog.snippets
    key = _digest(
        plan.path,
        plan.body,
        topic.title,
        *(f"{i}:{snippets[i].fingerprint if i in snippets else ''}" for i in ids),
        *(json.dumps(r.to_json(), sort_keys=True) for r in results.values()),
        *_makers(),
    )
    kept = session.settings.cache_path / "downloads" / f"{_slug(plan.path)}-{key[:24]}.json"
    written: list[Path] = []
    try:
        files = _read_kept(kept)
        if files is None:
            made = page_downloads(
                plan.body,
                title=topic.title,
                page=plan.path,
                package_dir=session.catalog.package_dir,
                results=results,
            )
            files = (made.notebook.encode("utf-8"), made.script.encode("utf-8"))
            _keep(kept, files)
        for suffix, data in zip((".ipynb", ".py"), files, strict=True):
            written.append(write_atomic(folder / f"{topic.module}{suffix}", data))
    except (OSError, StandaloneError, SyntaxError, ValueError) as exc:
        return written, [Problem(plan.path, f"its downloads could not be made: {exc}")]
    return written, []


@functools.cache
def _makers() -> tuple[str, ...]:
    """Digests of the code that makes the downloads: a change to it makes them anew.

    Read on first use, not on import: a site without topic pages never needs them.
    """
    return tuple(
        hashlib.sha256(Path(str(module.__file__)).read_bytes()).hexdigest()
        for module in (notebook_module, standalone_module)
    )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()


def _slug(page: str) -> str:
    """A file-name-safe form of a page's path.

    Examples:
        >>> _slug("topics/conv1d_head.md")
        'topics-conv1d_head-md'
    """
    return re.sub(r"[^A-Za-z0-9_]+", "-", page).strip("-")[:80] or "page"


def _read_kept(path: Path) -> tuple[bytes, bytes] | None:
    """The notebook and script kept at ``path``, or None when missing or not what was written.

    A kept copy is a header line, then the notebook's and the script's bytes as they are: the
    header names their lengths and the digest of both. Nothing is decoded (a page's notebook
    holds its figures: reading this site's seven as JSON inside JSON cost a warm build 7 ms).
    """
    try:
        header, _, body = path.read_bytes().partition(b"\n")
        info = json.loads(header)
    except (OSError, ValueError):
        return None
    if not (isinstance(info, dict) and set(info) == {"notebook", "script", "sha256"}):
        return None
    size = info["notebook"]
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= len(body):
        return None
    if info["script"] != len(body) - size or hashlib.sha256(body).hexdigest() != info["sha256"]:
        return None
    return body[:size], body[size:]


def _keep(path: Path, files: tuple[bytes, bytes]) -> None:
    """Keep the notebook and script at ``path``; drop what was kept for earlier states of the page."""
    notebook, script = files
    digest = hashlib.sha256(notebook + script).hexdigest()
    header = {"notebook": len(notebook), "script": len(script), "sha256": digest}
    write_atomic(path, json.dumps(header).encode() + b"\n" + notebook + script)
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for older in path.parent.glob(f"{prefix}*.json"):
        if older != path and older.name.rsplit("-", 1)[0] + "-" == prefix:
            older.unlink(missing_ok=True)
