r"""The Markdown directive that embeds a snippet, and its parser.

A directive is a line of its own::

    !refkit train_tokenizer.demo_pipeline_stages title="The four stages" source=hide

- the first word after ``!refkit`` is the snippet id (``<module>.<function>``);
- ``title="..."`` puts a title above the snippet (a heading, at the top level of a page);
- ``source=show`` (default), ``source=hide`` or ``source=collapsed`` controls the source listing.

Three more directives, each on a line of its own and without options, are generated from the
package, so that a new topic appears without an edit:

- ``!refkit-environment``: the table of the environments the page's outputs came from;
- ``!refkit-topics``: the table of every topic (its page, its title, what it covers);
- ``!refkit-api``: the API reference of every topic module (mkdocstrings' ``:::`` blocks), with
  a table linking each module to its topic page.

Where a directive runs is decided the way Python-Markdown (MkDocs, Zensical) reads the page, so
that what runs is what the reader would otherwise have seen as text:

- **Indented** inside a list item, an admonition or a content tab, it runs; the rendered block
  keeps the indent on every line.
- **Inside a blockquote** (``> !refkit m.demo_x``, nested ``> >`` too, or a blockquote inside a
  list item) it runs: a blockquote's content is Markdown, so the rendered block stays inside the
  quote, with the line's ``>`` markers repeated on every line.
- **Inside code** (fenced blocks, indented code blocks, at the top level or inside a blockquote;
  inline code) it is left as text, silently: that is how a page shows the syntax. A fence that is
  never closed is no fence to Python-Markdown, so it hides nothing.
- **Inside an HTML comment** (``<!-- ... -->``, on one line or several) it does not run, silently:
  commenting a directive out is how an author switches it off. As in Python-Markdown, a comment
  that starts a line spans blank lines, one that starts mid-line (or inside a blockquote, a list
  item or an admonition) ends at a blank line, and one that is never closed is no comment, so
  the directives after it still run.
- **A near miss** (a line that starts like a directive but is not one: ``!refkitt m.demo_x``,
  ``!refkit:m.demo_x``, ``! refkit m.demo_x``, ``!Refkit m.demo_x``) is left as text with a
  warning naming the line and the directive it probably meant. A mention inside a line of prose
  is not a directive and gets no warning.

The scan is linear in the size of the page: each line is looked at once per blockquote level,
and what is open above it (list items, admonitions, code) is kept on a stack.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

__all__ = [
    "API_DIRECTIVE",
    "ENVIRONMENT_DIRECTIVE",
    "SNIPPET_DIRECTIVE",
    "SOURCE_MODES",
    "TABLE_DIRECTIVES",
    "TOPICS_DIRECTIVE",
    "Directive",
    "DirectiveError",
    "find_directives",
    "heading_levels",
    "replace_directives",
]

SNIPPET_DIRECTIVE = "!refkit"
ENVIRONMENT_DIRECTIVE = "!refkit-environment"
TOPICS_DIRECTIVE = "!refkit-topics"
API_DIRECTIVE = "!refkit-api"
# The directives without options, by the kind of the Directive they make.
TABLE_DIRECTIVES = {
    ENVIRONMENT_DIRECTIVE: "environment",
    TOPICS_DIRECTIVE: "topics",
    API_DIRECTIVE: "api",
}
SOURCE_MODES = ("show", "hide", "collapsed")

_DIRECTIVE_START = re.compile(r"[ \t]*(?P<name>!refkit(?:-[a-z]+)?)")
# What an author may have meant as a directive: one or two bangs (three open an admonition),
# maybe a space, "refkit" in any case.
_NEAR_MISS = re.compile(r"[ \t]*!{1,2}(?!!)[ \t]*refkit(?P<tail>\S*)", re.IGNORECASE)
_FENCE_OPEN = re.compile(r"[ \t]*(?P<fence>`{3,}|~{3,})")
# A line made of a fence character only, after any indent and blockquote markers: a closing fence.
_FENCE_CLOSE = re.compile(r"[ \t>]*(?P<fence>`{3,}|~{3,})[ \t]*")
_QUOTE_MARKER = re.compile(r"[ \t]*>[ ]?")
_BACKTICKS = re.compile(r"`+")
_MENTION = re.compile("refkit", re.IGNORECASE)  # a line without it needs no closer look
# What precedes a directive on its line; a line of nothing else is blank, in a blockquote or not.
_PREFIX = re.compile(r"[ \t>]*")
# Lines whose following, more indented lines are content rather than code: list items,
# admonitions (!!! and collapsible ???) and content tabs (===).
_BLOCK_OPENER = re.compile(r"(?:(?P<marker>[-*+]|\d+[.)])|!!!|\?\?\?\+?|===)[ \t]")
_WHITESPACE = re.compile(r"[ \t]*")
_SHOWN_TEXT = 200  # characters of a directive line quoted in a message


class DirectiveError(ValueError):
    """A directive that cannot be understood; ``line`` is 1-based within the page.

    ``text`` is the line as written, cut to a few hundred characters for messages.
    """

    def __init__(self, line: int, text: str, message: str) -> None:
        if len(text) > _SHOWN_TEXT:
            text = text[:_SHOWN_TEXT] + "…"
        super().__init__(f"line {line}: {message} in {text.strip()!r}")
        self.line = line
        self.text = text
        self.reason = message


@dataclass(frozen=True)
class Directive:
    """One directive found on a page.

    Attributes:
        line: 1-based line number within the page's Markdown (front matter excluded, as MkDocs
            gives it to plugins).
        indent: What precedes the directive on its line (whitespace, and the ``>`` markers of a
            blockquote), repeated on every rendered line.
        kind: ``snippet``, or the kind of a directive without options (``environment``,
            ``topics``, ``api``: see :data:`TABLE_DIRECTIVES`).
        snippet_id: The snippet's id (``""`` for the other kinds).
        title: The title option, or ``None``.
        source: One of :data:`SOURCE_MODES`.
        text: The directive's line as written.
    """

    line: int
    indent: str
    kind: str
    snippet_id: str
    title: str | None
    source: str
    text: str


# One piece of a word, as a POSIX shell reads it: plain characters, a backslash escape, a
# "double-quoted" run (where a backslash escapes only " and \) or a 'single-quoted' one. The
# patterns cannot backtrack far, so a megabyte-long line is read in linear time.
_WORD_PIECE = re.compile(
    r"""(?P<plain>[^ \t\r\n"'\\]+)|\\(?P<escaped>.)|"(?P<double>[^"\\]*(?:\\.[^"\\]*)*)"|'(?P<single>[^']*)'""",
    re.DOTALL,
)
_DOUBLE_QUOTED_ESCAPE = re.compile(r'\\(["\\])')
_SEPARATOR = re.compile(r"[ \t\r\n]+")


def _split_words(text: str) -> list[str]:
    r"""Split options as :func:`shlex.split` does, in linear time (shlex takes quadratic time).

    Raises:
        ValueError: An unclosed quote or a trailing backslash, with shlex's message.

    Examples:
        >>> _split_words('m.demo_x title="Two words" source=hide a\\ b \'c"d\'')
        ['m.demo_x', 'title=Two words', 'source=hide', 'a b', 'c"d']
        >>> _split_words('title="unclosed')
        Traceback (most recent call last):
        ...
        ValueError: No closing quotation
    """
    words: list[str] = []
    position = _SEPARATOR.match(text)
    index = position.end() if position else 0
    while index < len(text):
        pieces: list[str] = []
        while index < len(text) and text[index] not in " \t\r\n":
            piece = _WORD_PIECE.match(text, index)
            if piece is None:
                raise ValueError(
                    "No escaped character" if text[index] == "\\" else "No closing quotation"
                )
            if piece["double"] is not None:
                pieces.append(_DOUBLE_QUOTED_ESCAPE.sub(r"\1", piece["double"]))
            else:
                pieces.append(piece["plain"] or piece["escaped"] or piece["single"] or "")
            index = piece.end()
        words.append("".join(pieces))
        gap = _SEPARATOR.match(text, index)
        index = gap.end() if gap else index
    return words


def _shown(value: str) -> str:
    """A value quoted in a message, cut short: a page's line may be a megabyte long."""
    return repr(value if len(value) <= _SHOWN_TEXT // 4 else value[: _SHOWN_TEXT // 4] + "…")


def _parse_options(line_number: int, text: str, args: list[str]) -> tuple[str | None, str]:
    title: str | None = None
    source = "show"
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise DirectiveError(
                line_number, text, f"option {_shown(arg)} is not of the form key=value"
            )
        if key == "title":
            title = value
        elif key == "source":
            if value not in SOURCE_MODES:
                choices = ", ".join(SOURCE_MODES)
                raise DirectiveError(
                    line_number, text, f"source={_shown(value)} is not one of {choices}"
                )
            source = value
        else:
            raise DirectiveError(
                line_number, text, f"unknown option {_shown(key)} (known: title, source)"
            )
    return title, source


def _near_miss(line_number: int, text: str, content: str) -> DirectiveError | None:
    """The warning for a line that starts like a directive but is none, or ``None``.

    Examples:
        >>> _near_miss(3, "!refkitt m.demo_x", "!refkitt m.demo_x").reason
        'not a directive, left as text (did you mean "!refkit m.demo_x"?)'
        >>> _near_miss(1, "! refkit m.demo_x", "! refkit m.demo_x").reason
        'not a directive, left as text (did you mean "!refkit m.demo_x"?)'
        >>> _near_miss(1, "!refkit:m.demo_x", "!refkit:m.demo_x").reason
        'not a directive, left as text (did you mean "!refkit m.demo_x"?)'
        >>> _near_miss(1, "!Refkit-Environment", "!Refkit-Environment").reason
        'not a directive, left as text (did you mean "!refkit-environment"?)'
        >>> _near_miss(1, "!Refkit-Topics", "!Refkit-Topics").reason
        'not a directive, left as text (did you mean "!refkit-topics"?)'
        >>> _near_miss(1, "! Important", "! Important") is None
        True
    """
    missed = _NEAR_MISS.match(content)
    if missed is None:
        return None
    tail, rest = missed["tail"], content[missed.end() :].strip()
    if tail.startswith("-"):  # a misspelt !refkit-environment, -topics or -api
        close = difflib.get_close_matches(f"!refkit{tail.lower()}", TABLE_DIRECTIVES, n=1)
        meant = close[0] if close else ENVIRONMENT_DIRECTIVE
    else:
        # "!refkit:m.demo_x" meant the id glued on; "!refkitt m.demo_x" a stray letter.
        glued = tail.lstrip(":=._,;")
        words = [glued] if glued and ("." in glued or not rest) else []
        meant = " ".join([SNIPPET_DIRECTIVE, *words, *([rest] if rest else [])])
    reason = "not a directive, left as text"
    after = content[missed.start("tail") : missed.start("tail") + 1]
    if after.isspace() and after not in " \t":
        reason += f": the space after !refkit is U+{ord(after):04X}, not a plain space"
    return DirectiveError(line_number, text, f'{reason} (did you mean "{meant}"?)')


def _parse_line(line_number: int, text: str, content: str, prefix: str) -> Directive | None:
    """The directive on a line, if any.

    Args:
        line_number: 1-based.
        text: The whole line, for messages.
        content: The line without ``prefix``.
        prefix: The blockquote markers before ``content`` (``""`` outside blockquotes).

    Raises:
        DirectiveError: A malformed directive, or a near miss.
    """
    started = _DIRECTIVE_START.match(content)
    after = content[started.end() :] if started else ""
    if started is None or (after and after[0] not in " \t"):
        missed = _near_miss(line_number, text, content)
        if missed is not None:
            raise missed
        return None
    name = started["name"]
    indent = prefix + content[: started.start("name")]
    try:
        words = _split_words(after.strip())
    except ValueError as exc:
        raise DirectiveError(line_number, text, f"malformed options ({exc})") from None
    if name in TABLE_DIRECTIVES:
        if words:
            raise DirectiveError(line_number, text, f"{name} takes no options")
        return Directive(line_number, indent, TABLE_DIRECTIVES[name], "", None, "show", text)
    if name != SNIPPET_DIRECTIVE:
        close = difflib.get_close_matches(name, list(TABLE_DIRECTIVES), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise DirectiveError(line_number, text, f"unknown directive {_shown(name)}{hint}")
    if not words or "=" in words[0]:
        raise DirectiveError(line_number, text, "the snippet id is missing")
    title, source = _parse_options(line_number, text, words[1:])
    return Directive(line_number, indent, "snippet", words[0], title, source, text)


def _skip_whitespace(line: str, start: int) -> int:
    """Where the spaces and tabs at ``start`` end."""
    spaces = _WHITESPACE.match(line, start)
    return spaces.end() if spaces else start


def _columns(line: str, start: int, end: int) -> int:
    """How many columns ``line[start:end]`` takes, tabs to four columns, as Markdown counts."""
    if line.find("\t", start, end) < 0:
        return end - start
    return len(line[start:end].expandtabs(4))


def _indents(line: str, start: int = 0) -> tuple[int, int]:
    """The indent of the text at ``start``, and where the content of a block it opens starts.

    A list item's content starts after its marker, an admonition's or a content tab's four
    columns in; any other line is its own content.

    Examples:
        >>> _indents("  - item"), _indents("!!! note"), _indents("  text"), _indents("\\t1.\\tx")
        ((2, 4), (0, 4), (2, 2), (4, 8))
    """
    text = _skip_whitespace(line, start)
    indent = _columns(line, start, text)
    opened = _BLOCK_OPENER.match(line, text)
    if opened is None:
        return indent, indent
    if opened["marker"]:
        return indent, _columns(line, start, _skip_whitespace(line, opened.end()))
    return indent, indent + 4


LineKind = Literal["blank", "code", "comment", "fence", "text"]
"""What a line is to the scan; a directive may stand only on a ``text`` line."""


@dataclass
class _Level:
    """What is open at one blockquote level (0: the page itself).

    Attributes:
        fence: The fence of an open fenced block.
        blocks: Earlier non-blank lines that can still hold the lines below them, as (indent,
            content indent), indents strictly rising: a line hides every line above it that is
            indented as much or more, since the block a later line belongs to opens at the
            nearest line above it that is indented less.
        after_text: Whether the level's previous line was text, so that an indented line
            continues it (a lazy continuation) rather than starting code.
    """

    fence: str | None = None
    blocks: list[tuple[int, int]] = field(default_factory=list)
    after_text: bool = False

    def fence_line(self, line: str, start: int, index: int, ahead: _Lookahead) -> LineKind | None:
        """``fence`` for a line that opens, continues or closes a fenced block, else ``None``.

        Args:
            line: The line.
            start: Where this level's part of it starts (after the outer levels' markers).
            index: The line's 0-based number.
            ahead: What follows in the page.
        """
        if self.fence is not None:
            stripped = line[start:].strip()
            if stripped.startswith(self.fence) and set(stripped) == {self.fence[0]}:
                self.fence = None
            return "fence"
        opened = _FENCE_OPEN.match(line, start)
        if opened and ahead.fence_closes(index, opened["fence"]):
            self.fence = opened["fence"]
            return "fence"
        return None

    def classify(self, line: str, start: int, blank: bool) -> LineKind:
        """Whether this level's part of a line outside fences is blank, code or text.

        Each line is pushed once and popped at most once, so a page costs linear time however
        its blocks nest.
        """
        if blank:
            self.after_text = False
            return "blank"
        indent, content_indent = _indents(line, start)
        while self.blocks and self.blocks[-1][0] >= indent:
            self.blocks.pop()
        code = indent >= 4 and not self.after_text
        if code and self.blocks:
            code = indent >= self.blocks[-1][1] + 4
        self.blocks.append((indent, content_indent))
        self.after_text = not code
        return "code" if code else "text"


class _Line(NamedTuple):  # one per line of every page a build reads: a tuple is made fastest
    number: int
    text: str
    prefix: str  # the blockquote markers stripped from the line
    content: str  # the rest
    kind: LineKind


class _Lookahead:
    """What lies further down the page, computed once: closing fences, blank lines, ``-->``.

    Python-Markdown treats a fence or a comment that is never closed as text, so whether one
    opens depends on what follows; answering from suffix tables keeps the scan linear.
    """

    def __init__(self, lines: list[str]) -> None:
        count = len(lines)
        self.never = never = count + 1
        self.longest_close = {"`": [0] * (count + 1), "~": [0] * (count + 1)}
        self.next_blank = [never] * (count + 1)
        self.next_comment_end = [never] * (count + 1)
        for index in range(count - 1, -1, -1):
            line = lines[index]
            for longest in self.longest_close.values():
                longest[index] = longest[index + 1]
            closing = _FENCE_CLOSE.fullmatch(line)
            if closing:
                longest = self.longest_close[closing["fence"][0]]
                longest[index] = max(longest[index], len(closing["fence"]))
            blank = _PREFIX.fullmatch(line) is not None
            self.next_blank[index] = index if blank else self.next_blank[index + 1]
            ends = "-->" in line
            self.next_comment_end[index] = index if ends else self.next_comment_end[index + 1]

    def fence_closes(self, index: int, fence: str) -> bool:
        """Whether a line after line ``index`` (0-based) can close ``fence``."""
        return self.longest_close[fence[0]][index + 1] >= len(fence)

    def comment_closes(self, index: int, *, spans_blank_lines: bool) -> bool:
        """Whether a comment left open on line ``index`` is closed further down."""
        end = self.next_comment_end[index + 1]
        return end != self.never and (spans_blank_lines or end < self.next_blank[index + 1])


def _without_code_spans(text: str) -> str:
    """``text`` with inline code spans blanked out, in linear time.

    Examples:
        >>> _without_code_spans("a `<!--` b ``x ` y`` c ` d")
        'a        b           c ` d'
    """
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    if not runs:
        return text
    # For every run of backticks, the next run of the same length: the one that closes it.
    closing: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        start, end = runs[index]
        closing[index] = last.get(end - start)
        last[end - start] = index
    pieces, kept_from, index = [], 0, 0
    while index < len(runs):
        other = closing[index]
        if other is None:
            index += 1
            continue
        start, end = runs[index][0], runs[other][1]
        pieces += [text[kept_from:start], " " * (end - start)]
        kept_from, index = end, other + 1
    return "".join([*pieces, text[kept_from:]])


def _open_comment(text: str, masked: str, start: int = 0) -> int | None:
    """Where a comment left open at the end of ``text`` starts, or ``None``.

    Args:
        text: The line, where a comment's end is looked for (inside a comment, backticks are
            text).
        masked: The line with inline code blanked out, where openers are looked for.
        start: Where to start reading.

    Examples:
        >>> line = "a <!-- b --> `<!--` c <!-- d"
        >>> _open_comment(line, _without_code_spans(line))
        22
    """
    position = start
    while True:
        opener = masked.find("<!--", position)
        if opener < 0:
            return None
        end = text.find("-->", opener + 4)
        if end < 0:
            return opener
        position = end + 3


@dataclass
class _Comments:
    """Which HTML comment, if any, is open at the line being read.

    Fences are read before comments (Python-Markdown's fence preprocessors run first), so a fence
    inside a comment is still a fence, and a comment marker inside a fence is text.
    """

    ahead: _Lookahead
    open: Literal["block", "inline"] | None = None

    def read(self, index: int, line: str, content: str, level: int, kind: LineKind) -> LineKind:
        """The kind of a line once comments are accounted for (``comment`` inside one)."""
        if kind == "fence":
            return kind
        if self.open is not None:
            end = line.find("-->")
            if end >= 0:
                self.open = None
                reopened = _open_comment(line, _without_code_spans(line), end + 3)
                if reopened is not None and self.ahead.comment_closes(
                    index, spans_blank_lines=False
                ):
                    self.open = "inline"
            elif self.open == "inline" and _PREFIX.fullmatch(line):
                self.open = None  # a paragraph's comment ends with the paragraph
            return "comment"
        # A directive line is replaced whole, so what it holds opens nothing.
        if kind == "text" and "<!--" in content and not _DIRECTIVE_START.match(content):
            opener = _open_comment(content, _without_code_spans(content))
            if opener is not None:
                # Only a comment that starts a top-level line is an HTML block, which may hold
                # blank lines; anywhere else it is inline HTML, which a blank line ends.
                before = content[:opener]
                block = level == 0 and not before.strip() and _indents(before)[0] <= 3
                if self.ahead.comment_closes(index, spans_blank_lines=block):
                    self.open = "block" if block else "inline"
        return kind


def _scan(markdown: str) -> list[_Line]:
    """Every line of a page, with its blockquote level and what kind of line it is.

    ``kind`` is ``text`` only for lines a directive may stand on: outside code and comments.
    """
    lines = markdown.split("\n")
    ahead = _Lookahead(lines)
    levels = [_Level()]
    comments = _Comments(ahead)
    scanned: list[_Line] = []
    for index, line in enumerate(lines):
        # Down through the blockquote markers, each level reading what is left of the line
        # (by offset: a copy per level would make a deeply quoted line cost its square).
        level, start, text_end = 0, 0, len(line.rstrip())
        while True:
            at = levels[level]
            kind = at.fence_line(line, start, index, ahead) or at.classify(
                line, start, start >= text_end
            )
            quote = _QUOTE_MARKER.match(line, start) if kind == "text" else None
            if quote is None:
                break
            level, start = level + 1, quote.end()
            if level == len(levels):
                levels.append(_Level())
        content = line[start:]
        if kind == "blank":
            for deeper in levels[level + 1 :]:
                deeper.after_text = False
        else:
            del levels[level + 1 :]  # a line with fewer markers ends the deeper quotes
        kind = comments.read(index, line, content, level, kind)
        prefix = line[:start]
        scanned.append(_Line(index + 1, line, prefix, content, kind))
    return scanned


def find_directives(markdown: str) -> tuple[list[Directive], list[DirectiveError]]:
    """Find every directive of a page, and every malformed one.

    Args:
        markdown: The page's Markdown.

    Returns:
        The directives in page order, and the errors (one per malformed directive line or near
        miss).

    Examples:
        >>> page = 'Intro\\n!refkit a.demo_x title="Hi there" source=hide\\n```\\n!refkit b.demo_y\\n```'
        >>> found, errors = find_directives(page)
        >>> [(d.line, d.snippet_id, d.title, d.source) for d in found], errors
        ([(2, 'a.demo_x', 'Hi there', 'hide')], [])
        >>> find_directives("!refkit a.demo_x colour=red")[1][0].reason
        "unknown option 'colour' (known: title, source)"
        >>> find_directives("Use `!refkit a.demo_x` in a page")[0]
        []
        >>> find_directives("<!--\\n!refkit a.demo_x\\n-->")
        ([], [])
        >>> [d.indent for d in find_directives("> !refkit a.demo_x")[0]]
        ['> ']
        >>> find_directives("!refkitt a.demo_x")[1][0].line
        1
    """
    if not _MENTION.search(markdown):  # no directive, not even a near miss: no scan at all
        return [], []
    page = _read_page(markdown)
    return list(page.directives), list(page.errors)


_ATX_HEADING = re.compile(r"(#{1,6})[ \t]")


def heading_levels(markdown: str) -> list[tuple[int, int]]:
    """``(line, level)`` of the page's top-level ATX headings: outside code, comments, quotes.

    The same scan as :func:`find_directives`, so a heading is one where a directive could be.

    Examples:
        >>> heading_levels("# A\\n```\\n## not\\n```\\n### B\\n    # code\\n> # quoted\\n")
        [(1, 1), (5, 3)]
    """
    return list(_read_page(markdown).headings)


class _Page(NamedTuple):
    """What one scan of a page finds (see :func:`find_directives`, :func:`heading_levels`)."""

    directives: tuple[Directive, ...]
    errors: tuple[DirectiveError, ...]
    headings: tuple[tuple[int, int], ...]


# A build reads a page more than once: when it plans the build, and when the host converts the
# page (its directives, then its headings for the titles; under Zensical, the extension asks
# first whether the page is its business). What one scan finds depends on the text alone, so it
# is kept for the pages of a site.
@functools.lru_cache(maxsize=512)
def _read_page(markdown: str) -> _Page:
    found: list[Directive] = []
    errors: list[DirectiveError] = []
    headings: list[tuple[int, int]] = []
    for line in _scan(markdown):
        if line.kind != "text":
            continue
        if not line.prefix and (heading := _ATX_HEADING.match(line.text)):
            headings.append((line.number, len(heading[1])))
        if not _MENTION.search(line.content):
            continue
        try:
            directive = _parse_line(line.number, line.text, line.content, line.prefix)
        except DirectiveError as exc:
            errors.append(exc)
            continue
        if directive is not None:
            found.append(directive)
    return _Page(tuple(found), tuple(errors), tuple(headings))


def replace_directives(markdown: str, rendered: dict[int, str]) -> str:
    """Replace directive lines by their rendered blocks.

    Args:
        markdown: The page's Markdown.
        rendered: Replacement text by 1-based line number; each line of it gets what precedes
            the directive on its line (its indent, and the ``>`` markers of a blockquote).

    Returns:
        The page with those lines replaced; every other line is unchanged.

    Examples:
        >>> replace_directives("a\\n  !refkit m.demo_f\\nb", {2: "X\\n\\nY"})
        'a\\n  X\\n\\n  Y\\nb'
        >>> replace_directives("> !refkit m.demo_f", {1: "X\\n\\nY"})
        '> X\\n>\\n> Y'
    """
    out: list[str] = []
    for number, line in enumerate(markdown.split("\n"), start=1):
        if number in rendered:
            prefix = _PREFIX.match(line)[0]  # type: ignore[index]  # matches every string
            # A blank line keeps the blockquote markers: without them it would end the quote.
            blank = prefix.rstrip()
            out.extend(prefix + piece if piece else blank for piece in rendered[number].split("\n"))
        else:
            out.append(line)
    return "\n".join(out)
