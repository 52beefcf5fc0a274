#!/usr/bin/env python3
"""Build-speed benchmark of the refkit MkDocs plugin, on this repository's own site.

Usage (from the repository, with the virtual environment active)::

    python scripts/benchmark.py --rounds 5 --write-docs
    python scripts/benchmark.py --rounds 2 --only environments   # the version environments alone
    python scripts/benchmark.py --rounds 7 --only serve   # mkdocs serve's saves alone (7 saves)
    python scripts/benchmark.py --rounds 1 --only suite --write-docs   # the test suite's time

It needs the ``bench`` extra (``pip install -e ".[bench]"``: markdown-exec, the peer) and
Zensical (the ``zensical`` extra), and takes several minutes. Everything runs in throwaway copies
of the repository in a temporary folder, so the real files, the real site and the real cache are
never touched (``--write-docs`` is the one exception: it rewrites the results section of
``docs/performance.md``).

Scenarios, measured in rounds (each round runs one build of each, and puts the two sides of
every comparison back to back: env warm then floor then warm, big floor then big, edit then the
snippet alone, Zensical floor then Zensical warm, markdown-exec then cold then Zensical cold, env
default then env cold):

1. ``floor``: the same pages with the refkit plugin disabled (``REFKIT_ENABLED=false``), in a
   copy whose generated directives (``!refkit-topics``, ``!refkit-api``) are written out as the
   Markdown refkit gives them, so that the host does the same work (the API reference);
2. ``cold``: an empty cache (``REFKIT_CACHE_DIR`` = a fresh empty folder), every snippet runs;
3. ``warm``: nothing changed since the cache was primed, a new ``mkdocs build`` process;
   ``pair floor`` and ``pair warm``: the floor and the warm build started at the same moment,
   in two processes (the machine's two cores), ``--pairs`` times a round (6): the warm target's
   measure (see ``warm_target``);
4. ``big``: ``warm`` in a copy of the repository with one more page, ``docs/big.md``: a
   paragraph and then 20,000 lines of indented code (the directive scan must be linear), with
   its own copy of the primed cache; ``big floor``, the same copy with the plugin disabled. What
   refkit adds for the page is ``(big - big floor) - (warm - floor)``;
5. ``edit``: one snippet's body edited so its output changes (a distinct line appended each
   round, reverted after the build): exactly one snippet runs, checked from the plugin's log;
6. ``serve``: after the rounds, on its own (no other scenario runs beside it): one ``mkdocs serve
   --dirty`` (as ``scripts/dev serve`` runs it; ``--serve-full`` for full rebuilds) started on a
   primed cache and left until its processes are idle; then, once per round, the time from
   saving the edited topic module to the page, fetched over HTTP every 20 ms, showing the new
   output; then it is stopped;
7. ``peer``: the same snippets run by markdown-exec in a generated copy of the docs (cold: it has
   no cache);
8. ``zensical floor``, ``zensical cold``, ``zensical warm``: one ``zensical build --clean`` each
   (``--clean``, so Zensical's own page cache never hides work), each in its own copy of the
   repository, as Zensical writes ``site/`` and ``.cache/`` inside the project. The ``refkit``
   Markdown extension listed in ``mkdocs.yml`` does the work there, with the same options:
   disabled, an empty cache (all snippets run), and a primed cache (none runs);
9. version environments (``LIGHT_ENVIRONMENT``, ``transformers-4.57``, the one light environment
   ``mkdocs.yml`` declares): ``env default``, a cold build with no environment live
   (``REFKIT_ENVIRONMENTS_DIR`` = an empty folder: the same site and settings, every snippet runs
   in ``default`` only and each declared environment's tab shows its recorded output), then
   ``env cold``, the same cold build with ``transformers-4.57`` live (the other, heavy TensorFlow
   environments declared but absent, so recorded); ``env warm``, the warm build with it live,
   just before ``floor``; ``env sync``, the wall time of ``refkit env sync transformers-4.57`` (the
   real command, a subprocess) on the environment already up to date. The environment lives in a
   cache root of the benchmark's own (in its temporary folder), made at the start by a real
   ``refkit env sync transformers-4.57`` (timed, uv's package cache as found); the heavy
   environments are never synced there (the run fails if one appears). ``env create``, after
   the rounds, on its own: one more sync into a brand-new cache root, an environment's first
   creation with uv's package cache warm (the start's sync has just filled it); reported, not a
   target. Every other scenario has ``REFKIT_ENVIRONMENTS_DIR`` = the empty folder too, so the
   user's own synced environments never run in the benchmark;

plus, each round, the snippet's own run time in a fresh process, ``python -m doctest
refkit/*.py``, and the worker's import time: a fresh ``python`` process that runs every
statement of the catalog's ``preload_imports`` (what the worker imports before it forks
snippets), and a bare ``python -c pass`` to subtract.

Every ratio is taken within a round and the targets hold the median of the per-round values
(the report shows median, min and max); the warm target holds the median over all side-by-side
pairs instead. Warm builds are compared with their floors by CPU time
(user + system of the build process and its reaped children), as they wait for nothing and their
wall time on a shared machine is mostly waiting for a core; everything that waits for snippets
(cold, edit, serve) by wall time.

The cold build's critical path is, per round (issue 8): the floor + the worker's import time +
the sum of the run times (``duration``) of every snippet in that round's cold cache entries /
the site's ``jobs``: MkDocs' own work, then the worker's imports, then the snippets spread over
``jobs`` (one after another, as if nothing overlapped; the plugin overlaps MkDocs' work with the
worker's, so a build can beat it). The cold build is held to 1.2 x that.

The report also gives each topic page's weight in the warm build (issue 10): the bytes of
``site/topics/<page>/index.html``, of its figures and HTML views (the outer HTML of every
outermost element of class ``refkit-display``), their count, the largest, and the page without
them.

Each MkDocs build is the wall time of one ``mkdocs build -q -d <tmp>`` process, run through a
small wrapper that calls MkDocs' command line in-process and reports the CPU time and peak RSS of
that process (``RUSAGE_SELF``) and, separately, of its reaped children (``RUSAGE_CHILDREN``: the
refkit worker and its snippet forks; the peak RSS is the largest of them). Each Zensical build is
the same for ``python -m zensical build --clean``. Both wrappers also time, inside the process,
when refkit's build session first started snippets and how long the host waited for their
results.

``--only suite`` times the test suite against the suite issue 8 was measured by
(``SUITE_BASELINE``: 293 tests then, "about 110 s of pytest on these machines"), both on this
machine in the same run, a round being one run of each, back to back: the baseline in a clone of
this repository at that commit, with a virtual environment its own ``scripts/dev setup`` makes
(once, not timed), run as its README said (``python -m pytest``); then the whole suite of this
checkout, run by ``scripts/dev test`` itself (its install step is quick when nothing changed, and
pytest's own time leaves it out), then its fast tier (``scripts/dev test -m "not slow"``), both in
the repository itself (the tests write only to temporary folders). The time is
the one pytest reports. Targets: the suite <= 1.0 x the baseline's, the fast tier < 30 s. With
``--write-docs`` it rewrites the suite section of ``docs/performance.md``.

``--only environments`` runs the version environment scenarios and the floor their warm build is
held to, nothing else (for working on them; ``--write-docs`` needs the whole run). ``--only
serve`` primes a cache with one cold build, then runs the serve scenario alone with ``--rounds``
saves, and prints its samples and target (no report).

Exit status: 0 when every target passes (or with ``--no-fail``), 1 when a target fails, 2 when
the benchmark itself could not measure what it should (a build failed, or the plugin's log shows
a different number of runs than the scenario requires).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "refkit"
DOCS_PAGE = REPO / "docs" / "performance.md"
START_MARKER = "<!-- benchmark:start -->"
END_MARKER = "<!-- benchmark:end -->"
DEFAULT_SNIPPET = "conv1d_head.demo_one_output_by_hand"

COPY_IGNORE = shutil.ignore_patterns(
    ".venv",
    "venv",
    "site",
    ".cache",
    ".refkit-cache",  # the default result cache: every build here names its own
    ".git",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
    "build",
    "dist",
)
# Copies of the copy, once its priming build has compiled the bytecode: keep `__pycache__`, so
# no copy's first measured build pays for compiling refkit.
RECOPY_IGNORE = shutil.ignore_patterns("site", ".cache")

STATS = re.compile(
    r"(?P<total>\d+) snippets: (?P<cached>\d+) from the cache, (?P<run>\d+) run, "
    r"(?P<failed>\d+) failed, (?P<not_run>\d+) not run"
)

# Targets (ratios are of medians measured in the same run).
WARM_TIME_LIMIT = 1.1  # x floor
# Floor and warm builds run side by side (two processes at once) this many times a round: the warm
# target's measure (see `warm_target`).
DEFAULT_PAIRS = 6
WARM_RSS_LIMIT = 1.5  # x floor's MkDocs peak RSS
COLD_VS_PEER_LIMIT = 1.0  # x markdown-exec's cold build
COLD_CRITICAL_LIMIT = 1.2  # x (floor + the worker's imports + sum of snippet run times / jobs)
EDIT_FLOOR_FACTOR = 1.3  # edit <= 1.3 x floor + the snippet's own run time
SERVE_LIMIT_SECONDS = 0.3
SERVE_COMPUTE_CONDITION = 0.1  # the serve target applies when the snippet computes for less
DOCTEST_LIMIT_SECONDS = 20.0
ZENSICAL_COLD_LIMIT = 1.0  # x MkDocs cold
ZENSICAL_WARM_LIMIT = 1.3  # x Zensical floor
# The version environment the benchmark makes and runs; every other environment mkdocs.yml
# declares needs TensorFlow (GBs, minutes to install) and is never synced by the benchmark.
LIGHT_ENVIRONMENT = "transformers-4.57"
ENV_COLD_LIMIT = 1.5  # x the cold build with the default environment alone
ENV_WARM_LIMIT = 1.3  # x floor
ENV_SYNC_LIMIT_SECONDS = 5.0  # `refkit env sync` of an environment already up to date
# The suite issue 8 held the suite's time to ("no slower than today's"): the commit it was
# filed on, 293 tests run in one pytest process.
SUITE_BASELINE = "0dea465"
SUITE_LIMIT = 1.0  # x the baseline suite's pytest time
FAST_TIER_LIMIT_SECONDS = 30.0
SUITE_START_MARKER = "<!-- suite:start -->"
SUITE_END_MARKER = "<!-- suite:end -->"
PYTEST_SUMMARY = re.compile(r"^(?:=+ )?(?P<counts>\d+ passed.*?) in (?P<seconds>[0-9.]+)s\b")
BIG_PAGE_LINES = 20_000
BIG_PAGE_LIMIT_SECONDS = 0.5  # what refkit may add to a warm build for the big page
FIGURE_LIMIT_KB = 60.0  # each figure or HTML view (issue 10); 1 KB = 1,000 bytes
DISPLAY_CLASS = "refkit-display"  # the wrapper of every figure and HTML view on a page
POLL_SECONDS = 0.02
# `mkdocs serve` is quiet (its worker done importing) when its processes use less CPU than this
# per second; the first save waits for it, as an author reads the page before editing.
SERVE_QUIET_CPU = 0.1
# Every scenario's samples, in the order the rounds run them.
SCENARIOS = (
    "floor",
    "cold",
    "warm",
    "pair_floor",
    "pair_warm",
    "big",
    "big_floor",
    "edit",
    "serve",
    "peer",
    "zensical_floor",
    "zensical_cold",
    "zensical_warm",
    "env_default",
    "env_cold",
    "env_warm",
    "env_sync",
    "env_create",
    "alone",
    "doctest",
    "imports",
    "bare",
)
ZENSICAL = {"zensical_floor", "zensical_cold", "zensical_warm"}
# What `--only environments` runs: the environment scenarios and the floor `env_warm` is held to.
ENVIRONMENT_SCENARIOS = {"floor", "env_default", "env_cold", "env_warm", "env_sync", "env_create"}
# The plugin's line for a declared environment a build shows recorded outputs of (not synced).
NOT_RUN_NOTE = re.compile(r"environment '(?P<name>[^']+)' is not run in this build")
TIMES, DASH, MINUS = "\u00d7", "\u2013", "\u2212"  # for the Markdown tables

# Prepended to both build wrappers: times, inside the measured process, refkit's first
# `BuildSession.start` (when the host handed it the snippets) and every `BuildSession.wait` (how
# long the host stood still for results). Both hosts import `refkit.engine.session` anyway (the
# plugin and the extension import it at the top), so importing it here only moves that import.
_PROBE = r"""
import time as _time
_t0 = _time.perf_counter()
_probe = {"first_start": None, "waited": 0.0, "waits": 0, "long_waits": 0}
try:
    from refkit.engine.session import BuildSession as _Session
except Exception:
    _Session = None
_inner_start = getattr(_Session, "start", None)
_inner_wait = getattr(_Session, "wait", None)
if _inner_start is not None and _inner_wait is not None:  # else: no probe figures, no failure
    def _start(self, *args, **kwargs):
        if _probe["first_start"] is None:
            _probe["first_start"] = _time.perf_counter() - _t0
        return _inner_start(self, *args, **kwargs)
    def _wait(self, *args, **kwargs):
        began = _time.perf_counter()
        try:
            return _inner_wait(self, *args, **kwargs)
        finally:
            spent = _time.perf_counter() - began
            _probe["waited"] += spent
            _probe["waits"] += 1
            _probe["long_waits"] += spent > 0.01
    _Session.start, _Session.wait = _start, _wait
def _write_report(path, **extra):
    import json, resource
    with open(path, "w", encoding="utf-8") as _out:
        json.dump({
            "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            "cpu": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
            "children_cpu": sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]),
            "probe": _probe,
            **extra,
        }, _out)
"""

# Runs `mkdocs build -q -d <site>` in this very process (as `python -m mkdocs` would) and, at
# exit, writes its peak RSS, the peak RSS of its largest reaped child (the refkit worker or one of
# its forks) and the log records of interest to a JSON file. `-q` hides INFO records, so the
# refkit logger is set to INFO (and markdown-exec's to WARNING) explicitly to keep its summary.
_BUILD_WRAPPER = (
    _PROBE
    + r"""
import json, logging, resource, sys
report, site_dir = sys.argv[1], sys.argv[2]
records = []
class _Grab(logging.Handler):
    def emit(self, record):
        records.append([record.name, record.levelname, record.getMessage()])
_grab = _Grab()
for _name, _level in (("mkdocs.plugins.refkit", logging.INFO),
                      ("mkdocs.plugins.markdown_exec", logging.WARNING)):
    logging.getLogger(_name).setLevel(_level)
    logging.getLogger(_name).addHandler(_grab)
# The CPU time of the refkit plugin's own work: under MkDocs all of it runs in the plugin's
# event methods, on MkDocs' thread (the Markdown extension is taken out, a build starts no
# thread of refkit's), so the thread CPU time spent inside them is refkit's share of the build.
# functools.wraps keeps each method's `mkdocs_priority`.
try:
    from refkit.engine.plugin import RefkitPlugin as _Plugin
except Exception:
    _Plugin = None
if _Plugin is not None:
    import functools as _functools
    _probe["hooks_cpu"] = 0.0
    def _timed(method):
        @_functools.wraps(method)
        def timed(*args, **kwargs):
            began = _time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                _probe["hooks_cpu"] += _time.thread_time() - began
        return timed
    for _name, _method in list(vars(_Plugin).items()):
        if _name.startswith("on_") and callable(_method):
            setattr(_Plugin, _name, _timed(_method))
sys.argv = ["mkdocs", "build", "-q", "-d", site_dir]
try:
    from mkdocs.__main__ import cli
    cli()
finally:
    _write_report(report, records=records)
"""
)

# Runs `zensical build --clean` in this very process (as `python -m zensical` would). The report
# is written by the first exit handler registered, so it runs last: after the refkit extension's
# own handler has printed its summary to stderr and stopped (and reaped) its worker.
_ZENSICAL_WRAPPER = (
    _PROBE
    + r"""
import atexit, json, resource, sys
report = sys.argv[1]
atexit.register(_write_report, report)
sys.argv = ["zensical", "build", "--clean"]
from zensical.main import cli
cli()
"""
)


class BenchmarkError(RuntimeError):
    """The benchmark could not measure what a scenario requires."""


@dataclass
class Build:
    """One measured ``mkdocs build`` or ``zensical build``."""

    seconds: float
    rss_kb: int
    worker_kb: int
    cpu: float  # user + system CPU seconds of the MkDocs (or Zensical) process itself
    children_cpu: float  # the same of its reaped children (a refkit worker and its forks)
    records: list[list[str]]  # [logger, level, message]; Zensical's: its stderr lines
    host: str = "mkdocs"
    probe: dict[str, float | None] = field(default_factory=dict)
    reported: float | None = None  # Zensical's own "Build finished in" seconds

    def stats(self) -> dict[str, int] | None:
        """The refkit plugin's ``N snippets: X from the cache, Y run, ...`` summary, if logged."""
        for _, _, message in self.records:
            if match := STATS.search(message):
                return {key: int(value) for key, value in match.groupdict().items()}
        return None

    def warnings(self, logger_prefix: str) -> list[str]:
        return [
            message
            for name, level, message in self.records
            if name.startswith(logger_prefix) and level in {"WARNING", "ERROR"}
        ]


@dataclass
class Samples:
    """The measurements of one scenario over the rounds."""

    seconds: list[float] = field(default_factory=list)
    # User + system CPU seconds of the build process and its reaped children, per build.
    cpu: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    worker_kb: list[int] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)
    # Snippet id -> its run time in each round's cache entries (cold builds only).
    durations: dict[str, list[float]] = field(default_factory=dict)
    command: str = ""  # how the scenario ran, where the table should say so

    def add_build(self, build: Build) -> None:
        self.seconds.append(build.seconds)
        self.cpu.append(build.cpu + build.children_cpu)
        self.rss_kb.append(build.rss_kb)
        self.worker_kb.append(build.worker_kb)
        self.add_extra("process_cpu", build.cpu)
        if build.reported is not None:
            self.add_extra("zensical_reported", build.reported)
        if build.probe.get("first_start") is not None:
            for name in ("first_start", "waited", "long_waits"):
                self.add_extra(name, float(build.probe.get(name) or 0.0))
        if build.probe.get("hooks_cpu") is not None:
            self.add_extra("hooks_cpu", float(build.probe["hooks_cpu"] or 0.0))

    def add_extra(self, name: str, value: float) -> None:
        self.extra.setdefault(name, []).append(value)

    def extra_median(self, name: str) -> float | None:
        values = self.extra.get(name)
        return statistics.median(values) if values else None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def log(message: str) -> None:
    print(f"[benchmark] {message}", file=sys.stderr, flush=True)


def base_environment() -> dict[str, str]:
    """The environment of every measured process: this one minus any REFKIT_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFKIT_")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    # What the refkit worker sets for its snippets; set for every process so that the fresh
    # process, doctest and markdown-exec runs see the same libraries' behaviour.
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    # Measure Python's default: bytecode cached in __pycache__ (the copies start without it).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_build(cwd: Path, site_dir: Path, env: dict[str, str], report: Path) -> Build:
    """Time one ``mkdocs build -q -d site_dir`` process and read its report."""
    command = [sys.executable, "-c", _BUILD_WRAPPER, str(report), str(site_dir)]
    report.unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace")[-3000:]
        raise BenchmarkError(f"mkdocs build in {cwd} failed ({done.returncode}):\n{tail}")
    data = json.loads(report.read_text(encoding="utf-8"))
    return Build(
        seconds,
        int(data["self_kb"]),
        int(data["children_kb"]),
        float(data["cpu"]),
        float(data.get("children_cpu", 0.0)),
        data["records"],
        probe=data.get("probe") or {},
    )


def run_zensical(cwd: Path, env: dict[str, str], report: Path) -> Build:
    """Time one ``zensical build --clean`` process in ``cwd`` and read its report."""
    command = [sys.executable, "-c", _ZENSICAL_WRAPPER, str(report)]
    report.unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or not report.exists():
        tail = (done.stdout + done.stderr)[-3000:]
        raise BenchmarkError(f"zensical build in {cwd} failed ({done.returncode}):\n{tail}")
    data = json.loads(report.read_text(encoding="utf-8"))
    finished = re.search(r"Build finished in ([\d.]+)\s*s", done.stdout + done.stderr)
    records = [
        ["zensical", "WARNING" if line.startswith(("WARNING", "ERROR")) else "INFO", line]
        for line in done.stderr.splitlines()
    ]
    return Build(
        seconds,
        int(data["self_kb"]),
        int(data["children_kb"]),
        float(data["cpu"]),
        float(data.get("children_cpu", 0.0)),
        records,
        host="zensical",
        probe=data.get("probe") or {},
        reported=float(finished[1]) if finished else None,
    )


def run_timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    return seconds, done.returncode, done.stdout + done.stderr


SYNC_STATUS = re.compile(
    r"^(?P<name>\S+)\s+(?P<status>created|updated|up to date|skipped|failed)\b"
)


def run_sync(cwd: Path, env: dict[str, str], root: Path, name: str) -> tuple[float, str]:
    """Time one ``refkit env sync NAME`` into the cache root ``root``; its seconds and status.

    Always one environment named: a bare ``refkit env sync`` would make every declared one,
    the heavy TensorFlow environments included.
    """
    refkit = shutil.which("refkit", path=env.get("PATH"))
    if refkit is None:
        raise BenchmarkError("the `refkit` command is not installed beside this Python")
    sync_env = {**env, "REFKIT_ENVIRONMENTS_DIR": str(root)}
    seconds, code, output = run_timed([refkit, "env", "sync", name], cwd, sync_env)
    statuses = [
        m["status"]
        for line in output.splitlines()
        if (m := SYNC_STATUS.match(line)) and m["name"] == name
    ]
    if code != 0 or len(statuses) != 1:
        raise BenchmarkError(f"`refkit env sync {name}` failed (exit {code}):\n{output[-3000:]}")
    return seconds, statuses[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return str(response.read().decode("utf-8", "replace"))
    except (OSError, urllib.error.URLError):
        return None


def read_status_kb(pid: int, field_name: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return 0
    match = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match[1]) if match else 0


def child_pids(pid: int) -> list[int]:
    pids: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids.extend(int(p) for p in children.read_text(encoding="utf-8").split())
        except OSError:
            continue
    return pids


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process and of every live process below it."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text(encoding="utf-8")
        except OSError:
            continue
        after_name = fields.rsplit(")", 1)[-1].split()
        total += (int(after_name[11]) + int(after_name[12])) / ticks  # utime, stime
        pending.extend(child_pids(current))
    return total


# ---------------------------------------------------------------------------------------------
# The edited snippet


class SnippetEditor:
    """Appends a distinct, output-changing line to the end of one snippet's body, and reverts."""

    def __init__(self, package_dir: Path, snippet_id: str) -> None:
        module, _, function = snippet_id.partition(".")
        self.module, self.function = module, function
        self.path = package_dir / f"{module}.py"
        self.original = self.path.read_text(encoding="utf-8")
        tree = ast.parse(self.original)
        node = next(
            (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function), None
        )
        if node is None:
            raise BenchmarkError(f"no function {function} in {self.path}")
        self.end_line = node.end_lineno or node.lineno
        self.indent = " " * node.body[-1].col_offset
        self.nonce = secrets.token_hex(3)

    def edited(self, kind: str, number: int) -> tuple[str, str]:
        """The module text with an extra line, and the marker only its *output* contains.

        The line is ``print("bench-" + "<kind>-<nonce>-<n>")``: the page's source listing shows
        the two literals apart, so the joined marker appears on the page only once the snippet
        has run again.
        """
        marker = f"bench-{kind}-{self.nonce}-{number}"
        line = f'{self.indent}print("bench-" + "{marker.removeprefix("bench-")}")\n'
        lines = self.original.splitlines(keepends=True)
        lines.insert(self.end_line, line)
        return "".join(lines), marker

    def write(self, text: str) -> None:
        self.path.write_text(text, encoding="utf-8")

    def revert(self) -> None:
        self.write(self.original)


def result_entries(cache_dir: Path) -> list[Path]:
    """The result entries of a cache folder: ``<key[:2]>/<key>.json`` (not ``downloads/``)."""
    return [
        entry
        for entry in cache_dir.glob("*/*.json")
        if len(entry.parent.name) == 2 and entry.stem.startswith(entry.parent.name)
    ]


def snippet_duration(cache_dir: Path, snippet_id: str, marker: str) -> float | None:
    """The run time the worker measured for the run whose output holds ``marker``."""
    for entry in result_entries(cache_dir):
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("snippet_id") == snippet_id and any(
            marker in event.get("text", "") for event in data.get("events", [])
        ):
            return float(data["duration"])
    return None


def cache_durations(cache_dir: Path) -> dict[str, float]:
    """Snippet id -> the run time the worker measured, from every entry of a result cache."""
    durations: dict[str, float] = {}
    for entry in result_entries(cache_dir):
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
            durations[str(data["snippet_id"])] = float(data["duration"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BenchmarkError(f"unreadable cache entry {entry}: {exc}") from exc
    return durations


def cache_compute(cache_dir: Path) -> tuple[int, float]:
    """How many result entries a cache holds, and the sum of their run times.

    Not :func:`cache_durations`: a snippet that runs in two environments has an entry in each,
    under the same snippet id.
    """
    entries = result_entries(cache_dir)
    try:
        durations = [float(json.loads(e.read_text(encoding="utf-8"))["duration"]) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BenchmarkError(f"unreadable cache entry in {cache_dir}: {exc}") from exc
    return len(durations), sum(durations)


def not_run_environments(build: Build) -> list[str]:
    """The declared environments a build showed recorded outputs of, from the plugin's notes."""
    return sorted(
        {m["name"] for _, _, message in build.records if (m := NOT_RUN_NOTE.search(message))}
    )


def imports_script(statements: tuple[str, ...]) -> str:
    """A program that runs each import statement as the worker does: one by one, failures ignored."""
    return "\n".join(
        f"try:\n    exec({statement!r}, {{}})\nexcept Exception:\n    pass"
        for statement in statements
    )


def big_page() -> str:
    """``docs/big.md``: a paragraph, then ``BIG_PAGE_LINES`` lines of indented code."""
    code = "\n".join(["    x = 1"] * BIG_PAGE_LINES)
    return (
        "# A big page\n\n"
        f"A paragraph, then an indented code block of {BIG_PAGE_LINES:,} lines.\n\n"
        f"{code}\n\n"
        "A paragraph after it.\n"
    )


# ---------------------------------------------------------------------------------------------
# Pure helpers: per-round figures and page weights


def paired(numerators: list[float], denominators: list[float]) -> list[float]:
    """Per-round ratios of two scenarios measured in the same rounds.

    Examples:
        >>> paired([2.0, 3.0], [1.0, 2.0])
        [2.0, 1.5]
    """
    if len(numerators) != len(denominators) or not numerators:
        raise BenchmarkError(f"unpaired samples: {numerators} / {denominators}")
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def at_once(first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """Run two measurements at the same moment, each in a thread of its own.

    On a machine of two cores, two builds so started run one on each (nothing pins them).

    Both then meet the same machine: what a neighbour on the host takes from one, it takes from
    the other in the same seconds, so their ratio keeps less of it than two builds run one
    after the other.

    Examples:
        >>> at_once(lambda: 1, lambda: "b")
        (1, 'b')
    """
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(first), pool.submit(second)
        return a.result(), b.result()


def stdev(values: list[float]) -> float:
    """The sample standard deviation, 0.0 for fewer than two values.

    Examples:
        >>> stdev([1.0, 3.0]), stdev([2.0])
        (1.4142135623730951, 0.0)
    """
    return statistics.stdev(values) if len(values) > 1 else 0.0


def spread(values: list[float], unit: str = "", digits: int = 2) -> str:
    """``median (min-max)`` of per-round values (an en dash between); one value for one round.

    Examples:
        >>> spread([1.0, 3.0, 2.0], " s") == f"2.00 s (1.00{DASH}3.00 s)"
        True
        >>> spread([1.234], " x")
        '1.23 x'
    """
    median = f"{statistics.median(values):.{digits}f}{unit}"
    if len(values) < 2:
        return median
    return f"{median} ({min(values):.{digits}f}{DASH}{max(values):.{digits}f}{unit})"


_VOID_ELEMENTS = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
})  # fmt: skip


class _DisplayFinder(HTMLParser):
    """The extent in the source of every outermost element whose class is ``refkit-display``."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0, *(m.end() for m in re.finditer("\n", source))]
        self.spans: list[tuple[int, int]] = []
        self._open: tuple[str, int, int] | None = None  # tag, start offset, nesting depth

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _is_display(self, attrs: list[tuple[str, str | None]]) -> bool:
        return any(k == "class" and DISPLAY_CLASS in (v or "").split() for k, v in attrs)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._open is not None:
            name, start, depth = self._open
            if tag == name and tag not in _VOID_ELEMENTS:
                self._open = (name, start, depth + 1)
            return
        if not self._is_display(attrs):
            return
        start = self._offset()
        if tag in _VOID_ELEMENTS:
            self.spans.append((start, start + len(self.get_starttag_text() or "")))
        else:
            self._open = (tag, start, 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<x ... />`: a whole element in one tag, which changes no nesting depth.
        if self._open is None and self._is_display(attrs):
            start = self._offset()
            self.spans.append((start, start + len(self.get_starttag_text() or "")))

    def handle_endtag(self, tag: str) -> None:
        if self._open is None or tag != self._open[0]:
            return
        name, start, depth = self._open
        if depth > 1:
            self._open = (name, start, depth - 1)
            return
        end = self.source.find(">", self._offset())
        self.spans.append((start, len(self.source) if end < 0 else end + 1))
        self._open = None

    def close(self) -> None:
        super().close()
        if self._open is not None:  # never closed: it runs to the end of the page
            self.spans.append((self._open[1], len(self.source)))
            self._open = None


def display_sizes(html: str) -> list[int]:
    """UTF-8 bytes of the outer HTML of each outermost ``refkit-display`` element, in order.

    Examples:
        >>> page = '<p>a</p><div class="x refkit-display"><div>é</div></div><p>b</p>'
        >>> display_sizes(page) == [len('<div class="x refkit-display"><div>é</div></div>'.encode())]
        True
        >>> display_sizes("<p>no figures</p>")
        []
    """
    finder = _DisplayFinder(html)
    finder.feed(html)
    finder.close()
    return [len(html[start:end].encode("utf-8")) for start, end in finder.spans]


@dataclass
class PageWeight:
    """What one built topic page weighs, and how much of it is figures and HTML views."""

    page: str  # the page's folder in the site, such as ``topics/conv1d_head/``
    total: int  # bytes of its ``index.html``
    displays: list[int]  # bytes of each figure or view (outer HTML of ``refkit-display``)

    @property
    def display_bytes(self) -> int:
        return sum(self.displays)

    @property
    def before(self) -> int:
        """The page without its figures and views."""
        return self.total - self.display_bytes

    @property
    def largest(self) -> int:
        return max(self.displays, default=0)


def page_weights(site: Path) -> list[PageWeight]:
    """The weight of every ``topics/<page>/index.html`` of a built site."""
    weights = []
    for index in sorted(site.glob("topics/*/index.html")):
        data = index.read_bytes()
        html = data.decode("utf-8", "replace")
        weights.append(
            PageWeight(
                index.parent.relative_to(site).as_posix() + "/", len(data), display_sizes(html)
            )
        )
    return weights


def kb(size: int) -> str:
    return f"{size / 1000:.1f} KB"


# ---------------------------------------------------------------------------------------------
# mkdocs serve


class Server:
    """One ``mkdocs serve`` with livereload, its log lines timestamped as they arrive."""

    def __init__(self, root: Path, env: dict[str, str], options: tuple[str, ...]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", *options, "-a", f"127.0.0.1:{self.port}"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self.lines.append((time.perf_counter(), line.rstrip("\n")))

    def lines_since(self, moment: float) -> list[str]:
        with self._lock:
            return [line for when, line in self.lines if when >= moment]

    def first_since(self, moment: float, text: str) -> float | None:
        """Seconds from ``moment`` to the first log line containing ``text`` after it."""
        with self._lock:
            return next(
                (w - moment for w, line in self.lines if w >= moment and text in line), None
            )

    def wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if fetch(self.url) is not None:
                return
            time.sleep(0.2)
        tail = "\n".join(line for _, line in self.lines[-30:])
        raise BenchmarkError(f"mkdocs serve did not start serving {self.url}:\n{tail}")

    def wait_idle(self, since: float, seconds: float = 120.0, quiet: float = 0.5) -> list[str]:
        """Wait until every rebuild started since ``since`` has finished and the log is quiet."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            lines = self.lines_since(since)
            started = sum("Detected file changes" in line for line in lines)
            finished = sum(
                "Reloading browsers" in line or "error happened during the rebuild" in line
                for line in lines
            )
            with self._lock:
                last = self.lines[-1][0] if self.lines else 0.0
            if started and finished >= started and time.perf_counter() - last >= quiet:
                return lines
            time.sleep(0.05)
        raise BenchmarkError("mkdocs serve did not finish rebuilding")

    def wait_quiet(self, seconds: float = 300.0, window: float = 1.0) -> float:
        """Wait until the server and its worker use less than ``SERVE_QUIET_CPU`` per second.

        Returns how long it took. After a build, the plugin has its worker import what the next
        edit needs; a save before that ends would be timed with those imports in it.
        """
        started = time.monotonic()
        pid = self.process.pid
        while time.monotonic() - started < seconds:
            before = tree_cpu_seconds(pid)
            time.sleep(window)
            if tree_cpu_seconds(pid) - before < SERVE_QUIET_CPU * window:
                return time.monotonic() - started
        log(f"note: mkdocs serve still used CPU after {seconds:.0f} s; measuring anyway")
        return time.monotonic() - started

    def peak_rss_kb(self) -> tuple[int, int]:
        """VmHWM of the serve process and of its largest child (the refkit worker)."""
        pid = self.process.pid
        children = [read_status_kb(child, "VmHWM") for child in child_pids(pid)]
        return read_status_kb(pid, "VmHWM"), max(children, default=0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # what Ctrl-C does: shuts down cleanly
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)


# ---------------------------------------------------------------------------------------------
# The peer: markdown-exec


def markdown_exec_page(text: str, catalog: object) -> str:
    """A page with each snippet directive replaced by markdown-exec blocks running its source."""
    from refkit.engine.directive import find_directives, replace_directives

    directives, errors = find_directives(text)
    if errors:
        raise BenchmarkError(f"malformed directives: {errors}")
    snippets = catalog.snippets  # type: ignore[attr-defined]
    rendered: dict[int, str] = {}
    prepared: set[str] = set()
    for directive in directives:
        if directive.kind == "environment":
            rendered[directive.line] = "(No markdown-exec counterpart of the environment table.)"
            continue
        if directive.kind == "topics":
            rendered[directive.line] = "(No markdown-exec counterpart of the table of topics.)"
            continue
        if directive.kind == "api":  # the same API reference, so mkdocstrings does the same work
            from refkit.engine.render import api_markdown

            topics = catalog.topics.values()  # type: ignore[attr-defined]
            rows = [(topic.module, topic.title, None) for topic in topics]
            rendered[directive.line] = api_markdown(PACKAGE, rows)
            continue
        snippet = snippets.get(directive.snippet_id)
        if snippet is None:
            raise BenchmarkError(f"unknown snippet {directive.snippet_id}")
        session = snippet.module
        parts: list[str] = []
        if session not in prepared:
            # A hidden block puts the topic module's names (imports, helpers, constants) in the
            # session, as the module's own globals would be for the snippet.
            prepared.add(session)
            parts.append(
                f'````python exec="on" session="{session}"\n'
                "import importlib as _importlib\n"
                f'_topic = _importlib.import_module("{PACKAGE}.{snippet.module}")\n'
                "globals().update(\n"
                "    {k: v for k, v in vars(_topic).items() if not k.startswith('__')}\n"
                ")\n"
                "````"
            )
        if directive.title:
            parts.append(f"**{directive.title}**")
        source = "" if directive.source == "hide" else ' source="above"'
        parts.append(
            f'````python exec="on" session="{session}" result="text"{source}\n'
            f"{snippet.display_source.rstrip()}\n\n"
            f"_value = {snippet.function}()\n"
            "if _value is not None:\n"
            "    print(repr(_value))\n"
            "````"
        )
        rendered[directive.line] = "\n\n".join(parts)
    return replace_directives(text, rendered)


def make_peer_site(source: Path, target: Path) -> int:
    """Copy the repository and turn its docs into markdown-exec pages; returns the block count."""
    from refkit.engine.discovery import load_catalog

    shutil.copytree(source, target, ignore=COPY_IGNORE)
    catalog = load_catalog(target / PACKAGE)
    blocks = 0
    for page in sorted((target / "docs").rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        if "!refkit" not in text:
            continue
        new = markdown_exec_page(text, catalog)
        blocks += new.count('result="text"')
        page.write_text(new, encoding="utf-8")
    config = target / "mkdocs.yml"
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if re.match(r"^plugins:\s*$", line)), None)
    if at is None:
        raise BenchmarkError("mkdocs.yml has no top-level `plugins:` list")
    lines.insert(at + 1, "  - markdown-exec\n")
    config.write_text("".join(lines), encoding="utf-8")
    return blocks


# ---------------------------------------------------------------------------------------------
# Machine and report


def machine(load_at_start: float) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
        if match := re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE):
            ram = f"{int(match[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass

    def version(distribution: str) -> str:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return "not installed"

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} ({usable} usable by this process)",
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "torch": version("torch"),
        "transformers": version("transformers"),
        "tokenizers": version("tokenizers"),
        "mkdocs": version("mkdocs"),
        "mkdocs-material": version("mkdocs-material"),
        "markdown-exec": version("markdown-exec"),
        "zensical": version("zensical"),
        "load average (1 min) at start / end": f"{load_at_start:.2f} / {os.getloadavg()[0]:.2f}",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def mib(kb_values: list[int]) -> str:
    values = [v for v in kb_values if v]
    return f"{statistics.median(values) / 1024:.0f} MiB" if values else "—"


def seconds_range(values: list[float]) -> str:
    return f"{min(values):.2f}{DASH}{max(values):.2f} s"


@dataclass
class Target:
    name: str
    measured: str
    limit: str
    passed: bool | None  # None: not applicable

    @property
    def verdict(self) -> str:
        return "N/A" if self.passed is None else ("PASS" if self.passed else "FAIL")


@dataclass
class CriticalPath:
    """What a cold build cannot go below, per round, from figures measured in that round."""

    floor: list[float]  # the MkDocs floor build
    imports: list[float]  # the worker's import statements, bare interpreter start subtracted
    bare: list[float]  # `python -c pass`
    compute_sum: list[float]  # the run times of every snippet of the cold build, added up
    longest_id: str
    longest: float  # the longest snippet's run time (median over the rounds)
    jobs: int  # snippets the worker runs at the same time (the site's `jobs`)
    statements: int  # how many import statements the worker runs

    @property
    def limits(self) -> list[float]:
        """Issue 8's limit for each round: floor + imports + Σ compute / jobs."""
        return [
            floor + imports + compute / self.jobs
            for floor, imports, compute in zip(
                self.floor, self.imports, self.compute_sum, strict=True
            )
        ]

    @property
    def limit(self) -> float:
        return statistics.median(self.limits)


def critical_path(results: dict[str, Samples], jobs: int) -> CriticalPath:
    cold = results["cold"]
    longest = {sid: statistics.median(values) for sid, values in cold.durations.items()}
    longest_id = max(longest, key=lambda sid: longest[sid], default="")
    bare = results["bare"].seconds
    return CriticalPath(
        floor=list(results["floor"].seconds),
        imports=[i - b for i, b in zip(results["imports"].seconds, bare, strict=True)],
        bare=list(bare),
        compute_sum=list(cold.extra.get("compute_sum", [])),
        longest_id=longest_id,
        longest=longest.get(longest_id, 0.0),
        jobs=jobs,
        statements=int(results["imports"].extra_median("statements") or 0),
    )


def ratio_target(name: str, a: Samples, b: Samples, limit: float, *, by_cpu: bool) -> Target:
    """``a`` against ``b``, per round, by CPU time (wall time shown beside) or by wall time."""
    median = statistics.median
    ratios = paired(a.cpu, b.cpu) if by_cpu else paired(a.seconds, b.seconds)
    if by_cpu:
        wall = paired(a.seconds, b.seconds)
        measured = (
            f"CPU {spread(ratios, f' {TIMES}')} ({median(a.cpu):.2f} s vs "
            f"{median(b.cpu):.2f} s); wall {spread(wall, f' {TIMES}')}"
        )
    else:
        measured = (
            f"{spread(ratios, f' {TIMES}')} ({median(a.seconds):.2f} s vs "
            f"{median(b.seconds):.2f} s)"
        )
    return Target(name, measured, f"{limit:.2f} {TIMES}", median(ratios) <= limit)


def warm_target(results: dict[str, Samples]) -> Target:
    """The warm build against its floor by CPU time, held on the pairs run side by side.

    What refkit adds to a warm build is a few percent of it (callgrind counts 3.3 % more
    instructions), while on a shared machine one build's CPU time moves by 20 % from one run to
    the next. Builds run one after the other meet different moments of the host; builds run at
    the same moment (``at_once``) meet the same one, and their ratios spread less (on
    2026-12-02, 8 pairs of each: a standard deviation of 0.09 side by side, 0.21 back to back).
    So the target holds the median of the side-by-side pairs (``--pairs`` a round), and
    shows the back-to-back ratio of each round beside it, each with its standard deviation,
    measured in the same run, and the pairs' wall-time ratio. With ``--pairs 0`` it holds the
    back-to-back ratios.

    The two builds of a pair are not pinned to cores, and the floor, the shorter, ends first:
    the warm build's last half second or so runs beside nothing. What sharing the machine adds
    is in the table (the side-by-side floor against the floor built alone, about 2 % in the
    first run), so that tail lowers the ratio by about 2 % of the tail's share of the build
    (0.5 of 7 s): about 0.001.

    Examples:
        >>> samples = {name: Samples(cpu=cpu, seconds=cpu) for name, cpu in (
        ...     ("warm", [5.5]), ("floor", [4.0]),
        ...     ("pair_warm", [4.1, 4.0, 4.6]), ("pair_floor", [4.0, 4.0, 4.0]))}
        >>> target = warm_target(samples)
        >>> target.passed, target.measured.startswith("side by side: CPU 1.02")
        (True, True)
        >>> "over 3 pairs, stdev 0.08" in target.measured
        True
    """
    side = (
        paired(results["pair_warm"].cpu, results["pair_floor"].cpu)
        if results["pair_warm"].cpu
        else []
    )
    back = paired(results["warm"].cpu, results["floor"].cpu)
    back_measured = (
        f"back to back: CPU {spread(back, f' {TIMES}')} over {len(back)} "
        f"round{'' if len(back) == 1 else 's'}, stdev {stdev(back):.2f}"
    )
    held = side or back
    if side:
        pair_cpu = (results["pair_warm"].cpu, results["pair_floor"].cpu)
        wall = paired(results["pair_warm"].seconds, results["pair_floor"].seconds)
        measured = (
            f"side by side: CPU {spread(side, f' {TIMES}')} over {len(side)} pairs, stdev "
            f"{stdev(side):.2f} ({statistics.median(pair_cpu[0]):.2f} s vs "
            f"{statistics.median(pair_cpu[1]):.2f} s), wall {spread(wall, f' {TIMES}')}; "
            f"{back_measured}"
        )
    else:
        measured = back_measured
    return Target(
        f"warm build ≤ {WARM_TIME_LIMIT} {TIMES} floor (CPU time"
        + (", side by side)" if side else ")"),
        measured,
        f"{WARM_TIME_LIMIT:.2f} {TIMES}",
        statistics.median(held) <= WARM_TIME_LIMIT,
    )


def big_page_target(results: dict[str, Samples]) -> Target:
    """What refkit adds to a warm build for the 20,000-line page, held on refkit's own CPU time.

    Per round: the CPU time the refkit plugin's event methods spent in the build with the page
    (``big``) less the same in the warm build without it (the build wrapper's probe times them;
    under MkDocs that is all of refkit's work). The page has no directive, so what the host
    spends on it is the same with refkit and without, and is not refkit's cost.

    Beside it the whole builds' figure, ``(big - big floor) - (warm - floor)``: a difference of
    differences of four builds of 6 to 8 s of CPU each, which a machine whose speed drifts moves
    by a second either way (on 2026-12-02 two runs of the same code gave -0.88 and +1.05 s). It
    is the held figure when the probe gave no hook times.

    Examples:
        >>> samples = {name: Samples(cpu=[cpu], seconds=[cpu]) for name, cpu in (
        ...     ("big", 8.9), ("big_floor", 7.0), ("warm", 6.5), ("floor", 6.0))}
        >>> samples["big"].extra["hooks_cpu"] = [0.31]
        >>> samples["warm"].extra["hooks_cpu"] = [0.26]
        >>> target = big_page_target(samples)
        >>> target.passed, target.measured.split(";")[0]
        (True, "refkit's hooks: CPU 0.05 s")
    """
    big, big_floor, warm, floor = (results[k] for k in ("big", "big_floor", "warm", "floor"))

    def added(values: tuple[list[float], list[float], list[float], list[float]]) -> list[float]:
        return [(b - bf) - (w - f) for b, bf, w, f in zip(*values, strict=True)]

    added_cpu = added((big.cpu, big_floor.cpu, warm.cpu, floor.cpu))
    added_wall = added((big.seconds, big_floor.seconds, warm.seconds, floor.seconds))
    whole = f"CPU {spread(added_cpu, ' s')}; wall {spread(added_wall, ' s')}"
    hooks_big, hooks_warm = big.extra.get("hooks_cpu", []), warm.extra.get("hooks_cpu", [])
    if hooks_big and len(hooks_big) == len(hooks_warm) == len(big.cpu):
        hooks = [b - w for b, w in zip(hooks_big, hooks_warm, strict=True)]
        name = f"refkit's hooks' CPU time, big {MINUS} warm"
        measured = f"refkit's hooks: CPU {spread(hooks, ' s')}; whole builds: {whole}"
        held = hooks
    else:
        name = f"(big {MINUS} big floor) {MINUS} (warm {MINUS} floor), CPU time"
        measured, held = whole, added_cpu
    return Target(
        f"refkit's cost of a {BIG_PAGE_LINES:,}-line page < {BIG_PAGE_LIMIT_SECONDS:g} s: {name}",
        measured,
        f"{BIG_PAGE_LIMIT_SECONDS:.2f} s",
        statistics.median(held) < BIG_PAGE_LIMIT_SECONDS,
    )


def evaluate(
    results: dict[str, Samples], path: CriticalPath, weights: list[PageWeight]
) -> list[Target]:
    """Every target, from per-round pairs: each ratio is taken within a round, then the median.

    Warm builds against their floors are compared by CPU time (the build process and its reaped
    children): on a shared machine their wall time is mostly waiting for a core, and what the
    target asks is whether refkit adds work to the host's. Everything that waits for snippets
    (cold, edit, serve) is compared by wall time, which is what that waiting costs.

    A run of the environment scenarios alone (``--only environments``) has only their targets.
    """
    site = site_targets(results, path, weights) if results["warm"].seconds else []
    return site + environment_targets(results)


def environment_targets(results: dict[str, Samples]) -> list[Target]:
    """The version environments' targets: cold with one live, warm with it, an up-to-date sync.

    The cold one is not applicable while no snippet runs in the environment: both builds are
    then the same build.
    """
    env_cold, env_default = results["env_cold"], results["env_default"]
    env_warm, env_sync, floor = results["env_warm"], results["env_sync"], results["floor"]
    cold = ratio_target(
        f"cold build with `{LIGHT_ENVIRONMENT}` live ≤ {ENV_COLD_LIMIT} {TIMES} cold build with "
        "the default environment alone",
        env_cold,
        env_default,
        ENV_COLD_LIMIT,
        by_cpu=False,
    )
    runs = env_cold.extra_median("environment_runs") or 0.0
    if runs:
        cold.measured += f" ({runs:.0f} snippet runs in `{LIGHT_ENVIRONMENT}`)"
    else:
        cold.measured += f" (no snippet declares `{LIGHT_ENVIRONMENT}` yet: the same build)"
        cold.passed = None
    warm = ratio_target(
        f"warm build with `{LIGHT_ENVIRONMENT}` live ≤ {ENV_WARM_LIMIT} {TIMES} floor (CPU time)",
        env_warm,
        floor,
        ENV_WARM_LIMIT,
        by_cpu=True,
    )
    sync = Target(
        f"`refkit env sync {LIGHT_ENVIRONMENT}`, already up to date, ≤ "
        f"{ENV_SYNC_LIMIT_SECONDS:g} s (wall time)",
        spread(env_sync.seconds, " s"),
        f"{ENV_SYNC_LIMIT_SECONDS:.2f} s",
        env_sync.median <= ENV_SYNC_LIMIT_SECONDS,
    )
    return [cold, warm, sync]


def serve_target(serve: Samples) -> Target:
    """Save -> page shows the new output, held to its limit when the snippet computes little."""
    # The condition is the serve runs' own compute (the edit builds run the snippet elsewhere).
    compute = serve.extra.get("compute", [])
    compute_median = statistics.median(compute) if compute else float("nan")
    applies = compute_median < SERVE_COMPUTE_CONDITION
    return Target(
        f"`mkdocs serve`, one snippet edited: new output shown ≤ {SERVE_LIMIT_SECONDS:g} s "
        f"(median), when the snippet computes < {SERVE_COMPUTE_CONDITION:g} s",
        f"{spread(serve.seconds, ' s')} (snippet computes {compute_median:.3f} s)",
        f"{SERVE_LIMIT_SECONDS:.2f} s",
        serve.median <= SERVE_LIMIT_SECONDS if applies else None,
    )


def site_targets(
    results: dict[str, Samples], path: CriticalPath, weights: list[PageWeight]
) -> list[Target]:
    """The targets of the site's builds, the doctests and the page weights."""
    floor, cold, warm = results["floor"], results["cold"], results["warm"]
    edit, serve, peer = results["edit"], results["serve"], results["peer"]
    alone, doctest = results["alone"], results["doctest"]
    z_floor, z_cold, z_warm = (
        results[k] for k in ("zensical_floor", "zensical_cold", "zensical_warm")
    )
    median = statistics.median
    targets: list[Target] = []

    def add_ratio(name: str, a: Samples, b: Samples, limit: float, *, by_cpu: bool) -> None:
        targets.append(ratio_target(name, a, b, limit, by_cpu=by_cpu))

    targets.append(warm_target(results))
    rss = paired([float(v) for v in warm.rss_kb], [float(v) for v in floor.rss_kb])
    targets.append(
        Target(
            f"warm build: MkDocs process peak RSS ≤ {WARM_RSS_LIMIT} {TIMES} floor's",
            f"{spread(rss, f' {TIMES}')} ({mib(warm.rss_kb)} vs {mib(floor.rss_kb)})",
            f"{WARM_RSS_LIMIT:.2f} {TIMES}",
            median(rss) <= WARM_RSS_LIMIT,
        )
    )

    targets.append(big_page_target(results))
    add_ratio(
        f"cold build ≤ {COLD_VS_PEER_LIMIT} {TIMES} markdown-exec's cold build",
        cold,
        peer,
        COLD_VS_PEER_LIMIT,
        by_cpu=False,
    )
    path_ratios = paired(cold.seconds, path.limits)
    targets.append(
        Target(
            f"cold build ≤ {COLD_CRITICAL_LIMIT} {TIMES} its critical path "
            f"(floor + the worker's imports + Σ compute / {path.jobs} jobs)",
            f"{spread(path_ratios, f' {TIMES}')} ({cold.median:.2f} s vs {path.limit:.2f} s)",
            f"{COLD_CRITICAL_LIMIT:.2f} {TIMES}",
            median(path_ratios) <= COLD_CRITICAL_LIMIT,
        )
    )
    bounds = [EDIT_FLOOR_FACTOR * f + a for f, a in zip(floor.seconds, alone.seconds, strict=True)]
    edit_ratios = paired(edit.seconds, bounds)
    targets.append(
        Target(
            f"one snippet edited ≤ {EDIT_FLOOR_FACTOR} {TIMES} floor + the snippet's own run time",
            f"{spread(edit_ratios, f' {TIMES}')} of the bound ({edit.median:.2f} s vs "
            f"{median(bounds):.2f} s = {EDIT_FLOOR_FACTOR} {TIMES} {floor.median:.2f} + "
            f"{alone.median:.2f})",
            f"1.00 {TIMES} the bound",
            median(edit_ratios) <= 1.0,
        )
    )
    targets.append(serve_target(serve))
    failures = int(sum(doctest.extra.get("failed", [])))
    targets.append(
        Target(
            f"`python -m doctest {PACKAGE}/*.py` < {DOCTEST_LIMIT_SECONDS:g} s",
            spread(doctest.seconds, " s") + (f" ({failures} failing runs)" if failures else ""),
            f"{DOCTEST_LIMIT_SECONDS:.2f} s",
            doctest.median < DOCTEST_LIMIT_SECONDS and not failures,
        )
    )
    add_ratio(
        f"Zensical cold build ≤ {ZENSICAL_COLD_LIMIT} {TIMES} MkDocs cold build",
        z_cold,
        cold,
        ZENSICAL_COLD_LIMIT,
        by_cpu=False,
    )
    add_ratio(
        f"Zensical warm build ≤ {ZENSICAL_WARM_LIMIT} {TIMES} Zensical floor (CPU time)",
        z_warm,
        z_floor,
        ZENSICAL_WARM_LIMIT,
        by_cpu=True,
    )
    heaviest = max(weights, key=lambda weight: weight.largest, default=None)
    count = sum(len(weight.displays) for weight in weights)
    if heaviest is None or not count:
        measured, passed = f"no figures yet (0 on {len(weights)} topic pages)", True
    else:
        measured = (
            f"{kb(heaviest.largest)} on `{heaviest.page}` "
            f"({count} figures and views on {len(weights)} topic pages)"
        )
        passed = heaviest.largest <= FIGURE_LIMIT_KB * 1000
    targets.append(
        Target(
            f"largest figure or view ≤ {FIGURE_LIMIT_KB:g} KB",
            measured,
            f"{FIGURE_LIMIT_KB:.1f} KB",
            passed,
        )
    )
    return targets


@dataclass
class EnvironmentSetup:
    """How the benchmark got its version environment, and what it left absent."""

    status: str  # what the start's `refkit env sync` into a new cache root said: created
    seconds: float  # its wall time
    never_synced: list[str]  # the other declared environments: the heavy ones
    shown_recorded: list[str]  # those the `env cold` builds showed recorded outputs of


def report_markdown(
    results: dict[str, Samples],
    targets: list[Target],
    info: dict[str, str],
    rounds: int,
    snippet_id: str,
    total_snippets: int,
    path: CriticalPath,
    weights: list[PageWeight],
    setup: EnvironmentSetup | None = None,
    only: str | None = None,
) -> str:
    serve = results["serve"]
    big = f"`docs/big.md`, {BIG_PAGE_LINES:,} lines of indented code"
    env_runs = int(results["env_cold"].extra_median("environment_runs") or 0)
    light = f"`{LIGHT_ENVIRONMENT}`"
    rows = [
        ("floor", "1. floor: refkit disabled, same pages"),
        ("cold", f"2. cold: empty cache, all {total_snippets} snippets run"),
        ("warm", "3. warm: nothing changed, new process"),
        ("pair_floor", "floor, side by side with a warm build"),
        ("pair_warm", "warm, side by side with a floor"),
        ("big", f"4. warm + one more page ({big})"),
        ("big_floor", f"floor + the same page ({big})"),
        ("edit", f"5. one snippet edited (`{snippet_id}`)"),
        ("serve", f"6. `{serve.command or 'mkdocs serve'}`: save → page shows new output"),
        ("peer", f"7. markdown-exec, same {total_snippets} snippets (always cold)"),
        ("zensical_floor", "8. Zensical floor: `zensical build --clean`, refkit disabled"),
        ("zensical_cold", f"9. Zensical cold: empty cache, all {total_snippets} snippets run"),
        ("zensical_warm", "10. Zensical warm: nothing changed, new process"),
        (
            "env_default",
            f"11. cold, no version environment live: the {total_snippets} snippets in "
            "`default` only",
        ),
        (
            "env_cold",
            f"12. cold, {light} live ({total_snippets} + {env_runs} runs; the TensorFlow "
            "environments absent: recorded outputs)",
        ),
        ("env_warm", f"13. warm, {light} live: nothing changed, new process"),
        ("env_sync", f"`refkit env sync {LIGHT_ENVIRONMENT}`, already up to date"),
        (
            "env_create",
            f"`refkit env sync {LIGHT_ENVIRONMENT}` into a new cache root: first creation "
            "(uv's package cache warm)",
        ),
        ("alone", "the edited snippet alone, fresh process"),
        ("doctest", f"`python -m doctest {PACKAGE}/*.py`"),
        ("imports", "the worker's imports, fresh process (interpreter start included)"),
        ("bare", "`python -c pass`"),
    ]
    not_builds = {"alone", "doctest", "imports", "bare", "serve", "env_sync", "env_create"}
    with_worker = {"cold", "edit", "serve", "zensical_cold", "env_default", "env_cold"}
    pairs = len(results["pair_warm"].cpu) // rounds
    command = (
        f"python scripts/benchmark.py --rounds {rounds}"
        + (f" --pairs {pairs}" if pairs != DEFAULT_PAIRS and not only else "")
        + (f" --only {only}" if only else "")
    )
    afterwards = (
        "then the environment's first creation on its own"
        if only
        else "then the environment's first creation and `mkdocs serve` "
        f"({rounds} save{'' if rounds == 1 else 's'}), each on its own"
    )
    side_by_side = (
        f", and {pairs} pair{'' if pairs == 1 else 's'} a round of a floor and a warm build "
        "started together (side by side)"
        if pairs
        else ""
    )
    out = [
        f"Measured with `{command}` on {info['date']}: "
        f"{rounds} round{'' if rounds == 1 else 's'} of one build of each scenario, the two "
        f"sides of each comparison back to back{side_by_side}; {afterwards}.",
        "",
        f"| scenario | median | min{DASH}max | {TIMES} floor (same host, same round) "
        "| CPU, build process + children | build process peak RSS | worker peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in rows:
        samples = results[key]
        if not samples.seconds:
            continue  # not measured in this run (`--only`)
        base = results[
            "zensical_floor"
            if key in ZENSICAL
            else "pair_floor"
            if key.startswith("pair_")
            else "floor"
        ]
        ratio, cpu = "—", "—"
        if key not in not_builds:
            ratio = f"{statistics.median(paired(samples.seconds, base.seconds)):.2f}"
            cpu = f"{statistics.median(samples.cpu):.2f} s"
        rss, worker = mib(samples.rss_kb), mib(samples.worker_kb)
        if key == "serve":
            rss = f"{rss} (whole session)" if samples.rss_kb[0] else "—"
            worker = f"{worker} (whole session)" if samples.worker_kb[0] else "—"
        elif key in not_builds:
            rss = "—"
        if key not in with_worker:
            worker = "—"  # no refkit worker runs in these
        out.append(
            f"| {label} | {samples.median:.2f} s | {seconds_range(samples.seconds)} | {ratio} "
            f"| {cpu} | {rss} | {worker} |"
        )
    cold, z_cold = results["cold"], results["zensical_cold"]
    if cold.seconds:
        out += critical_path_table(cold, z_cold, path, total_snippets)
    if weights:
        out += page_weights_table(weights)
    out += [
        "",
        "| target | measured | limit | result |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {t.name} | {t.measured} | {t.limit} | **{t.verdict}** |" for t in targets]
    out += [
        "",
        "Definitions:",
        "",
        "- *Per round*: every ratio (and the big page's added cost) is taken between builds of "
        "the same round, which ran back to back; a target holds the median of those against its "
        f"limit, and shows the median (min{DASH}max) over the rounds. The warm target is the "
        "exception when pairs ran: it holds the median over all side-by-side pairs.",
        "- *CPU time* is user + system CPU seconds of the `mkdocs build` (or `zensical build`) "
        "process and of the children it reaped (`RUSAGE_SELF` + `RUSAGE_CHILDREN`: a refkit "
        "worker and its forks, when one runs). The warm builds are held to their floors by it, "
        "as a warm build does the host's work plus refkit's and waits for nothing, while on a "
        "shared machine their wall time is mostly waiting for a core; the wall-time ratio is "
        "shown beside it. Builds that wait for snippets (cold, edit, serve) are held by wall "
        "time.",
    ]
    if pairs:
        out.append(
            "- *Side by side*: the warm target is held on pairs of a floor and a warm build "
            "started at the same moment in two processes (the machine has two cores; they are "
            "not pinned), the median of their per-pair CPU ratios. "
            "One build's CPU time on a shared machine moves by a fifth from run to run, and two "
            "builds run at once meet the same neighbours on the host, where builds run one after "
            "the other meet different ones; the standard deviation of each way's ratios, both "
            "measured in this run, is in the target's row. The pairs' builds are also in the "
            "table, their ratio against the side-by-side floor."
        )
    if setup is not None:
        out.append(environments_definition(setup, results["env_create"]))
    if not only:
        out += site_definitions(results, info, path, snippet_id)
    out += ["", "Machine:", ""]
    out += [f"- {key}: {value}" for key, value in info.items()]
    return "\n".join(out) + "\n"


def environments_definition(setup: EnvironmentSetup, create: Samples) -> str:
    """The report's paragraph on the version environment scenarios."""
    light = f"`{LIGHT_ENVIRONMENT}`"
    recorded = ", ".join(f"`{name}`" for name in setup.shown_recorded) or "none"
    never = ", ".join(f"`{name}`" for name in setup.never_synced) or "none"
    first = spread(create.seconds, " s") if create.seconds else "not measured"
    return (
        f"- *Version environments*: {light} runs from a cache root of the benchmark's own, in "
        "its temporary folder (`REFKIT_ENVIRONMENTS_DIR`), made by a real `refkit env sync "
        f"{LIGHT_ENVIRONMENT}` at the start ({setup.status} in {setup.seconds:.1f} s, uv's "
        "package cache as found); the user's own synced environments are never used. "
        f"The other declared environments ({never}) are never synced by the benchmark: their "
        f"tabs show recorded outputs (the `env cold` builds said so for {recorded}). Every "
        "other scenario, *env default* included, has `REFKIT_ENVIRONMENTS_DIR` = an empty "
        "folder: the same site and settings, every snippet in `default` only. *env warm* is "
        "held to the floor by CPU time, *env cold* to *env default* (back to back) by wall "
        f"time. *Already up to date* is the wall time of the `refkit env sync "
        f"{LIGHT_ENVIRONMENT}` process, each round. *First creation* is one such sync into a "
        "brand-new cache root after the rounds, with nothing beside it, uv's own package cache "
        f"left warm (the start's sync has just installed the same wheels from it): {first}; "
        "reported, not a target."
    )


def critical_path_table(
    cold: Samples, z_cold: Samples, path: CriticalPath, total_snippets: int
) -> list[str]:
    median = statistics.median
    return [
        "",
        "The cold build's critical path (medians over the rounds; the limit and the ratios are "
        "taken per round, then the median):",
        "",
        "| | seconds |",
        "| --- | ---: |",
        f"| floor (MkDocs, refkit disabled) | {median(path.floor):.2f} s |",
        f"| the worker's imports ({path.statements} statements; `python -c pass`, "
        f"{median(path.bare):.2f} s, subtracted) | {median(path.imports):.2f} s |",
        f"| Σ compute: the run times of the {total_snippets} snippets, added up "
        f"| {median(path.compute_sum):.2f} s |",
        f"| the longest snippet (`{path.longest_id}`) | {path.longest:.2f} s |",
        f"| **limit** = floor + imports + Σ compute / {path.jobs} jobs | **{path.limit:.2f} s** |",
        f"| MkDocs cold build | {cold.median:.2f} s "
        f"({median(paired(cold.seconds, path.limits)):.2f} {TIMES} limit) |",
        f"| Zensical cold build | {z_cold.median:.2f} s "
        f"({median(paired(z_cold.seconds, path.limits)):.2f} {TIMES} limit) |",
    ]


def page_weights_table(weights: list[PageWeight]) -> list[str]:
    out = [
        "",
        "Topic pages' weight (the warm MkDocs build's `site/topics/<page>/index.html`; "
        f"figures and views are its `{DISPLAY_CLASS}` elements, 1 KB = 1,000 bytes):",
        "",
        "| topic page | page weight | figures and views | their weight | largest | "
        "before (page without them) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for weight in weights:
        out.append(
            f"| `{weight.page}` | {kb(weight.total)} | {len(weight.displays)} "
            f"| {kb(weight.display_bytes)} | {kb(weight.largest) if weight.displays else '—'} "
            f"| {kb(weight.before)} |"
        )
    count = sum(len(weight.displays) for weight in weights)
    out.append(
        f"| all {len(weights)} topic pages | {kb(sum(w.total for w in weights))} | {count} "
        f"| {kb(sum(w.display_bytes for w in weights))} "
        f"| {kb(max(w.largest for w in weights)) if count else '—'} "
        f"| {kb(sum(w.before for w in weights))} |"
    )
    return out


def site_definitions(
    results: dict[str, Samples], info: dict[str, str], path: CriticalPath, snippet_id: str
) -> list[str]:
    """The report's definitions of the site scenarios (all but the environments')."""
    module, _, function = snippet_id.partition(".")
    serve, z_cold = results["serve"], results["zensical_cold"]
    out = [
        "- *The snippet's own run time* is the wall time of "
        f'`python -c "from {PACKAGE}.{module} import {function}; {function}()"` in a fresh '
        "Python process (interpreter start, imports and the computation), in the same round. "
        "*The snippet computes* is the time the worker measured for the snippet itself "
        "(importing its topic module in the fork and calling it) in the `mkdocs serve` runs.",
        "- *Peak RSS* is `ru_maxrss` of the `mkdocs build` (or `zensical build`) process itself "
        "(`RUSAGE_SELF`); the worker column is `RUSAGE_CHILDREN` of that process, which on a "
        "build that runs snippets is the refkit worker or the largest of its snippet forks "
        "(shown only where a worker runs; the other builds' only children are short forks such "
        "as Material's `git` call). For `mkdocs serve`, `VmHWM` of the server and of its worker "
        "over the whole session.",
        "- *Zensical* rows are `python -m zensical build --clean` (Zensical "
        f"{info.get('zensical', '?')}), each scenario in its own copy of the repository, as "
        "Zensical writes `site/` and `.cache/` into the project; `--clean`, so its page cache "
        "never hides work. The `refkit` Markdown extension of `mkdocs.yml` does the work, with "
        "the same options as the plugin. Their "
        f"{TIMES} floor is relative to the Zensical floor; every other row's, to the MkDocs one.",
        f"- *One more page*: a copy of the repository with `docs/big.md` added (a paragraph, "
        f"then {BIG_PAGE_LINES:,} lines `    x = 1`), built warm with its own copy of the primed "
        "cache, and with refkit disabled (*big floor*). What refkit adds for that page is held "
        "on the CPU time of the refkit plugin's event methods, timed inside the build "
        f"(`time.thread_time`), big {MINUS} warm; beside it the whole builds' (big {MINUS} big "
        f"floor) {MINUS} (warm {MINUS} floor), in which MkDocs' own cost of the page and "
        "refkit's cost of the rest of the site both come out.",
        "- *The critical path* adds up, as if one waited for the other, what a cold build "
        "needs: MkDocs' own work (the floor), the worker's imports (it runs every third-party "
        "import statement of the topic modules, the catalog's `preload_imports`, before it "
        "forks snippets: timed here in a fresh `python` process, minus a bare interpreter "
        f"start) and the snippets' run times spread over {path.jobs} jobs (the site's `jobs`). "
        "The plugin overlaps MkDocs' work with the worker's, so a cold build can come in under "
        "it. *Σ compute* adds up the `duration` of every entry the cold build wrote to its "
        "result cache (each snippet's fork importing its topic module and calling it).",
        "- *`mkdocs serve`* runs after the rounds, with no other scenario beside it: started "
        "on a primed cache, left until its processes are idle (its worker has imported what the "
        "next edit needs), then one save per round, each after the server is idle again.",
        "- *Page weight* is the size in bytes of the built page; a figure's or view's weight is "
        f"the UTF-8 length of the outer HTML of its `{DISPLAY_CLASS}` element (outermost ones "
        "only); *before* is the page without them. Issue 10's \"a warm build with the figures "
        f'stays ≤ 1.3 {TIMES} floor" is the warm target above (≤ {WARM_TIME_LIMIT} {TIMES}, '
        "stricter) once figures are on the pages.",
    ]
    waits = []
    for key, host in (("cold", "MkDocs"), ("zensical_cold", "Zensical")):
        first, waited = (
            results[key].extra_median("first_start"),
            results[key].extra_median("waited"),
        )
        if first is None or waited is None:
            continue
        long_waits = results[key].extra_median("long_waits") or 0.0
        waits.append(
            f"{host}: the snippets went to the worker {first:.2f} s after the process started; "
            f"the build then waited {waited:.2f} s for outputs "
            f"({long_waits:.0f} wait{'' if long_waits == 1 else 's'} of more than 10 ms)"
        )
    if waits:
        out.append(
            "- *Where the cold builds wait* (timed inside the build process, medians): "
            + "; ".join(waits)
            + "."
        )
    z_sum = z_cold.extra_median("compute_sum")
    if z_sum is not None:
        out.append(
            f"- Σ compute of the Zensical cold build, from its own cache entries: {z_sum:.2f} s."
        )
    rebuilds = serve.extra.get("rebuilds", [])
    if any(count > 1 for count in rebuilds):
        out.append(
            "- `mkdocs serve` rebuilt the site more than once per save "
            f"({', '.join(f'{count:.0f}' for count in rebuilds)} rebuilds in the rounds); "
            "the time above is to the first rebuild that shows the new output."
        )
    if serve.extra.get("ahead"):
        out.append(
            "- `mkdocs serve`: the snippet's page was rebuilt ahead of the site in "
            f"{statistics.median(serve.extra['ahead']):.2f} s (median; the snippet started when "
            "the file was written, and its page was rebuilt at once, without waiting for MkDocs' "
            "0.1 s debounce); browsers reload then."
        )
    if serve.extra.get("rebuild"):
        out.append(
            "- `mkdocs serve`: MkDocs' own rebuild, which follows for the rest of the site (the "
            f"search index), took {statistics.median(serve.extra['rebuild']):.2f} s (median)."
        )
    return out


def write_docs(markdown: str, markers: tuple[str, str] = (START_MARKER, END_MARKER)) -> None:
    text = DOCS_PAGE.read_text(encoding="utf-8")
    first, last = markers
    start, end = text.find(first), text.find(last)
    if start < 0 or end < start:
        raise BenchmarkError(f"{DOCS_PAGE} lacks the {first} / {last} markers")
    new = text[: start + len(first)] + "\n\n" + markdown + "\n" + text[end:]
    DOCS_PAGE.write_text(new, encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The run


def record_durations(samples: Samples, cache_dir: Path, scenario: str, total: int) -> None:
    """Keep the run time of every snippet of a cold build, from its cache entries."""
    durations = cache_durations(cache_dir)
    if len(durations) != total:
        raise BenchmarkError(
            f"{scenario}: {len(durations)} cache entries after the build, expected {total}"
        )
    for snippet_id, seconds in durations.items():
        samples.durations.setdefault(snippet_id, []).append(seconds)
    samples.add_extra("compute_sum", sum(durations.values()))
    samples.add_extra("compute_max", max(durations.values(), default=0.0))


def check_stats(build: Build, scenario: str, expect_run: int | None, total: int) -> None:
    stats = build.stats()
    if stats is None:
        raise BenchmarkError(f"{scenario}: refkit logged no snippet summary")
    if stats["total"] != total or stats["failed"] or stats["not_run"]:
        raise BenchmarkError(f"{scenario}: unexpected refkit summary {stats}")
    if expect_run is not None and stats["run"] != expect_run:
        raise BenchmarkError(
            f"{scenario}: expected {expect_run} snippet runs, the plugin log says {stats}"
        )


def expand_generated(project: Path) -> None:
    """Write the Markdown of ``!refkit-topics`` / ``!refkit-api`` into the pages of ``project``.

    For the floors: with refkit disabled those lines stay text, and MkDocs (or Zensical) would
    skip the API reference of every topic module, work the refkit builds do. Expanded, the
    floor's pages ask the host for the same work, and only refkit's own is left out.
    """
    from refkit.engine.assemble import generated_markdown
    from refkit.engine.directive import find_directives, replace_directives
    from refkit.engine.session import BuildSession, PageSource
    from refkit.engine.settings import Settings

    docs = project / "docs"
    settings = Settings.resolve({"package_dir": PACKAGE}, environ={}, project_dir=project)
    session = BuildSession.open(settings)
    pages = {p.relative_to(docs).as_posix(): p for p in sorted(docs.rglob("*.md"))}
    session.plan(PageSource(uri, path.read_text(encoding="utf-8")) for uri, path in pages.items())
    for uri, path in pages.items():
        text = path.read_text(encoding="utf-8")
        directives, _ = find_directives(text)
        rendered = {
            d.line: generated_markdown(session, d.kind, uri)
            for d in directives
            if d.kind in ("topics", "api")
        }
        if rendered:
            path.write_text(replace_directives(text, rendered), encoding="utf-8")


@dataclass
class Run:
    """What one benchmark run measured."""

    results: dict[str, Samples]
    snippet_id: str  # the snippet the edit and serve scenarios change
    total: int  # snippets on the site
    jobs: int  # the site's `jobs`: snippets the worker runs at the same time
    weights: list[PageWeight]  # the warm build's topic pages (none with `--only environments`)
    environments: EnvironmentSetup


def serve_only(args: argparse.Namespace, work: Path) -> dict[str, Samples]:
    """``--only serve``: a copy of the repository, its cache primed, then the serve scenario.

    The same ``mkdocs serve`` and saves as the whole run's (``--rounds`` saves), without the
    other scenarios, for working on the save -> page latency.
    """
    env = {**base_environment(), "REFKIT_ENVIRONMENTS_DIR": str(work / "no-environments")}
    (work / "no-environments").mkdir()
    repo = work / "serve-repo"
    log(f"copying the repository to {repo}")
    shutil.copytree(REPO, repo, ignore=COPY_IGNORE)
    from refkit.engine.discovery import load_catalog

    snippet_id = args.snippet
    if snippet_id not in load_catalog(repo / PACKAGE).snippets:
        raise BenchmarkError(f"unknown snippet {snippet_id}")
    cache = work / "serve-cache"
    env = {**env, "REFKIT_CACHE_DIR": str(cache)}
    log("priming the cache (one cold build, not timed)")
    build = run_build(repo, work / "prime-site", env, work / "prime.json")
    total = (build.stats() or {}).get("total", 0)
    check_stats(build, "priming build", total, total)
    results = {name: Samples() for name in SCENARIOS}
    serve_options = () if args.serve_full else ("--dirty",)
    results["serve"].command = " ".join(("mkdocs serve", *serve_options))
    module = snippet_id.partition(".")[0]
    measure_serve(
        results["serve"],
        repo,
        env,
        serve_options,
        SnippetEditor(repo / PACKAGE, snippet_id),
        f"topics/{module}/",
        args.rounds,
    )
    return results


def benchmark(args: argparse.Namespace, work: Path) -> Run:
    whole = args.only is None  # else only the environment scenarios and their floor
    no_environments, environments = work / "no-environments", work / "environments"
    no_environments.mkdir()
    # The user's synced environments (heavy TensorFlow ones among them) never run here: every
    # build sees an empty environments folder unless it runs the benchmark's own environment.
    env = {**base_environment(), "REFKIT_ENVIRONMENTS_DIR": str(no_environments)}
    repo = work / "repo"
    log(f"copying the repository to {repo}")
    shutil.copytree(REPO, repo, ignore=COPY_IGNORE)
    serve_repo, peer_repo = work / "serve-repo", work / "peer-repo"
    peer_blocks = 0
    if whole:
        shutil.copytree(repo, serve_repo)
        peer_blocks = make_peer_site(repo, peer_repo)
    caches, sites, reports = work / "caches", work / "sites", work / "reports"
    for folder in (caches, sites, reports):
        folder.mkdir()

    from refkit.engine.discovery import load_catalog
    from refkit.engine.project import read_project
    from refkit.engine.settings import Settings

    snippet_id = args.snippet
    catalog = load_catalog(repo / PACKAGE)
    project = read_project(repo / "mkdocs.yml")
    settings = Settings.resolve(project.options, environ=env, project_dir=repo)
    jobs = settings.jobs
    declared = list(settings.declared_environments)
    if LIGHT_ENVIRONMENT not in declared:
        raise BenchmarkError(f"mkdocs.yml declares no environment {LIGHT_ENVIRONMENT!r}")
    if snippet_id not in catalog.snippets:
        raise BenchmarkError(f"unknown snippet {snippet_id}")
    module, _, function = snippet_id.partition(".")
    editor = SnippetEditor(repo / PACKAGE, snippet_id)
    page = f"topics/{module}/"

    def refkit_env(cache: Path) -> dict[str, str]:
        return {**env, "REFKIT_CACHE_DIR": str(cache)}

    def live_env(cache: Path) -> dict[str, str]:
        """A refkit build with the benchmark's own environment live."""
        return {**refkit_env(cache), "REFKIT_ENVIRONMENTS_DIR": str(environments)}

    floor_env = {**env, "REFKIT_ENABLED": "false"}

    log(f"making {LIGHT_ENVIRONMENT} in the benchmark's own cache root (`refkit env sync`)")
    setup_seconds, setup_status = run_sync(repo, env, environments, LIGHT_ENVIRONMENT)
    if setup_status != "created":
        raise BenchmarkError(f"`refkit env sync {LIGHT_ENVIRONMENT}`: {setup_status}, not created")
    log(f"  {setup_status} in {setup_seconds:.1f} s")
    setup = EnvironmentSetup(
        setup_status, setup_seconds, [name for name in declared if name != LIGHT_ENVIRONMENT], []
    )

    log("priming the cache (one cold build, not timed)")
    primed = caches / "primed"
    build = run_build(repo, sites / "prime", refkit_env(primed), reports / "prime.json")
    total = (build.stats() or {}).get("total", 0)
    check_stats(build, "priming build", total, total)
    if whole and total != peer_blocks:
        log(f"note: {total} snippets on the refkit site, {peer_blocks} markdown-exec blocks")
    for name in ("warm", "edit", "serve", "big", "zensical-warm", "env-warm"):
        shutil.copytree(primed, caches / name)

    def check_live(build: Build, scenario: str) -> None:
        recorded = not_run_environments(build)
        if LIGHT_ENVIRONMENT in recorded:
            raise BenchmarkError(f"{scenario}: {LIGHT_ENVIRONMENT} did not run live: {recorded}")
        setup.shown_recorded = sorted({*setup.shown_recorded, *recorded})

    log(f"priming the cache with {LIGHT_ENVIRONMENT} live (its snippets run there, not timed)")
    build = run_build(repo, sites / "env-prime", live_env(caches / "env-warm"), reports / "ep.json")
    env_total = (build.stats() or {}).get("total", 0)
    check_stats(build, f"priming build with {LIGHT_ENVIRONMENT}", env_total - total, env_total)
    check_live(build, f"priming build with {LIGHT_ENVIRONMENT}")
    log(f"  {env_total - total} snippet runs in {LIGHT_ENVIRONMENT}")

    # Copies of `repo` with the bytecode its priming build compiled, so that no first measured
    # build compiles refkit. The big page gets its own copy (and cache); each Zensical scenario
    # too, as Zensical writes `site/` and `.cache/` into the project.
    floor_repo = work / "floor-repo"
    shutil.copytree(repo, floor_repo, ignore=RECOPY_IGNORE)
    expand_generated(floor_repo)
    run_build(floor_repo, sites / "floor-warmup", floor_env, reports / "floor-warmup.json")
    big_repo, big_floor_repo = work / "big-repo", work / "big-floor-repo"
    zensical_repos = {name: work / f"zensical-{name}-repo" for name in ("floor", "cold", "warm")}
    if whole:
        log("warming up the markdown-exec copy (one build, not timed)")
        run_build(peer_repo, sites / "peer-warmup", floor_env, reports / "peer-warmup.json")
        shutil.copytree(repo, big_repo, ignore=RECOPY_IGNORE)
        (big_repo / "docs" / "big.md").write_text(big_page(), encoding="utf-8")
        shutil.copytree(big_repo, big_floor_repo, ignore=RECOPY_IGNORE)
        for zensical_repo in zensical_repos.values():
            shutil.copytree(repo, zensical_repo, ignore=RECOPY_IGNORE)
        for floor in (big_floor_repo, zensical_repos["floor"]):
            expand_generated(floor)
        run_build(big_floor_repo, sites / "bf-warmup", floor_env, reports / "bf-warmup.json")
        log("warming up Zensical (a floor and a warm build, not timed)")
        run_zensical(zensical_repos["floor"], floor_env, reports / "zensical-warmup.json")
        build = run_zensical(
            zensical_repos["warm"],
            refkit_env(caches / "zensical-warm"),
            reports / "zensical-warmup.json",
        )
        check_stats(build, "Zensical warm-up build (cache primed by MkDocs)", 0, total)
    imports = imports_script(catalog.preload_imports)

    results = {name: Samples() for name in SCENARIOS}

    def floor_build(project: Path, name: str) -> None:
        results[name].add_build(run_build(project, sites / name, floor_env, reports / "f.json"))

    def warm_build(project: Path, name: str, cache: Path, label: str) -> Build:
        build = run_build(project, sites / name, refkit_env(cache), reports / "w.json")
        check_stats(build, label, 0, total)
        results[name].add_build(build)
        return build

    def site_round(number: int) -> None:
        """The round's site scenarios after the floor, up to the cold builds."""
        warm_build(repo, "warm", caches / "warm", "warm")
        for _ in range(args.pairs):
            floor, warm = at_once(
                lambda: run_build(floor_repo, sites / "pair_floor", floor_env, reports / "pf.json"),
                lambda: run_build(
                    repo, sites / "pair_warm", refkit_env(caches / "warm"), reports / "pw.json"
                ),
            )
            check_stats(warm, "warm, side by side with the floor", 0, total)
            results["pair_floor"].add_build(floor)
            results["pair_warm"].add_build(warm)
        floor_build(big_floor_repo, "big_floor")
        warm_build(big_repo, "big", caches / "big", "warm + big page")
        if not (sites / "big" / "big" / "index.html").is_file():
            raise BenchmarkError("warm + big page: docs/big.md was not built")

        text, marker = editor.edited("edit", number)
        editor.write(text)
        try:
            build = run_build(
                repo, sites / "edit", refkit_env(caches / "edit"), reports / "edit.json"
            )
        finally:
            editor.revert()
        check_stats(build, "edit", 1, total)
        html = (sites / "edit" / page / "index.html").read_text(encoding="utf-8")
        if marker not in html:
            raise BenchmarkError(f"edit: {marker!r} is not on the built page {page}")
        results["edit"].add_build(build)
        compute = snippet_duration(caches / "edit", snippet_id, marker)
        if compute is not None:
            results["edit"].add_extra("compute", compute)
        seconds, code, output = run_timed(
            [sys.executable, "-c", f"from {PACKAGE}.{module} import {function}; {function}()"],
            repo,
            env,
        )
        if code != 0:
            raise BenchmarkError(f"the snippet alone failed:\n{output[-2000:]}")
        results["alone"].seconds.append(seconds)

        build = run_zensical(zensical_repos["floor"], floor_env, reports / "zf.json")
        results["zensical_floor"].add_build(build)
        build = run_zensical(
            zensical_repos["warm"], refkit_env(caches / "zensical-warm"), reports / "zw.json"
        )
        check_stats(build, "Zensical warm", 0, total)
        results["zensical_warm"].add_build(build)

        # The cold build sits between the two builds it is compared with.
        build = run_build(peer_repo, sites / "peer", floor_env, reports / "peer.json")
        problems = build.warnings("mkdocs.plugins.markdown_exec")
        if problems:
            log(f"markdown-exec: {len(problems)} blocks failed, e.g. {problems[0][:300]}")
        results["peer"].add_build(build)
        results["peer"].add_extra("failed_blocks", len(problems))

        cold_cache = Path(tempfile.mkdtemp(prefix="cold-", dir=caches))
        build = run_build(repo, sites / "cold", refkit_env(cold_cache), reports / "cold.json")
        check_stats(build, "cold", total, total)
        results["cold"].add_build(build)
        record_durations(results["cold"], cold_cache, "cold", total)
        shutil.rmtree(cold_cache)

        zensical_cache = Path(tempfile.mkdtemp(prefix="zensical-cold-", dir=caches))
        build = run_zensical(
            zensical_repos["cold"], refkit_env(zensical_cache), reports / "zc.json"
        )
        check_stats(build, "Zensical cold", total, total)
        results["zensical_cold"].add_build(build)
        record_durations(results["zensical_cold"], zensical_cache, "Zensical cold", total)
        shutil.rmtree(zensical_cache)

    def environment_colds() -> None:
        """The default environment alone, then with the light one live: both cold, back to back."""
        for name, scenario_env, expected in (
            ("env_default", refkit_env, total),
            ("env_cold", live_env, env_total),
        ):
            cache = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=caches))
            build = run_build(repo, sites / name, scenario_env(cache), reports / f"{name}.json")
            check_stats(build, name, expected, expected)
            entries, compute_sum = cache_compute(cache)
            if entries != expected:
                raise BenchmarkError(f"{name}: {entries} cache entries, expected {expected}")
            results[name].add_build(build)
            results[name].add_extra("compute_sum", compute_sum)
            shutil.rmtree(cache)
        check_live(build, "env_cold")
        results["env_cold"].add_extra("environment_runs", env_total - total)

    def timings_round() -> None:
        """The worker's imports, a bare interpreter and the doctests, each a fresh process."""
        # The worker's imports, as it runs them before forking the first snippets.
        seconds, code, output = run_timed([sys.executable, "-c", imports], repo, env)
        if code != 0:
            raise BenchmarkError(f"the worker's imports failed:\n{output[-2000:]}")
        results["imports"].seconds.append(seconds)
        results["imports"].add_extra("statements", len(catalog.preload_imports))
        seconds, code, output = run_timed([sys.executable, "-c", "pass"], repo, env)
        if code != 0:
            raise BenchmarkError(f"`python -c pass` failed:\n{output[-2000:]}")
        results["bare"].seconds.append(seconds)

        seconds, code, output = run_timed(
            ["bash", "-c", f"python -m doctest {PACKAGE}/*.py"], repo, env
        )
        results["doctest"].seconds.append(seconds)
        results["doctest"].add_extra("failed", float(code != 0))
        if code != 0:
            log(f"doctest failed (exit {code}):\n{output[-2000:]}")

    for number in range(1, args.rounds + 1):
        log(f"round {number}/{args.rounds}")
        # Each ratio's two sides run back to back (floor, warm, floor, warm, ... over the rounds),
        # so slow drift on the machine touches both alike; the targets pair them per round. The
        # floor sits between the two warm builds held to it.
        build = run_build(
            repo, sites / "env-warm", live_env(caches / "env-warm"), reports / "ew.json"
        )
        check_stats(build, f"warm with {LIGHT_ENVIRONMENT}", 0, env_total)
        check_live(build, "env_warm")
        results["env_warm"].add_build(build)
        floor_build(floor_repo, "floor")
        if whole:
            site_round(number)
        environment_colds()
        seconds, status = run_sync(repo, env, environments, LIGHT_ENVIRONMENT)
        if status != "up to date":
            raise BenchmarkError(f"`refkit env sync {LIGHT_ENVIRONMENT}`: {status}, not up to date")
        results["env_sync"].seconds.append(seconds)
        if whole:
            timings_round()

        log(
            "  "
            + ", ".join(
                f"{name} {samples.seconds[-1]:.2f} s"
                for name, samples in results.items()
                if samples.seconds
            )
        )

    log(f"a first creation of {LIGHT_ENVIRONMENT}: `refkit env sync` into a new cache root")
    first_root = Path(tempfile.mkdtemp(prefix="environments-first-", dir=work))
    seconds, status = run_sync(repo, env, first_root, LIGHT_ENVIRONMENT)
    shutil.rmtree(first_root)
    if status != "created":
        raise BenchmarkError(f"first creation of {LIGHT_ENVIRONMENT}: {status}, not created")
    results["env_create"].seconds.append(seconds)
    log(f"  created in {seconds:.1f} s")
    made = sorted(p.name for p in environments.iterdir() if not p.name.startswith("."))
    if made != [LIGHT_ENVIRONMENT]:
        raise BenchmarkError(f"the benchmark's environments folder holds {made}")

    weights: list[PageWeight] = []
    if whole:
        weights = page_weights(sites / "warm")
        if not weights:
            raise BenchmarkError(
                f"no topics/<page>/index.html in the warm build's {sites / 'warm'}"
            )
        # As `scripts/dev serve` runs it (--dirty), unless --serve-full asks for full rebuilds.
        serve_options = () if args.serve_full else ("--dirty",)
        results["serve"].command = " ".join(("mkdocs serve", *serve_options))
        measure_serve(
            results["serve"],
            serve_repo,
            refkit_env(caches / "serve"),
            serve_options,
            SnippetEditor(serve_repo / PACKAGE, snippet_id),
            page,
            args.rounds,
        )
    return Run(results, snippet_id, total, jobs, weights, setup)


def measure_serve(
    samples: Samples,
    root: Path,
    env: dict[str, str],
    options: tuple[str, ...],
    editor: SnippetEditor,
    page: str,
    saves: int,
) -> None:
    """Start ``mkdocs serve``, time ``saves`` saves of the edited snippet, stop it.

    It runs after every other scenario, alone, so no build competes with it for the cores.
    """
    cache = Path(env["REFKIT_CACHE_DIR"])
    log(f"starting {samples.command}, then {saves} save{'' if saves == 1 else 's'}")
    server = Server(root, env, options)
    try:
        server.wait_ready(600)
        samples.add_extra("settled", server.wait_quiet())
        for number in range(1, saves + 1):
            text, marker = editor.edited("serve", number)
            url = server.url + page
            saved = time.perf_counter()
            editor.write(text)
            deadline = saved + 300
            while True:
                body = fetch(url)
                now = time.perf_counter()
                if body is not None and marker in body:
                    break
                if now > deadline:
                    raise BenchmarkError(f"serve: {marker!r} did not appear at {url}")
                time.sleep(POLL_SECONDS)
            samples.seconds.append(now - saved)
            lines = server.wait_idle(saved)
            # Every rebuild since the save together must have run exactly this one snippet.
            # (A save can cause more than one rebuild: see the "rebuilds" samples.)
            runs = [m for line in lines if (m := STATS.search(line))]
            if sum(int(m["run"]) for m in runs) != 1 or any(int(m["failed"]) for m in runs):
                raise BenchmarkError(f"serve: expected 1 snippet run after the save: {lines}")
            rebuilds = sum("Detected file changes" in line for line in lines)
            samples.add_extra("rebuilds", float(rebuilds))
            # Where the time went: save -> MkDocs notices -> the rebuild is served.
            for extra, needle in (("detected", "Detected file changes"), ("reloaded", "Reloading")):
                if (after := server.first_since(saved, needle)) is not None:
                    samples.add_extra(extra, after)
            for extra, pattern in (
                ("ahead", r"built in ([\d.]+) seconds, ahead of the rest"),
                ("rebuild", r"Documentation built in ([\d.]+) sec"),
            ):
                built = [float(m[1]) for line in lines if (m := re.search(pattern, line))]
                samples.extra.setdefault(extra, []).extend(built[:1])
            compute = snippet_duration(cache, f"{editor.module}.{editor.function}", marker)
            if compute is not None:
                samples.add_extra("compute", compute)
            log(f"  serve {samples.seconds[-1]:.2f} s")
            server.wait_quiet()  # the worker's re-import after the rebuild, before the next save
        serve_rss = server.peak_rss_kb()
    finally:
        server.stop()
        editor.revert()
    samples.rss_kb.append(serve_rss[0])
    samples.worker_kb.append(serve_rss[1])


# ---------------------------------------------------------------------------------------------
# The test suite against issue 8's baseline suite (--only suite)


@dataclass
class SuiteRun:
    """One pytest run: what its summary line says."""

    seconds: float
    counts: str  # "1010 passed, 1 skipped"


def run_pytest(command: list[str], cwd: Path, env: dict[str, str]) -> SuiteRun:
    """Run a pytest ``command`` in ``cwd``; a failing or unreadable run is an error.

    Examples:
        >>> found = PYTEST_SUMMARY.search("1010 passed, 1 skipped in 133.69s (0:02:13)")
        >>> found["counts"], found["seconds"]
        ('1010 passed, 1 skipped', '133.69')
    """
    seconds, code, output = run_timed(command, cwd, env)
    summary = [match for line in output.splitlines() if (match := PYTEST_SUMMARY.search(line))]
    if code != 0 or not summary:
        tail = "\n".join(output.splitlines()[-15:])
        raise BenchmarkError(
            f"{' '.join(command)} in {cwd} exited {code} after {seconds:.0f} s:\n{tail}"
        )
    return SuiteRun(float(summary[-1]["seconds"]), summary[-1]["counts"])


def prepare_baseline(work: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A clone of the repository at ``SUITE_BASELINE`` and its own virtual environment's Python."""
    clone = work / "baseline"
    for command in (
        ["git", "clone", "--quiet", str(REPO), str(clone)],
        ["git", "-C", str(clone), "checkout", "--quiet", SUITE_BASELINE],
    ):
        _, code, output = run_timed(command, REPO, env)
        if code != 0:
            raise BenchmarkError(f"{' '.join(command)} exited {code}: {output.strip()}")
    venv = clone / ".venv"
    # Its own scripts/dev makes its environment: no VIRTUAL_ENV, no bin folder of ours first.
    setup_env = {k: v for k, v in env.items() if k != "VIRTUAL_ENV"}
    ours = str(Path(sys.executable).parent)
    setup_env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != ours)
    setup_env["REFKIT_VENV"] = str(venv)
    log(f"setting up the baseline suite ({SUITE_BASELINE}) in {clone}")
    _, code, output = run_timed([str(clone / "scripts" / "dev"), "setup"], clone, setup_env)
    if code != 0:
        raise BenchmarkError(f"the baseline's scripts/dev setup exited {code}: {output[-2000:]}")
    return clone, str(venv / "bin" / "python")


def suite_only(args: argparse.Namespace, work: Path) -> dict[str, list[SuiteRun]]:
    """Each round: the baseline suite, this suite (as scripts/dev test), this suite's fast tier."""
    env = base_environment()
    clone, baseline_python = prepare_baseline(work, env)
    quiet = ["-q", "-p", "no:cacheprovider"]
    dev_test = [str(REPO / "scripts" / "dev"), "test"]  # with its workers, as a developer runs it
    runs: dict[str, list[SuiteRun]] = {"baseline": [], "suite": [], "fast": []}
    for number in range(1, args.rounds + 1):
        log(f"round {number}/{args.rounds}: the baseline suite")
        runs["baseline"].append(run_pytest([baseline_python, "-m", "pytest", *quiet], clone, env))
        log(f"round {number}/{args.rounds}: this suite")
        runs["suite"].append(run_pytest([*dev_test, *quiet], REPO, env))
        log(f"round {number}/{args.rounds}: its fast tier")
        runs["fast"].append(run_pytest([*dev_test, "-m", "not slow", *quiet], REPO, env))
    return runs


def suite_targets(runs: dict[str, list[SuiteRun]]) -> list[Target]:
    """The suite against the baseline (median of per-round ratios), and the fast tier."""
    ratios = paired([r.seconds for r in runs["suite"]], [r.seconds for r in runs["baseline"]])
    fast = [r.seconds for r in runs["fast"]]
    return [
        Target(
            f"the suite, {TIMES} the baseline suite",
            spread(ratios, f" {TIMES}"),
            f"{SUITE_LIMIT} {TIMES}",
            statistics.median(ratios) <= SUITE_LIMIT,
        ),
        Target(
            "the fast tier",
            spread(fast, " s", 1),
            f"< {FAST_TIER_LIMIT_SECONDS:.0f} s",
            statistics.median(fast) < FAST_TIER_LIMIT_SECONDS,
        ),
    ]


def suite_markdown(runs: dict[str, list[SuiteRun]], info: dict[str, str], rounds: int) -> str:
    """The suite section of the performance page: the runs, then the two targets."""

    def row(name: str, key: str) -> str:
        return f"| {name} | {runs[key][-1].counts} | {spread([r.seconds for r in runs[key]], ' s', 1)} |"

    return "\n".join(
        [
            f"Measured with `python scripts/benchmark.py --rounds {rounds} --only suite "
            f"--write-docs` on {info['date']}: {info['CPU']}, cores: {info['cores']}, "
            f"load {info['load average (1 min) at start / end']} (1 min, at start / end).",
            "",
            "| pytest run | tests | time pytest reports |",
            "|---|---|---|",
            row(
                f"the baseline suite ({SUITE_BASELINE}, one process, as its README said)",
                "baseline",
            ),
            row("this suite (`scripts/dev test`: a worker per core and one more)", "suite"),
            row('its fast tier (`scripts/dev test -m "not slow"`)', "fast"),
            "",
            "| target | measured | limit | verdict |",
            "|---|---|---|---|",
            *(
                f"| {t.name} | {t.measured} | {t.limit} | {t.verdict} |"
                for t in suite_targets(runs)
            ),
        ]
    )


def report_section_only(
    args: argparse.Namespace,
    work: Path,
    started: float,
    load_at_start: float,
    *,
    measure: Callable[[argparse.Namespace, Path], Any],
    markdown: Callable[[Any, dict[str, str], int], str],
    targets: Callable[[Any], list[Target]],
    markers: tuple[str, str],
) -> int:
    """Run a scenario of its own (``--only suite``, ``--only instructions``), print its table and
    targets, and write the table into its section of the page with ``--write-docs``."""
    measured = in_workspace(work, args.keep, lambda: measure(args, work))
    if measured is None:
        return 2
    text = markdown(measured, machine(load_at_start), args.rounds)
    print(text)
    found = targets(measured)
    for target in found:
        print(f"{target.verdict}: {target.name}: {target.measured} (limit {target.limit})")
    log(f"done in {time.perf_counter() - started:.0f} s")
    if args.write_docs:
        write_docs(text, markers)
        log(f"wrote {markers[0]} ... {markers[1]} of {DOCS_PAGE}")
    return 0 if args.no_fail or all(t.passed for t in found) else 1


# Instruction counts of the warm build and its floor (--only instructions)

INSTRUCTIONS_START_MARKER = "<!-- instructions:start -->"
INSTRUCTIONS_END_MARKER = "<!-- instructions:end -->"
_COLLECTED = re.compile(r"Collected : (\d+)")


def count_instructions(cwd: Path, site_dir: Path, env: dict[str, str], report: Path) -> Build:
    """One ``mkdocs build`` under callgrind; ``Build.cpu`` holds the instructions it ran.

    Examples:
        >>> _COLLECTED.search("==1== Events    : Ir\\n==1== Collected : 19716391859")[1]
        '19716391859'
    """
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-c",
        _BUILD_WRAPPER,
        str(report),
        str(site_dir),
    ]
    report.unlink(missing_ok=True)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None or not report.exists():
        raise BenchmarkError(
            f"callgrind build in {cwd} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    records = json.loads(report.read_text(encoding="utf-8"))["records"]
    return Build(0.0, 0, 0, float(found[1]), 0.0, records)


def instructions_only(args: argparse.Namespace, work: Path) -> dict[str, list[float]]:
    """Each round: the floor and the warm build under callgrind at once (one on each core).

    The same copies and cache as the timed scenarios: a repository copy whose cache a cold build
    primed, and the floor's copy with its generated pages written out.
    """
    if shutil.which("valgrind") is None:
        raise BenchmarkError("valgrind is missing (Debian: apt-get install valgrind)")
    (work / "no-environments").mkdir()
    env = {**base_environment(), "REFKIT_ENVIRONMENTS_DIR": str(work / "no-environments")}
    repo, floor_repo, sites = work / "repo", work / "floor-repo", work / "sites"
    log(f"copying the repository to {repo}")
    shutil.copytree(REPO, repo, ignore=COPY_IGNORE)
    warm_env = {**env, "REFKIT_CACHE_DIR": str(work / "cache")}
    floor_env = {**env, "REFKIT_ENABLED": "false"}
    log("priming the cache (one cold build, not counted)")
    primed = run_build(repo, sites / "prime", warm_env, work / "prime.json")
    total = (primed.stats() or {}).get("total", 0)
    check_stats(primed, "priming build", total, total)
    shutil.copytree(repo, floor_repo, ignore=RECOPY_IGNORE)
    expand_generated(floor_repo)
    run_build(repo, sites / "warm-up", warm_env, work / "warm-up.json")  # bytecode, stores
    run_build(floor_repo, sites / "floor-up", floor_env, work / "floor-up.json")
    counts: dict[str, list[float]] = {"floor": [], "warm": []}
    for number in range(1, args.rounds + 1):
        log(f"round {number}/{args.rounds}: floor and warm under callgrind")
        floor_build, warm_build = at_once(
            lambda: count_instructions(floor_repo, sites / "floor", floor_env, work / "floor.json"),
            lambda: count_instructions(repo, sites / "warm", warm_env, work / "warm.json"),
        )
        check_stats(warm_build, "warm build under callgrind", 0, total)
        counts["floor"].append(floor_build.cpu)
        counts["warm"].append(warm_build.cpu)
    return counts


def instructions_target(counts: dict[str, list[float]]) -> Target:
    """The warm build's instructions against its floor's (median of the per-round ratios)."""
    ratios = paired(counts["warm"], counts["floor"])
    return Target(
        f"warm build ≤ {WARM_TIME_LIMIT} {TIMES} floor (instructions, callgrind)",
        spread(ratios, f" {TIMES}", 4),
        f"{WARM_TIME_LIMIT} {TIMES}",
        statistics.median(ratios) <= WARM_TIME_LIMIT,
    )


def instructions_markdown(counts: dict[str, list[float]], info: dict[str, str], rounds: int) -> str:
    """The instructions section of the performance page."""
    target = instructions_target(counts)

    def giga(values: list[float]) -> str:
        return spread([v / 1e9 for v in values], " G", 3)

    return "\n".join(
        [
            f"Measured with `python scripts/benchmark.py --rounds {rounds} --only instructions "
            f"--write-docs` on {info['date']}: {info['CPU']}, valgrind's callgrind.",
            "",
            "| build | instructions |",
            "|---|---|",
            f"| floor: refkit disabled, same pages | {giga(counts['floor'])} |",
            f"| warm: nothing changed, new process | {giga(counts['warm'])} |",
            "",
            "| target | measured | limit | verdict |",
            "|---|---|---|---|",
            f"| {target.name} | {target.measured} | {target.limit} | {target.verdict} |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build-speed benchmark of the refkit plugin.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--rounds", type=int, default=5, help="builds per scenario (default 5)")
    parser.add_argument(
        "--pairs",
        type=int,
        default=DEFAULT_PAIRS,
        help="floor and warm builds started together, side by side, this many times a round: "
        f"the warm target's measure (default {DEFAULT_PAIRS}; 0: the back-to-back builds)",
    )
    parser.add_argument(
        "--snippet",
        default=DEFAULT_SNIPPET,
        help=f"the snippet the edit and serve scenarios change (default {DEFAULT_SNIPPET})",
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help=f"replace the results section of {DOCS_PAGE.relative_to(REPO)}",
    )
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a target fails")
    parser.add_argument(
        "--serve-full",
        action="store_true",
        help="measure `mkdocs serve` with full rebuilds instead of `--dirty` (as scripts/dev serves)",
    )
    parser.add_argument(
        "--only",
        choices=("environments", "serve", "suite", "instructions"),
        help="run only these scenarios: `environments`, the version environments' (and the "
        "floor their warm build is held to); `serve`, `mkdocs serve`'s saves (--rounds of them); "
        "`suite`, the test suite against issue 8's baseline suite; `instructions`, the warm "
        "build and its floor under valgrind's callgrind (instructions, not seconds)",
    )
    parser.add_argument("--json", type=Path, help="also write every sample to this JSON file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (printed) for inspection"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.pairs < 0:
        parser.error("--pairs must be 0 or more")
    if args.only not in (None, "suite", "instructions") and args.write_docs:
        parser.error(f"--write-docs needs the whole run: {DOCS_PAGE.name} shows every scenario")
    for distribution, extra in (("markdown-exec", "bench"), ("zensical", "zensical")):
        if args.only:
            break  # the environment scenarios use neither
        try:
            metadata.version(distribution)
        except metadata.PackageNotFoundError:
            parser.error(f'{distribution} is missing: pip install -e ".[{extra}]"')

    work = Path(tempfile.mkdtemp(prefix="refkit-bench-"))
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    if args.only == "serve":
        return report_serve_only(args, work, started)
    if args.only == "suite":
        return report_section_only(
            args,
            work,
            started,
            load_at_start,
            measure=suite_only,
            markdown=suite_markdown,
            targets=suite_targets,
            markers=(SUITE_START_MARKER, SUITE_END_MARKER),
        )
    if args.only == "instructions":
        return report_section_only(
            args,
            work,
            started,
            load_at_start,
            measure=instructions_only,
            markdown=instructions_markdown,
            targets=lambda counts: [instructions_target(counts)],
            markers=(INSTRUCTIONS_START_MARKER, INSTRUCTIONS_END_MARKER),
        )
    run = in_workspace(work, args.keep, lambda: benchmark(args, work))
    if run is None:
        return 2
    results = run.results
    path = critical_path(results, run.jobs)
    targets = evaluate(results, path, run.weights)
    info = machine(load_at_start)
    markdown = report_markdown(
        results,
        targets,
        info,
        args.rounds,
        run.snippet_id,
        run.total,
        path,
        run.weights,
        setup=run.environments,
        only=args.only,
    )
    print(markdown)
    print("Samples per round, in seconds (wall; CPU of the build process and children):")
    for name, samples in results.items():
        if not samples.seconds:
            continue  # not measured in this run (`--only`)
        print(f"  {name:18} " + " ".join(f"{value:6.2f}" for value in samples.seconds))
        if samples.cpu:
            print(f"  {name + ' CPU':18} " + " ".join(f"{value:6.2f}" for value in samples.cpu))
    for name, samples in results.items():
        for extra, values in samples.extra.items():
            print(f"  {name} {extra}: " + " ".join(f"{value:.3f}" for value in values))
    print()
    for target in targets:
        print(f"{target.verdict}: {target.name}: {target.measured} (limit {target.limit})")
    failed_blocks = results["peer"].extra.get("failed_blocks", [])
    if any(failed_blocks):
        print(f"note: markdown-exec blocks that raised, per round: {failed_blocks}")
    log(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        payload = {
            "machine": info,
            "snippet": run.snippet_id,
            "samples": {
                name: {
                    "seconds": s.seconds,
                    "cpu": s.cpu,
                    "rss_kb": s.rss_kb,
                    "worker_kb": s.worker_kb,
                    **s.extra,
                }
                for name, s in results.items()
            },
            "critical_path": (
                vars(path) | {"limits": path.limits, "limit": path.limit}
                if results["cold"].seconds
                else None
            ),
            "environments": vars(run.environments),
            "page_weights": [vars(w) for w in run.weights],
            "snippet_durations": {name: s.durations for name, s in results.items() if s.durations},
            "targets": [vars(t) | {"verdict": t.verdict} for t in targets],
        }
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    if args.write_docs:
        write_docs(markdown)
        log(f"wrote the results into {DOCS_PAGE}")
    if args.no_fail:
        return 0
    return 1 if any(t.passed is False for t in targets) else 0


def in_workspace(work: Path, keep: bool, run: Callable[[], T]) -> T | None:
    """``run()``, or ``None`` once a :class:`BenchmarkError` is logged; ``work`` goes unless kept."""
    try:
        return run()
    except BenchmarkError as exc:
        log(f"error: {exc}")
        return None
    finally:
        if keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report_serve_only(args: argparse.Namespace, work: Path, started: float) -> int:
    """Run ``--only serve`` and print its samples, extras and target (no report page)."""
    results = in_workspace(work, args.keep, lambda: serve_only(args, work))
    if results is None:
        return 2
    serve = results["serve"]
    print(f"{serve.command}: save -> page shows new output, {len(serve.seconds)} saves")
    print("  seconds: " + " ".join(f"{value:.3f}" for value in serve.seconds))
    print(
        f"  median {serve.median:.3f} s, min {min(serve.seconds):.3f}, max {max(serve.seconds):.3f}"
    )
    for extra, values in serve.extra.items():
        if values:
            print(
                f"  {extra}: median {statistics.median(values):.3f}: "
                + " ".join(f"{value:.3f}" for value in values)
            )
    target = serve_target(serve)
    print(f"{target.verdict}: {target.name}: {target.measured} (limit {target.limit})")
    if args.json:
        samples = {"seconds": serve.seconds, "rss_kb": serve.rss_kb, **serve.extra}
        args.json.write_text(json.dumps({"serve": samples}, indent=1), encoding="utf-8")
    log(f"done in {time.perf_counter() - started:.0f} s")
    if args.no_fail:
        return 0
    return 1 if target.passed is False else 0


if __name__ == "__main__":
    sys.exit(main())
