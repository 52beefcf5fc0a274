"""Turn snippets, results and references into the Markdown and HTML a page shows.

Pure functions of their arguments. Everything that came from running code is escaped; the only
raw HTML that reaches a page is what a snippet returned from ``_repr_html_``.

Control characters never reach a page raw: C0 controls other than tab and newline, DEL, C1
controls (and lone surrogates, which no page encoding can hold) are shown as escapes such as
``\\x1b``, in a ``<span class="refkit-control">`` so they stand apart from text that happened to
print a backslash. A terminal would obey an ANSI escape; a page shows that there was one. Inside
raw ``_repr_html_``, where no span can go, and in source listings, whose text a reader copies as
code, the escape is plain text.

A reference's address becomes a link only when it is an ``http(s)`` address with a host (see
:func:`~refkit.engine.references.is_web_address`), whatever object it is handed.
"""

from __future__ import annotations

import functools
import html
import re
import textwrap
from collections.abc import Iterable, Mapping

from packaging.requirements import Requirement

from refkit.engine.discovery import Snippet
from refkit.engine.drift import Drift
from refkit.engine.environments import STAMP_PACKAGES, SyncReport, installed_versions
from refkit.engine.references import Reference, is_web_address
from refkit.engine.results import (
    CRASHED,
    DISPLAY,
    ERROR,
    TIMEOUT,
    OutputEvent,
    RunEnvironment,
    SnippetResult,
)
from refkit.engine.text import CONTROL, escapes, printable

__all__ = [
    "declared_environments_html",
    "display_html",
    "downloads_html",
    "drift_notice_html",
    "environment_table_html",
    "environment_tabs_html",
    "listing_code",
    "not_run_panel_html",
    "output_html",
    "problem_panel_html",
    "recorded_output_html",
    "references_html",
    "stamp_html",
    "title_heading",
    "title_html",
]


_CLASS_UNSAFE = re.compile(r"[^a-z0-9_-]")


def _text(value: object) -> str:
    r"""Any value as text for a page: HTML-escaped, control characters shown in their own span.

    Examples:
        >>> print(_text("<b>\x1b[31mred\x00\x00"))
        &lt;b&gt;<span class="refkit-control">\x1b</span>[31mred<span class="refkit-control">\x00\x00</span>
    """
    escaped = html.escape(str(value))
    return CONTROL.sub(lambda m: f'<span class="refkit-control">{escapes(m[0])}</span>', escaped)


def _visible(text: str) -> str:
    r"""Control characters written as escapes, no markup: for raw HTML and source listings.

    Examples:
        >>> print(_visible('<td title="a\x1bb">\x00</td>'))
        <td title="a\x1bb">\x00</td>
    """
    return printable(text)


def listing_code(snippet: Snippet) -> str:
    """The code a snippet's source listing shows (:mod:`refkit.engine.listings` highlights it).

    Examples:
        >>> from pathlib import Path
        >>> s = Snippet("m.demo_f", "m", "demo_f", Path("m.py"), 1, "  def demo_f():\\n    pass\\x1b\\n", "", "")
        >>> listing_code(s)
        'def demo_f():\\n  pass\\\\x1b'
    """
    return _listing_text(snippet.display_source or snippet.source)


@functools.lru_cache(maxsize=1024)
def _listing_text(source: str) -> str:
    # Kept: a build asks twice for every snippet, to render its listing and to keep its markup
    # (`BuildSession.prune_cache`), and `mkdocs serve` asks again on every rebuild.
    # As plain escapes, not in spans: what a reader copies from the listing is the code.
    return _visible(textwrap.dedent(source).rstrip("\n"))


UNINDEXED_OPEN_HTML = "<!-- refkit:unindexed -->"
"""Opens a part of a block that search leaves out (``data-search-exclude``) and that a search
plugin need not even parse: a picture, its text form. The plugin sets such parts aside while
the page is indexed (:func:`~refkit.engine.assemble.set_aside_unindexed`)."""
UNINDEXED_CLOSE_HTML = "<!-- /refkit:unindexed -->"
"""Closes it (a picture's raw markup cannot hold this marker: it is rewritten there)."""

SOURCE_OPEN_HTML = '<div class="refkit-source" data-search-exclude>'
"""Opens a snippet's source listing: search indexes its identifiers instead (see below)."""
SOURCE_CLOSE_HTML = "</div><!-- /refkit-source -->"
"""Closes it; the comment marks the end, so the listing can be cut out whole (its code is
escaped, so the marker cannot occur inside it)."""


def identifiers_html(snippet: Snippet) -> str:
    """What the snippet's code uses, for the search index only.

    Whole source listings made search excerpts of a thousand characters of code, so the listing
    is left out of the index (``data-search-exclude``), and this hidden line keeps the code
    findable by the names a reader searches for.

    Examples:
        >>> from pathlib import Path
        >>> s = Snippet("m.demo_f", "m", "demo_f", Path("m.py"), 1, "", "", "", identifiers=("A<b>",))
        >>> identifiers_html(s)
        '<p class="refkit-identifiers" hidden>Code of m.demo_f uses: A&lt;b&gt;</p>'
    """
    if not snippet.identifiers:
        return ""
    names = ", ".join(_text(name) for name in snippet.identifiers)
    return f'<p class="refkit-identifiers" hidden>Code of {_text(snippet.id)} uses: {names}</p>'


def title_heading(title: str, level: int) -> str:
    """A snippet's title as a Markdown heading: in the table of contents, and linkable.

    Examples:
        >>> print(title_heading("<b>Ids</b> *", 3))
        ### &lt;b&gt;Ids&lt;/b&gt; \\*
        >>> print(title_heading("a\x1bb", 9))
        ###### a\\\\x1bb
    """
    return "#" * max(1, min(level, 6)) + " " + markdown_text(_visible(title))


def title_html(title: str) -> str:
    """The title shown above a snippet.

    Examples:
        >>> title_html("<b>Ids</b>")
        '<p class="refkit-title">&lt;b&gt;Ids&lt;/b&gt;</p>'
    """
    return f'<p class="refkit-title">{_text(title)}</p>'


def output_html(result: SnippetResult) -> str:
    """The live output of a run: output events in order, then the return value.

    Printed text is escaped into ``<pre>`` blocks; a figure or view the snippet showed sits
    between them, where it was shown (see :func:`display_html`).

    Examples:
        >>> from refkit.engine.results import OK, OutputEvent
        >>> r = SnippetResult("m.f", OK, (OutputEvent("stdout", "<s> hi </s>\\n"),), return_text="3")
        >>> print(output_html(r))
        <div class="refkit-output"><pre><code><span class="refkit-stdout">&lt;s&gt; hi &lt;/s&gt;
        </span></code></pre><pre class="refkit-return"><code><span class="refkit-return-label">returned</span> 3</code></pre></div>
    """
    parts = ['<div class="refkit-output">']
    spans: list[str] = []
    for event in (*result.events, None):
        if event is not None and event.stream != DISPLAY:
            stream = _CLASS_UNSAFE.sub("", event.stream)
            spans.append(f'<span class="refkit-{stream}">{_text(event.text)}</span>')
            continue
        if spans:
            parts.append(f"<pre><code>{''.join(spans)}</code></pre>")
            spans = []
        if event is not None:
            parts.append(display_html(event))
    if result.truncated:
        parts.append(
            '<p class="refkit-note">Output truncated: the snippet printed more than refkit keeps.</p>'
        )
    if result.return_html is not None:
        # Raw by design, but a control character is shown even here: as a plain escape, which
        # is safe in text, in attribute values and in comments alike.
        parts.append(f'<div class="refkit-return-html">{_visible(result.return_html)}</div>')
    elif result.return_text is not None:
        parts.append(
            '<pre class="refkit-return"><code><span class="refkit-return-label">returned</span> '
            f"{_text(result.return_text)}</code></pre>"
        )
    if len(parts) == 1:
        parts.append('<p class="refkit-note">(no output)</p>')
    parts.append("</div>")
    return "".join(parts)


def display_html(event: OutputEvent) -> str:
    """A figure or view a snippet showed: the picture, its caption, and its text form folded.

    The picture is the one raw part (SVG that matplotlib wrote, HTML that a view of
    :mod:`refkit.engine.views` built, escaping what it holds); it stays out of the search
    index, and so does the text form, but the caption is indexed. Without a picture (it was
    too large to keep) the text form is shown open.

    Examples:
        >>> from refkit.engine.results import OutputEvent
        >>> print(display_html(OutputEvent("display", "Mask <pad>\\n1 0", "<svg></svg>")))  # doctest: +NORMALIZE_WHITESPACE
        <figure class="refkit-display"><!-- refkit:unindexed --><div class="refkit-picture"
        data-search-exclude><svg></svg></div><!-- /refkit:unindexed -->
        <figcaption>Mask &lt;pad&gt;</figcaption><!-- refkit:unindexed --><details
        class="refkit-shows" data-search-exclude>
        <summary>What it shows, as text</summary><pre><code>Mask &lt;pad&gt;
        1 0</code></pre></details><!-- /refkit:unindexed --></figure>
        >>> forged = OutputEvent("display", "x", f"<svg>{UNINDEXED_CLOSE_HTML}<text>x</text></svg>")
        >>> display_html(forged).count(UNINDEXED_CLOSE_HTML)  # the picture's own marker cannot end it
        2
    """
    caption = f"<figcaption>{_text(event.caption)}</figcaption>" if event.caption.strip() else ""
    shown = f"<pre><code>{_text(event.text)}</code></pre>"
    if event.html is None:
        return f'<figure class="refkit-display">{shown}{caption}</figure>'
    # The picture is raw: a closing marker inside it would end its region early.
    picture = _visible(event.html).replace(UNINDEXED_CLOSE_HTML, "<!-- / refkit:unindexed -->")
    return (
        f'<figure class="refkit-display">{UNINDEXED_OPEN_HTML}<div class="refkit-picture"'
        f" data-search-exclude>{picture}</div>{UNINDEXED_CLOSE_HTML}\n"
        f'{caption}{UNINDEXED_OPEN_HTML}<details class="refkit-shows" data-search-exclude>\n'
        f"<summary>What it shows, as text</summary>{shown}</details>{UNINDEXED_CLOSE_HTML}</figure>"
    )


def downloads_html(notebook: str, script: str, colab: str | None = None) -> str:
    """The line under a topic page's title that links its notebook, its script and Colab.

    Examples:
        >>> print(downloads_html("m.ipynb", "m.py", "https://colab.research.google.com/github/a/b/blob/gh-pages/m.ipynb"))  # doctest: +NORMALIZE_WHITESPACE
        <p class="refkit-downloads">Run this page yourself: <a href="m.ipynb" download>notebook</a>
        · <a href="m.py" download>Python script</a>
        · <a href="https://colab.research.google.com/github/a/b/blob/gh-pages/m.ipynb">Open in Colab</a></p>
    """
    links = [
        f'<a href="{_text(notebook)}" download>notebook</a>',
        f'<a href="{_text(script)}" download>Python script</a>',
    ]
    if colab is not None and is_web_address(colab):
        links.append(f'<a href="{_text(colab)}">Open in Colab</a>')
    joined = "\n· ".join(links)
    return f'<p class="refkit-downloads">Run this page yourself: {joined}</p>'


def stamp_html(result: SnippetResult, extra: Mapping[str, str] | None = None) -> str:
    """The one-line stamp: device, versions, run time, and whether it came from the cache.

    ``extra`` adds versions the run's own record does not hold (``tensorflow``, ``keras`` in an
    environment that has them, see :func:`~refkit.engine.environments.installed_versions`).

    Examples:
        >>> from refkit.engine.results import OK
        >>> env = RunEnvironment("3.11.7", "2.13.0", "5.24.0", "0.23.3", "cpu")
        >>> r = SnippetResult("m.f", OK, environment=env, duration=0.1234, finished_at="2026-11-26T08:00:00Z")
        >>> print(stamp_html(r.cached()))
        <p class="refkit-stamp">Ran on cpu · Python 3.11.7 · torch 2.13.0 · transformers 5.24.0 · tokenizers 0.23.3 · 0.12 s · from the cache (run 2026-11-26T08:00:00Z)</p>
    """
    where = result.environment.describe() if result.environment else "unknown environment"
    where += "".join(f" · {name} {version}" for name, version in (extra or {}).items())
    origin = (
        f"from the cache (run {result.finished_at})" if result.from_cache else "run in this build"
    )
    text = f"Ran on {where} · {result.duration:.2f} s · {origin}"
    return f'<p class="refkit-stamp">{_text(text)}</p>'


_PROBLEM_TITLES = {
    ERROR: "raised {type}",
    TIMEOUT: "timed out",
    CRASHED: "crashed its process",
}


def problem_panel_html(snippet_id: str, result: SnippetResult) -> str:
    """A visible panel for a snippet that raised, timed out or killed its process.

    Examples:
        >>> from refkit.engine.results import ErrorInfo
        >>> r = SnippetResult("m.f", ERROR, error=ErrorInfo("ValueError", "bad <x>", "Traceback...\\nValueError: bad <x>"))
        >>> print(problem_panel_html("m.f", r))  # doctest: +NORMALIZE_WHITESPACE
        <div class="admonition failure refkit-problem"><p class="admonition-title">Snippet m.f raised ValueError</p><pre><code>Traceback...
        ValueError: bad &lt;x&gt;</code></pre></div>
    """
    error = result.error
    label = _PROBLEM_TITLES.get(result.status, result.status).format(
        type=error.type if error else ""
    )
    body = (error.traceback or f"{error.type}: {error.message}") if error else ""
    return (
        '<div class="admonition failure refkit-problem">'
        f'<p class="admonition-title">Snippet {_text(snippet_id)} {_text(label)}</p>'
        f"<pre><code>{_text(body)}</code></pre></div>"
    )


def drift_notice_html(drift: Drift) -> str:
    """A visible notice that a live output no longer matches its approved output.

    Examples:
        >>> from pathlib import Path
        >>> print(drift_notice_html(Drift("m.f", Path("approved/m/f.txt"), "-a <s>\\n+b")))  # doctest: +NORMALIZE_WHITESPACE
        <div class="admonition warning refkit-drift"><p class="admonition-title">This output changed since it was approved</p><p>The live output above differs from approved/m/f.txt. If the change is right, record it with <code>refkit accept m.f</code>.</p><pre><code>-a &lt;s&gt;
        +b</code></pre></div>
    """
    return (
        '<div class="admonition warning refkit-drift">'
        '<p class="admonition-title">This output changed since it was approved</p>'
        f"<p>The live output above differs from {_text(drift.shown_file)}. "
        "If the change is right, record it with "
        f"<code>refkit accept {_text(drift.snippet_id)}</code>.</p>"
        f"<pre><code>{_text(drift.diff)}</code></pre></div>"
    )


def not_run_panel_html(snippet_id: str, reason: str) -> str:
    """A placeholder for a snippet with no output to show (unknown id, or not run and not cached).

    Examples:
        >>> not_run_panel_html("m.f", "no cached output & execute is never")
        '<div class="admonition warning refkit-missing"><p class="admonition-title">No output for m.f</p><p>no cached output &amp; execute is never</p></div>'
    """
    return (
        '<div class="admonition warning refkit-missing">'
        f'<p class="admonition-title">No output for {_text(snippet_id)}</p>'
        f"<p>{_text(reason)}</p></div>"
    )


def references_html(references: Iterable[Reference], dead: Mapping[str, str] | None = None) -> str:
    """The references list that ends a topic page; links open in a new tab, safely.

    Args:
        references: The topic's references.
        dead: URL -> the date ``refkit links`` first found it dead; those links are marked.

    Examples:
        >>> ref = Reference("https://a.org/x?y=1&z=2", "A & B", "Explains it.", "a query")
        >>> print(references_html([ref]))
        <ul class="refkit-references">
        <li><a href="https://a.org/x?y=1&amp;z=2" target="_blank" rel="noopener noreferrer">A &amp; B</a> — Explains it. <span class="refkit-query">Found by searching: “a query”</span></li>
        </ul>
    """
    items = []
    dead = dead or {}
    for ref in references:
        query = (
            f' <span class="refkit-query">Found by searching: “{_text(ref.search_query)}”</span>'
            if ref.search_query
            else ""
        )
        title = _text(ref.title)
        # Reference checks its address when made; this holds for anything else handed here.
        if is_web_address(ref.url):
            link = (
                f'<a href="{html.escape(ref.url, quote=True)}" target="_blank" '
                f'rel="noopener noreferrer">{title}</a>'
            )
        else:
            link = f'{title} <span class="refkit-note">(not linked: not an http(s) address)</span>'
        since = dead.get(ref.url) if isinstance(ref.url, str) else None
        items.append(f"<li>{link} — {_text(ref.good_for)}{query}{_dead_mark(since)}</li>")
    if not items:
        return '<p class="refkit-references">The original notes give no links for this topic.</p>'
    return '<ul class="refkit-references">\n' + "\n".join(items) + "\n</ul>"


def _dead_mark(since: str | None) -> str:
    if since is None:
        return ""
    return f' <span class="refkit-dead">Link found dead on {_text(since)}.</span>'


def environment_table_html(environments: Iterable[tuple[RunEnvironment, int]]) -> str:
    """A table of the environments outputs came from, with how many outputs each produced.

    Examples:
        >>> env = RunEnvironment("3.11.7", "2.13.0", "5.24.0", "0.23.3", "cpu")
        >>> "<td>2.13.0</td>" in environment_table_html([(env, 12)])
        True
    """
    header = (
        "<tr><th>Device</th><th>Python</th><th>torch</th><th>transformers</th>"
        "<th>tokenizers</th><th>Outputs</th></tr>"
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{_text(value)}</td>"
            for value in (env.device, env.python, env.torch, env.transformers, env.tokenizers)
        )
        + f"<td>{count}</td></tr>"
        for env, count in environments
    )
    if not rows:
        return '<p class="refkit-note">No snippet output was produced in this build.</p>'
    return (
        f'<table class="refkit-environments"><thead>{header}</thead><tbody>{rows}</tbody></table>'
    )


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|>])")
_REST_LITERAL = re.compile(r"``(.+?)``")


def markdown_text(text: str) -> str:
    """Text from a topic module, as Markdown that shows it and nothing else, on one line.

    HTML is escaped, Markdown's special characters are backslashed, and reST literals (in
    double backticks, as docstrings write them) become code spans.

    Examples:
        >>> print(markdown_text("``Conv1D(filters=1)`` <script>*bold*</script> | x"))
        `Conv1D(filters=1)` &lt;script&gt;\\*bold\\*&lt;/script&gt; \\| x
    """
    parts = _REST_LITERAL.split(" ".join(text.split()))
    shown = []
    for number, part in enumerate(parts):
        if number % 2:  # a literal: a code span shows its text as it is
            fence = "``" if "`" in part else "`"
            shown.append(f"{fence}{part.replace('|', '¦')}{fence}")
        else:
            shown.append(_MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(part, quote=False)))
    return "".join(shown)


def topics_table_markdown(rows: Iterable[tuple[str, str, str | None]]) -> str:
    """The table of topics: ``(title, summary, link to its page or None)`` per row.

    Examples:
        >>> print(topics_table_markdown([("Losses", "Which ``loss``.", "topics/loss.md")]))
        | Topic | What it covers |
        | --- | --- |
        | [Losses](topics/loss.md) | Which `loss`\\. |
    """
    lines = ["| Topic | What it covers |", "| --- | --- |"]
    for title, summary, link in rows:
        shown = markdown_text(title)
        cell = f"[{shown}]({link})" if link else shown
        lines.append(f"| {cell} | {markdown_text(summary)} |")
    return "\n".join(lines)


API_FILTERS = '["!^_[^_]", "!^demo_"]'
"""mkdocstrings' filters for topic modules: snippets are documented on their pages."""


def api_markdown(package: str, rows: Iterable[tuple[str, str, str | None]]) -> str:
    """The API reference of topic modules: ``(module, title, link to its page or None)``.

    A table linking each module to its page, then one mkdocstrings ``:::`` block per module.

    Examples:
        >>> print(api_markdown("notes", [("loss", "Losses", "../topics/loss.md")]))
        | Module | Topic page |
        | --- | --- |
        | [`notes.loss`][notes.loss] | [Losses](../topics/loss.md) |
        <BLANKLINE>
        ::: notes.loss
            options:
              filters: ["!^_[^_]", "!^demo_"]
    """
    rows = list(rows)
    lines = ["| Module | Topic page |", "| --- | --- |"]
    for module, title, link in rows:
        page = f"[{markdown_text(title)}]({link})" if link else "(no page)"
        lines.append(f"| [`{package}.{module}`][{package}.{module}] | {page} |")
    for module, _, _ in rows:
        lines += ["", f"::: {package}.{module}", "    options:", f"      filters: {API_FILTERS}"]
    return "\n".join(lines)


def recorded_output_html(
    environment: str, text: str, stamp: str, why: str, command: str = ""
) -> str:
    """An environment's recorded output, where this build could not run the snippet there.

    Labelled as what it is, with the recorded run's stamp and ``command``, which makes the
    environment for live outputs (``""``: none does, as for a CUDA one without a GPU).

    Examples:
        >>> print(recorded_output_html("legacy-tf", "<s> 1\\n", "cpu · Python 3.11.7", "never synced",
        ...                            "refkit env sync legacy-tf"))  # doctest: +NORMALIZE_WHITESPACE
        <div class="refkit-recorded"><p class="refkit-recorded-label">Recorded, not run in this
        build: environment <code>legacy-tf</code> is not available here (never synced). For live
        outputs: <code>refkit env sync legacy-tf</code></p><div class="refkit-output"><pre><code>&lt;s&gt; 1
        </code></pre></div><p class="refkit-stamp">Recorded on cpu · Python 3.11.7</p></div>
    """
    stamp_line = f"Recorded on {stamp}" if stamp else "Recorded (no stamp was kept with it)"
    return (
        '<div class="refkit-recorded"><p class="refkit-recorded-label">Recorded, not run in this '
        f"build: environment <code>{_text(environment)}</code> is not available here "
        f"({_text(why)})."
        + (f" For live outputs: <code>{_text(command)}</code>" if command else "")
        + "</p>"
        f'<div class="refkit-output"><pre><code>{_text(text)}</code></pre></div>'
        f'<p class="refkit-stamp">{_text(stamp_line)}</p></div>'
    )


_CHECKED = ' checked="checked"'


def environment_tabs_html(tabs: Iterable[tuple[str, str]], set_id: str, number: int = 1) -> str:
    """Outputs side by side as Material's content tabs (pymdownx.tabbed, ``alternate_style``).

    The markup is the one pymdownx.tabbed writes, so Material's styles and scripts apply; its
    ids start with ``__refkit_``, so they cannot clash with the page's own tabs.

    Args:
        tabs: ``(label, html)`` per tab, in order; the first is selected.
        set_id: Unique on the page, letters, digits and ``_`` (the rest is dropped).
        number: The set's number for ``data-tabs``.

    Examples:
        >>> print(environment_tabs_html([("default", "<p>a</p>"), ("<old>", "<p>b</p>")], "x1"))  # doctest: +NORMALIZE_WHITESPACE
        <div class="tabbed-set tabbed-alternate refkit-env-tabs" data-tabs="1:2"><input checked="checked" id="__refkit_x1_1" name="__refkit_x1" type="radio" /><input id="__refkit_x1_2" name="__refkit_x1" type="radio" /><div class="tabbed-labels"><label for="__refkit_x1_1">default</label><label for="__refkit_x1_2">&lt;old&gt;</label></div>
        <div class="tabbed-content"><div class="tabbed-block"><p>a</p></div><div class="tabbed-block"><p>b</p></div></div></div>
    """
    tabs = list(tabs)
    name = "__refkit_" + re.sub(r"[^A-Za-z0-9_]", "", set_id)
    inputs = "".join(
        f'<input{_CHECKED if i == 1 else ""} id="{name}_{i}" name="{name}" type="radio" />'
        for i in range(1, len(tabs) + 1)
    )
    labels = "".join(
        f'<label for="{name}_{i}">{_text(label)}</label>' for i, (label, _) in enumerate(tabs, 1)
    )
    blocks = "".join(f'<div class="tabbed-block">{body}</div>' for _, body in tabs)
    return (
        f'<div class="tabbed-set tabbed-alternate refkit-env-tabs" data-tabs="{number}:{len(tabs)}">'
        f'{inputs}<div class="tabbed-labels">{labels}</div>\n'
        f'<div class="tabbed-content">{blocks}</div></div>'
    )


def declared_environments_html(reports: Iterable[SyncReport]) -> str:
    """A table of the site's declared environments: status, pins, what was resolved, when made.

    Examples:
        >>> from refkit.engine.environments import Environment, SyncReport
        >>> env = Environment("old", ("transformers==4.57.6",))
        >>> ok = SyncReport("old", "up to date", env, requirements=("transformers==4.57.6", "torch==2.13.0"),
        ...                 resolved={"transformers": "4.57.6", "torch": "2.13.0+cpu", "six": "1"},
        ...                 made="2026-12-01T15:00:00+00:00")
        >>> print(declared_environments_html([ok]))  # doctest: +NORMALIZE_WHITESPACE
        <table class="refkit-declared"><thead><tr><th>Environment</th><th>Status</th><th>Pins</th><th>Resolved</th><th>Made</th></tr></thead><tbody><tr><td><code>old</code></td><td>up to date</td><td>transformers==4.57.6<br>torch==2.13.0</td><td>transformers 4.57.6<br>torch 2.13.0+cpu</td><td>2026-12-01T15:00:00+00:00</td></tr></tbody></table>
    """
    rows = []
    for report in reports:
        pins = report.requirements or report.environment.requirements
        # What was asked for, then what the stamps name: the versions a reader compares.
        asked = [Requirement(pin).name for pin in pins]
        resolved = installed_versions(report, dict.fromkeys([*asked, *STAMP_PACKAGES]))
        status = report.status if report.ok else f"{report.status}: recorded outputs are shown"
        cells = (
            f"<code>{_text(report.name)}</code>",
            _text(status),
            "<br>".join(_text(pin) for pin in pins),
            "<br>".join(_text(f"{name} {version}") for name, version in resolved.items()),
            _text(report.made),
        )
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    header = "".join(
        f"<th>{name}</th>" for name in ("Environment", "Status", "Pins", "Resolved", "Made")
    )
    return (
        f'<table class="refkit-declared"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
