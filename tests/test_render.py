import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from refkit.engine import render
from refkit.engine.discovery import Snippet
from refkit.engine.drift import Drift, compare
from refkit.engine.listings import KeptListings, source_html
from refkit.engine.references import Reference
from refkit.engine.results import ERROR, OK, ErrorInfo, OutputEvent, RunEnvironment, SnippetResult

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


def test_a_listing_shows_code_that_would_close_a_fence_or_a_tag_as_text():
    source = 'def demo_f():\n    return "```</div><!-- /refkit-source -->"\n'
    snippet = Snippet("m.demo_f", "m", "demo_f", Path("m.py"), 1, source, "", "")
    block = source_html(snippet, "show", KeptListings())
    assert block.count(render.SOURCE_CLOSE_HTML) == 1 and block.endswith(render.SOURCE_CLOSE_HTML)
    assert "```&lt;/div&gt;&lt;!-- /refkit-source --&gt;" in block


# --- control characters are shown, never raw -------------------------------------------------------

CONTROL = "a\x00b\x1b[31mc\x7fd\x85e\x9bf\x07g\rh\x0bi\x0cj\ud800k"
# What must not reach a page raw: C0 controls but tab and newline, DEL, C1, lone surrogates.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
SHOWN = '<span class="refkit-control">\\x1b</span>'


def everything_rendered_from(text: str) -> dict[str, str]:
    """Every piece of HTML render.py makes, each fed ``text`` wherever it takes text."""
    env = RunEnvironment(text, text, text, text, text)
    error = ErrorInfo(text, text, f"Traceback\n{text}")
    events = tuple(OutputEvent(s, text) for s in ("stdout", "stderr", "warning", "log", "native"))
    ok = SnippetResult("m.f", OK, events, return_text=text, environment=env)
    return {
        "output": render.output_html(ok),
        "returned html": render.output_html(SnippetResult("m.f", OK, return_html=f"<b>{text}</b>")),
        "stamp": render.stamp_html(ok),
        "title": render.title_html(text),
        "problem": render.problem_panel_html(text, SnippetResult("m.f", ERROR, error=error)),
        "drift": render.drift_notice_html(Drift(text, Path(f"approved/{text}.txt"), text)),
        "not run": render.not_run_panel_html(text, text),
        "references": render.references_html(
            [Reference("https://a.org", text, text, text)], dead={"https://a.org": text}
        ),
        "environments": render.environment_table_html([(env, 1)]),
        "source": source_html(
            Snippet(
                "m.demo_f", "m", "demo_f", Path("m.py"), 1, f"x = {text!r}\n# {text}\n", "", ""
            ),
            "show",
            KeptListings(),
        ),
    }


@pytest.mark.parametrize("piece", everything_rendered_from(CONTROL))
def test_no_control_character_reaches_a_page_raw(piece):
    html = everything_rendered_from(CONTROL)[piece]
    assert RAW_CONTROL.search(html) is None, piece
    assert "\\x1b" in html and "\\x00" in html and "\\x85" in html and "\\ud800" in html


@pytest.mark.parametrize(
    "piece",
    [p for p in everything_rendered_from(CONTROL) if p not in {"returned html", "source"}],
)
def test_control_characters_in_text_stand_apart_in_their_own_span(piece):
    assert SHOWN in everything_rendered_from(CONTROL)[piece]


def test_a_run_of_control_characters_is_one_span_and_tab_and_newline_stay():
    html = render.title_html("a\x1b\x1b\tb\nc")
    assert html == (
        '<p class="refkit-title">a<span class="refkit-control">\\x1b\\x1b</span>\tb\nc</p>'
    )


def test_raw_html_from_repr_html_shows_control_characters_as_plain_escapes():
    # No span: the character may sit in an attribute, where markup would break the tag.
    result = SnippetResult("m.f", OK, return_html='<td title="x\x1by">\x00</td>')
    assert '<td title="x\\x1by">\\x00</td>' in render.output_html(result)


def test_an_odd_stream_name_cannot_break_out_of_its_class():
    html = render.output_html(SnippetResult("m.f", OK, (OutputEvent('x" onclick="y\x1b', "t"),)))
    assert '<span class="refkit-xonclicky">t</span>' in html


# --- links are http(s) only ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>", "/relative", "", 7],
)
def test_references_html_never_links_what_is_not_an_http_address(url):
    # Reference refuses such addresses; anything shaped like one is refused here too.
    ref = SimpleNamespace(url=url, title="Click", good_for="Runs code.", search_query=None)
    html = render.references_html([ref])
    assert "href" not in html
    assert "Click" in html and "not linked: not an http(s) address" in html


# --- the drift notice names the approved file as the repository does --------------------------------


def test_the_drift_notice_names_the_approved_file_relative_to_the_project(tmp_path):
    project = tmp_path / "clone-3f9a"
    approved = project / "checks" / "approved" / "m" / "f.txt"
    drift = compare("m.f", "a\n", "b\n", approved, project_dir=project)
    assert drift is not None
    html = render.drift_notice_html(drift)
    assert str(tmp_path) not in html and str(tmp_path) not in drift.diff
    assert "differs from checks/approved/m/f.txt." in html
    assert drift.diff.startswith("--- checks/approved/m/f.txt (approved)\n+++ m.f (live)")


def test_without_the_project_the_drift_notice_still_shows_no_absolute_path(tmp_path):
    drift = compare("m.f", "a\n", "b\n", tmp_path / "approved" / "m" / "f.txt")
    assert drift is not None
    html = render.drift_notice_html(drift)
    assert str(tmp_path) not in html and "differs from approved/m/f.txt." in html
