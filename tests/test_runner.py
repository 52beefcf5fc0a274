"""The worker and runner, for real: forked children, timeouts, crashes, a cache in front."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, pid_alive, topic_package

from refkit.engine.cache import ResultCache, cache_key
from refkit.engine.discovery import load_catalog
from refkit.engine.messages import MessageDecoder, Ready, encode
from refkit.engine.results import CRASHED, ERROR, OK, TIMEOUT
from refkit.engine.runner import PendingRun, SnippetRunner

# Real worker processes, real forks: the real-process tier.
pytestmark = pytest.mark.slow

# Not the settings' default (200 000): the worker's capture limit must come from the runner.
MAX_OUTPUT = 150_000


def make_runner(
    package: Path,
    *,
    cache: ResultCache | None,
    timeout: float,
    jobs: int = 1,
    execute: str = "auto",
    device: str = "auto",
    max_output: int = MAX_OUTPUT,
    memory_limit: int = 0,
) -> SnippetRunner:
    """A runner with every setting given, as the settings model gives them."""
    return SnippetRunner(
        package,
        cache=cache,
        execute=execute,
        timeout=timeout,
        device=device,
        jobs=jobs,
        max_output=max_output,
        memory_limit=memory_limit,
    )


TOPIC = """
import logging, os, sys, time, warnings
TITLE = "t"

class Html:
    def _repr_html_(self):
        return "<b>bold</b>"

class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr")

def demo_streams():
    print("out 1")
    print("err 1", file=sys.stderr)
    warnings.warn("a warning")
    logging.getLogger("lib").warning("a log record")
    print("out 2")
    return 42

def demo_html():
    return Html()

def demo_bad_repr():
    return BadRepr()

def demo_raises():
    raise KeyError("missing")

def demo_hangs():
    time.sleep(60)

def demo_exits():
    os._exit(7)

def demo_segfaults():
    import ctypes
    ctypes.string_at(0)

def demo_chdir():
    os.chdir("/")
    os.environ["REFKIT_LEAK"] = "1"
    sys.path.insert(0, "/nowhere")

def demo_sees_clean_state():
    print(os.getcwd() != "/", "REFKIT_LEAK" in os.environ, "/nowhere" in sys.path)

def demo_floods():
    for _ in range(1000):
        sys.stdout.write("x" * 10_000)

def demo_bad_bytes():
    sys.stdout.buffer.write(b"ok \\xff\\xfe bytes\\n")

def demo_lone_surrogate():
    print(os.fsdecode(b"name-\\xff"))

def demo_native_output_in_order():
    import ctypes, subprocess
    print("python 1")
    subprocess.run(["echo", "subprocess stdout"], check=True)
    subprocess.run(["sh", "-c", "echo subprocess stderr >&2"], check=True)
    print("python 2")
    os.write(1, b"fd 1, split UTF-8: \\xe2\\x82")  # the bytes of one character, split
    os.write(1, b"\\xac\\n")
    libc = ctypes.CDLL(None)
    libc.printf(b"C printf\\n")
    libc.fflush(None)
    print("python 3")
    libc.printf(b"C printf, maybe still in libc's buffer at the end\\n")

def demo_native_flood():
    os.write(1, b"z" * 5_000_000)
    print("after the flood")
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    pkg = topic_package(tmp_path_factory.mktemp("runner") / "rkpkg")
    (pkg / "topic.py").write_text(TOPIC)
    return pkg


@pytest.fixture(scope="module")
def outcome(package):
    catalog = load_catalog(package)
    runner = make_runner(package, cache=None, timeout=3, jobs=2)
    try:
        results, stats = runner.results(catalog.snippets.values())
    finally:
        runner.close()
    return results, stats


def test_output_keeps_order_across_streams(outcome):
    result = outcome[0]["topic.demo_streams"]
    assert result.ok
    assert [e.stream for e in result.events] == ["stdout", "stderr", "warning", "log", "stdout"]
    assert result.events[3].text == "WARNING:lib:a log record\n"
    assert result.return_text == "42"
    assert result.environment is not None and result.environment.device == "cpu"


def test_output_written_to_the_descriptors_keeps_its_place(outcome):
    # Subprocesses, os.write and C's printf write to file descriptors 1 and 2, below sys.stdout;
    # their output still sits between the prints around it, and what C left in its stdio buffer
    # is flushed when the snippet ends.
    result = outcome[0]["topic.demo_native_output_in_order"]
    assert result.ok, result.error
    assert [(e.stream, e.text) for e in result.events] == [
        ("stdout", "python 1\nsubprocess stdout\n"),
        ("stderr", "subprocess stderr\n"),
        (
            "stdout",
            "python 2\nfd 1, split UTF-8: \u20ac\nC printf\npython 3\n"
            "C printf, maybe still in libc's buffer at the end\n",
        ),
    ]


def test_a_native_flood_is_truncated_and_keeps_what_came_first(outcome):
    result = outcome[0]["topic.demo_native_flood"]
    assert result.truncated
    assert len(result.output_text) <= MAX_OUTPUT + 1
    assert result.output_text.startswith("zzz") and "after the flood" not in result.output_text


def test_repr_html_and_failing_repr(outcome):
    assert outcome[0]["topic.demo_html"].return_html == "<b>bold</b>"
    bad = outcome[0]["topic.demo_bad_repr"]
    assert bad.ok and "repr failed" in bad.return_text
    assert "repr raised RuntimeError: no repr" in bad.output_text


def test_exception_is_reported_with_the_snippets_frames(outcome):
    result = outcome[0]["topic.demo_raises"]
    assert result.status == ERROR and result.error.type == "KeyError"
    assert 'raise KeyError("missing")' in result.error.traceback
    assert "worker.py" not in result.error.traceback


@pytest.mark.parametrize(
    ("snippet", "status", "message"),
    [
        ("topic.demo_hangs", TIMEOUT, "more than 3 s"),
        ("topic.demo_exits", CRASHED, "exited with code 7"),
        ("topic.demo_segfaults", CRASHED, "signal SIGSEGV"),
    ],
)
def test_hangs_and_crashes_become_results(outcome, snippet, status, message):
    result = outcome[0][snippet]
    assert result.status == status
    assert message in result.error.message


def test_one_snippets_changes_do_not_leak_into_another(package):
    snippets = load_catalog(package).snippets
    # One at a time, in this order: the second starts after the first changed everything.
    runner = make_runner(package, cache=None, timeout=10, jobs=1)
    try:
        results, _ = runner.results(
            [snippets["topic.demo_chdir"], snippets["topic.demo_sees_clean_state"]]
        )
    finally:
        runner.close()
    assert results["topic.demo_chdir"].ok
    assert results["topic.demo_sees_clean_state"].output_text == "True False False\n"


def test_a_flood_of_output_is_truncated(outcome):
    result = outcome[0]["topic.demo_floods"]
    assert result.ok and result.truncated
    assert len(result.output_text) == MAX_OUTPUT


def test_a_lone_surrogate_is_replaced_and_the_result_can_be_cached(outcome, tmp_path):
    result = outcome[0]["topic.demo_lone_surrogate"]
    assert result.ok and result.output_text == "name-?\n"
    assert ResultCache(tmp_path).put("ab" * 32, result)


def test_invalid_utf8_is_replaced(outcome):
    assert outcome[0]["topic.demo_bad_bytes"].output_text == "ok \ufffd\ufffd bytes\n"


def test_the_worker_sees_edited_code_without_restarting(tmp_path):
    pkg = topic_package(tmp_path / "editpkg")
    topic = pkg / "topic.py"
    topic.write_text('TITLE = "t"\ndef demo_v():\n    print("version 1")\n')
    runner = make_runner(pkg, cache=None, timeout=10)
    try:
        first, _ = runner.results(load_catalog(pkg).snippets.values())
        worker_pid = runner._worker.process.pid
        topic.write_text('TITLE = "t"\ndef demo_v():\n    print("version 2, longer")\n')
        second, _ = runner.results(load_catalog(pkg).snippets.values())
        assert runner._worker.process.pid == worker_pid
    finally:
        runner.close()
    assert first["topic.demo_v"].output_text == "version 1\n"
    assert second["topic.demo_v"].output_text == "version 2, longer\n"


def test_a_dead_worker_is_replaced(package, tmp_path):
    catalog = load_catalog(package)
    runner = make_runner(package, cache=None, timeout=10)
    try:
        runner.results([catalog.snippets["topic.demo_streams"]])
        runner._worker.process.kill()
        runner._worker.process.wait()
        results, _ = runner.results([catalog.snippets["topic.demo_streams"]])
    finally:
        runner.close()
    assert results["topic.demo_streams"].ok


def test_cache_serves_successes_and_reruns_failures(package, tmp_path):
    catalog = load_catalog(package)
    wanted = [catalog.snippets["topic.demo_streams"], catalog.snippets["topic.demo_raises"]]
    runner = make_runner(package, cache=ResultCache(tmp_path / "cache"), timeout=10)
    try:
        _, cold = runner.results(wanted)
        results, warm = runner.results(wanted)
        runner.execute = "never"
        never, stats_never = runner.results(wanted)
    finally:
        runner.close()
    assert cold.executed_ids == ["topic.demo_streams", "topic.demo_raises"]
    assert warm.executed_ids == ["topic.demo_raises"] and warm.from_cache == 1
    assert results["topic.demo_streams"].from_cache
    assert never["topic.demo_raises"] is None and stats_never.not_run == 1


TORCH_TOPIC = """
import torch
TITLE = "threads"
""" + "".join(
    f"""
def demo_matmul_{i}():
    torch.set_num_threads(2)  # intra-op threads started in a child forked after importing torch
    a = torch.ones(256, 256)
    print(float((a @ a).sum()))
"""
    for i in range(4)
)


def test_forked_children_use_torch_threads_in_parallel_without_deadlock(tmp_path):
    pkg = topic_package(tmp_path / "torchpkg")
    (pkg / "topic.py").write_text(TORCH_TOPIC)
    catalog = load_catalog(pkg)
    runner = make_runner(pkg, cache=None, timeout=60, jobs=2)
    try:
        # Twice on one worker: the second batch forks from a parent that already served one.
        for _ in range(2):
            results, _ = runner.results(catalog.snippets.values())
            assert {r.status for r in results.values()} == {OK}
            assert {r.output_text for r in results.values()} == {f"{256.0**3}\n"}
    finally:
        runner.close()


@pytest.mark.parametrize("ci_variable", [None, "true"])
def test_library_logging_is_captured_in_order(tmp_path, monkeypatch, ci_variable):
    # transformers logs through its own handler, bound to the console when it was imported (in
    # the worker, before the fork); the capture must still catch it, in order. With CI=true,
    # transformers 5 also propagates the record to the root logger: it must still appear once.
    if ci_variable is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci_variable)
    pkg = topic_package(tmp_path / "libpkg")
    (pkg / "topic.py").write_text(
        "from transformers.utils import logging as hf_logging\n"
        'TITLE = "t"\n'
        "def demo_library_logs():\n"
        '    print("before")\n'
        '    hf_logging.get_logger("transformers.refkit_test").warning("from the library")\n'
        '    print("after")\n'
    )
    runner = make_runner(pkg, cache=None, timeout=60)
    try:
        results, _ = runner.results(load_catalog(pkg).snippets.values())
    finally:
        runner.close()
    result = results["topic.demo_library_logs"]
    assert [(e.stream, e.text) for e in result.events] == [
        ("stdout", "before\n"),
        ("log", "[transformers] from the library\n"),
        ("stdout", "after\n"),
    ]


def test_closing_the_runner_stops_snippets_still_running(tmp_path):
    pkg = topic_package(tmp_path / "hangpkg")
    pid_file = tmp_path / "pid"
    (pkg / "topic.py").write_text(
        f'import os, time\nTITLE = "t"\ndef demo_hang():\n    open({str(pid_file)!r}, "w").write(str(os.getpid()))\n    time.sleep(120)\n'
    )
    runner = make_runner(pkg, cache=None, timeout=120)
    runner.start(load_catalog(pkg).snippets.values())  # as a build that fails before finishing
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    started = time.monotonic()
    runner.close()
    assert time.monotonic() - started < 5
    while pid_alive(pid) and time.monotonic() - started < 10:
        time.sleep(0.05)
    assert not pid_alive(pid), "the snippet outlived its runner"


def test_a_result_whose_code_changed_while_it_ran_is_shown_but_not_cached(tmp_path):
    pkg = topic_package(tmp_path / "racepkg")
    topic = pkg / "topic.py"
    topic.write_text(
        'import time\nTITLE = "t"\ndef demo_slow():\n    time.sleep(1)\n    print("v1")\n'
    )
    cache = ResultCache(tmp_path / "cache")
    runner = make_runner(pkg, cache=cache, timeout=60)
    try:
        pending = runner.start(load_catalog(pkg).snippets.values())
        time.sleep(0.3)  # the snippet is running; the author saves a new version
        topic.write_text(topic.read_text().replace('"v1"', '"v2"'))
        results, _ = runner.finish(pending)
        assert results["topic.demo_slow"].ok
        assert list((tmp_path / "cache").rglob("*.json")) == []

        results, _ = runner.results(load_catalog(pkg).snippets.values())  # nothing changes now
        assert results["topic.demo_slow"].output_text == "v2\n"
        assert len(list((tmp_path / "cache").rglob("*.json"))) == 1
    finally:
        runner.close()


def test_processes_that_leave_the_snippets_group_are_killed_too(tmp_path):
    # A process in a new session (start_new_session=True, setsid, a daemon's double fork) is out
    # of reach of the snippet's process group; it must still end with its snippet, whether the
    # snippet returns, crashes or times out, while the worker keeps serving.
    pkg = topic_package(tmp_path / "escapepkg")
    pids = tmp_path / "pids"
    (pkg / "topic.py").write_text(
        "import os, subprocess, time\n"
        'TITLE = "t"\n'
        "def record(pid):\n"
        f"    with open({str(pids)!r}, 'a') as f:\n"
        "        f.write(f'{pid}\\n')\n"
        "def new_session():\n"
        '    record(subprocess.Popen(["sleep", "300"], start_new_session=True).pid)\n'
        "def demo_returns():\n"
        "    new_session()\n"
        "def demo_double_fork():\n"
        '    shell = subprocess.run(["sh", "-c", "setsid sleep 300 >/dev/null 2>&1 & echo $!"],\n'
        "                           capture_output=True, text=True, check=True)\n"
        "    record(int(shell.stdout))\n"
        "def demo_crashes():\n"
        "    new_session()\n"
        "    os._exit(3)\n"
        "def demo_times_out():\n"
        "    new_session()\n"
        "    time.sleep(60)\n"
    )
    runner = make_runner(pkg, cache=None, timeout=3, jobs=2)
    try:
        results, _ = runner.results(load_catalog(pkg).snippets.values())
        statuses = {sid.split(".")[1]: r.status for sid, r in results.items()}
        assert statuses == {
            "demo_returns": OK,
            "demo_double_fork": OK,
            "demo_crashes": CRASHED,
            "demo_times_out": TIMEOUT,
        }
        escaped = [int(line) for line in pids.read_text().split()]
        assert len(escaped) == 4
        deadline = time.monotonic() + 5
        while any(pid_alive(pid) for pid in escaped) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Checked with the runner still open: the worker cleans up as it goes, not only at exit.
        assert [pid for pid in escaped if pid_alive(pid)] == []
    finally:
        runner.close()


def test_progress_names_the_snippets_running_now(tmp_path):
    pkg = topic_package(tmp_path / "progresspkg")
    (pkg / "topic.py").write_text(
        'import time\nTITLE = "t"\n'
        + "".join(f"def demo_{n}():\n    time.sleep(0.2)\n" for n in ("a", "b", "c"))
    )
    calls: list[tuple[int, int, list[str]]] = []
    runner = make_runner(pkg, cache=None, timeout=60, jobs=2)
    try:
        runner.results(
            load_catalog(pkg).snippets.values(),
            progress=lambda done, total, running: calls.append((done, total, running)),
        )
    finally:
        runner.close()
    assert calls[0] == (0, 3, ["topic.demo_a"])  # the first snippet started, none finished
    assert calls[-1] == (3, 3, [])
    assert max(len(running) for _, _, running in calls) == 2  # two jobs ran side by side
    for snippet in ("topic.demo_a", "topic.demo_b", "topic.demo_c"):
        shown = [i for i, (_, _, running) in enumerate(calls) if snippet in running]
        assert shown, f"{snippet} was never shown running"
        # The call after its last appearance is its own finish: one more done, and it is gone.
        done_before, after = calls[shown[-1]][0], calls[shown[-1] + 1]
        assert after[0] == done_before + 1 and snippet not in after[2]


def test_a_save_between_reading_and_running_keeps_the_result_out_of_the_cache(tmp_path):
    pkg = topic_package(tmp_path / "gappkg")
    topic = pkg / "topic.py"
    topic.write_text('TITLE = "t"\ndef demo_v():\n    print("v1")\n')
    catalog = load_catalog(pkg)  # the build reads v1 ...
    topic.write_text(
        'TITLE = "t"\ndef demo_v():\n    print("v2, saved later")\n'
    )  # ... then a save
    cache = ResultCache(tmp_path / "cache")
    runner = make_runner(pkg, cache=cache, timeout=60)
    try:
        results, _ = runner.results(catalog.snippets.values(), read_state=catalog.state)
        key = cache_key(catalog.snippets["topic.demo_v"], runner.environment_key())
    finally:
        runner.close()
    assert results["topic.demo_v"].output_text == "v2, saved later\n"  # the fork imports v2
    assert cache.get(key) is None, "v2's output was cached under v1's key"


@pytest.mark.parametrize(
    "missing", ["execute", "timeout", "device", "jobs", "max_output", "memory_limit"]
)
def test_every_runner_setting_must_be_given(tmp_path, missing):
    # The defaults belong to the settings model; a runner made without one is a bug.
    settings = {
        "execute": "auto",
        "timeout": 1.0,
        "device": "cpu",
        "jobs": 1,
        "max_output": 10,
        "memory_limit": 0,
    }
    del settings[missing]
    with pytest.raises(TypeError, match=missing):
        SnippetRunner(tmp_path, cache=None, **settings)


def _gated_topic(gate: Path, pids: Path) -> str:
    """Snippets that print at once, and ones that wait (30 s at most) for ``gate`` to exist."""
    return (
        "import os, time\n"
        'TITLE = "t"\n'
        "def wait_for_gate():\n"
        f"    with open({str(pids)!r}, 'a') as f:\n"
        "        f.write(f'{os.getpid()}\\n')\n"
        "    deadline = time.monotonic() + 30\n"
        f"    while not os.path.exists({str(gate)!r}) and time.monotonic() < deadline:\n"
        "        time.sleep(0.02)\n"
        f"    print('gated', os.path.exists({str(gate)!r}))\n"
        "def demo_first():\n"
        "    print('first')\n"
        "def demo_wanted():\n"
        "    print('wanted')\n"
        "def demo_gated():\n"
        "    wait_for_gate()\n"
        "def demo_gated_too():\n"
        "    wait_for_gate()\n"
    )


@pytest.fixture
def gated(tmp_path):
    """A package of gated snippets, its snippets, the gate, and the file of the gated pids."""
    pkg = topic_package(tmp_path / "gatedpkg")
    gate, pids = tmp_path / "gate", tmp_path / "pids"
    (pkg / "topic.py").write_text(_gated_topic(gate, pids))
    yield pkg, load_catalog(pkg).snippets, gate, pids
    gate.touch()  # whatever still waits (say, orphans of a killed worker) ends now
    for line in pids.read_text().split() if pids.exists() else ():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line), signal.SIGKILL)


def test_finish_until_returns_once_those_snippets_are_done_and_a_later_call_collects_the_rest(
    gated,
):
    pkg, snippets, gate, _ = gated
    calls: list[tuple[int, int, list[str]]] = []
    runner = make_runner(pkg, cache=None, timeout=60)
    try:
        # One job: the worker runs them in this order, so demo_first's answer comes first.
        pending = runner.start(
            [snippets[f"topic.demo_{name}"] for name in ("first", "wanted", "gated")]
        )
        results, stats = runner.finish(
            pending,
            progress=lambda *call: calls.append(call),
            until=["topic.demo_wanted"],
        )
        assert results is pending.results
        assert results["topic.demo_wanted"].output_text == "wanted\n"
        # Not asked for, but it arrived meanwhile: recorded as usual.
        assert results["topic.demo_first"].output_text == "first\n"
        assert "topic.demo_gated" not in results, "finish waited for the gated snippet"
        assert [snippet.id for snippet, _ in pending.requests.values()] == ["topic.demo_gated"]
        assert stats.executed_ids == ["topic.demo_first", "topic.demo_wanted"]

        gate.touch()
        results, stats = runner.finish(pending, progress=lambda *call: calls.append(call))
    finally:
        runner.close()
    assert results["topic.demo_gated"].output_text == "gated True\n"
    assert stats.executed_ids == ["topic.demo_first", "topic.demo_wanted", "topic.demo_gated"]
    assert not pending.requests and not pending.running
    # Progress counts the whole run across both calls.
    assert calls[0] == (0, 3, ["topic.demo_first"])
    assert calls[-1] == (3, 3, [])
    assert {total for _, total, _ in calls} == {3}
    assert [done for done, _, _ in calls] == sorted(done for done, _, _ in calls)
    assert (2, 3, ["topic.demo_gated"]) in calls


def test_finish_until_ids_the_worker_does_not_owe_returns_at_once(gated):
    pkg, snippets, gate, _ = gated
    runner = make_runner(pkg, cache=None, timeout=60, jobs=2)
    try:
        pending = runner.start([snippets["topic.demo_first"], snippets["topic.demo_gated"]])
        runner.finish(pending, until={"topic.demo_first"})
        started = time.monotonic()
        # Already answered, unknown, and nothing at all: none of them waits for demo_gated.
        for until in ({"topic.demo_first", "topic.demo_unknown"}, set()):
            results, _ = runner.finish(pending, until=until)
            assert "topic.demo_gated" not in results
        assert time.monotonic() - started < 5
        assert [snippet.id for snippet, _ in pending.requests.values()] == ["topic.demo_gated"]
        gate.touch()
        results, _ = runner.finish(pending, until={"topic.demo_gated"})
    finally:
        runner.close()
    assert results["topic.demo_gated"].output_text == "gated True\n"
    assert not pending.requests


def test_a_worker_dying_while_finish_waits_until_some_marks_every_owed_snippet_crashed(gated):
    pkg, snippets, _, pids = gated
    runner = make_runner(pkg, cache=None, timeout=60, jobs=2)
    try:
        pending = runner.start([snippets["topic.demo_gated"], snippets["topic.demo_gated_too"]])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            pids.exists() and len(pids.read_text().split()) == 2
        ):
            time.sleep(0.05)
        runner._worker.process.kill()
        results, stats = runner.finish(pending, until={"topic.demo_gated"})
    finally:
        runner.close()
    # Not only the snippet waited for: the dead worker owed both.
    for snippet_id in ("topic.demo_gated", "topic.demo_gated_too"):
        assert results[snippet_id].status == CRASHED
        assert results[snippet_id].error.type == "WorkerDied"
        assert "ended unexpectedly" in results[snippet_id].error.message
    assert stats.failed == 2 and not pending.requests and not pending.running
    assert runner._worker is None


def test_finish_until_takes_ids_not_one_id(tmp_path):
    runner = make_runner(tmp_path, cache=None, timeout=1)
    # A string is a collection too, of characters: waiting for those would never end.
    with pytest.raises(TypeError, match="until"):
        runner.finish(PendingRun(), until="topic.demo_first")


def test_a_smaller_max_output_cuts_sooner(package):
    snippet = load_catalog(package).snippets["topic.demo_floods"]
    runner = make_runner(package, cache=None, timeout=10, max_output=1000)
    try:
        results, _ = runner.results([snippet])
        runner.max_output = 2000  # read per run: the same worker cuts at the new limit
        again, _ = runner.results([snippet])
    finally:
        runner.close()
    assert results[snippet.id].truncated and len(results[snippet.id].output_text) == 1000
    assert len(again[snippet.id].output_text) == 2000


def _worker_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "refkit.engine.worker", *args]


@pytest.mark.parametrize(("args", "message"), [((), "--jobs"), (("--jobs", "0"), "at least 1")])
def test_the_worker_needs_a_number_of_jobs(args, message):
    done = subprocess.run(
        _worker_command("--package", "refkit", *args),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr


def test_the_worker_stops_on_a_malformed_request(package):
    worker = subprocess.Popen(
        _worker_command("--package", package.name, "--jobs", "1"),
        cwd=package.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        decoder = MessageDecoder()
        first = []
        while not first:
            chunk = worker.stdout.read1(1 << 16)
            assert chunk, "the worker ended before saying it was ready"
            first = list(decoder.feed(chunk))
        assert first == [Ready()]
        # A JSON line, as the worker used to read: not a frame.
        worker.stdin.write(b'{"op": "preload", "preload": []}\n' + encode(Ready()))
        worker.stdin.flush()
        code = worker.wait(timeout=30)
        stderr = worker.stderr.read().decode()
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate()
    assert code == 1
    assert "malformed request" in stderr
