"""``mkdocs serve`` threads: the watcher never stands still, and shutting down waits for it.

The file watcher calls :meth:`DevServer.start_saved` in its own thread while MkDocs builds in the
main one. Each race below is forced with events (a snippet held at a named pipe, a session held
inside ``start_ahead``), so the order is the same on every run, however loaded the machine.
"""

from __future__ import annotations

import os
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from refkit.engine.serve_watch import DevServer
from refkit.engine.session import BuildSession, PageSource
from refkit.engine.settings import Settings

TOPIC = '''
TITLE = "Threads"
GATE = {gate!r}


def demo_gated():
    """Runs until the test opens the gate."""
    with open(GATE) as gate:
        print("gated", gate.read().strip())


def demo_quick():
    print("quick 1")
'''
PAGE = "# P\n\n!refkit threads.demo_gated\n\n!refkit threads.demo_quick\n"
SECONDS = 60  # how long a step that should return at once may take on a loaded machine


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[BuildSession, Path]]:
    """A serve session whose page embeds a snippet held at a named pipe, and that pipe."""
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "__init__.py").write_text("")
    (tmp_path / "notes" / "threads.py").write_text(textwrap.dedent(TOPIC.format(gate=str(gate))))
    settings = Settings.resolve(
        {"package_dir": "notes", "timeout": 60, "cache_dir": "cache"},
        environ={},
        project_dir=tmp_path,
    )
    session = BuildSession.open(settings, "serve")
    try:
        yield session, gate
    finally:
        session.close()


def returns_within(call: Any, seconds: float = SECONDS) -> bool:
    """Whether ``call()``, run in a thread of its own, returns within ``seconds``."""
    returned = threading.Event()

    def run() -> None:
        call()
        returned.set()

    threading.Thread(target=run, daemon=True).start()
    return returned.wait(seconds)


def test_a_save_while_a_run_is_in_flight_returns_at_once_and_the_rebuild_runs_it(gated):
    session, gate = gated
    session.plan([PageSource("p.md", PAGE)])
    session.run(["threads.demo_quick"])
    session.end_build()
    session.start(["threads.demo_gated"])
    held = os.open(gate, os.O_WRONLY)  # returns once the snippet has opened its end: it runs
    try:
        module = session.settings.package_path / "threads.py"
        module.write_text(module.read_text().replace("quick 1", "quick 2"))
        dev = DevServer(dirty=False, session=lambda: session)
        # The watcher's handler: before the fix it waited, holding the lock, for the run.
        assert returns_within(dev.start_saved), "the watcher waited for a run in flight"
        assert dev.lock.acquire(blocking=False), "the watcher left the lock taken"
        dev.lock.release()
    finally:
        os.write(held, b"open\n")
        os.close(held)
    # The rebuild that follows carries on: the gated run ends, then the saved snippet runs.
    assert session.begin_pages(None) == {"p.md"}
    assert session.wait() == []
    assert session.result("threads.demo_gated").output_text == "gated open\n"
    assert session.result("threads.demo_quick").output_text == "quick 2\n"


class HeldSession:
    """A session whose ``start_ahead`` waits, once entered, until the test lets it go on."""

    def __init__(self, progress: threading.Event) -> None:
        self.entered = threading.Event()
        self.proceed = threading.Event()
        self.progress = progress
        self.order: list[str] = []

    def start_ahead(self) -> set[str]:
        self.entered.set()
        self.proceed.wait()
        self.order.append("started ahead")
        return set()

    def close(self) -> None:
        self.order.append("closed")
        self.progress.set()


class ContendedLock:
    """A reentrant lock that sets ``waiting`` whenever a thread has to wait for it."""

    def __init__(self, waiting: threading.Event) -> None:
        self._lock = threading.RLock()
        self._waiting = waiting

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        if not blocking:
            return False
        self._waiting.set()
        return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> ContendedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_shutting_down_waits_for_the_watcher_then_nothing_starts_again():
    progress = threading.Event()  # set when shutdown waits for the lock, or closes
    session = HeldSession(progress)
    dev = DevServer(dirty=False, session=lambda: session)
    dev.lock = ContendedLock(progress)
    watcher = threading.Thread(target=dev.start_saved, daemon=True)
    watcher.start()
    assert session.entered.wait(SECONDS)  # the watcher is inside start_ahead, holding the lock
    stopper = threading.Thread(target=dev.shutdown, args=(session.close,), daemon=True)
    stopper.start()
    assert progress.wait(SECONDS)
    # Before the fix, shutdown closed the session here, under the watcher's feet.
    assert session.order == [], "the session was closed while the watcher was starting snippets"
    session.proceed.set()
    watcher.join(SECONDS)
    stopper.join(SECONDS)
    assert session.order == ["started ahead", "closed"]
    # Once shut down, a late save starts nothing, and a build opens no session.
    session.entered.clear()
    dev.start_saved()
    assert not session.entered.is_set()
    assert dev.build_started() is False


def test_a_save_while_a_rebuild_ahead_holds_the_lock_leaves_the_session_alone():
    session = HeldSession(threading.Event())
    dev = DevServer(dirty=True, session=lambda: session)
    held, release = threading.Event(), threading.Event()

    def rebuild_ahead() -> None:  # as pages_then_rebuild holds it while pages wait for snippets
        with dev.lock:
            held.set()
            release.wait()

    rebuild = threading.Thread(target=rebuild_ahead, daemon=True)
    rebuild.start()
    assert held.wait(SECONDS)
    try:
        assert returns_within(dev.start_saved), "the watcher waited for a rebuild ahead"
    finally:
        release.set()
        rebuild.join(SECONDS)
    assert not session.entered.is_set()  # the rebuild under way, or the next, reads the save


class AheadSession:
    """A session whose snippets changed on one page, and which records what happened."""

    def __init__(self, package: Path) -> None:
        self.settings = type("S", (), {"package_path": package})()
        self.order: list[str] = []

    def start_ahead(self) -> set[str]:
        self.order.append("started ahead")
        return {"p.demo"}

    def begin_pages(self, pages: object) -> set[str]:
        self.order.append("began pages")
        return {"p.md"}

    def catalog_problems(self) -> list[str]:
        return []


class PollingServer:
    """What ``attach`` uses of MkDocs' server, without a watcher of its own (it polls)."""

    def __init__(self) -> None:
        self.watched: list[str] = []
        self.rebuilds = 0
        self._epoch_cond = threading.Condition()
        self._visible_epoch, self._wanted_epoch = 1, 1

    def watch(self, path: str) -> None:
        self.watched.append(path)

    def builder(self) -> None:
        self.rebuilds += 1


def test_a_save_rebuilds_its_pages_at_once_and_the_rebuild_loop_publishes_them(
    tmp_path, monkeypatch
):
    from refkit.engine import serve_watch

    package = tmp_path / "notes"
    package.mkdir()
    (tmp_path / "docs").mkdir()
    config = type(
        "C", (), {"docs_dir": str(tmp_path / "docs"), "watch": [], "config_file_path": ""}
    )()
    session = AheadSession(package)
    dev = DevServer(dirty=True, session=lambda: session)
    server = PollingServer()
    dev.attach(server, config)
    dev.last = serve_watch.LastBuild(config, None, serve_watch.docs_state(config, package))
    dev.last.complete = True
    built = threading.Event()
    seen_ahead: list[bool] = []

    def rebuild_pages(uris: set[str], last: object) -> list[str]:
        seen_ahead.append(dev.ahead)  # plugins can tell a rebuild ahead from a full one
        built.set()
        return ["site/p/index.html"]

    monkeypatch.setattr(serve_watch, "rebuild_pages", rebuild_pages)
    dev.watcher.saved.set()  # as the watcher does on a change event
    dev.start_saved()
    # Not after MkDocs' debounce: the pages are rebuilt now, in a thread of their own.
    assert built.wait(SECONDS)
    assert session.order == ["started ahead", "began pages"] and seen_ahead == [True]
    assert dev.ahead is False
    with dev.lock:  # the thread is done with the lock once it lets it go
        pass
    assert server._visible_epoch == 1  # nothing published before the rebuild loop wakes
    server._wanted_epoch = 2  # the loop woke: the epoch its rebuild will publish
    server.builder()
    assert server._visible_epoch == 2, "the pages rebuilt ahead were not published"
    assert server.rebuilds == 1  # MkDocs' own rebuild follows all the same
    assert session.order == ["started ahead", "began pages"]  # and nothing is rebuilt twice
    assert dev.rebuilding is False


def test_a_save_while_the_rebuild_loop_rebuilds_leaves_the_session_alone(tmp_path):
    session = AheadSession(tmp_path)
    dev = DevServer(dirty=True, session=lambda: session)
    early: list[str] = []
    dev._early = lambda: early.append("pages")
    dev.rebuilding = True  # between the loop's wake-up and the build's on_config
    dev.start_saved()
    assert session.order == [] and early == []
    dev.rebuilding = False
    dev.start_saved()
    deadline = time.monotonic() + SECONDS
    while not early and time.monotonic() < deadline:
        time.sleep(0.01)
    assert session.order == ["started ahead"] and early == ["pages"]
