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
  formatter), against 9 ms to format them here from kept tokens.

Lexing is most of highlighting (0.10 of 0.12 CPU-s on this site), and a listing's code changes
only when its snippet does. :class:`ListingTokens` keeps Pygments' tokens between builds, in
``<cache_dir>/listing-tokens.json``, keyed by the code, the Pygments version and the Python
version (what ``re`` matches); the formatter runs on every build.

The store is input like any other: anything that is not exactly a token store of this format
and this Pygments is read as empty, and so is anything but a regular file of at most a few
megabytes. A stored entry is used only if its tokens spell, character for character, the text
Pygments would have lexed, and its token types are Pygments' standard ones: a damaged store can
change neither the code a page shows, nor its lines, nor put anything but a known class in its
markup (it can mislabel a token among those classes, which no check can tell). A store that
cannot be read or written only costs speed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import json
import os
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
    "ListingTokens",
    "lexed_text",
    "listing_html",
    "read_tokens",
    "source_html",
    "write_tokens",
]

STORE_NAME = "listing-tokens.json"
_FORMAT = 4
# Bytes: this site's store is 0.4 MB. A larger file is no store of ours, and reading it would
# cost every build seconds.
_LARGEST_STORE = 8 * 1024 * 1024

Tokens = list[tuple[Any, str]]
"""What ``Lexer.get_tokens`` yields: (token type, text) pairs."""


def source_html(snippet: Snippet, mode: str, tokens: ListingTokens) -> str:
    """A snippet's source listing as a block of the page: shown, collapsed, or ``""`` (hidden).

    Examples:
        >>> from pathlib import Path
        >>> s = Snippet("m.demo_f", "m", "demo_f", Path("m.py"), 1, "def demo_f():\\n    pass\\n", "", "")
        >>> shown = source_html(s, "show", ListingTokens())
        >>> shown.startswith(render.SOURCE_OPEN_HTML + '<div class="language-python highlight">')
        True
        >>> '<span class="nf">demo_f</span>' in shown, shown.endswith(render.SOURCE_CLOSE_HTML)
        (True, True)
        >>> "<summary>Source of demo_f</summary>" in source_html(s, "collapsed", ListingTokens())
        True
        >>> source_html(s, "hide", ListingTokens())
        ''
    """
    if mode == "hide":
        return ""
    listing = listing_html(render.listing_code(snippet), tokens)
    if mode == "collapsed":
        summary = html.escape(f"Source of {snippet.function}")
        listing = f'<details class="quote"><summary>{summary}</summary>{listing}</details>'
    return f"{render.SOURCE_OPEN_HTML}{listing}{render.SOURCE_CLOSE_HTML}"


def listing_html(code: str, tokens: ListingTokens) -> str:
    """``code`` highlighted as Python, its tokens from ``tokens`` (which keeps them).

    Examples:
        >>> print(listing_html('x = "<b>"', ListingTokens()))
        <div class="language-python highlight"><pre><span></span><code><span class="n">x</span> <span class="o">=</span> <span class="s2">"&lt;b&gt;"</span>
        </code></pre></div>
    """
    from pygments import format as format_tokens

    return format_tokens(tokens.tokens(code), _formatter()).rstrip("\n")


@functools.cache  # a formatter keeps no state between listings; making one reads its style
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(cssclass="language-python highlight", wrapcode=True)


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


class ListingTokens:
    """Pygments' tokens of listings' code, kept by what they depend on (see the module).

    A listing's tokens are kept as two parts, a string with one character per token that names
    its type (:func:`_type_codes`) and the list of their texts: a store of them is read with a
    few calls into C, and holds one list per listing in memory, not a pair per token.

    Examples:
        >>> kept = ListingTokens()
        >>> first = kept.tokens("x = 1")
        >>> kept.tokens("x = 1") == first, kept.hits, kept.changed, len(kept.entries)
        (True, 1, True, 1)
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, list[str]]] = {}
        """Key (:func:`_key`) -> (type codes, texts), lexed earlier or read from a store."""
        self.hits = 0
        self.changed = False
        """Whether :attr:`entries` differ from what was read: tokens made or entries dropped."""

    def tokens(self, code: str) -> Tokens:
        """The tokens of ``code``: kept ones if they spell what Pygments would lex, else lexed."""
        key, lexed = _key(code), lexed_text(code)
        kept = self.entries.get(key)
        if kept is not None and "".join(kept[1]) == lexed:
            self.hits += 1
            return list(zip(map(_type_codes()[1].__getitem__, kept[0]), kept[1], strict=True))
        from pygments.lexers import PythonLexer

        tokens = list(PythonLexer().get_tokens(code))
        codes = _type_codes()[0]
        # Only tokens that spell the text and are of standard types: else a store could not
        # hold them.
        if "".join(value for _, value in tokens) == lexed and all(k in codes for k, _ in tokens):
            self.entries[key] = ("".join(codes[k] for k, _ in tokens), [v for _, v in tokens])
            self.changed = True
        return tokens

    def keep_only(self, codes: Iterable[str]) -> None:
        """Drop the entries of code that is no longer a listing."""
        wanted = {_key(code) for code in codes}
        kept = {key: entry for key, entry in self.entries.items() if key in wanted}
        if len(kept) < len(self.entries):
            self.entries, self.changed = kept, True


def _key(code: str) -> str:
    """What the tokens of ``code`` depend on, as one digest: the lexer's rules and ``re``."""
    import pygments

    identity = [_FORMAT, pygments.__version__, sys.version, "PythonLexer", code]
    return hashlib.sha256(json.dumps(identity).encode("utf-8", "surrogatepass")).hexdigest()


@functools.cache  # asked for every listing a build lexes or takes
def _type_codes() -> tuple[dict[Any, str], dict[str, Any], list[str]]:
    """Pygments' standard token types as one character each.

    Returns:
        Type -> character, character -> type, and the types' dotted names in the order of their
        characters (``Name.Builtin``; ``""``: Token), which a store names.
    """
    from pygments.token import STANDARD_TYPES

    kinds = sorted(STANDARD_TYPES, key=".".join)
    characters = [chr(0x30 + number) for number in range(len(kinds))]
    return (
        dict(zip(kinds, characters, strict=True)),
        dict(zip(characters, kinds, strict=True)),
        [".".join(kind) for kind in kinds],
    )


def read_tokens(path: Path) -> ListingTokens:
    """Kept tokens holding what ``path`` stores, or none if it stores nothing usable.

    Examples:
        >>> import tempfile
        >>> read_tokens(Path(tempfile.mkdtemp()) / STORE_NAME).entries  # no file: nothing
        {}
    """
    import pygments

    kept = ListingTokens()
    try:
        data = json.loads(_small_file(path))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return kept
    _, kinds, names = _type_codes()
    if (
        not isinstance(data, dict)
        or data.get("format") != _FORMAT
        or data.get("pygments") != pygments.__version__
        or data.get("types") != names
        or not isinstance(entries := data.get("entries"), dict)
    ):
        return kept
    known = kinds.keys()
    for key, stored in entries.items():
        if not (isinstance(key, str) and isinstance(stored, list) and len(stored) == 2):
            continue
        codes, values = stored
        if not (isinstance(codes, str) and isinstance(values, list)):
            continue
        try:
            "".join(values)  # raises unless every text is a string
        except TypeError:
            continue
        if len(codes) == len(values) and known >= set(codes):
            kept.entries[key] = (codes, values)
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


def write_tokens(kept: ListingTokens, path: Path) -> None:
    """Store the kept entries in ``path`` if they changed, and only into an existing folder.

    A folder that cannot be written leaves the old store (or none): the next build lexes again.
    """
    import pygments

    if not kept.changed or not path.parent.is_dir():
        return
    entries = {key: [codes, values] for key, (codes, values) in kept.entries.items()}
    data = {
        "format": _FORMAT,
        "pygments": pygments.__version__,
        "types": _type_codes()[2],
        "entries": entries,
    }
    with contextlib.suppress(OSError):
        write_atomic(path, json.dumps(data, separators=(",", ":")))
        kept.changed = False
