"""The benchmark's pure helpers: page weights, per-round pairing, and what each target charges."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark", REPO / "scripts" / "benchmark.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()


def test_the_benchmark_examples_hold() -> None:
    assert doctest.testmod(bench).failed == 0


def test_a_display_is_measured_from_its_start_tag_to_its_own_end_tag() -> None:
    figure = (
        '<div class="refkit-display figure"><div><svg viewBox="0 0 1 1"><path d="M0 0"/>'
        '<g><rect width="1"/></g></svg></div><div class="caption">ü</div></div>'
    )
    page = f"<main>\n<p>before</p>\n{figure}\n<p>after</p></main>"
    assert bench.display_sizes(page) == [len(figure.encode("utf-8"))]


def test_a_display_inside_a_display_is_counted_once() -> None:
    inner = '<div class="refkit-display">x</div>'
    outer = f'<div class="refkit-display"><p>a</p>{inner}</div>'
    assert bench.display_sizes(outer + inner) == [len(outer), len(inner)]


def test_void_and_self_closed_displays_are_their_tag_alone() -> None:
    image = '<img class="refkit-display" src="a.svg" alt="a">'
    closed = '<object class="refkit-display" data="b.svg"/>'
    assert bench.display_sizes(f"<p>{image}</p>{closed}<p>c</p>") == [len(image), len(closed)]


def test_a_display_shown_as_text_or_script_is_no_display() -> None:
    page = (
        "<pre><code>&lt;div class=&quot;refkit-display&quot;&gt;</code></pre>"
        "<script>const s = '<div class=\"refkit-display\">';</script>"
        '<div class="refkit-displays">not it</div>'
    )
    assert bench.display_sizes(page) == []


def test_page_weights_read_every_topic_page_of_a_site(tmp_path: Path) -> None:
    figure = '<div class="refkit-display">' + "x" * 100 + "</div>"
    (tmp_path / "topics" / "a").mkdir(parents=True)
    (tmp_path / "topics" / "a" / "index.html").write_text(f"<p>text</p>{figure}", "utf-8")
    (tmp_path / "topics" / "b").mkdir()
    (tmp_path / "topics" / "b" / "index.html").write_text("<p>only text</p>", "utf-8")
    (tmp_path / "index.html").write_text(figure, "utf-8")  # not a topic page

    a, b = bench.page_weights(tmp_path)
    assert (a.page, a.total, a.displays, a.before) == ("topics/a/", 11 + len(figure), [134], 11)
    assert (b.page, b.displays, b.before, b.largest) == ("topics/b/", [], b.total, 0)


def test_pairs_must_come_from_the_same_rounds() -> None:
    with pytest.raises(bench.BenchmarkError):
        bench.paired([1.0, 2.0], [1.0])


def test_the_critical_path_limit_is_issue_8s_formula_per_round() -> None:
    path = bench.CriticalPath(
        floor=[4.0, 5.0],
        imports=[7.0, 9.0],
        bare=[0.05, 0.05],
        compute_sum=[6.0, 8.0],
        longest_id="m.demo",
        longest=1.0,
        jobs=2,
        statements=3,
    )
    assert path.limits == [4.0 + 7.0 + 6.0 / 2, 5.0 + 9.0 + 8.0 / 2]
    assert path.limit == pytest.approx(16.0)


def _results(**cpu: list[float]) -> dict[str, Any]:
    """Every scenario with one round of plausible samples; ``cpu`` overrides build CPU times."""
    results = {name: bench.Samples() for name in bench.SCENARIOS}
    for name, samples in results.items():
        samples.seconds = [4.0]
        samples.cpu = cpu.get(name, [4.0])
        samples.rss_kb, samples.worker_kb = [70_000], [0]
    results["cold"].seconds = [10.0]
    results["zensical_cold"].seconds = [10.0]
    results["peer"].seconds = [15.0]
    results["serve"].seconds = [0.2]
    results["serve"].extra["compute"] = [0.02]
    results["alone"].seconds = [2.0]
    results["bare"].seconds = [0.05]
    results["cold"].extra["compute_sum"] = [5.0]
    return results


def _verdicts(results: dict[str, Any], weights: tuple[Any, ...] | list[Any] = ()) -> dict[str, Any]:
    path = bench.critical_path(results, jobs=2)
    return {t.name: t for t in bench.evaluate(results, path, list(weights))}


def test_the_big_page_target_charges_refkit_only_for_what_it_adds() -> None:
    # MkDocs spends 3 s on the page and refkit 0.4 s on the rest of the site: neither is the
    # page's cost to refkit, which is 0.2 s here.
    results = _results(floor=[4.0], warm=[4.4], big_floor=[7.0], big=[7.6])
    (target,) = (t for name, t in _verdicts(results).items() if "line page" in name)
    assert target.passed is True
    assert target.measured.startswith("CPU 0.20 s")

    results = _results(floor=[4.0], warm=[4.4], big_floor=[7.0], big=[8.0])
    (target,) = (t for name, t in _verdicts(results).items() if "line page" in name)
    assert target.passed is False


def test_the_warm_target_holds_cpu_time_not_wall_time() -> None:
    results = _results(floor=[4.0], warm=[4.2])
    results["warm"].seconds = [6.0]  # waited for a core: not refkit's work
    (target,) = (t for name, t in _verdicts(results).items() if name.startswith("warm build ≤"))
    assert target.passed is True


def test_the_figure_target_passes_without_figures_and_says_so() -> None:
    weights = [bench.PageWeight("topics/a/", 50_000, [])]
    target = _verdicts(_results(), weights)["largest figure or view ≤ 60 KB"]
    assert (target.passed, target.measured) == (True, "no figures yet (0 on 1 topic pages)")

    weights.append(bench.PageWeight("topics/b/", 150_000, [20_000, 61_000]))
    target = _verdicts(_results(), weights)["largest figure or view ≤ 60 KB"]
    assert target.passed is False
    assert "61.0 KB on `topics/b/`" in target.measured


def test_the_serve_condition_reads_only_the_serve_runs() -> None:
    results = _results()
    results["edit"].extra["compute"] = [5.0, 5.0, 5.0]  # the edit builds' runs do not count
    (target,) = (t for name, t in _verdicts(results).items() if "mkdocs serve" in name)
    assert target.passed is True


def test_the_report_gives_every_table_and_the_page_weights() -> None:
    results = _results()
    for samples in results.values():  # a second round
        samples.seconds = samples.seconds * 2
        samples.cpu = samples.cpu * 2
        for name, values in samples.extra.items():
            samples.extra[name] = values * 2
    results["serve"].command = "mkdocs serve --dirty"
    results["cold"].durations = {"m.demo_a": [1.0, 1.2], "m.demo_b": [2.0, 2.2]}
    weights = [
        bench.PageWeight("topics/a/", 90_000, [30_000, 10_000]),
        bench.PageWeight("topics/b/", 50_000, []),
    ]
    path = bench.critical_path(results, jobs=2)
    targets = bench.evaluate(results, path, weights)
    info = {"date": "2026-01-01 00:00 UTC", "zensical": "0.0.73"}
    report = bench.report_markdown(results, targets, info, 2, "m.demo_a", 2, path, weights)

    assert "| `topics/a/` | 90.0 KB | 2 | 40.0 KB | 30.0 KB | 50.0 KB |" in report
    assert "| `topics/b/` | 50.0 KB | 0 | 0.0 KB | — | 50.0 KB |" in report
    assert "| all 2 topic pages | 140.0 KB | 2 | 40.0 KB | 30.0 KB | 100.0 KB |" in report
    assert "| largest figure or view ≤ 60 KB | 30.0 KB on `topics/a/`" in report
    assert "the longest snippet (`m.demo_b`) | 2.10 s |" in report
    rows = [line for line in report.splitlines() if line.startswith("| ")]
    assert all(line.endswith("|") for line in rows)
