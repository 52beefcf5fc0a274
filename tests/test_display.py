"""Figures and views a snippet shows: through a real worker, onto a page, into the drift check."""

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import make_site, topic_package

from refkit.engine.assemble import restore_unindexed, set_aside_unindexed
from refkit.engine.discovery import load_catalog
from refkit.engine.display import figure_svg, figure_text, show
from refkit.engine.drift import canonical_text
from refkit.engine.render import UNINDEXED_CLOSE_HTML, display_html, output_html
from refkit.engine.results import DISPLAY, OutputEvent, ResultFormatError, SnippetResult
from refkit.engine.runner import SnippetRunner

TOPIC = '''
TITLE = "Pictures"
from matplotlib.figure import Figure
from refkit.engine.display import show


class Strip:
    """A stand-in view: escaped HTML and a text form."""

    def __str__(self):
        return "tokens: <s> hi </s>"

    def _repr_html_(self):
        return "<div class='refkit-view'>&lt;s&gt; hi &lt;/s&gt;</div>"


def loss_figure(title):
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot(title=title, xlabel="step")
    ax.plot([0, 1, 2, 3], [1.0, 0.5, 0.25, 0.125], label="train")
    ax.imshow([[0.0, 1.0], [1.0, 0.0]])
    ax.legend()
    return fig


def demo_figure_between_prints():
    print("before")
    show(loss_figure("Loss <script>alert(1)</script>"), caption="Loss halves each step")
    print("between")
    show(Strip(), caption="A strip")
    print("after")


def demo_huge_picture():
    class Huge:
        def __str__(self):
            return "huge"

        def _repr_html_(self):
            return "<b>" + "x" * 300_000 + "</b>"

    show(Huge(), caption="Too big")


def demo_not_showable():
    show(42)
'''


def run_topic(package: Path) -> dict[str, SnippetResult]:
    """Every snippet of ``package`` run in a fresh worker process."""
    runner = SnippetRunner(
        package,
        cache=None,
        execute="auto",
        timeout=60,
        device="cpu",
        jobs=1,
        max_output=100_000,
        memory_limit=0,
    )
    try:
        results, _ = runner.results(load_catalog(package).snippets.values())
    finally:
        runner.close()
    return results


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    pkg = topic_package(tmp_path_factory.mktemp("display") / "pictures")
    (pkg / "topic.py").write_text(TOPIC)
    return pkg


@pytest.fixture(scope="module")
def results(package) -> dict[str, SnippetResult]:
    return run_topic(package)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


@pytest.mark.slow
def test_a_figure_and_a_view_sit_between_the_prints_where_they_were_shown(results):
    result = results["topic.demo_figure_between_prints"]
    assert result.ok, result.error
    assert [e.stream for e in result.events] == [
        "stdout",
        DISPLAY,
        "stdout",
        DISPLAY,
        "stdout",
    ]
    figure, strip = result.events[1], result.events[3]
    assert figure.caption == "Loss halves each step"
    assert figure.html.startswith('<svg role="img" aria-label="Loss halves each step"')
    assert "line 'train': x 0 1 2 3; y 1 0.5 0.25 0.125" in figure.text
    # matplotlib escapes the title's markup inside the SVG; no script element comes through.
    assert "<script" not in figure.html and "&lt;script&gt;" in figure.html
    assert strip.text == "A strip\ntokens: <s> hi </s>"
    assert "figure_1" not in figure.html and "<style" not in figure.html
    assert len(figure.html) < 60_000


@pytest.mark.slow
def test_the_page_shows_the_picture_in_order_with_an_escaped_caption(results):
    page = output_html(results["topic.demo_figure_between_prints"])
    assert page.index("before") < page.index("<svg") < page.index("between") < page.index("A strip")
    assert page.index("A strip") < page.index("after")
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and parser.tags.count("figure") == 2
    assert "<figcaption>Loss halves each step</figcaption>" in page


@pytest.mark.slow
def test_drift_compares_what_a_figure_shows_not_its_bytes(results):
    result = results["topic.demo_figure_between_prints"]
    text = canonical_text(result)
    assert text.startswith("before\nLoss halves each step\naxes 'Loss <script>alert(1)</script>'")
    assert "<svg" not in text
    # Other bytes, the same facts: the same approved text.
    events = tuple(
        OutputEvent(e.stream, e.text, "<svg>other bytes</svg>" if e.html else None)
        for e in result.events
    )
    assert canonical_text(SnippetResult(result.snippet_id, result.status, events)) == text


@pytest.mark.slow
def test_a_figures_bytes_are_the_same_in_three_fresh_runs(package, results):
    first = results["topic.demo_figure_between_prints"].events[1].html
    for _ in range(2):
        again = run_topic(package)["topic.demo_figure_between_prints"].events[1].html
        assert again == first


@pytest.mark.slow
def test_a_picture_too_large_to_keep_leaves_its_text_and_a_note(results):
    result = results["topic.demo_huge_picture"]
    assert result.ok and result.truncated
    assert result.events[0] == OutputEvent(DISPLAY, "Too big\nhuge", None)
    assert "more than max_output" in result.events[1].text
    assert "<b>" not in output_html(result) and "huge" in output_html(result)


@pytest.mark.slow
def test_showing_what_is_no_picture_fails_the_snippet_with_a_clear_error(results):
    result = results["topic.demo_not_showable"]
    assert result.error is not None and result.error.type == "TypeError"
    assert "matplotlib Figure or a view" in result.error.message


def test_outside_the_worker_show_prints_the_text_form(capsys):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().bar(["a", "b"], [3, 4], label="counts")
    show(fig, caption="Two  bars\n")
    assert capsys.readouterr().out == "Two bars\naxes\n  bars 'counts': 3 4\n"


def test_figure_text_changes_when_the_data_does_not_when_the_style_does():
    from matplotlib.figure import Figure

    def drawn(y, color):
        fig = Figure()
        fig.add_subplot().plot([0, 1], y, color=color)
        return fig

    assert figure_text(drawn([0, 1], "red")) == figure_text(drawn([0, 1], "blue"))
    assert figure_text(drawn([0, 1], "red")) != figure_text(drawn([0, 2], "red"))
    assert figure_svg(drawn([0, 1], "red")) != figure_svg(drawn([0, 1], "blue"))


def test_display_events_survive_json_and_refuse_html_elsewhere():
    result = SnippetResult("m.f", "ok", (OutputEvent(DISPLAY, "c\nt", "<svg/>"),))
    assert SnippetResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    bad = {
        "snippet_id": "m.f",
        "status": "ok",
        "events": [{"stream": "stdout", "text": "x", "html": "<b>"}],
    }
    with pytest.raises(ResultFormatError, match="only a display event has html"):
        SnippetResult.from_json(bad)
    # A cache entry written before display events existed still reads.
    old = {"snippet_id": "m.f", "status": "ok", "events": [{"stream": "stdout", "text": "x"}]}
    assert SnippetResult.from_json(old).events == (OutputEvent("stdout", "x"),)


def test_a_caption_with_markup_and_controls_is_shown_escaped():
    page = display_html(
        OutputEvent(DISPLAY, "<img src=x onerror=alert(1)>\x1b[31m\nrows", "<svg/>")
    )
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\x1b" not in page and '<span class="refkit-control">\\x1b</span>' in page


def test_a_picture_and_its_text_form_are_set_aside_while_search_indexes_and_come_back_whole():
    # A picture's raw markup that holds the closing marker cannot end its region early.
    svg = f"<svg><text>{UNINDEXED_CLOSE_HTML}0.125</text></svg>"
    figure = display_html(OutputEvent(DISPLAY, "Loss halves\n0.5 0.25", svg))
    page = f"<p>a</p>{figure}<p>b</p>"
    short, parts = set_aside_unindexed(page)
    assert len(parts) == 2 and "<svg" not in short and "0.125" not in short
    assert "0.25" not in short  # the text form too
    assert "<figcaption>Loss halves</figcaption>" in short  # the caption is indexed
    assert restore_unindexed(short, parts) == page


@pytest.mark.slow
def test_a_built_site_shows_the_figure_and_indexes_its_caption_not_its_svg(tmp_path):
    # Material's search honours data-search-exclude; the plain theme's indexes everything.
    site = make_site(tmp_path / "project", theme="material")
    site.write_topic("pictures", TOPIC)
    site.write_page("index.md", "# Pictures\n\n!refkit pictures.demo_figure_between_prints\n")
    done = site.build("--strict")
    assert done.returncode == 0, done.stderr[-3000:]
    page = (site.root / "site" / "index.html").read_text(encoding="utf-8")
    assert page.count('<figure class="refkit-display">') == 2 and "<svg" in page
    index = json.loads((site.root / "site" / "search" / "search_index.json").read_text())
    text = " ".join(doc["text"] for doc in index["docs"])
    assert "Loss halves each step" in text
    assert "alert(1)" not in text and "0.125" not in text
    # The listing was set aside while search indexed the page, and is back in the page.
    assert page.count('<div class="refkit-source" data-search-exclude>') == 1
    assert "def demo_figure_between_prints" in html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "REFKITSOURCE" not in page and "REFKITSOURCE" not in text
