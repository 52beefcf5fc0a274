"""Put a page together: directives become source listings and blocks of live output.

Hosts differ in when output can be placed. MkDocs converts every page before refkit needs any
output, so :func:`assemble_page` leaves a placeholder per block and :func:`fill_placeholders`
swaps in the HTML once the snippets have run. Under Python-Markdown alone (Zensical), a page's
snippets are waited for first and each block's HTML goes straight into Markdown's stash. Both
use the same two functions below, so a page looks the same under every host.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from refkit.engine import render
from refkit.engine.directive import (
    Directive,
    find_directives,
    heading_levels,
    replace_directives,
)
from refkit.engine.discovery import Snippet
from refkit.engine.downloads import DownloadLinks
from refkit.engine.environments import DEFAULT_ENVIRONMENT
from refkit.engine.listings import source_html
from refkit.engine.run_environments import (
    absence,
    accept_command,
    sync_command,
    undeclared_reason,
)
from refkit.engine.session import BuildSession, Problem

__all__ = [
    "Block",
    "assemble_page",
    "block_html",
    "fill_placeholders",
    "generated_markdown",
    "placeholder_token",
    "restore_unindexed",
    "set_aside_unindexed",
]

BlockKind = Literal["html", "output", "environment"]


@dataclass(frozen=True)
class Block:
    """What stands in for a placeholder: ready HTML, or output known once snippets ran.

    Attributes:
        kind: ``html`` (ready), ``output`` (of :attr:`snippet`) or ``environment`` (the table).
        html: The HTML of an ``html`` block; of an ``output`` block, what comes before the
            output (the snippet's source listing).
        snippet: The snippet of an ``output`` block.
        where: ``page:line`` of the directive, for messages.
    """

    kind: BlockKind = "html"
    html: str = ""
    snippet: Snippet | None = None
    where: str = ""


Placeholder = Callable[[Block], str]
"""Turns a block into the text that stands for it in the page's Markdown."""


def assemble_page(
    session: BuildSession,
    path: str,
    markdown: str,
    *,
    first_line: int,
    topic: str,
    placeholder: Placeholder,
    downloads: DownloadLinks | None = None,
) -> tuple[str, list[Problem]]:
    """Replace a page's directives and append its topic's references.

    Args:
        session: The build the page belongs to.
        path: The page, relative to the docs folder, for messages.
        markdown: The page as the host hands it to Markdown (front matter removed).
        first_line: The file line on which ``markdown`` starts, so messages name file lines.
        topic: The ``topic`` of its front matter, or ``""``.
        placeholder: Called for every block, in page order.
        downloads: What a topic page links under its title (see :mod:`refkit.engine.downloads`);
            ``None`` for none.

    Returns:
        The new Markdown, and the problems found (malformed or unknown directives, an unknown
        topic, a snippet embedded twice).
    """
    shift = first_line - 1
    directives, errors = find_directives(markdown)
    problems = [
        Problem(f"{path}:{error.line + shift}", f"{error.reason}: {error.text.strip()}")
        for error in errors
    ]
    rendered: dict[int, str] = {}
    seen: Counter[str] = Counter()
    headings = heading_levels(markdown) if directives else []
    for directive in directives:
        where = f"{path}:{directive.line + shift}"
        if directive.kind == "environment":
            rendered[directive.line] = placeholder(Block(kind="environment", where=where))
            continue
        if directive.kind in ("topics", "api"):
            rendered[directive.line] = generated_markdown(session, directive.kind, path)
            continue
        seen[directive.snippet_id] += 1
        if seen[directive.snippet_id] == 2:
            problems.append(
                Problem(where, f"snippet {directive.snippet_id} is embedded twice on this page")
            )
        # A title at the top level is a heading one level below the section it is in.
        above = [level for line, level in headings if line < directive.line]
        level = (above[-1] if above else 1) + 1 if not directive.indent else 0
        rendered[directive.line] = _directive_markdown(
            session, directive, where, placeholder, problems, level=level
        )
    references, links = "", None
    if topic:
        known = session.catalog.topics.get(topic)
        if known is None:
            problems.append(Problem(path, f"front matter names unknown topic {topic!r}"))
        else:
            html = render.references_html(known.references, session.dead_links)
            references = "\n\n## References\n\n" + placeholder(Block(html=html)) + "\n"
            if downloads is not None:
                html = render.downloads_html(downloads.notebook, downloads.script, downloads.colab)
                links = placeholder(Block(html=html))
    # The page's own title, found by the scan that found its directives (none is added: a
    # snippet's title is a heading of level 2 or more), so the new page is never scanned again.
    title = None
    if links is not None:
        levels = headings if directives else heading_levels(markdown)
        title = next((line for line, level in levels if level == 1), None)
        if title is not None:
            rendered[title] = _after_line(markdown, title, links)
    markdown = replace_directives(markdown, rendered) + references
    if links is not None and title is None:
        markdown = f"{links}\n\n{markdown}"  # no title: the links open the page
    return markdown, problems


def _after_line(markdown: str, number: int, block: str) -> str:
    """Line ``number`` (1-based) of ``markdown``, then ``block`` as a paragraph of its own.

    Examples:
        >>> _after_line("Intro\\n# Title\\ntext", 2, "LINKS")
        '# Title\\n\\nLINKS\\n'
    """
    line = markdown.split("\n", number)[number - 1]
    return f"{line}\n\n{block}\n"


def generated_markdown(session: BuildSession, kind: str, path: str) -> str:
    """The table of topics, or the API reference of the topic modules, for the page ``path``."""
    folder = posixpath.dirname(path) or "."
    rows = [
        (topic, posixpath.relpath(page, folder) if page else None)
        for topic, page in session.topic_pages()
    ]
    if kind == "topics":
        return render.topics_table_markdown((t.title, t.summary, link) for t, link in rows)
    package = session.catalog.package_dir.name
    return render.api_markdown(package, ((t.module, t.title, link) for t, link in rows))


def _directive_markdown(
    session: BuildSession,
    directive: Directive,
    where: str,
    placeholder: Placeholder,
    problems: list[Problem],
    *,
    level: int,
) -> str:
    """A snippet directive's Markdown; its title a heading of ``level`` (0: a plain title)."""
    parts = []
    if directive.title and level:
        parts.append(render.title_heading(directive.title, level))
    elif directive.title:  # inside a list item, an admonition or a quote: no heading there
        parts.append(placeholder(Block(html=render.title_html(directive.title))))
    snippet = session.catalog.snippets.get(directive.snippet_id)
    if snippet is None:
        reason = session.unknown_snippet_reason(directive.snippet_id)
        problems.append(Problem(where, reason))
        parts.append(
            placeholder(Block(html=render.not_run_panel_html(directive.snippet_id, reason)))
        )
        return "\n\n".join(parts)
    # Listing, identifiers and output in one block: a placeholder is a paragraph the host's
    # Markdown parses, and three per snippet were a tenth of the topic pages' conversion.
    source = source_html(snippet, directive.source, session.kept_listings())
    if source:  # highlighted here, not by the host (see refkit.engine.listings)
        source += render.identifiers_html(snippet)
    parts.append(placeholder(Block(kind="output", snippet=snippet, where=where, html=source)))
    return "\n\n".join(parts)


def block_html(session: BuildSession, block: Block) -> tuple[str, list[Problem]]:
    """The HTML of a block, once the snippets it shows have results, and its problems."""
    if block.kind == "environment":
        table = render.environment_table_html(session.environments())
        reports = session.environment_reports()
        if reports:
            table += render.declared_environments_html(reports.values())
        return table, []
    if block.kind == "html" or block.snippet is None:
        return block.html, []
    html, problems = _output_html(session, block.snippet, block.where)
    return block.html + html, problems


def _output_html(session: BuildSession, snippet: Snippet, where: str) -> tuple[str, list[Problem]]:
    """A snippet's output: live, or in tabs, one per environment it runs in."""
    names = session.environments_of(snippet.id)
    if len(names) == 1:
        return _live_html(session, snippet, where, DEFAULT_ENVIRONMENT)
    tabs: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for name in names:
        html, found = _environment_html(session, snippet, where, name)
        tabs.append((name, html))
        problems += found
    place = hashlib.sha256(f"{where}\0{snippet.id}".encode()).hexdigest()[:12]
    line = where.rpartition(":")[2]
    number = int(line) if line.isdigit() else 1
    return render.environment_tabs_html(tabs, place, number), problems


def _live_html(
    session: BuildSession, snippet: Snippet, where: str, environment: str, *, tabbed: bool = False
) -> tuple[str, list[Problem]]:
    """The output, stamp and drift notice of a snippet's result in one environment."""
    result = session.result(snippet.id, environment)
    if result is None:
        reason = "Not run (execute is 'never') and no cached output matches the current code."
        return render.not_run_panel_html(snippet.id, reason), []
    if not result.ok:
        output = render.output_html(result) if result.events else ""
        panel = render.problem_panel_html(snippet.id, result)
        return output + panel, [session.failure_problem(snippet, result, where)]
    # A snippet in the default environment only keeps the stamp it always had; tabs name
    # TensorFlow and Keras where installed.
    extra = session.stamp_versions(environment) if tabbed else {}
    parts = [render.output_html(result), render.stamp_html(result, extra)]
    problems = []
    drift = session.drift(snippet.id, environment)
    if drift is not None:
        there = "" if environment == DEFAULT_ENVIRONMENT else f" in environment {environment}"
        problems.append(
            Problem(
                where,
                f"snippet {snippet.id}{there} no longer gives its approved output "
                f"({accept_command(snippet.id, environment)} records it if the change is "
                f"right):\n{drift.diff}",
            )
        )
        parts.append(render.drift_notice_html(drift))
    return "".join(parts), problems


def _environment_html(
    session: BuildSession, snippet: Snippet, where: str, environment: str
) -> tuple[str, list[Problem]]:
    """One tab: the live output where the environment is there, else the recorded one."""
    if environment == DEFAULT_ENVIRONMENT:
        return _live_html(session, snippet, where, environment, tabbed=True)
    report = session.environment_reports().get(environment)
    if report is None:
        reason = (
            f"snippet {snippet.id} {undeclared_reason(environment, session.environment_reports())}"
        )
        return render.not_run_panel_html(snippet.id, reason), [Problem(where, reason)]
    if report.ok:
        return _live_html(session, snippet, where, environment, tabbed=True)
    session.note_missing(environment)
    problems = []
    if session.settings.live_only:
        problems.append(
            Problem(
                where,
                f"snippet {snippet.id} cannot run in environment {environment!r}: it "
                f"{absence(report)}, and live_only is set",
                fatal=session.mode == "build",
            )
        )
    recorded = session.recorded(snippet.id, environment)
    command = sync_command(report)
    if recorded is None:
        reason = (
            f"environment {environment!r} is not available here ({report.status}) and no "
            "output was recorded there"
        )
        if command:
            reason += (
                f": `{command}`, then `{accept_command(snippet.id, environment)}`, records one"
            )
        return render.not_run_panel_html(snippet.id, reason), problems
    html = render.recorded_output_html(
        environment, recorded.text, recorded.stamp, report.status, command
    )
    return html, problems


def placeholder_token(page: str, number: int) -> str:
    """A token that survives Markdown untouched and cannot occur in a page by chance.

    Examples:
        >>> placeholder_token("index.md", 0)
        'REFKITBLOCKa48746cae7N0X'
    """
    nonce = hashlib.sha256(page.encode()).hexdigest()[:10]
    return f"REFKITBLOCK{nonce}N{number}X"


# Starting with its literal text, the pattern is found by a fast scan for that text; an optional
# ``<p>`` in front would make the engine try a match at every character of the page instead (30
# ms a build on this site's topic pages, against under 1 ms). The paragraph is looked at by hand.
_TOKEN = re.compile(r"REFKITBLOCK[0-9a-f]{10}N\d+X")
_PARAGRAPH_OPEN, _PARAGRAPH_CLOSE = "<p>", "</p>"


def fill_placeholders(
    html: str, blocks: Mapping[str, Block], session: BuildSession
) -> tuple[str, list[Problem]]:
    """Swap each placeholder token in converted HTML for its block's HTML.

    A token Markdown wrapped in a paragraph loses the paragraph: the block is HTML of its own.
    """
    problems: list[Problem] = []
    pieces: list[str] = []
    kept_from = 0  # what is copied from ``html`` starts here
    for match in _TOKEN.finditer(html):
        block = blocks.get(match[0])
        if block is None:
            continue
        start, end = match.span()
        before = start - len(_PARAGRAPH_OPEN)
        if before >= kept_from and html.startswith(_PARAGRAPH_OPEN, before):
            start = before
        if html.startswith(_PARAGRAPH_CLOSE, end):
            end += len(_PARAGRAPH_CLOSE)
        text, found = block_html(session, block)
        problems.extend(found)
        pieces += [html[kept_from:start], text]
        kept_from = end
    pieces.append(html[kept_from:])
    return "".join(pieces), problems


# A nonce per process: the page's own raw HTML (a Markdown author may write comments) cannot
# name a set-aside part by chance or on purpose; snippet output is escaped and holds no comment.
_SET_ASIDE_NONCE = secrets.token_hex(6)
# A comment: a search plugin indexes no comment's text.
_SET_ASIDE = re.compile(rf"<!--REFKITSOURCE{_SET_ASIDE_NONCE}N(\d+)X-->")
# What search leaves out, by the markers around it: source listings, then pictures and their
# text forms (neither kind holds the other's markers).
_UNINDEXED = (
    (render.SOURCE_OPEN_HTML, render.SOURCE_CLOSE_HTML),
    (render.UNINDEXED_OPEN_HTML, render.UNINDEXED_CLOSE_HTML),
)


def set_aside_unindexed(html: str) -> tuple[str, list[str]]:
    """``html`` with each part search leaves out replaced by a token, and the parts.

    The search index leaves source listings and pictures out anyway (they are marked
    ``data-search-exclude``), but a search plugin still parses their markup, hundreds of
    kilobytes a site (this site's pictures alone were half of what Material's search parsed of
    the topic pages): set aside while it indexes the page, they cost it nothing.
    :func:`restore_unindexed` puts them back in the finished page.

    Examples:
        >>> page = f"<p>a</p>{render.SOURCE_OPEN_HTML}<pre>x</pre>{render.SOURCE_CLOSE_HTML}<p>b</p>"
        >>> short, parts = set_aside_unindexed(page)
        >>> short.startswith("<p>a</p><!--REFKITSOURCE") and short.endswith("N0X--><p>b</p>")
        True
        >>> restore_unindexed(short, parts) == page
        True
    """
    parts: list[str] = []
    for opening, closing in _UNINDEXED:
        # Found with ``str.find``: a lazy ``.*?`` between the markers costs the regular-expression
        # engine a step per character of every part (5 ms a build here, against 0.6).
        pieces: list[str] = []
        kept_from = 0
        while (start := html.find(opening, kept_from)) >= 0:
            end = html.find(closing, start + len(opening))
            if end < 0:
                break
            end += len(closing)
            pieces += [
                html[kept_from:start],
                f"<!--REFKITSOURCE{_SET_ASIDE_NONCE}N{len(parts)}X-->",
            ]
            parts.append(html[start:end])
            kept_from = end
        pieces.append(html[kept_from:])
        html = "".join(pieces)
    return html, parts


def restore_unindexed(html: str, parts: list[str]) -> str:
    """Put back what :func:`set_aside_unindexed` took out (a token it did not make stays)."""
    if not parts:
        return html

    def part(match: re.Match[str]) -> str:
        number = int(match[1])
        return parts[number] if number < len(parts) else match[0]

    return _SET_ASIDE.sub(part, html)
