"""Decide what must run, run it in the worker, and keep the results: the core of a build.

:class:`SnippetRunner` is what the MkDocs plugin and the command line use. Given snippets, it
answers each from the cache when it can (``execute="auto"``), and sends the rest to one
:mod:`refkit.engine.worker` process, started only when something must run and kept alive across
``mkdocs serve`` rebuilds so the heavy imports are paid once. If the worker dies, the snippets it
was running are reported as crashed and the next request starts a new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from refkit.engine.cache import EnvironmentKey, ResultCache, cache_key
from refkit.engine.discovery import PackageState, Snippet, load_catalog, package_state
from refkit.engine.results import CRASHED, ErrorInfo, SnippetResult

__all__ = ["EXECUTE_MODES", "PendingRun", "RunStats", "SnippetRunner", "WorkerError"]

EXECUTE_MODES = ("auto", "always", "never")
# On top of the snippets' own timeouts: how long the worker may take to start and import.
_WORKER_START_SECONDS = 300.0


class WorkerError(RuntimeError):
    """The worker process could not be started or stopped answering."""


@dataclass
class RunStats:
    """What one call to :meth:`SnippetRunner.results` did, for logs and tests."""

    from_cache: int = 0
    executed: int = 0
    failed: int = 0
    not_run: int = 0
    executed_ids: list[str] = field(default_factory=list)


@dataclass
class PendingRun:
    """Results known so far, and what the worker still owes, between ``start`` and ``finish``."""

    results: dict[str, SnippetResult | None] = field(default_factory=dict)
    stats: RunStats = field(default_factory=RunStats)
    requests: dict[str, tuple[Snippet, str]] = field(default_factory=dict)
    package_state: PackageState = ()
    """Files of the package with their modification times and sizes, when the run started."""
    current: dict[str, Snippet] | None = None
    """The snippets as the package reads now, once a file changed during the run."""


class _WorkerProcess:
    def __init__(self, package_dir: Path, jobs: int, device: str) -> None:
        env = dict(os.environ)
        # The worker imports the topics from the package folder being documented, not from
        # whatever copy of refkit happens to be installed.
        env["PYTHONPATH"] = os.pathsep.join(
            [str(package_dir.parent), *filter(None, [env.get("PYTHONPATH")])]
        )
        env["REFKIT_DEVICE"] = device
        env.setdefault("HF_HUB_OFFLINE", "1")  # snippets never download
        env.setdefault("TOKENIZERS_PARALLELISM", "false")  # its threads do not survive a fork
        # No __pycache__ writes into the package folder that `mkdocs serve` watches: each one
        # would trigger a second, useless rebuild.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        command = [
            sys.executable,
            "-m",
            "refkit.engine.worker",
            "--package",
            package_dir.name,
            "--jobs",
            str(jobs),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=package_dir.parent,
            env=env,
        )
        self._pending = b""
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ)
        ready = self.read_message(time.monotonic() + _WORKER_START_SECONDS)
        if ready is None or ready.get("op") != "ready":
            self.close()
            raise WorkerError(
                "the refkit worker did not start; run `python -m refkit.engine.worker` "
                "to see why (is torch installed in this environment?)"
            )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict[str, object]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def read_message(self, deadline: float) -> dict[str, object] | None:
        """The next message, or ``None`` if the worker died or the deadline passed."""
        assert self.process.stdout is not None
        # Raw reads into our own buffer: a buffered readline() could swallow two messages while
        # select() then reports nothing left to read, and the build would wait forever.
        fd = self.process.stdout.fileno()
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if self._selector.select(timeout=min(1.0, remaining)):
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None
                self._pending += chunk
            elif not self.alive:
                return None
        line, _, self._pending = self._pending.partition(b"\n")
        message: dict[str, object] = json.loads(line)
        return message

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):  # the worker may already be gone
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.terminate()  # the worker kills its running snippets on SIGTERM
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._selector.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


Progress = Callable[[int, int, list[str]], None]
"""Called as ``progress(done, total, running)``: ids of the snippets running now."""


class SnippetRunner:
    """Runs snippets in an isolated worker, with a result cache in front.

    Args:
        package_dir: The folder of the topic package (``<repo>/refkit``).
        cache: Where results are kept, or ``None`` for no cache.
        execute: ``auto`` (run what the cache lacks), ``always`` or ``never`` (cache only).
        timeout: Seconds one snippet may run before it is killed.
        device: ``auto``, ``cpu`` or ``cuda``, passed on as ``REFKIT_DEVICE``.
        jobs: Snippets run at the same time.
    """

    def __init__(
        self,
        package_dir: Path,
        *,
        cache: ResultCache | None,
        execute: str = "auto",
        timeout: float = 120.0,
        device: str = "auto",
        jobs: int = 1,
    ) -> None:
        if execute not in EXECUTE_MODES:
            raise ValueError(f"execute={execute!r} is not one of {', '.join(EXECUTE_MODES)}")
        self.package_dir = package_dir
        self.cache = cache
        self.execute = execute
        self.timeout = timeout
        self.device = device
        self.jobs = jobs
        self.cache_write_errors: list[str] = []
        self._worker: _WorkerProcess | None = None
        self._next_request = 0

    def environment_key(self) -> EnvironmentKey:
        """The environment part of every cache key (computed without importing torch)."""
        return EnvironmentKey.current(self.device)

    def start(
        self, snippets: Iterable[Snippet], read_state: PackageState | None = None
    ) -> PendingRun:
        """Answer what the cache can and send the rest to the worker, without waiting.

        The caller does other work (MkDocs converts pages) while the worker imports libraries and
        runs snippets, then calls :meth:`finish`.

        Args:
            snippets: What is needed (duplicates are fine).
            read_state: The package's files as they were when ``snippets`` were read
                (``Catalog.state``); by default, as they are now.
        """
        wanted = {snippet.id: snippet for snippet in snippets}
        # The state the snippets' code was read in: a file saved since then means their results
        # may be of other code (checked before caching each one).
        state = package_state(self.package_dir) if read_state is None else read_state
        pending = PendingRun(package_state=state)
        environment = self.environment_key()
        to_run: list[tuple[Snippet, str]] = []
        for snippet in wanted.values():
            key = cache_key(snippet, environment)
            cached = self.cache.get(key) if self.cache and self.execute != "always" else None
            if cached is not None:
                pending.results[snippet.id] = cached
                pending.stats.from_cache += 1
            elif self.execute == "never":
                pending.results[snippet.id] = None
                pending.stats.not_run += 1
            else:
                to_run.append((snippet, key))
        if to_run:
            worker = self._ensure_worker()
            for snippet, key in to_run:
                self._next_request += 1
                request_id = str(self._next_request)
                pending.requests[request_id] = (snippet, key)
                worker.send(
                    {
                        "request_id": request_id,
                        "snippet_id": snippet.id,
                        "module": snippet.module,
                        "function": snippet.function,
                        "timeout": self.timeout,
                        "preload": list(snippet.preload_imports),
                    }
                )
        return pending

    def finish(
        self, pending: PendingRun, progress: Progress | None = None
    ) -> tuple[dict[str, SnippetResult | None], RunStats]:
        """Wait for what :meth:`start` sent to the worker; store successes in the cache.

        Args:
            pending: What :meth:`start` returned.
            progress: Called as ``progress(done, total, running)`` whenever a snippet starts
                or finishes; ``running`` holds the ids of the snippets running now.

        Returns:
            Results by snippet id (``None``: not run and not cached, with ``execute="never"``)
            and what was done.
        """
        total, done = len(pending.requests), 0
        running: dict[str, str] = {}  # request id -> snippet id, in the order they started
        # Every child has its own timeout inside the worker; this bound only guards against a
        # worker that stops answering altogether.
        deadline = time.monotonic() + _WORKER_START_SECONDS + self.timeout * total
        while pending.requests:
            message = self._worker.read_message(deadline) if self._worker else None
            if message is None:
                break
            request_id = str(message.get("request_id"))
            if request_id not in pending.requests:
                continue  # e.g. an answer owed to an earlier, abandoned build
            if message.get("op") == "started":
                running[request_id] = pending.requests[request_id][0].id
                if progress is not None:
                    progress(done, total, list(running.values()))
                continue
            if message.get("op") != "result":
                continue
            snippet, key = pending.requests.pop(request_id)
            running.pop(request_id, None)
            done += 1
            if progress is not None:
                progress(done, total, list(running.values()))
            self._record(pending, snippet, key, SnippetResult.from_json(message["result"]))  # type: ignore[arg-type]
        if pending.requests:  # the worker died or hung: what it still owed counts as crashed
            self.close()
            error = ErrorInfo("WorkerDied", "the refkit worker process ended unexpectedly")
            for snippet, key in pending.requests.values():
                self._record(pending, snippet, key, SnippetResult(snippet.id, CRASHED, error=error))
            pending.requests.clear()
        return pending.results, pending.stats

    def results(
        self,
        snippets: Iterable[Snippet],
        progress: Progress | None = None,
        read_state: PackageState | None = None,
    ) -> tuple[dict[str, SnippetResult | None], RunStats]:
        """:meth:`start` and :meth:`finish` in one call."""
        return self.finish(self.start(snippets, read_state), progress)

    def _record(
        self, pending: PendingRun, snippet: Snippet, key: str, result: SnippetResult
    ) -> None:
        pending.results[snippet.id] = result
        pending.stats.executed += 1
        pending.stats.executed_ids.append(snippet.id)
        if not result.ok:
            pending.stats.failed += 1
        elif self.cache is not None:
            self._store(pending, snippet, key, result)

    def _store(
        self, pending: PendingRun, snippet: Snippet, key: str, result: SnippetResult
    ) -> None:
        """Cache a result at once, if its code is still what the key was computed from.

        A topic module saved while its snippet ran (usual under ``mkdocs serve``) may have
        produced output of the new code; storing it under the old code's key would later serve
        it for the wrong code. Such a result is shown, not kept. Checking is cheap while no file
        of the package changed (a few ``stat`` calls); the catalog is read again only if one did.
        """
        assert self.cache is not None
        state = package_state(self.package_dir)
        if state != pending.package_state:
            pending.package_state = state
            pending.current = load_catalog(self.package_dir).snippets
        if pending.current is not None:
            now = pending.current.get(snippet.id)
            if now is None or now.fingerprint != snippet.fingerprint:
                return
        try:
            self.cache.put(key, result)
        except OSError as exc:
            self.cache_write_errors.append(f"{self.cache.folder}: {exc.strerror or exc}")

    def warm_up(self, preload: Iterable[str]) -> None:
        """Start the worker now and have it import ``preload``, so a later run starts at once."""
        self._ensure_worker().send({"op": "preload", "preload": sorted(preload)})

    def _ensure_worker(self) -> _WorkerProcess:
        if self._worker is None or not self._worker.alive:
            if self._worker is not None:
                self._worker.close()
            self._worker = _WorkerProcess(self.package_dir, self.jobs, self.device)
        return self._worker

    def close(self) -> None:
        """Stop the worker, if one was started."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None
