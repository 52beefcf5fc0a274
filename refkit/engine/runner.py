"""Decide what must run, run it in the worker, and keep the results: the core of a build.

:class:`SnippetRunner` is what the MkDocs plugin and the command line use. Given snippets, it
answers each from the cache when it can (``execute="auto"``), and sends the rest to one
:mod:`refkit.engine.worker` process, started only when something must run and kept alive across
``mkdocs serve`` rebuilds so the heavy imports are paid once. If the worker dies, the snippets it
was running are reported as crashed and the next request starts a new one.

:meth:`SnippetRunner.finish` can wait for part of a run only (``until``): a host that converts
pages one at a time waits for the snippets of the page at hand while the rest keep running.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from refkit.engine.cache import CacheWarning, EnvironmentKey, ResultCache, cache_key
from refkit.engine.discovery import PackageState, Snippet, load_catalog, package_state
from refkit.engine.messages import Finished, PreloadRequest, RunRequest, Started
from refkit.engine.results import CRASHED, ErrorInfo, SnippetResult
from refkit.engine.settings import EXECUTE_MODES
from refkit.engine.worker_process import WORKER_START_SECONDS, WorkerError, WorkerProcess

if TYPE_CHECKING:
    from refkit.engine.environments import SyncReport

__all__ = [
    "PendingRun",
    "RunStats",
    "SnippetRunner",
    "WorkerError",
    "machine_memory_mib",
    "resolve_memory_limit",
]


def machine_memory_mib() -> int:
    """The memory this process may use, in MiB: physical memory, or a container's limit if lower.

    Examples:
        >>> machine_memory_mib() > 0
        True
    """
    limits = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")]
    # A container's cgroup limit (v2, then v1); "max" or a huge number means none.
    for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limits.append(int(Path(name).read_text(encoding="ascii")))
        except (OSError, ValueError):
            continue
    return max(1, min(limits) >> 20)


def resolve_memory_limit(memory_limit: int) -> int:
    """The ``memory_limit`` setting in MiB for a request: ``-1`` is half the machine's memory.

    Examples:
        >>> resolve_memory_limit(0), resolve_memory_limit(512)
        (0, 512)
        >>> resolve_memory_limit(-1) == machine_memory_mib() // 2
        True
    """
    return max(1, machine_memory_mib() // 2) if memory_limit < 0 else memory_limit


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
    """Results known so far, and what the worker still owes, between ``start`` and ``finish``.

    A :meth:`SnippetRunner.finish` that waited only ``until`` some snippets were done leaves the
    others here, for a later call to collect.
    """

    results: dict[str, SnippetResult | None] = field(default_factory=dict)
    stats: RunStats = field(default_factory=RunStats)
    requests: dict[str, tuple[Snippet, str]] = field(default_factory=dict)
    """What the worker still owes: request id -> (snippet, cache key)."""
    running: dict[str, str] = field(default_factory=dict)
    """Request id -> snippet id of the snippets running now, in the order they started."""
    package_state: PackageState = ()
    """Files of the package with their modification times and sizes, when the run started."""
    current: dict[str, Snippet] | None = None
    """The snippets as the package reads now, once a file changed during the run."""
    cache_errors: list[str] = field(default_factory=list)
    """Why results could not be stored (a full disk, a read-only folder): one line each."""
    cache_warnings: list[CacheWarning] = field(default_factory=list)
    """Cache entries ignored (and deleted) as unusable, and why; their snippets run again."""


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
        max_output: Characters of output kept per snippet; the rest is cut (``truncated``).
        memory_limit: MiB one snippet may use before it is killed; ``0``: no limit; ``-1``:
            half of the machine's memory (:func:`resolve_memory_limit`).
        environment: A synced environment to run in (see
            :class:`~refkit.engine.worker_process.WorkerProcess`); its lock is part of every
            cache key. ``None``: the environment running refkit.

    There are no defaults here: they are the settings' (:mod:`refkit.engine.settings`).
    ``execute``, ``timeout``, ``max_output`` and ``memory_limit`` may be changed between runs;
    ``device`` and ``jobs`` are the worker's, fixed once it started.
    """

    def __init__(
        self,
        package_dir: Path,
        *,
        cache: ResultCache | None,
        execute: str,
        timeout: float,
        device: str,
        jobs: int,
        max_output: int,
        memory_limit: int,
        environment: SyncReport | None = None,
    ) -> None:
        if execute not in EXECUTE_MODES:
            raise ValueError(f"execute={execute!r} is not one of {', '.join(EXECUTE_MODES)}")
        self.package_dir = package_dir
        self.cache = cache
        self.execute = execute
        self.timeout = timeout
        self.device = device
        self.jobs = jobs
        self.max_output = max_output
        self.memory_limit = memory_limit
        self.environment = environment
        self._worker: WorkerProcess | None = None
        self._next_request = 0

    def environment_key(self) -> EnvironmentKey:
        """The environment part of every cache key (computed without importing torch)."""
        if self.environment is not None:
            return EnvironmentKey.of_environment(self.environment)
        return EnvironmentKey.current(self.device)

    def start(
        self,
        snippets: Iterable[Snippet],
        read_state: PackageState | None = None,
        environment: EnvironmentKey | None = None,
    ) -> PendingRun:
        """Answer what the cache can and send the rest to the worker, without waiting.

        The caller does other work (MkDocs converts pages) while the worker imports libraries and
        runs snippets, then calls :meth:`finish`.

        Args:
            snippets: What is needed (duplicates are fine).
            read_state: The package's files as they were when ``snippets`` were read
                (``Catalog.state``); by default, as they are now.
            environment: The environment part of the cache keys, when the caller has read it
                already (once per build); by default, read now.
        """
        wanted = {snippet.id: snippet for snippet in snippets}
        # The state the snippets' code was read in: a file saved since then means their results
        # may be of other code (checked before caching each one).
        state = package_state(self.package_dir) if read_state is None else read_state
        pending = PendingRun(package_state=state)
        environment = environment or self.environment_key()
        to_run: list[tuple[Snippet, str]] = []
        for snippet in wanted.values():
            key = cache_key(snippet, environment)
            cached = (
                self.cache.get(key, snippet_id=snippet.id, warnings=pending.cache_warnings)
                if self.cache is not None and self._reads_cache
                else None
            )
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
            memory_limit = resolve_memory_limit(self.memory_limit)
            for snippet, key in to_run:
                self._next_request += 1
                request_id = str(self._next_request)
                pending.requests[request_id] = (snippet, key)
                worker.send(
                    RunRequest(
                        request_id=request_id,
                        snippet_id=snippet.id,
                        module=snippet.module,
                        function=snippet.function,
                        timeout=self.timeout,
                        max_output=self.max_output,
                        preload=snippet.preload_imports,
                        memory_limit=memory_limit,
                    )
                )
        return pending

    @property
    def _reads_cache(self) -> bool:
        """Whether :meth:`start` answers from the cache (``execute`` is not ``always``)."""
        return self.cache is not None and self.execute != "always"

    def warm_up_for(
        self, snippets: Iterable[Snippet], environment: EnvironmentKey | None = None
    ) -> bool:
        """Start the worker on the imports of those ``snippets`` that :meth:`start` would run.

        The decision is :meth:`start`'s, taken from the cache's file names alone (an entry is not
        read, so one that proves unusable counts as there): nothing with ``execute="never"``,
        everything with ``always``, what the cache lacks otherwise. When nothing would run (a
        warm build), no worker is started.

        Returns:
            Whether the worker was asked to import anything.
        """
        if self.execute == "never":
            return False
        environment = environment or self.environment_key()
        missing = [
            snippet
            for snippet in snippets
            if not (
                self.cache is not None
                and self._reads_cache
                and self.cache.has(cache_key(snippet, environment))
            )
        ]
        if missing:
            self.warm_up(
                {statement for snippet in missing for statement in snippet.preload_imports}
            )
        return bool(missing)

    def finish(
        self,
        pending: PendingRun,
        progress: Progress | None = None,
        until: Collection[str] | None = None,
    ) -> tuple[dict[str, SnippetResult | None], RunStats]:
        """Wait for what :meth:`start` sent to the worker; store successes in the cache.

        Args:
            pending: What :meth:`start` returned.
            progress: Called as ``progress(done, total, running)`` whenever a snippet starts
                or finishes; ``running`` holds the ids of the snippets running now. ``done``
                and ``total`` count the whole run, across calls.
            until: Snippet ids: return as soon as each of them has a result (at once for ids
                not owed by the worker), leaving the rest owed in ``pending`` for a later call.
                Results of other snippets that arrive meanwhile are recorded all the same.
                ``None``: wait for everything.

        Returns:
            Results by snippet id so far (``None``: not run and not cached, with
            ``execute="never"``), which is ``pending.results``, and what was done.
            If the worker dies or stops answering, every snippet it still owed (not only
            those in ``until``) gets a crashed result.
        """
        if isinstance(until, str):
            raise TypeError("until must be a collection of snippet ids, not one id")
        wanted = set(pending.requests)
        if until is not None:
            ids = frozenset(until)
            wanted = {rid for rid, (snippet, _) in pending.requests.items() if snippet.id in ids}
        # Every child has its own timeout inside the worker; this bound only guards against a
        # worker that stops answering altogether.
        deadline = time.monotonic() + WORKER_START_SECONDS + self.timeout * len(pending.requests)
        worker = self._worker
        while wanted:
            message = worker.read_message(deadline) if worker else None
            if message is None:
                self._worker_failed(pending, worker.failure if worker else "")
                break
            if isinstance(message, Started) and message.request_id in pending.requests:
                pending.running[message.request_id] = pending.requests[message.request_id][0].id
                self._report(pending, progress)
            elif isinstance(message, Finished) and message.request_id in pending.requests:
                # Anything else is owed to an earlier, abandoned run.
                snippet, key = pending.requests.pop(message.request_id)
                pending.running.pop(message.request_id, None)
                wanted.discard(message.request_id)
                result = message.result
                # Never show, or cache, one snippet's output as another's.
                if result.snippet_id != snippet.id:
                    error = ErrorInfo(
                        "ProcessDied", f"the worker sent a result of {result.snippet_id!r}"
                    )
                    result = SnippetResult(snippet.id, CRASHED, error=error)
                self._record(pending, snippet, key, result)
                self._report(pending, progress)
        return pending.results, pending.stats

    @staticmethod
    def _report(pending: PendingRun, progress: Progress | None) -> None:
        if progress is not None:
            done = pending.stats.executed
            progress(done, done + len(pending.requests), list(pending.running.values()))

    def _worker_failed(self, pending: PendingRun, how: str) -> None:
        """The worker died or hung: what it still owed counts as crashed."""
        self.close()
        error = ErrorInfo("WorkerDied", f"the refkit worker process {how or 'ended unexpectedly'}")
        for snippet, key in pending.requests.values():
            self._record(pending, snippet, key, SnippetResult(snippet.id, CRASHED, error=error))
        pending.requests.clear()
        pending.running.clear()

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
            pending.cache_errors.append(f"{self.cache.folder}: {exc.strerror or exc}")

    def warm_up(self, preload: Iterable[str]) -> None:
        """Start the worker now and have it import ``preload``, so a later run starts at once."""
        self._ensure_worker().send(PreloadRequest(tuple(sorted(preload))))

    def _ensure_worker(self) -> WorkerProcess:
        if self._worker is None or not self._worker.alive:
            if self._worker is not None:
                self._worker.close()
            self._worker = WorkerProcess(
                self.package_dir, self.jobs, self.device, environment=self.environment
            )
        return self._worker

    def close(self) -> None:
        """Stop the worker, if one was started."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None
