from pathlib import Path

from refkit.engine import render
from refkit.engine.discovery import Snippet
from refkit.engine.references import Reference
from refkit.engine.results import ERROR, OK, ErrorInfo, OutputEvent, SnippetResult

HOSTILE = "</pre><script>alert(1)</script> <s> </s> <pad> & \"'"


def test_every_stream_is_escaped():
    events = tuple(
        OutputEvent(stream, HOSTILE) for stream in ("stdout", "stderr", "warning", "log", "native")
    )
    html = render.output_html(SnippetResult("m.f", OK, events, return_text=HOSTILE))
    assert "<script>" not in html and "</pre><script>" not in html
    assert html.count("&lt;/pre&gt;&lt;script&gt;") == 6
    assert "&lt;pad&gt;" in html


def test_output_keeps_the_order_of_events():
    events = (
        OutputEvent("stdout", "one"),
        OutputEvent("stderr", "two"),
        OutputEvent("stdout", "three"),
    )
    html = render.output_html(SnippetResult("m.f", OK, events))
    assert html.index("one") < html.index("two") < html.index("three")
    assert '<span class="refkit-stderr">two</span>' in html


def test_repr_html_is_the_only_raw_html():
    html = render.output_html(
        SnippetResult("m.f", OK, return_html="<table><tr><td>1</td></tr></table>")
    )
    assert '<div class="refkit-return-html"><table><tr><td>1</td></tr></table></div>' in html


def test_error_panel_escapes_the_traceback_and_names_the_snippet():
    result = SnippetResult(
        "m.f", ERROR, error=ErrorInfo("ValueError", HOSTILE, "Traceback\nValueError: " + HOSTILE)
    )
    html = render.problem_panel_html("m.f", result)
    assert "Snippet m.f raised ValueError" in html
    assert "<script>" not in html
    assert (
        "ValueError: &lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    )  # the traceback is there


def test_references_open_safely_and_carry_the_query():
    ref = Reference('https://x.org/a?b=1&c="2"', "T <1>", "Good for it.", "my query")
    html = render.references_html([ref])
    assert 'href="https://x.org/a?b=1&amp;c=&quot;2&quot;"' in html
    assert 'target="_blank" rel="noopener noreferrer"' in html
    assert "T &lt;1&gt;" in html and "my query" in html


def test_source_fence_outgrows_backticks_in_the_code():
    source = 'def demo_f():\n    return "```"\n'
    snippet = Snippet("m.demo_f", "m", "demo_f", Path("m.py"), 1, source, "", "")
    block = render.source_markdown(snippet, "show")
    assert block.startswith("````python\n") and block.endswith("\n````")
