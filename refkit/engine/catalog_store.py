"""The catalog of a topic package, kept on disk for the next process that reads the same files.

Reading a package means parsing every module and walking its syntax tree: a quarter of a
second of CPU for this repository's, paid by every ``mkdocs build``, ``zensical build`` and
``refkit`` command before anything else, though the files rarely changed since the last one.
:func:`stored_catalog` keeps what :func:`~refkit.engine.discovery.load_catalog` found beside
the result cache, under a key made of every byte it depends on: each file of the package (its
path and content, not its modification time, which a checkout or a copy may keep), the package's
place, the Python version and refkit's own discovery code. A snippet's fingerprint, and so
the honesty of the result cache, rests on this catalog: a key that leaves anything out would
serve results of code that is gone.

The file is input like any other: anything that is not exactly a catalog of the right shape
(truncated, edited, written by another refkit) is read as "not stored", and the catalog is read
from the package again and stored anew. A folder that cannot be written only costs the speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from refkit.engine import discovery, references
from refkit.engine.atomic import write_atomic
from refkit.engine.discovery import (
    Catalog,
    PackageScan,
    Snippet,
    Topic,
    TopicSyntaxError,
    package_state,
    scan_package,
)
from refkit.engine.references import InvalidReference, Reference

__all__ = ["STORE_NAME", "stored_catalog"]

STORE_NAME = "catalog.json"
_FORMAT = 1
# The code whose answers are stored and read back: a refkit that reads packages (or this file)
# differently must not reuse them.
_CODE = tuple(
    Path(module.__file__ or "").read_bytes()
    for module in (discovery, references, sys.modules[__name__])
)


def stored_catalog(package_dir: Path, folder: Path) -> Catalog:
    """The package's catalog: the one stored in ``folder`` if it was read from the same files.

    Args:
        package_dir: The topic package.
        folder: Where the catalog is kept: the result cache's folder, if it exists.

    Returns:
        What :func:`~refkit.engine.discovery.load_catalog` returns for ``package_dir``, with the
        package's state as it is now.
    """
    package_dir = package_dir.resolve()
    scanned = scan_package(package_dir)
    state = package_state(package_dir, scanned)  # before the files are read, as load_catalog does
    key = _key(package_dir, scanned)
    store = folder / STORE_NAME
    catalog = _read(store, key, package_dir) if key is not None else None
    if catalog is None:
        catalog = discovery.load_catalog(package_dir)
        # Only where the result cache already is: reading a package (`refkit list`) makes no
        # folder. A cold build creates it with its results; the next build stores the catalog.
        # And only if no file changed while it was read: a save in between would store what
        # the new files say under the old files' key, for a later revert to take.
        if key is not None and folder.is_dir() and _key(package_dir) == key:
            with contextlib.suppress(OSError):  # not stored: the next process reads the files
                write_atomic(store, json.dumps({"key": key, **_catalog_json(catalog)}))
    catalog.state = state
    return catalog


def _key(package_dir: Path, scanned: PackageScan | None = None) -> str | None:
    """Digest of everything a catalog is read from; ``None``: do not store (or take) one.

    Every entry under the package counts, by kind: a file with its content, a folder, a
    symbolic link with its target (an editor's lock file, a dangling link named ``x.py``, is a
    topic the catalog reports as unreadable). A link to a folder makes it ``None``: what is
    behind it is read through it but is not listed here, so an edit there would go unseen.

    Args:
        package_dir: The topic package.
        scanned: Its :func:`~refkit.engine.discovery.scan_package`, when just made.
    """
    parts: list[bytes] = [str(_FORMAT).encode(), sys.version.encode(), bytes(package_dir), *_CODE]
    try:
        for path_parts, entry in scan_package(package_dir) if scanned is None else scanned:
            name = os.fsencode(Path(*path_parts))  # any name the folder can hold
            if entry.is_symlink():
                link = Path(entry.path)
                # Path.is_dir, not DirEntry.is_dir: a link that loops or runs through a file
                # is no folder (it is keyed below), where DirEntry.is_dir would raise.
                if link.is_dir():
                    return None
                parts += [b"link", name, os.fsencode(link.readlink())]
                if not link.exists():
                    continue
            elif entry.is_dir():
                parts += [b"folder", name]
                continue
            if entry.is_file():
                parts += [b"file", name, Path(entry.path).read_bytes()]
            else:  # a socket or a pipe: nothing a catalog can rely on
                return None
    except OSError:
        return None
    return discovery.parts_digest(*parts)


def _catalog_json(catalog: Catalog) -> dict[str, Any]:
    return {
        "topics": [_topic_json(topic) for topic in catalog.topics.values()],
        "errors": [[str(e.path), e.line, e.reason, e.shown] for e in catalog.errors],
    }


def _topic_json(topic: Topic) -> dict[str, Any]:
    return {
        "module": topic.module,
        "path": str(topic.path),
        "title": topic.title,
        "references": [[r.url, r.title, r.good_for, r.search_query] for r in topic.references],
        "snippets": [_snippet_json(snippet) for snippet in topic.snippets],
        "preload_imports": list(topic.preload_imports),
        "summary": topic.summary,
        "declaration_problems": [list(problem) for problem in topic.declaration_problems],
    }


_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_SNIPPET_TEXT = ("id", "module", "function", "source", "summary", "fingerprint", "display_source")
_SNIPPET_LISTS = ("preload_imports", "identifiers", "environments")


def _snippet_json(snippet: Snippet) -> dict[str, Any]:
    return {
        **{name: getattr(snippet, name) for name in _SNIPPET_TEXT},
        **{name: list(getattr(snippet, name)) for name in _SNIPPET_LISTS},
        "path": str(snippet.path),
        "line": snippet.line,
    }


class _Malformed(ValueError):
    """The stored file is not a catalog of this shape."""


def _read(store: Path, key: str, package_dir: Path) -> Catalog | None:
    """The catalog stored under ``key``, or ``None`` (missing, another key, or malformed)."""
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        catalog = Catalog(package_dir)
        for topic in _list(data, "topics"):
            found = _topic(topic)
            catalog.topics[found.module] = found
        for error in _list(data, "errors"):
            path, line, reason, shown = _items(error, (str, int, str, str))
            catalog.errors.append(TopicSyntaxError(Path(path), line, reason, shown))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, InvalidReference):
        return None  # _Malformed and JSON's errors are ValueErrors
    return catalog


def _topic(data: object) -> Topic:
    fields = _mapping(data)
    references = []
    for item in _list(fields, "references"):
        url, title, good_for, query = _items(item, (str, str, str, (str, type(None))))
        references.append(Reference(url, title, good_for, query))
    problems = tuple(_items(item, (int, str)) for item in _list(fields, "declaration_problems"))
    return Topic(
        module=_text(fields, "module"),
        path=Path(_text(fields, "path")),
        title=_text(fields, "title"),
        references=tuple(references),
        snippets=tuple(_snippet(item) for item in _list(fields, "snippets")),
        preload_imports=_texts(fields, "preload_imports"),
        summary=_text(fields, "summary"),
        declaration_problems=problems,  # checked: (int, str) pairs
    )


def _snippet(data: object) -> Snippet:
    fields = _mapping(data)
    line = fields.get("line")
    if type(line) is not int:
        raise _Malformed("line")
    named: dict[str, Any] = {name: _text(fields, name) for name in _SNIPPET_TEXT}
    named.update({name: _texts(fields, name) for name in _SNIPPET_LISTS})
    snippet = Snippet(**named, path=Path(_text(fields, "path")), line=line)
    # What discovery always makes: a cache key is built from the fingerprint, pages from the id.
    if not (
        line >= 1
        and snippet.id == f"{snippet.module}.{snippet.function}"
        and snippet.function.startswith(discovery.SNIPPET_PREFIX)
        and _FINGERPRINT.fullmatch(snippet.fingerprint)
    ):
        raise _Malformed(f"snippet {snippet.id!r}")
    return snippet


def _mapping(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Malformed("not an object")
    return data


def _list(fields: dict[str, Any], name: str) -> list[Any]:
    value = fields.get(name)
    if not isinstance(value, list):
        raise _Malformed(name)
    return value


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str):
        raise _Malformed(name)
    return value


def _texts(fields: dict[str, Any], name: str) -> tuple[str, ...]:
    values = _list(fields, name)
    if not all(isinstance(value, str) for value in values):
        raise _Malformed(name)
    return tuple(values)


def _items(data: object, kinds: tuple[type | tuple[type, ...], ...]) -> tuple[Any, ...]:
    """A list of exactly these kinds of values (``bool`` is not an ``int`` here)."""
    if not isinstance(data, list) or len(data) != len(kinds):
        raise _Malformed("a list of the wrong length")
    for value, kind in zip(data, kinds, strict=True):
        if isinstance(value, bool) or not isinstance(value, kind):
            raise _Malformed(f"{value!r} is not {kind}")
    return tuple(data)
