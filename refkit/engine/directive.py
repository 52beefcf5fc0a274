r"""The Markdown directive that embeds a snippet, and its parser.

A directive is a line of its own::

    !refkit train_tokenizer.demo_pipeline_stages title="The four stages" source=hide

- the first word after ``!refkit`` is the snippet id (``<module>.<function>``);
- ``title="..."`` puts a title above the snippet;
- ``source=show`` (default), ``source=hide`` or ``source=collapsed`` controls the source listing.

A second directive, ``!refkit-environment``, renders the table of the environments the page's
outputs came from. A line may be indented (inside a list item, an admonition or a content tab);
the rendered block keeps the indent. Inside code (fenced blocks, indented code blocks and inline
code), directives are left as text.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

__all__ = [
    "ENVIRONMENT_DIRECTIVE",
    "SNIPPET_DIRECTIVE",
    "SOURCE_MODES",
    "Directive",
    "DirectiveError",
    "find_directives",
    "replace_directives",
]

SNIPPET_DIRECTIVE = "!refkit"
ENVIRONMENT_DIRECTIVE = "!refkit-environment"
SOURCE_MODES = ("show", "hide", "collapsed")

_DIRECTIVE_LINE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<name>!refkit(?:-[a-z]+)?)(?:[ \t]+(?P<args>.*?))?[ \t]*$"
)
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")
# Lines whose following, more indented lines are content rather than code: list items,
# admonitions (!!! and collapsible ???) and content tabs (===).
_BLOCK_OPENER = re.compile(r"^(?P<indent> *)(?:(?P<marker>[-*+]|\d+[.)]) +|(?:!!!|\?\?\?\+?|===) )")


class DirectiveError(ValueError):
    """A directive that cannot be understood; ``line`` is 1-based within the page."""

    def __init__(self, line: int, text: str, message: str) -> None:
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
        indent: The whitespace before the directive, repeated on every rendered line.
        kind: ``snippet`` or ``environment``.
        snippet_id: The snippet's id (``""`` for the environment directive).
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


def _parse_options(line_number: int, text: str, args: list[str]) -> tuple[str | None, str]:
    title: str | None = None
    source = "show"
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise DirectiveError(line_number, text, f"option {arg!r} is not of the form key=value")
        if key == "title":
            title = value
        elif key == "source":
            if value not in SOURCE_MODES:
                choices = ", ".join(SOURCE_MODES)
                raise DirectiveError(line_number, text, f"source={value!r} is not one of {choices}")
            source = value
        else:
            raise DirectiveError(
                line_number, text, f"unknown option {key!r} (known: title, source)"
            )
    return title, source


def _parse_line(line_number: int, text: str) -> Directive | None:
    match = _DIRECTIVE_LINE.match(text)
    if match is None:
        return None
    name, indent = match["name"], match["indent"]
    try:
        words = shlex.split(match["args"] or "")
    except ValueError as exc:
        raise DirectiveError(line_number, text, f"malformed options ({exc})") from None
    if name == ENVIRONMENT_DIRECTIVE:
        if words:
            raise DirectiveError(line_number, text, f"{ENVIRONMENT_DIRECTIVE} takes no options")
        return Directive(line_number, indent, "environment", "", None, "show", text)
    if name != SNIPPET_DIRECTIVE:
        raise DirectiveError(line_number, text, f"unknown directive {name!r}")
    if not words or "=" in words[0]:
        raise DirectiveError(line_number, text, "the snippet id is missing")
    title, source = _parse_options(line_number, text, words[1:])
    return Directive(line_number, indent, "snippet", words[0], title, source, text)


def _indent_width(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip())


def _content_indent(line: str) -> int:
    """Where the content of a block opened by ``line`` starts.

    A list item's content starts after its marker, an admonition's or a content tab's four
    columns in; any other line is its own content.
    """
    opened = _BLOCK_OPENER.match(line.expandtabs(4))
    if opened is None:
        return _indent_width(line)
    if opened["marker"]:
        return len(opened[0])
    return len(opened["indent"]) + 4


def _is_indented_code(previous: list[tuple[str, bool]], line: str) -> bool:
    """Whether ``line`` continues or opens an indented code block.

    Args:
        previous: The lines before it, each with whether it is indented code.
        line: A non-blank line outside fences.
    """
    indent = _indent_width(line)
    if indent < 4:
        return False
    if not previous:
        return True
    last_line, last_is_code = previous[-1]
    if last_line.strip() and not last_is_code:
        return False  # a lazy continuation of the paragraph or list item above
    # The block this line belongs to opens at the nearest line above that is indented less.
    for earlier, _ in reversed(previous):
        if earlier.strip() and _indent_width(earlier) < indent:
            return indent >= _content_indent(earlier) + 4
    return True


def _scan(markdown: str) -> list[tuple[int, str, bool]]:
    """Each line with its number and whether it may hold a directive (not in code)."""
    scanned = []
    fence: str | None = None
    seen: list[tuple[str, bool]] = []  # outside fences: each line, and whether indented code
    for number, line in enumerate(markdown.split("\n"), start=1):
        if fence is None:
            opened = _FENCE_OPEN.match(line)
            if opened:
                fence = opened["fence"]
                scanned.append((number, line, False))
                continue
            in_code = bool(line.strip()) and _is_indented_code(seen, line)
            seen.append((line, in_code))
            scanned.append((number, line, not in_code))
        else:
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = None
            scanned.append((number, line, False))
    return scanned


def find_directives(markdown: str) -> tuple[list[Directive], list[DirectiveError]]:
    """Find every directive of a page, and every malformed one.

    Args:
        markdown: The page's Markdown.

    Returns:
        The directives in page order, and the errors (one per malformed directive line).

    Examples:
        >>> page = 'Intro\\n!refkit a.demo_x title="Hi there" source=hide\\n```\\n!refkit b.demo_y\\n```'
        >>> found, errors = find_directives(page)
        >>> [(d.line, d.snippet_id, d.title, d.source) for d in found], errors
        ([(2, 'a.demo_x', 'Hi there', 'hide')], [])
        >>> find_directives("!refkit a.demo_x colour=red")[1][0].reason
        "unknown option 'colour' (known: title, source)"
        >>> find_directives("Use `!refkit a.demo_x` in a page")[0]
        []
    """
    found: list[Directive] = []
    errors: list[DirectiveError] = []
    for number, line, live in _scan(markdown):
        if not live or "!refkit" not in line:
            continue
        try:
            directive = _parse_line(number, line)
        except DirectiveError as exc:
            errors.append(exc)
            continue
        if directive is not None:
            found.append(directive)
    return found, errors


def replace_directives(markdown: str, rendered: dict[int, str]) -> str:
    """Replace directive lines by their rendered blocks.

    Args:
        markdown: The page's Markdown.
        rendered: Replacement text by 1-based line number; each line of it gets the
            directive's indent.

    Returns:
        The page with those lines replaced; every other line is unchanged.

    Examples:
        >>> replace_directives("a\\n  !refkit m.demo_f\\nb", {2: "X\\n\\nY"})
        'a\\n  X\\n\\n  Y\\nb'
    """
    out: list[str] = []
    for number, line in enumerate(markdown.split("\n"), start=1):
        if number in rendered:
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + piece if piece else "" for piece in rendered[number].split("\n"))
        else:
            out.append(line)
    return "\n".join(out)
