"""Source listings: a snippet's code as highlighted HTML, the same under every host.

Refkit highlights a listing itself, with Pygments: :class:`~pygments.formatters.HtmlFormatter`'s
token spans in the wrapper that ``pymdownx.highlight`` gives fenced code (``<div
class="language-python highlight"><pre><span></span><code>``), so Material's colours, dark mode
and copy button apply as they do to the author's own code blocks. A collapsed listing is a
``<details class="quote">`` under the snippet's name. The listing goes into the page as a finished
block, as outputs do, so no host converts it:

- its markup does not depend on a host's Markdown options (MkDocs and Zensical give the same
  listing, and a site without ``pymdownx.details`` still gets a collapsed one);
- a warm build does not pay for it. As fenced code, this site's 58 listings cost the host about
  35 ms of Markdown a build even with their lexing kept (``pymdownx.superfences`` and the
  formatter); kept here (below), they cost a check of their markup.

Highlighting costs a build 0.12 CPU-s on this site, lexing and formatting, though a listing's
code changes only when its snippet does. :class:`KeptListings` keeps each listing's markup
between builds, in ``<cache_dir>/listings.json``, keyed by the code, the Pygments version and
the Python version (what ``re`` matches), and the wrapper's own version.

The store is input like any other: anything that is not exactly a store of this format and this
Pygments is read as empty, and so is anything but a regular file of at most a few megabytes. A
stored listing is used only if it is nothing but Pygments' token spans (``<span class="k">``,
a class of at most a few letters and digits) around text that is, character for character, the
code Pygments would have lexed, escaped as it escapes it: a damaged store can change neither
the code a page shows, nor its lines, nor put any other markup in the page (it can mislabel a
token among those classes, which no check can tell). A store that cannot be read or written only
costs speed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import json
import os
import re
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from refkit.engine import render
from refkit.engine.atomic import write_atomic
from refkit.engine.discovery import Snippet

__all__ = [
    "STORE_NAME",
    "KeptListings",
    "lexed_text",
    "listing_html",
    "read_listings",
    "source_html",
    "write_listings",
]

STORE_NAME = "listings.json"
_FORMAT = 5
# Bytes: this site's store is 0.5 MB. A larger file is no store of ours, and reading it would
# cost every build seconds.
_LARGEST_STORE = 8 * 1024 * 1024


def source_html(snippet: Snippet, mode: str, kept: KeptListings) -> str:
    """A snippet's source listing as a block of the page: shown, collapsed, or ``""`` (hidden).

    Examples:
        >>> from pathlib import Path
        >>> s = Snippet("m.demo_f", "m", "demo_f", Path("m.py"), 1, "def demo_f():\\n    pass\\n", "", "")
        >>> shown = source_html(s, "show", KeptListings())
        >>> shown.startswith(render.SOURCE_OPEN_HTML + '<div class="language-python highlight">')
        True
        >>> '<span class="nf">demo_f</span>' in shown, shown.endswith(render.SOURCE_CLOSE_HTML)
        (True, True)
        >>> "<summary>Source of demo_f</summary>" in source_html(s, "collapsed", KeptListings())
        True
        >>> source_html(s, "hide", KeptListings())
        ''
    """
    if mode == "hide":
        return ""
    listing = listing_html(render.listing_code(snippet), kept)
    if mode == "collapsed":
        summary = html.escape(f"Source of {snippet.function}")
        listing = f'<details class="quote"><summary>{summary}</summary>{listing}</details>'
    return f"{render.SOURCE_OPEN_HTML}{listing}{render.SOURCE_CLOSE_HTML}"


def listing_html(code: str, kept: KeptListings) -> str:
    """``code`` highlighted as Python, from ``kept`` (which keeps what it made).

    Examples:
        >>> print(listing_html('x = "<b>"', KeptListings()))
        <div class="language-python highlight"><pre><span></span><code><span class="n">x</span> <span class="o">=</span> <span class="s2">"&lt;b&gt;"</span>
        </code></pre></div>
    """
    return kept.listing(code)


# Pygments' HtmlFormatter wraps the token spans so (``wrapcode``; the empty span is its own);
# the wrapper is refkit's choice, so it is not stored, and a change to it is a new format.
_LISTING_OPEN = '<div class="language-python highlight"><pre><span></span><code>'
_LISTING_CLOSE = "</code></pre></div>"
# What the formatter puts between them: text without markup, and its token spans.
_TOKEN_SPANS = re.compile(r'(?:[^<]+|<span class="[a-z0-9]{1,4}">|</span>)*')
_TAG = re.compile(r"<[^>]*>")


def lexed_text(code: str) -> str:
    r"""What Pygments' Python lexer, with its default options, lexes of ``code``.

    A byte order mark goes, line ends become ``\n``, leading and trailing newlines go
    (``stripnl``), and one newline ends the text (``ensurenl``). The tokens of a lexer built
    on regular expressions spell exactly this.

    Examples:
        >>> lexed_text("\ufeff\n\nx = 1\r\ny = 2\n\n")
        'x = 1\ny = 2\n'
    """
    text = code.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    return text + "\n"


def _faithful(inner: str, lexed: str) -> bool:
    """Whether ``inner`` is token spans around exactly ``lexed``, escaped as Pygments escapes it."""
    return _TOKEN_SPANS.fullmatch(inner) is not None and _TAG.sub("", inner) == html.escape(
        lexed, quote=False
    )


class KeptListings:
    """Listings' markup, kept by what it depends on (see the module).

    Examples:
        >>> kept = KeptListings()
        >>> first = kept.listing("x = 1")
        >>> kept.listing("x = 1") == first, kept.hits, kept.changed, len(kept.entries)
        (True, 1, True, 1)
    """

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}
        """Key (:func:`_key`) -> what the formatter put inside the wrapper."""
        self.hits = 0
        self.changed = False
        """Whether :attr:`entries` differ from what was read: listings made or dropped."""

    def listing(self, code: str) -> str:
        """``code`` highlighted: from the kept token spans if they show exactly that code."""
        key, lexed = _key(code), lexed_text(code)
        inner = self.entries.get(key)
        if inner is not None and _faithful(inner, lexed):
            self.hits += 1
            return f"{_LISTING_OPEN}{inner}{_LISTING_CLOSE}"
        from pygments import highlight
        from pygments.lexers import PythonLexer

        made = highlight(code, PythonLexer(), _formatter()).rstrip("\n")
        inner = made.removeprefix(_LISTING_OPEN).removesuffix(_LISTING_CLOSE)
        if made == f"{_LISTING_OPEN}{inner}{_LISTING_CLOSE}" and _faithful(inner, lexed):
            self.entries[key] = inner  # else another Pygments formats otherwise: shown, not kept
            self.changed = True
        return made

    def keep_only(self, codes: Iterable[str]) -> None:
        """Drop the entries of code that is no longer a listing."""
        wanted = {_key(code) for code in codes}
        kept = {key: inner for key, inner in self.entries.items() if key in wanted}
        if len(kept) < len(self.entries):
            self.entries, self.changed = kept, True


@functools.cache  # a formatter keeps no state between listings; making one reads its style
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(cssclass="language-python highlight", wrapcode=True)


@functools.lru_cache(maxsize=1024)  # asked twice a build for every listing (made, then pruned)
def _key(code: str) -> str:
    """What the markup of ``code`` depends on, as one digest: Pygments' rules and ``re``."""
    import pygments

    identity = [_FORMAT, pygments.__version__, sys.version, "PythonLexer", code]
    return hashlib.sha256(json.dumps(identity).encode("utf-8", "surrogatepass")).hexdigest()


def read_listings(path: Path) -> KeptListings:
    """Kept listings holding what ``path`` stores, or none if it stores nothing usable.

    Examples:
        >>> import tempfile
        >>> read_listings(Path(tempfile.mkdtemp()) / STORE_NAME).entries  # no file: nothing
        {}
    """
    import pygments

    kept = KeptListings()
    try:
        data = json.loads(_small_file(path))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return kept
    if (
        not isinstance(data, dict)
        or data.get("format") != _FORMAT
        or data.get("pygments") != pygments.__version__
        or not isinstance(entries := data.get("entries"), dict)
    ):
        return kept
    kept.entries = {
        key: inner
        for key, inner in entries.items()
        if isinstance(key, str) and isinstance(inner, str)
    }
    return kept


def _small_file(path: Path) -> str:
    """The text of ``path`` if it is a regular file of at most ``_LARGEST_STORE`` bytes.

    Raises:
        OSError: It is missing, unreadable, not a regular file (a FIFO would block the build,
            ``/dev/zero`` never end) or larger.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        data = handle.read(_LARGEST_STORE + 1)
    if len(data) > _LARGEST_STORE:
        raise OSError(f"{path} is larger than {_LARGEST_STORE} bytes")
    return data.decode("utf-8")


def write_listings(kept: KeptListings, path: Path) -> None:
    """Store the kept entries in ``path`` if they changed, and only into an existing folder.

    A folder that cannot be written leaves the old store (or none): the next build highlights
    again.
    """
    import pygments

    if not kept.changed or not path.parent.is_dir():
        return
    data = {"format": _FORMAT, "pygments": pygments.__version__, "entries": kept.entries}
    with contextlib.suppress(OSError):
        write_atomic(path, json.dumps(data, separators=(",", ":")))
        kept.changed = False
