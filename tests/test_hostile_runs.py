"""Hostile runs: every channel of a result is bounded, the cache is input, not truth, a package
folder cannot hide a module the worker needs, memory has a limit, and the cache is pruned.

The tests of plain data (results, cache entries, messages, names) run in-process; the ones that
run snippets use real workers, forked children and builds (the slow tier).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from conftest import REPO, topic_package

from refkit.engine.cache import EnvironmentKey, ResultCache, cache_key
from refkit.engine.discovery import load_catalog
from refkit.engine.messages import (
    FRAME_HEADER,
    MessageDecoder,
    ProtocolError,
    decode_payload,
)
from refkit.engine.results import (
    CRASHED,
    ERROR,
    OK,
    ErrorInfo,
    OutputEvent,
    ResultFormatError,
    RunEnvironment,
    SnippetResult,
)
from refkit.engine.runner import SnippetRunner, machine_memory_mib, resolve_memory_limit
from refkit.engine.session import BuildSession, SessionError
from refkit.engine.settings import Settings
from refkit.engine.worker_process import WorkerError, package_name_problem

DAY = 24 * 3600.0
GOOD = SnippetResult(
    "topic.demo_fine",
    OK,
    (OutputEvent("stdout", "fine\n"),),
    return_text="1",
    duration=0.5,
    environment=RunEnvironment("3.11.7", "2.13.0", "5.0.0", "0.22.0", "cpu"),
    finished_at="2026-01-01T00:00:00Z",
)


def make_runner(package: Path, cache: ResultCache | None = None, **settings) -> SnippetRunner:
    """A runner with every setting given (overridable), as the settings model gives them."""
    values = {
        "execute": "auto",
        "timeout": 30.0,
        "device": "cpu",
        "jobs": 2,
        "max_output": 10_000,
        "memory_limit": 0,
        **settings,
    }
    return SnippetRunner(package, cache=cache, **values)


def run_all(runner: SnippetRunner, package: Path, ids=None):
    snippets = load_catalog(package).snippets
    wanted = [snippets[i] for i in ids] if ids is not None else list(snippets.values())
    try:
        return runner.results(wanted)
    finally:
        runner.close()


def cache_entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.json") if len(p.parent.name) == 2)


# -- results and messages are checked field by field ------------------------------------------

GARBAGE = {
    "return_text is a number": {**GOOD.to_json(), "return_text": 123},
    "return_html is a list": {**GOOD.to_json(), "return_html": ["<b>"]},
    "device is a number": {
        **GOOD.to_json(),
        "environment": {**GOOD.to_json()["environment"], "device": 5},
    },
    "environment lacks a field": {**GOOD.to_json(), "environment": {"python": "3.11"}},
    "events is a string": {**GOOD.to_json(), "events": "x"},
    "an event is a list": {**GOOD.to_json(), "events": [["stdout", "x"]]},
    "an event's text is null": {**GOOD.to_json(), "events": [{"stream": "stdout", "text": None}]},
    "an unknown stream": {**GOOD.to_json(), "events": [{"stream": "screen", "text": "x"}]},
    "an event with more fields": {
        **GOOD.to_json(),
        "events": [{"stream": "stdout", "text": "x", "colour": "red"}],
    },
    "error is a string": {**GOOD.to_json(), "error": "boom"},
    "error's message is a dict": {**GOOD.to_json(), "error": {"type": "E", "message": {}}},
    "duration is text": {**GOOD.to_json(), "duration": "fast"},
    "duration is negative": {**GOOD.to_json(), "duration": -1},
    "duration is a bool": {**GOOD.to_json(), "duration": True},
    "truncated is a number": {**GOOD.to_json(), "truncated": 1},
    "finished_at is null": {**GOOD.to_json(), "finished_at": None},
    "an unknown status": {**GOOD.to_json(), "status": "exploded"},
    "status is a number": {**GOOD.to_json(), "status": 0},
    "snippet_id is missing": {k: v for k, v in GOOD.to_json().items() if k != "snippet_id"},
    "an unknown field": {**GOOD.to_json(), "colour": "red"},
    "a list": [GOOD.to_json()],
    "a string": "ok",
    "null": None,
}


@pytest.mark.parametrize("data", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_result_of_the_wrong_shape_raises_one_exception_type(data):
    with pytest.raises(ResultFormatError):
        SnippetResult.from_json(data)


def test_a_good_result_survives_the_trip_and_missing_optional_fields_take_defaults():
    assert SnippetResult.from_json(json.loads(json.dumps(GOOD.to_json()))) == GOOD
    assert SnippetResult.from_json({"snippet_id": "m.f", "status": "ok"}) == SnippetResult(
        "m.f", OK
    )


@pytest.mark.parametrize("data", list(GARBAGE.values())[:6], ids=list(GARBAGE)[:6])
def test_a_finished_message_with_a_result_of_the_wrong_shape_is_a_protocol_error(data):
    payload = json.dumps({"type": "finished", "request_id": "1", "result": data}).encode()
    with pytest.raises(ProtocolError, match="not a snippet result"):
        decode_payload(payload)


def test_a_frame_nested_too_deep_is_a_protocol_error_not_a_recursion_error():
    payload = b'{"type": "finished", "request_id": "1", "result": ' + b"[" * 200_000
    payload += b"]" * 200_000 + b"}"
    frame = len(payload).to_bytes(FRAME_HEADER, "big") + payload
    with pytest.raises(ProtocolError, match="nested too deep"):
        list(MessageDecoder().feed(frame))


# -- the cache treats what it reads as input --------------------------------------------------


def stored(tmp_path: Path, content: str) -> tuple[ResultCache, str, Path]:
    cache = ResultCache(tmp_path / "cache")
    key = "ab" * 32
    cache.put(key, GOOD)
    [entry] = cache_entries(cache.folder)
    entry.write_text(content, encoding="utf-8")
    return cache, key, entry


UNUSABLE = {
    **{name: json.dumps(data) for name, data in GARBAGE.items()},
    "a failure": json.dumps(
        SnippetResult("topic.demo_fine", ERROR, error=ErrorInfo("E", "m")).to_json()
    ),
    "a timeout": json.dumps({**GOOD.to_json(), "status": "timeout"}),
    "nested too deep": '{"snippet_id": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "an integer too long to read": '{"duration": 1' + "0" * 5000 + "}",
    "half an entry": json.dumps(GOOD.to_json())[:40],
    "not UTF-8": "\udcff",
    "empty": "",
}


@pytest.mark.parametrize("content", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_an_unusable_entry_is_missing_reported_once_and_deleted(tmp_path, content):
    if content == "\udcff":
        cache, key, entry = stored(tmp_path, "")
        entry.write_bytes(b'{"snippet_id": "\xff"}')
    else:
        cache, key, entry = stored(tmp_path, content)
    warnings: list = []
    assert cache.get(key, snippet_id="topic.demo_fine", warnings=warnings) is None
    [(path, reason)] = warnings
    assert path == entry and reason and "\n" not in reason and len(reason) <= 201
    assert not entry.exists(), "the entry would be reported again on every build"
    assert cache.get(key, warnings=warnings) is None and len(warnings) == 1
    # The snippet runs again and its result takes the entry's place.
    assert cache.put(key, GOOD) and cache.get(key, snippet_id="topic.demo_fine") == GOOD


def test_an_entry_of_another_snippet_is_not_served(tmp_path):
    cache, key, _ = stored(tmp_path, json.dumps(GOOD.to_json()))
    warnings: list = []
    assert cache.get(key, snippet_id="topic.demo_other", warnings=warnings) is None
    assert "holds a result of 'topic.demo_fine'" in warnings[0][1]


def test_an_error_result_in_the_cache_is_never_served(tmp_path):
    # The cache's own rule is that only successes are stored; an entry saying otherwise (another
    # version, a hand edit) used to fail every build without the snippet ever running again.
    failed = SnippetResult("topic.demo_fine", ERROR, error=ErrorInfo("KeyError", "'x'"))
    cache, key, _ = stored(tmp_path, json.dumps(failed.to_json()))
    warnings: list = []
    assert cache.get(key, warnings=warnings) is None
    assert "status 'error'" in warnings[0][1]


def test_a_hit_marks_the_entry_as_used(tmp_path):
    cache, key, entry = stored(tmp_path, json.dumps(GOOD.to_json()))
    os.utime(entry, (time.time() - 10 * DAY,) * 2)
    assert cache.get(key) == GOOD
    assert time.time() - entry.stat().st_mtime < 60


def test_a_result_with_a_lone_surrogate_can_still_be_stored(tmp_path):
    # _repr_html_ may return one; UTF-8 cannot hold it, a JSON escape can.
    cache = ResultCache(tmp_path)
    result = SnippetResult("m.f", OK, return_html="<b>name-\udcff</b>")
    assert cache.put("cd" * 32, result)
    assert cache.get("cd" * 32) == result


# -- pruning ----------------------------------------------------------------------------------

ENV = EnvironmentKey("0.1", "w", "3.11", "2.13", "5.24", "0.23", "cpu")
OTHER_DEVICE = EnvironmentKey("0.1", "w", "3.11", "2.13", "5.24", "0.23", "cuda")


def aged(cache: ResultCache, key: str, days: float) -> Path:
    cache.put(key, GOOD)
    path = cache.folder / key[:2] / f"{key}.json"
    os.utime(path, (time.time() - days * DAY,) * 2)
    return path


def test_pruning_keeps_current_entries_and_recent_ones_of_other_environments(tmp_path):
    cache = ResultCache(tmp_path)
    ours, theirs = ENV.digest(), OTHER_DEVICE.digest()
    live_old = aged(cache, ours + "1" * 48, days=90)  # in the catalog: kept however old
    superseded_recent = aged(cache, ours + "2" * 48, days=0.5)  # another checkout may want it
    superseded_old = aged(cache, ours + "3" * 48, days=2)
    other_recent = aged(cache, theirs + "4" * 48, days=20)  # the CUDA build of the same site
    other_old = aged(cache, theirs + "5" * 48, days=40)
    legacy_old = aged(cache, "f" * 64, days=40)  # a key of an older cache format
    links = tmp_path / "links.json"
    links.write_text("{}")
    os.utime(links, (time.time() - 400 * DAY,) * 2)
    (tmp_path / "ab").mkdir()
    stray = tmp_path / "ab" / "notes.json"  # not a name the cache writes
    stray.write_text("{}")
    os.utime(stray, (time.time() - 400 * DAY,) * 2)
    temp_old = tmp_path / "ab" / ".tmp-x1y2.json"  # a writer killed mid-write
    temp_old.write_text("{")
    os.utime(temp_old, (time.time() - 2 * 3600,) * 2)
    temp_now = tmp_path / "ab" / ".tmp-z3w4.json"  # a writer at work
    temp_now.write_text("{")

    removed = cache.prune([live_old.stem], ENV)

    assert sorted(removed) == sorted([superseded_old, other_old, legacy_old, temp_old])
    for kept in (live_old, superseded_recent, other_recent, links, stray, temp_now):
        assert kept.exists(), kept


def test_pruning_an_empty_or_missing_cache_does_nothing(tmp_path):
    assert ResultCache(tmp_path / "never-written").prune([], ENV) == []


# -- package folders named like other modules -------------------------------------------------


@pytest.mark.parametrize("name", ["json", "os", "email", "argparse", "collections"])
def test_a_package_named_like_a_standard_library_module_is_refused(tmp_path, name):
    problem = package_name_problem(topic_package(tmp_path / name))
    assert problem is not None and f"'{name}' is the name of a standard-library module" in problem
    assert "Rename the folder" in problem


@pytest.mark.parametrize("name", ["yaml", "click", "mkdocs", "markdown"])
def test_a_package_named_like_an_installed_module_is_refused(tmp_path, name):
    problem = package_name_problem(topic_package(tmp_path / name))
    assert problem is not None and "a module this environment already has" in problem


def test_a_folder_named_refkit_that_is_not_refkit_is_refused_and_refkit_itself_is_fine(tmp_path):
    problem = package_name_problem(topic_package(tmp_path / "refkit"))
    assert problem is not None and "'refkit'" in problem
    assert package_name_problem(REPO / "refkit") is None


@pytest.mark.parametrize("name", ["my-notes", "1notes", "class"])
def test_a_folder_whose_name_python_cannot_import_is_refused(tmp_path, name):
    problem = package_name_problem(tmp_path / name)
    assert problem is not None and "is not a Python package name" in problem


def test_a_package_with_a_name_of_its_own_is_fine(tmp_path):
    assert package_name_problem(topic_package(tmp_path / "hostile_notes_pkg")) is None


# -- the memory limit setting -----------------------------------------------------------------


def test_the_memory_limit_is_read_like_every_option_and_defaults_to_half_the_machine():
    assert Settings.resolve(environ={"REFKIT_MEMORY_LIMIT": "300"}).memory_limit == 300
    assert Settings.resolve({"memory_limit": 0}, environ={}).memory_limit == 0
    default = Settings.resolve(environ={}).memory_limit
    assert resolve_memory_limit(default) == machine_memory_mib() // 2
    assert resolve_memory_limit(0) == 0  # no limit
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
    assert 0 < machine_memory_mib() <= total


# =============================================================================================
# Real workers from here on.

BOUNDED_TOPIC = '''
import logging, sys, warnings
TITLE = "Bounded"
CALLS = CALLS_FILE

class Counted:
    """A repr that reports each call, to show how many were needed."""
    def __repr__(self):
        with open(CALLS, "a") as calls:
            calls.write(".")
        return "c"

class HugeRepr:
    def __repr__(self):
        return "r" * 3_000_000

class HugeHtml:
    def _repr_html_(self):
        return "<table>" + "<tr><td>1</td></tr>" * 200_000 + "</table>"
    def __repr__(self):
        return "HugeHtml()"

class SmallHtml:
    def _repr_html_(self):
        return "<b>small</b>"

class StrRaises(Exception):
    def __str__(self):
        raise RuntimeError("no str")

class ReprExits:
    def __repr__(self):
        raise SystemExit(3)

def demo_huge_list():
    return list(range(5_000_000))

def demo_huge_str():
    return "s" * 50_000_000

def demo_nested():
    return {"rows": [list(range(100)) for _ in range(100_000)]}

def demo_lazy():
    return [Counted() for _ in range(200_000)]

def demo_huge_custom_repr():
    return HugeRepr()

def demo_huge_html():
    return HugeHtml()

def demo_small_html():
    return SmallHtml()

def demo_huge_message():
    raise ValueError("m" * 5_000_000)

def demo_deep_traceback():
    def down(n):
        if n == 0:
            raise KeyError("bottom")
        return down(n - 1) if n % 2 else [down(n - 1)][0]
    down(900)

def demo_str_raises():
    raise StrRaises()

def demo_repr_exits():
    return ReprExits()

def demo_huge_warning():
    warnings.warn("w" * 3_000_000)

def demo_huge_log():
    logging.getLogger("lib").warning("%s", "l" * 3_000_000)

def demo_surrogates():
    import os
    return os.fsdecode(b"name-\\xff")

def demo_surrogate_message():
    import os
    raise FileNotFoundError(os.fsdecode(b"missing-\\xff"))

class SurrogateRepr:
    def __repr__(self):
        import os
        return os.fsdecode(b"repr-\\xff")

def demo_surrogates_in_every_stream():
    import os
    print(os.fsdecode(b"out-\\xff"), flush=True)
    print(os.fsdecode(b"err-\\xff"), file=sys.stderr, flush=True)
    warnings.warn(os.fsdecode(b"warned-\\xff"))
    logging.getLogger("lib").warning("%s", os.fsdecode(b"logged-\\xff"))
    return SurrogateRepr()
'''

MAX_OUTPUT = 10_000


@pytest.fixture(scope="module")
def bounded(tmp_path_factory):
    root = tmp_path_factory.mktemp("bounded")
    pkg = topic_package(root / "boundedpkg")
    calls = root / "calls"
    (pkg / "topic.py").write_text(BOUNDED_TOPIC.replace("CALLS_FILE", repr(str(calls))))
    cache = ResultCache(root / "cache")
    results, _ = run_all(make_runner(pkg, cache, timeout=60, max_output=MAX_OUTPUT), pkg)
    return results, cache, calls


def field_lengths(result: SnippetResult) -> list[int]:
    error = result.error or ErrorInfo("", "", "")
    return [
        len(result.output_text),
        len(result.return_text or ""),
        len(result.return_html or ""),
        len(error.type),
        len(error.message),
        len(error.traceback),
    ]


@pytest.mark.slow
def test_no_field_of_any_result_is_larger_than_max_output_and_its_marker(bounded):
    results, cache, _ = bounded
    assert all(r.status in (OK, ERROR) for r in results.values()), {
        sid: (r.status, r.error) for sid, r in results.items()
    }
    for snippet_id, result in results.items():
        assert max(field_lengths(result)) <= MAX_OUTPUT + 200, snippet_id
    for entry in cache_entries(cache.folder):
        assert entry.stat().st_size < 6 * MAX_OUTPUT, entry


@pytest.mark.slow
@pytest.mark.parametrize(
    ("snippet", "start", "marker"),
    [
        (
            "demo_huge_list",
            "[0, 1, 2, 3",
            "… [cut: a list of 5,000,000 items, shown to 10,000 characters]",
        ),
        (
            "demo_huge_str",
            "'sss",
            "… [cut: a str of 50,000,000 characters, shown to 10,000 characters]",
        ),
        (
            "demo_nested",
            "{'rows': [[0, 1, 2",
            "… [cut: a dict of 1 item, shown to 10,000 characters]",
        ),
        ("demo_huge_custom_repr", "rrrr", "… [cut: 2,990,000 more characters]"),
    ],
)
def test_a_huge_return_value_is_cut_with_a_marker(bounded, snippet, start, marker):
    result = bounded[0][f"topic.{snippet}"]
    assert result.ok and result.truncated
    assert result.return_text.startswith(start)
    assert result.return_text.endswith(marker)
    assert len(result.return_text) == MAX_OUTPUT + len(marker)


@pytest.mark.slow
def test_a_repr_of_a_big_container_is_computed_only_as_far_as_it_is_kept(bounded):
    results, _, calls = bounded
    result = results["topic.demo_lazy"]
    assert result.return_text.startswith("[c, c, c")
    # 200 000 items, 10 000 characters kept at 3 characters an item: a few thousand calls.
    assert len(calls.read_text()) <= MAX_OUTPUT // 3 + 1


@pytest.mark.slow
def test_html_over_the_limit_is_not_cut_but_replaced_by_the_repr_with_a_note(bounded):
    huge = bounded[0]["topic.demo_huge_html"]
    assert huge.return_html is None and huge.return_text == "HugeHtml()" and huge.truncated
    assert "_repr_html_ returned 3,800,015 characters of HTML" in huge.output_text
    small = bounded[0]["topic.demo_small_html"]
    assert small.return_html == "<b>small</b>" and not small.truncated


@pytest.mark.slow
def test_a_huge_exception_message_is_cut_in_the_message_and_the_traceback(bounded):
    result = bounded[0]["topic.demo_huge_message"]
    assert result.status == ERROR and result.truncated
    assert result.error.type == "ValueError"
    assert result.error.message.startswith("mmm")
    assert result.error.message.endswith("… [cut: 4,999,000 more characters]")  # a tenth kept
    trace = result.error.traceback
    # Cut in the middle: where it started (the snippet's frame) and how it ended both stay.
    assert trace.startswith("Traceback (most recent call last):")
    assert 'raise ValueError("m" * 5_000_000)' in trace
    assert "more characters] …\n" in trace and trace.endswith("mmm\n")


@pytest.mark.slow
def test_a_deep_traceback_keeps_its_first_and_last_frames(bounded):
    result = bounded[0]["topic.demo_deep_traceback"]
    assert result.status == ERROR and result.error.type == "KeyError"
    assert len(result.error.traceback) <= MAX_OUTPUT + 100
    assert result.error.traceback.endswith("KeyError: 'bottom'\n")
    assert "demo_deep_traceback" in result.error.traceback
    assert 'raise KeyError("bottom")' in result.error.last_frames(1)


@pytest.mark.slow
def test_an_exception_whose_str_raises_or_a_repr_that_exits_is_still_a_result(bounded):
    raised = bounded[0]["topic.demo_str_raises"]
    assert raised.status == ERROR and raised.error.type == "StrRaises"
    assert raised.error.message == "<StrRaises: str() failed>"
    exits = bounded[0]["topic.demo_repr_exits"]
    assert exits.ok and exits.return_text == "<ReprExits object; repr failed>"
    assert "repr raised SystemExit: 3" in exits.output_text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("snippet", "stream"), [("demo_huge_warning", "warning"), ("demo_huge_log", "log")]
)
def test_huge_warnings_and_log_records_are_cut(bounded, snippet, stream):
    result = bounded[0][f"topic.{snippet}"]
    assert result.ok and result.truncated
    assert [e.stream for e in result.events] == [stream]
    assert len(result.output_text) == MAX_OUTPUT


@pytest.mark.slow
def test_lone_surrogates_are_replaced_in_every_field(bounded):
    returned = bounded[0]["topic.demo_surrogates"]
    assert returned.return_text == "'name-\\udcff'"  # repr escapes it: nothing to replace
    message = bounded[0]["topic.demo_surrogate_message"].error
    assert message.message == "missing-?" and "missing-?" in message.traceback
    streams = bounded[0]["topic.demo_surrogates_in_every_stream"]
    assert streams.ok and streams.return_text == "repr-?", streams
    by_stream = {event.stream: event.text for event in streams.events}
    assert sorted(by_stream) == ["log", "stderr", "stdout", "warning"], streams.events
    assert (by_stream["stdout"], by_stream["stderr"]) == ("out-?\n", "err-?\n")
    assert "warned-?" in by_stream["warning"] and "logged-?" in by_stream["log"]
    for snippet_id in ("topic.demo_surrogate_message", "topic.demo_surrogates_in_every_stream"):
        result = bounded[0][snippet_id]
        texts = [event.text for event in result.events] + [result.return_text or ""]
        if result.error:
            texts += [result.error.message, result.error.traceback]
        assert not [t for t in texts if re.search("[\\ud800-\\udfff]", t)], snippet_id


@pytest.mark.slow
def test_a_build_of_a_snippet_returning_five_million_numbers_has_a_small_page(site):
    site.write_topic("big", 'TITLE = "Big"\ndef demo_big():\n    return list(range(5_000_000))\n')
    site.write_page("index.md", "# Big\n\n!refkit big.demo_big\n")
    done = site.build()
    assert done.returncode == 0, done.stderr
    html = site.html()
    assert len(html) < 1_000_000
    assert "… [cut: a list of 5,000,000 items, shown to 200,000 characters]" in html
    assert "Output truncated" in html
    [entry] = cache_entries(site.root / ".cache" / "refkit")
    assert entry.stat().st_size < 1_000_000


# -- results forged by the snippet's own process ----------------------------------------------

FORGING_TOPIC = '''
import json, os, sys
TITLE = "Forging"

def forge(result, header=None):
    """Write a result frame into the pipe the worker reads this child's result from, and exit."""
    frame = sys._getframe()
    while "write_fd" not in frame.f_locals:
        frame = frame.f_back
    request = frame.f_locals["request"]
    payload = json.dumps({"type": "finished", "request_id": request.request_id,
                          "result": {"snippet_id": request.snippet_id, **result}}).encode()
    size = len(payload) if header is None else header
    os.write(frame.f_locals["write_fd"], size.to_bytes(4, "big") + payload)
    os._exit(0)

def demo_wrong_type():
    forge({"status": "ok", "return_text": 123})

def demo_wrong_nesting():
    forge({"status": "ok", "events": [{"stream": "stdout", "text": ["a"]}]})

def demo_other_snippet():
    forge({"status": "ok", "snippet_id": "topic.demo_someone_else"})

def demo_huge_frame():
    forge({"status": "ok"}, header=(1 << 30) - 1)

def demo_fine():
    print("fine")
'''


@pytest.mark.slow
def test_a_result_of_the_wrong_shape_from_a_child_is_a_crash_of_that_snippet_only(tmp_path):
    pkg = topic_package(tmp_path / "forgingpkg")
    (pkg / "topic.py").write_text(FORGING_TOPIC)
    started = time.monotonic()
    results, _ = run_all(make_runner(pkg, ResultCache(tmp_path / "cache")), pkg)
    assert time.monotonic() - started < 30
    for name in ("demo_wrong_type", "demo_wrong_nesting", "demo_other_snippet", "demo_huge_frame"):
        result = results[f"topic.{name}"]
        assert result.status == CRASHED, (name, result)
        assert "its result could not be decoded" in result.error.message, name
    assert results["topic.demo_fine"].output_text == "fine\n"  # the worker kept serving
    assert len(cache_entries(tmp_path / "cache")) == 1


# -- the cache, with a real runner ------------------------------------------------------------

CACHED_TOPIC = 'TITLE = "Cached"\ndef demo_fine():\n    print("fine")\n    return 1\n'


@pytest.mark.slow
def test_an_unusable_cache_entry_is_run_again_overwritten_and_reported(tmp_path):
    pkg = topic_package(tmp_path / "cachedpkg")
    (pkg / "topic.py").write_text(CACHED_TOPIC)
    cache = ResultCache(tmp_path / "cache")
    snippet = load_catalog(pkg).snippets["topic.demo_fine"]
    runner = make_runner(pkg, cache)
    damages = {
        "return_text": lambda data: {**data, "return_text": 123},
        "device": lambda data: {**data, "environment": {**data["environment"], "device": 5}},
        "events": lambda data: {**data, "events": "x"},
        "nested": lambda data: {**data, "error": {"type": ["E"], "message": "m"}},
        "status": lambda data: {
            **data,
            "status": "error",
            "error": {"type": "KeyError", "message": "'x'", "traceback": ""},
        },
    }
    try:
        _, cold = runner.results([snippet])
        assert cold.executed == 1
        [entry] = cache_entries(cache.folder)
        good = json.loads(entry.read_text())
        for name, damage in damages.items():
            entry.write_text(json.dumps(damage(good)))
            pending = runner.start([snippet])
            results, stats = runner.finish(pending)
            assert stats.executed == 1 and stats.from_cache == 0, name
            assert results[snippet.id].ok and results[snippet.id].return_text == "1", name
            [(path, reason)] = pending.cache_warnings
            assert path == entry and reason, name
            assert SnippetResult.from_json(json.loads(entry.read_text())).ok, name
            _, warm = runner.results([snippet])  # healed: served from the cache again
            assert warm.from_cache == 1, name
    finally:
        runner.close()


# -- package folders named like other modules, with a real worker -----------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["json", "email"])
def test_a_runner_refuses_a_package_named_like_a_stdlib_module_before_starting_a_worker(
    tmp_path, name
):
    pkg = topic_package(tmp_path / name)
    (pkg / "topic.py").write_text(CACHED_TOPIC)
    runner = make_runner(pkg)
    with pytest.raises(WorkerError, match=f"'{name}' is the name of a standard-library module"):
        run_all(runner, pkg)


@pytest.mark.slow
def test_a_session_refuses_a_package_named_like_an_installed_module(tmp_path):
    pkg = topic_package(tmp_path / "yaml")
    (pkg / "topic.py").write_text(CACHED_TOPIC)
    settings = Settings.resolve({"package_dir": "yaml"}, environ={}, project_dir=tmp_path)
    # Said up front, before any worker starts, as the command and every host report it.
    with pytest.raises(SessionError, match="'yaml' is the name of a module this environment"):
        BuildSession.open(settings)


# -- the memory limit, with real children -----------------------------------------------------

MEMORY_TOPIC = '''
import subprocess, sys, time
TITLE = "Memory"

def grow(total_mb, step_mb=20):
    """Allocate (and touch) memory in steps, as a snippet building a big tensor would."""
    kept = []
    for _ in range(total_mb // step_mb):
        kept.append(b"\\x01" * (step_mb << 20))
        time.sleep(0.02)
    return kept

def demo_grows_past_the_limit():
    grow(400)
    print("done")

def demo_stays_under_the_limit():
    print(len(grow(60)), "steps")

def demo_child_process_grows():
    code = "import time; kept = b'\\\\x01' * (400 << 20); time.sleep(30)"
    subprocess.run([sys.executable, "-c", code], check=True)
    print("done")
'''


@pytest.mark.slow
def test_a_snippet_over_its_memory_limit_is_killed_and_one_under_it_passes(tmp_path):
    pkg = topic_package(tmp_path / "memorypkg")
    (pkg / "topic.py").write_text(MEMORY_TOPIC)
    started = time.monotonic()
    results, _ = run_all(make_runner(pkg, memory_limit=200, timeout=60), pkg)
    assert time.monotonic() - started < 30
    for name in ("demo_grows_past_the_limit", "demo_child_process_grows"):
        result = results[f"topic.{name}"]
        assert result.status == CRASHED, (name, result)
        assert result.error.type == "MemoryLimitExceeded"
        assert result.error.message.startswith("used more than 200 MiB")
        assert "done" not in result.output_text
    fine = results["topic.demo_stays_under_the_limit"]
    assert fine.ok and fine.output_text == "3 steps\n"


@pytest.mark.slow
def test_without_a_memory_limit_the_same_snippet_runs(tmp_path):
    pkg = topic_package(tmp_path / "nolimitpkg")
    (pkg / "topic.py").write_text(MEMORY_TOPIC)
    results, _ = run_all(make_runner(pkg, memory_limit=0), pkg, ["topic.demo_grows_past_the_limit"])
    assert results["topic.demo_grows_past_the_limit"].output_text == "done\n"


TORCH_TOPIC = """
import time
import torch
TITLE = "Torch"

def demo_small_tensor():
    print(float(torch.ones(64, 64).sum()))
    time.sleep(0.5)  # long enough for the worker to measure it many times
"""


@pytest.mark.slow
def test_memory_shared_with_the_worker_does_not_count_against_the_limit(tmp_path):
    # The worker imported torch before forking: each child maps those ~150 MiB too, so its
    # resident size is over this limit from the start; only what it adds (a few MiB) counts.
    pkg = topic_package(tmp_path / "torchmempkg")
    (pkg / "topic.py").write_text(TORCH_TOPIC)
    results, _ = run_all(make_runner(pkg, memory_limit=100, timeout=120), pkg)
    result = results["topic.demo_small_tensor"]
    assert result.ok, result.error
    assert result.output_text == "4096.0\n"


@pytest.mark.slow
def test_a_session_passes_its_memory_limit_to_the_snippets_and_names_it(tmp_path):
    pkg = topic_package(tmp_path / "sessionmempkg")
    (pkg / "topic.py").write_text(MEMORY_TOPIC)
    settings = Settings.resolve(
        {"package_dir": pkg.name, "memory_limit": 200, "timeout": 60},
        environ={},
        project_dir=tmp_path,
    )
    session = BuildSession.open(settings)
    try:
        result = session.run(["topic.demo_grows_past_the_limit"])[0][
            "topic.demo_grows_past_the_limit"
        ]
        snippet = session.catalog.snippets["topic.demo_grows_past_the_limit"]
        problem = session.failure_problem(snippet, result, "index.md:3")
    finally:
        session.close()
    assert "crashed: MemoryLimitExceeded: used more than 200 MiB" in problem.message
    assert not problem.fatal  # like a timeout: the machine's verdict, not the code's


# -- pruning, through a session ---------------------------------------------------------------

PRUNED_TOPIC = 'TITLE = "Pruned"\ndef demo_a():\n    print("a1")\ndef demo_b():\n    print("b")\n'


@pytest.mark.slow
def test_a_session_prunes_superseded_entries_and_keeps_other_environments(tmp_path):
    pkg = topic_package(tmp_path / "prunedpkg")
    topic = pkg / "topic.py"
    topic.write_text(PRUNED_TOPIC)
    settings = Settings.resolve(
        {"package_dir": pkg.name, "cache_dir": "cache", "device": "cpu"},
        environ={},
        project_dir=tmp_path,
    )
    folder = tmp_path / "cache"
    session = BuildSession.open(settings)
    try:
        session.run(["topic.demo_a", "topic.demo_b"])
        key = cache_key(session.catalog.snippets["topic.demo_a"], EnvironmentKey.current("cpu"))
        superseded = folder / key[:2] / f"{key}.json"
        assert superseded.exists()
        topic.write_text(PRUNED_TOPIC.replace('"a1"', '"a2"'))
        session.begin_build()
        session.run(["topic.demo_a", "topic.demo_b"])
        entries = set(cache_entries(folder))
        assert len(entries) == 3 and superseded in entries
        cuda = ResultCache(folder)
        other = aged(cuda, EnvironmentKey.current("cuda").digest() + "9" * 48, days=10)
        (folder / "links.json").write_text("{}")

        assert session.prune_cache() == []
        assert set(cache_entries(folder)) == entries | {other}, "pruned a superseded entry too soon"

        for path in entries:  # a day and more later, nobody used any of them
            os.utime(path, (time.time() - 2 * DAY,) * 2)
        assert session.prune_cache() == []
        remaining = set(cache_entries(folder))
        assert superseded not in remaining
        assert remaining == entries - {superseded} | {other}
        assert (folder / "links.json").exists()
        # What is left is what the next build reads.
        session.begin_build()
        session.close()
        session = BuildSession.open(settings)
        session.run(["topic.demo_a", "topic.demo_b"])
        assert session.stats.from_cache == 2 and session.stats.executed == 0
    finally:
        session.close()


@pytest.mark.slow
def test_a_session_whose_catalog_has_an_unreadable_topic_does_not_prune(tmp_path):
    pkg = topic_package(tmp_path / "brokenpkg")
    (pkg / "topic.py").write_text(PRUNED_TOPIC)
    settings = Settings.resolve(
        {"package_dir": pkg.name, "cache_dir": "cache", "device": "cpu"},
        environ={},
        project_dir=tmp_path,
    )
    session = BuildSession.open(settings)
    try:
        session.run(["topic.demo_a"])
        [entry] = cache_entries(tmp_path / "cache")
        os.utime(entry, (time.time() - 2 * DAY,) * 2)
        (pkg / "topic.py").write_text(PRUNED_TOPIC + "def demo_c(:\n")  # saved mid-edit
        session.begin_build()
        assert session.catalog.errors
        assert session.prune_cache() == []
        assert entry.exists()
    finally:
        session.close()
