"""Pygments' tokens of source listings, kept from one highlighting to the next.

The host highlights every source listing of every page on every build (under MkDocs,
``pymdownx.highlight`` hands each fenced block to Pygments), though a listing's code changes only
when its snippet does. Lexing is most of that work: about 0.12 CPU-s of the 0.16 s this site's
58 listings cost, and a warm build does little else for refkit. :class:`TokenCache` answers a
lexer from the tokens it kept instead, and :func:`read_tokens` / :func:`write_tokens` keep them
beside the result cache for the next process.

Only Pygments' own lexers whose tokens depend on nothing but their class, their options and the
text are answered: pure regular-expression state machines (:class:`pygments.lexer.RegexLexer`,
Python's among them) without filters, keyed by those, the Pygments version and the Python
version (what ``re`` matches). The formatter still runs on every build, so the host's options
(line numbers, anchors, classes) shape the listing as before.

The store is input like any other: anything that is not exactly a token store of this format
and this Pygments is read as empty, and so is anything but a regular file of at most a few
megabytes. A stored entry is used only if its tokens spell, character for character, the text the
lexer would have lexed, and its token types are Pygments' standard ones: a damaged store can
change neither the code a page shows, nor its lines, nor put anything but a known class in its
markup (it can mislabel a token among those classes, which no check can tell). A store that
cannot be read or written only costs speed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from refkit.engine.atomic import write_atomic
from refkit.engine.discovery import Snippet
from refkit.engine.render import listing_code

__all__ = ["STORE_NAME", "KeptTokens", "TokenCache", "read_tokens", "write_tokens"]

STORE_NAME = "listing-tokens.json"
_FORMAT = 2
# Bytes: this site's store is 0.4 MB. A larger file is no store of ours, and reading it would
# cost every build seconds.
_LARGEST_STORE = 8 * 1024 * 1024

Tokens = list[tuple[Any, str]]
"""What ``Lexer.get_tokens`` yields: (token type, text) pairs."""


class TokenCache:
    """Lexers answer from kept tokens while :meth:`remembered` is open.

    Args:
        texts: Only these texts are kept (compared without trailing newlines): the code of the
            source listings. ``None`` keeps every text a cacheable lexer gets.

    Examples:
        >>> from pygments import highlight
        >>> from pygments.formatters import HtmlFormatter
        >>> from pygments.lexers import PythonLexer
        >>> cache = TokenCache()
        >>> with cache.remembered():
        ...     first = highlight("x = 1\\n", PythonLexer(), HtmlFormatter())
        >>> with cache.remembered():
        ...     again = highlight("x = 1\\n", PythonLexer(), HtmlFormatter())
        >>> again == first, len(cache.entries), cache.hits, cache.changed
        (True, 1, 1, True)
    """

    def __init__(self, texts: Iterable[str] | None = None) -> None:
        self.texts = None if texts is None else frozenset(texts)
        self.entries: dict[str, Tokens] = {}
        """Key (:func:`_key`) -> tokens, from earlier highlighting or a store."""
        self.hits = 0
        self.changed = False
        """Whether :attr:`entries` differ from what was read: tokens made or entries dropped."""

    def wants(self, text: str) -> bool:
        """Whether tokens of ``text`` are kept."""
        return self.texts is None or text.rstrip("\n") in self.texts

    @contextlib.contextmanager
    def remembered(self) -> Iterator[None]:
        """Lexers answer from the cache meanwhile (one thread lexes: the build's).

        Opened inside another cache's :meth:`remembered`, this one answers first and leaves
        what it misses to the other. Closed, it stops answering even if another patch that
        came later still calls it (closings out of order), and it puts back what lexed before
        only if nothing replaced it meanwhile.
        """
        from pygments.lexer import Lexer, RegexLexer

        inner = Lexer.get_tokens
        regex = RegexLexer.get_tokens_unprocessed
        open_ = True

        def get_tokens(lexer: Any, text: Any, unfiltered: bool = False) -> Any:
            if (
                not open_
                or type(lexer).get_tokens_unprocessed is not regex
                or lexer.filters
                or not isinstance(text, str)
                or not self.wants(text)
                or (key := _key(lexer, text)) is None
            ):
                return inner(lexer, text, unfiltered)
            lexed = lexer._preprocess_lexer_input(text)  # what the tokens must spell
            tokens = self.entries.get(key)
            if tokens is not None and _spells(tokens, lexed):
                self.hits += 1
                return iter(tokens)
            tokens = list(inner(lexer, text, unfiltered))
            if _spells(tokens, lexed) and _standard(tokens):  # else a store could not hold them
                self.entries[key] = tokens
                self.changed = True
            return iter(tokens)

        Lexer.get_tokens = get_tokens
        try:
            yield
        finally:
            open_ = False
            if Lexer.get_tokens is get_tokens:
                Lexer.get_tokens = inner

    def keep_listings(self) -> None:
        """Drop the entries of texts that are no longer listings (:attr:`texts`)."""
        if self.texts is None:
            return
        kept = {
            key: tokens
            for key, tokens in self.entries.items()
            if "".join(value for _, value in tokens).rstrip("\n") in self.texts
        }
        if len(kept) < len(self.entries):
            self.entries, self.changed = kept, True


def _key(lexer: Any, text: str) -> str | None:
    """What a lexer's tokens of ``text`` depend on, as one digest; ``None`` if not cacheable.

    Only Pygments' own lexers, whose rules its version names; one whose options show no steady
    text (an object's address) or that lacks Pygments' input preprocessing is not cached.
    """
    import pygments

    kind = type(lexer)
    if not kind.__module__.startswith("pygments.lexers.") or not hasattr(
        lexer, "_preprocess_lexer_input"
    ):
        return None
    try:
        options = repr(sorted(lexer.options.items()))
    except Exception:  # an option that cannot be compared or shown
        return None
    if " at 0x" in options:  # an object's address: another key in every process
        return None
    identity = [
        pygments.__version__,
        sys.version,
        f"{kind.__module__}.{kind.__qualname__}",
        options,
        text,
    ]
    return hashlib.sha256(json.dumps(identity).encode("utf-8", "surrogatepass")).hexdigest()


def _spells(tokens: Tokens, lexed: str) -> bool:
    """Whether the tokens spell exactly ``lexed``, as every regular-expression lexer's do."""
    return "".join(value for _, value in tokens) == lexed


def _standard(tokens: Tokens) -> bool:
    """Whether every token type is one of Pygments' standard ones (what a store may hold)."""
    names = _type_names()
    return all(kind in names for kind, _ in tokens)


@functools.cache  # asked for every listing a build lexes
def _type_names() -> dict[Any, str]:
    """Pygments' standard token types -> their dotted names (``Name.Builtin``; ``""``: Token)."""
    from pygments.token import STANDARD_TYPES

    return {kind: ".".join(kind) for kind in STANDARD_TYPES}


def read_tokens(path: Path) -> TokenCache:
    """A cache holding what ``path`` stores, or an empty one if it stores nothing usable.

    Examples:
        >>> import tempfile
        >>> read_tokens(Path(tempfile.mkdtemp()) / STORE_NAME).entries  # no file: nothing
        {}
    """
    import pygments

    cache = TokenCache()
    try:
        data = json.loads(_small_file(path))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return cache
    if (
        not isinstance(data, dict)
        or data.get("format") != _FORMAT
        or data.get("pygments") != pygments.__version__
        or not isinstance(entries := data.get("entries"), dict)
    ):
        return cache
    kinds = {name: kind for kind, name in _type_names().items()}
    for key, stored in entries.items():
        tokens = _tokens_from_json(stored, kinds)
        if tokens is not None and isinstance(key, str):
            cache.entries[key] = tokens
    return cache


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


def _tokens_from_json(stored: object, kinds: dict[str, Any]) -> Tokens | None:
    """``[[type name, text], ...]`` as tokens; ``None`` if anything in it is not that."""
    if not isinstance(stored, list):
        return None
    tokens: Tokens = []
    for pair in stored:
        if not (isinstance(pair, list) and len(pair) == 2):
            return None
        name, value = pair
        kind = kinds.get(name) if isinstance(name, str) else None
        if kind is None or not isinstance(value, str):
            return None
        tokens.append((kind, value))
    return tokens


def write_tokens(cache: TokenCache, path: Path) -> None:
    """Store the cache's entries in ``path`` if they changed, and only into an existing folder.

    A folder that cannot be written leaves the old store (or none): the next build lexes again.
    """
    import pygments

    if not cache.changed or not path.parent.is_dir():
        return
    names = _type_names()
    entries = {
        key: [[names[kind], value] for kind, value in tokens]
        for key, tokens in cache.entries.items()
    }
    data = {"format": _FORMAT, "pygments": pygments.__version__, "entries": entries}
    with contextlib.suppress(OSError):
        write_atomic(path, json.dumps(data, separators=(",", ":")))
        cache.changed = False


class KeptTokens:
    """A host process's listing tokens across its builds: read once, stored when they changed.

    For a host with events around each page's conversion (MkDocs): :meth:`build_started` once
    the snippets are known, :meth:`converting` before a page is converted, :meth:`converted`
    after it (or when the build fails), :meth:`build_finished` at the end. Entries are kept by
    what they spell, not by which pages a build converted, so a ``--dirty`` build, or one that
    leaves out draft pages, forgets nothing that is still a listing.
    """

    def __init__(self) -> None:
        self.cache: TokenCache | None = None
        self.store: Path | None = None
        self._open: contextlib.AbstractContextManager[None] | None = None

    def build_started(self, folder: Path, snippets: Iterable[Snippet]) -> None:
        """Keep the listings of ``snippets``, stored in ``folder`` (the result cache's)."""
        self.converted()  # a rebuild ahead that broke off may have left the lexers answered
        store = folder / STORE_NAME
        if self.cache is None or store != self.store:  # a process reads its store once
            self.cache, self.store = read_tokens(store), store
        self.cache.texts = frozenset(listing_code(snippet) for snippet in snippets)

    def converting(self) -> None:
        """Lexers answer from the kept tokens until :meth:`converted`."""
        if self.cache is not None and self._open is None:
            self._open = self.cache.remembered()
            self._open.__enter__()

    def converted(self) -> None:
        """Lexers lex by themselves again."""
        if self._open is not None:
            opened, self._open = self._open, None
            opened.__exit__(None, None, None)

    def build_finished(self) -> None:
        """Drop what is no longer a listing; store what changed."""
        self.converted()
        if self.cache is None or self.store is None:
            return
        self.cache.keep_listings()
        write_tokens(self.cache, self.store)
