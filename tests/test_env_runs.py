"""Snippets in several environments: real workers in a real synced venv, tabs, recorded outputs.

The environment is tiny and real: ``six==1.16.0`` without torch, made by
:func:`refkit.engine.environments.sync` with uv in a temporary cache (about two seconds). The
default environment has no six, so what a snippet prints tells which interpreter ran it.
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import synced_six, topic_package

from refkit.engine.assemble import Block
from refkit.engine.cache import EnvironmentKey, cache_key
from refkit.engine.drift import read_recorded, write_approved
from refkit.engine.environments import Environment, SyncReport
from refkit.engine.results import OK, OutputEvent, RunEnvironment, SnippetResult
from refkit.engine.session import BuildSession
from refkit.engine.settings import Settings

SIX_ENV = Environment("six-env", ("six==1.16.0",), add_torch=False)
DECLARED = {
    "six-env": {"requirements": ["six==1.16.0"], "add_torch": False},
    # Declared, never synced: a missing environment.
    "gone": {"requirements": ["six==1.16.0"], "add_torch": False},
}
"""The site's ``environments`` option, as ``mkdocs.yml`` writes it."""

TOPIC = '''
"""Where snippets run."""

TITLE = "Where"
ENVIRONMENTS = {"demo_where": ("default", "six-env", "gone")}


def demo_where():
    """Print six's version (if any) and the interpreter."""
    import sys

    try:
        import six
    except ImportError:
        print("no six")
    else:
        print("six", six.__version__)
    print("python", sys.executable)


def demo_plain():
    """Runs in the default environment only."""
    print("plain")
'''


@pytest.fixture(scope="module")
def six_report(tmp_path_factory: pytest.TempPathFactory) -> SyncReport:
    return synced_six(tmp_path_factory.mktemp("environments"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (topic_package(tmp_path / "notes") / "where.py").write_text(textwrap.dedent(TOPIC))
    return tmp_path


def open_session(project: Path, report: SyncReport, **options: object) -> BuildSession:
    """A session whose settings declare ``six-env`` (synced in ``report``) and ``gone``."""
    assert report.path is not None
    settings = Settings.resolve(
        {
            "package_dir": "notes",
            "timeout": 60,
            "environments": DECLARED,
            "environments_dir": str(report.path.parent.parent),
            **options,
        },
        environ={},
        project_dir=project,
    )
    return BuildSession.open(settings)


def block(session: BuildSession, snippet_id: str, where: str = "p.md:3") -> Block:
    return Block(kind="output", snippet=session.catalog.snippets[snippet_id], where=where)


def recorded_result(snippet_id: str) -> SnippetResult:
    env = RunEnvironment("3.11.7", "not installed", "4.29.2", "0.13.3", "cpu")
    return SnippetResult(
        snippet_id,
        OK,
        (OutputEvent("stdout", "recorded <s> there\n"),),
        environment=env,
        finished_at="2026-11-30T12:00:00Z",
    )


def test_a_snippet_runs_in_the_interpreter_of_each_environment_it_declares(project, six_report):
    session = open_session(project, six_report)
    try:
        assert session.environments_of("where.demo_where") == ("default", "six-env", "gone")
        assert session.environments_of("where.demo_plain") == ("default",)
        results, problems = session.run(["where.demo_where", "where.demo_plain"])
        assert problems == []
        default = results["where.demo_where"]
        assert default is not None and default.ok
        assert default.events[0].text == f"no six\npython {sys.executable}\n"
        there = session.result("where.demo_where", "six-env")
        assert there is not None and there.ok, there
        assert "".join(e.text for e in there.events) == f"six 1.16.0\npython {six_report.python}\n"
        assert there.environment is not None and there.environment.torch == "not installed"
        # Only the declared snippet ran there; the missing environment ran nothing.
        assert session.result("where.demo_plain", "six-env") is None
        assert session.result("where.demo_where", "gone") is None
        assert sorted(session.stats.executed_ids) == sorted(
            ["where.demo_where", "where.demo_plain", "where.demo_where"]
        )
    finally:
        session.close()


def test_results_of_an_environment_are_cached_under_its_lock(project, six_report):
    first = open_session(project, six_report)
    try:
        first.run(["where.demo_where"])
    finally:
        first.close()
    second = open_session(project, six_report)
    try:
        second.run(["where.demo_where"])
        assert second.stats.executed == 0
        assert second.stats.from_cache == 2
        there = second.result("where.demo_where", "six-env")
        assert there is not None and there.from_cache
        assert "six 1.16.0" in there.events[0].text
    finally:
        second.close()
    snippet = second.catalog.snippets["where.demo_where"]
    default_key = cache_key(snippet, EnvironmentKey.current("cpu"))
    six_key = cache_key(snippet, EnvironmentKey.of_environment(six_report))
    upgraded = replace(six_report, resolved={**six_report.resolved, "six": "1.17.0"})
    assert (
        len({default_key, six_key, cache_key(snippet, EnvironmentKey.of_environment(upgraded))})
        == 3
    )


def test_a_site_without_environments_keys_results_as_before(project):
    settings = Settings.resolve({"package_dir": "notes"}, environ={}, project_dir=project)
    session = BuildSession(settings)
    assert session.environment_reports() == {}
    key = EnvironmentKey.current("cpu")
    assert "lock" not in key.identity()
    # The digest the code before environments (commit 0409d64's parent) gave these fields: a
    # cache filled then is still read, as long as the key has no lock.
    fields = EnvironmentKey("0.1", "w", "3.11", "2.13", "5.24", "0.23", "cpu")
    assert fields.digest() == "11acbdbefb59c4d2"
    assert replace(fields, lock="abc").digest() != "11acbdbefb59c4d2"


def test_a_recorded_output_keeps_its_stamp_beside_it(tmp_path):
    path = write_approved(tmp_path, recorded_result("m.demo_x"), "legacy-tf")
    assert path == tmp_path / "m" / "demo_x@legacy-tf.txt"
    recorded = read_recorded(tmp_path, "m.demo_x", "legacy-tf")
    assert recorded is not None
    assert recorded.text == "recorded <s> there\n"
    assert recorded.stamp.endswith("run 2026-11-30T12:00:00Z")
    # The default environment's files are untouched by it.
    assert not (tmp_path / "m" / "demo_x.txt").exists()


MEETING = """
\"\"\"A snippet whose runs wait for each other.\"\"\"
import os
import sys
import time
from pathlib import Path

TITLE = "Meeting"

ENVIRONMENTS = {"demo_meet": ("six-env",)}


def demo_meet():
    \"\"\"Leave a mark for this environment, wait up to a minute for the other's, say if it came.\"\"\"
    meet = Path(MEET)
    (meet / ("six" if "six-env" in sys.prefix else "default")).write_text("")
    start = time.monotonic()
    while len(os.listdir(meet)) < 2 and time.monotonic() - start < 60:
        time.sleep(0.01)
    print("met" if len(os.listdir(meet)) == 2 else "alone")
"""


def test_workers_of_two_environments_run_at_the_same_time(project, six_report, tmp_path):
    meet = tmp_path / "meet"
    meet.mkdir()
    (project / "notes" / "meeting.py").write_text(MEETING + f"\nMEET = {str(meet)!r}\n")
    session = open_session(project, six_report, execute="always")
    try:
        results, problems = session.run(["meeting.demo_meet"])
        there = session.result("meeting.demo_meet", "six-env")
    finally:
        session.close()
    assert problems == []
    # Each run waited for the other's mark, so both ran at once: one after the other, the
    # first would have waited its minute out and said "alone".
    here = results["meeting.demo_meet"]
    assert here is not None and here.ok and here.events[0].text == "met\n"
    assert there is not None and there.ok and there.events[0].text == "met\n"


def test_drift_and_status_hold_each_environment_to_its_own_approved_output(project, six_report):
    session = open_session(project, six_report)
    try:
        session.run(["where.demo_where"])
        there = session.result("where.demo_where", "six-env")
        assert there is not None
        assert session.status(there, "six-env") == "new"
        written = write_approved(project / "approved", there, "six-env")
        assert written.name == "demo_where@six-env.txt"
        assert session.status(there, "six-env") == "approved"
        # The default environment was approved nowhere: its output is still new, and the
        # default environment's approved file was not written.
        assert session.status(session.result("where.demo_where")) == "new"
        assert session.drift("where.demo_where", "six-env") is None
    finally:
        session.close()


def test_a_rebuild_runs_again_in_each_environment_only_what_changed(project, six_report):
    session = open_session(project, six_report)
    try:
        session.run(["where.demo_where", "where.demo_plain"])
        source = project / "notes" / "where.py"
        source.write_text(source.read_text().replace('print("python",', 'print("interpreter",'))
        changed = session.begin_build()
        assert changed == {"where.demo_where"}
        session.run(["where.demo_where", "where.demo_plain"])
        assert session.stats.executed_ids == ["where.demo_where", "where.demo_where"]
        there = session.result("where.demo_where", "six-env")
        assert there is not None and "interpreter" in there.events[0].text
    finally:
        session.close()


TIMED = """
import os
import sys
import time
from pathlib import Path


def demo_timed():
    \"\"\"When it ran (CLOCK_MONOTONIC, one clock for the machine), and whether it met the other.

    The run in each six environment leaves a mark, then waits up to WAIT seconds for the
    other's (the default environment's run only prints).
    \"\"\"
    start = time.monotonic()
    meet = Path(MEET)
    if "six-" in sys.prefix:
        (meet / Path(sys.prefix).parent.name).write_text("")
    while "six-" in sys.prefix and len(os.listdir(meet)) < 2 and time.monotonic() - start < WAIT:
        time.sleep(0.01)
    print(start, time.monotonic(), len(os.listdir(meet)) == 2)
"""


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_environments_share_jobs_worker_slots(project, six_report, tmp_path, jobs):
    # A second environment beside six-env, in the same cache folder.
    synced_six(six_report.path.parent.parent, "six-too")
    meet = tmp_path / "meet"
    meet.mkdir()
    # With two slots, each run waits (up to a minute, however slow a worker is to start) for
    # the other; with one, the first cannot meet the second, and gives up after a second.
    (project / "notes" / "timed.py").write_text(
        textwrap.dedent(TIMED)
        + f'\nMEET = {str(meet)!r}\nWAIT = {1.0 if jobs == 1 else 60.0}\nTITLE = "Timed"\n'
        + 'ENVIRONMENTS = {"demo_timed": ("default", "six-env", "six-too")}\n'
    )
    declared = {**DECLARED, "six-too": {"requirements": ["six==1.16.0"], "add_torch": False}}
    session = open_session(project, six_report, execute="always", jobs=jobs, environments=declared)
    try:
        results, problems = session.run(["timed.demo_timed"])
        runs = [
            session.result("timed.demo_timed", name).output_text.split()
            for name in ("six-env", "six-too")
        ]
    finally:
        session.close()
    assert problems == [] and results["timed.demo_timed"].ok
    (_, first_end, first_met), (second_start, _, second_met) = sorted(
        (float(start), float(end), met == "True") for start, end, met in runs
    )
    if jobs == 1:  # one environment worker at a time: the second starts after the first ends
        assert not first_met and second_start >= first_end
    else:  # two slots: both ran at once, each saw the other start
        assert first_met and second_met and second_start < first_end


def test_a_rebuild_reuses_the_check_of_the_environments_until_a_folder_changes(
    project, six_report, monkeypatch
):
    # Checking starts each synced environment's Python; serve rebuilds on every save.
    import refkit.engine.session as session_module

    calls = []
    real_check = session_module.check
    monkeypatch.setattr(
        session_module, "check", lambda *a, **k: calls.append(1) or real_check(*a, **k)
    )
    session = open_session(project, six_report)
    try:
        assert session.environment_reports()["six-env"].ok
        session.end_build()  # each build checks again (as one after a sync must) ...
        assert session.environment_reports()["six-env"].ok
        assert len(calls) == 1  # ... and reuses the check while the folders are as they were
        (six_report.path.parent / "new-venv").mkdir()  # what a sync's rename looks like
        session.end_build()
        assert session.environment_reports()["six-env"].ok
        assert len(calls) == 2
    finally:
        (six_report.path.parent / "new-venv").rmdir()
        session.close()


def test_settings_that_change_runs_forget_every_environments_results(project, six_report):
    session = open_session(project, six_report)
    try:
        session.run(["where.demo_where"])
        assert session.result("where.demo_where", "six-env") is not None
        session.reconfigure(
            session.settings.with_values(max_output=session.settings.max_output + 1)
        )
        # Made under other limits: neither environment's result is current any more.
        assert session.result("where.demo_where") is None
        assert session.result("where.demo_where", "six-env") is None
    finally:
        session.close()
