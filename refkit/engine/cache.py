"""Snippet results on disk, keyed by everything that can change them.

A key hashes the snippet's fingerprint (its source, the module context and in-package modules it
depends on, the package's data files), the refkit version and the source of the worker that
captures output, the Python / torch / transformers / tokenizers versions and the device asked
for. Versions come from package metadata, so computing a key never imports torch. A snippet
run in a declared environment (:mod:`refkit.engine.environments`) has that environment's
versions and a digest of its lock in its key (:meth:`EnvironmentKey.of_environment`); the
default environment's keys are what they were before environments existed.

A key starts with a digest of the environment part (:meth:`EnvironmentKey.digest`), so the
entries of one environment can be told from the others' by their file names alone.

Only successful results are stored; failures are always run again. Writes go to a temporary
file in the same folder and are renamed into place, so a reader (or a build killed half-way)
never sees half an entry. An entry is input from disk, not trusted: one that cannot be read,
is not a result of the right shape (:meth:`SnippetResult.from_json` checks every field), holds a
failure, or holds another snippet's result is treated as missing, deleted, and reported, so the
snippet runs again and its new result takes the entry's place.

Pruning (:meth:`ResultCache.prune`, which the front doors call after a complete build) keeps the
cache to what builds still read. An entry's modification time is when a build last used it:
:meth:`ResultCache.get` refreshes it on every hit, :meth:`ResultCache.put` sets it. Then:

- an entry of a snippet of the catalog, in the current environment, is always kept;
- an entry of the current environment that no snippet of the catalog has (its code changed, or
  it was removed) goes once it has not been used for :data:`SUPERSEDED_AFTER` (a day: another
  checkout of the project, say a branch switched to and back, still finds its entries);
- an entry of another environment (another device, another version of Python, torch,
  transformers, tokenizers, refkit or the worker) goes once it has not been used for
  :data:`UNUSED_AFTER` (30 days): a machine that builds for CPU and CUDA keeps both;
- a temporary file older than an hour is what a writer killed mid-write left behind, and goes;
- any other file in the folder (the link report ``links.json``, entries of unknown names) is
  never touched.

Deciding needs the catalog only, not the pages, so pruning after a build that converted only some
pages (``mkdocs serve``) is as correct as after a full one. A session whose catalog has a topic
module that failed to parse does not prune (that module's snippets are not in the catalog, yet
their entries are still wanted).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import refkit
from refkit.engine.atomic import write_atomic
from refkit.engine.device import gpu_visible
from refkit.engine.discovery import Snippet
from refkit.engine.environments import running_versions
from refkit.engine.results import ResultFormatError, SnippetResult

if TYPE_CHECKING:
    from refkit.engine.environments import SyncReport

__all__ = [
    "CACHE_FORMAT",
    "SUPERSEDED_AFTER",
    "UNUSED_AFTER",
    "CacheWarning",
    "EnvironmentKey",
    "ResultCache",
    "cache_key",
]

CACHE_FORMAT = 2
"""2: keys start with the environment's digest, so pruning can tell environments apart."""
SUPERSEDED_AFTER = 24 * 3600.0
"""Seconds an entry of the current environment that no catalog snippet has is kept unused."""
UNUSED_AFTER = 30 * 24 * 3600.0
"""Seconds an entry of another environment is kept unused."""
_ABANDONED_AFTER = 3600.0  # a write takes milliseconds; a temporary file this old is left over
_WORKER_SOURCE = Path(__file__).with_name("worker.py")
_DIGEST_LENGTH = 16  # hex digits of the environment's digest that start a key
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.json")
_TEMP_NAME = re.compile(r"\.tmp-.*\.json")
_REASON_LENGTH = 200  # a reason quotes the entry; a hostile one must not flood the build log

CacheWarning = tuple[Path, str]
"""An entry that was ignored, and why: reported by :meth:`ResultCache.get`."""


_KEY_DISTRIBUTIONS = ("torch", "transformers", "tokenizers")
"""The distributions whose versions the default environment's keys hold."""
_RACY_SECONDS = 2.0
_CURRENT: dict[str, tuple[tuple[str, ...], tuple[object, ...], EnvironmentKey]] = {}
"""Device -> the metadata files read, what :func:`_installation_state` was, the key made then."""


def _metadata_places(distributions: Collection[str]) -> tuple[str, ...]:
    """Where the metadata of each of ``distributions`` that is installed lies (its folder)."""
    places: list[str] = []
    for name in distributions:
        try:
            found = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        path = getattr(found, "_path", None)  # a PathDistribution's .dist-info or .egg-info
        if path is not None:
            places.append(str(path))
    return tuple(places)


def _installation_state(places: Collection[str]) -> tuple[object, ...]:
    """What changes whenever a distribution is installed, upgraded or removed.

    Every folder on ``sys.path`` with its modification time (installing, upgrading or removing
    a distribution adds, renames or deletes its ``.dist-info`` folder there), each metadata
    folder of ``places`` and the files in it (a metadata file rewritten in place, as an
    editable install may do), the worker's source (part of every key), refkit's version and
    ``sys.path`` itself.
    """
    files = [*sys.path, *places, str(_WORKER_SOURCE)]
    for place in places:
        with contextlib.suppress(OSError):
            files += sorted(entry.path for entry in os.scandir(place))
    stamps: list[object] = [refkit.__version__, tuple(sys.path)]
    for name in files:
        try:
            info = Path(name or ".").stat()
        except OSError:
            stamps.append((name, None))
            continue
        stamps.append((name, info.st_mtime_ns, info.st_size, info.st_ino))
    return tuple(stamps)


def _racy(state: tuple[object, ...]) -> bool:
    """Whether a file of ``state`` changed too recently for the state to be kept.

    A second change within the same tick of the file system's clock could leave that file's
    time as it is; so, as Git does for its index, such a state is not trusted.
    """
    files = state[2:]  # after refkit's version and sys.path: (name, time, size, inode)
    times = [int(item[1]) for item in files if isinstance(item, tuple) and len(item) == 4]
    return bool(times) and time.time_ns() - max(times) < _RACY_SECONDS * 1_000_000_000


@dataclass(frozen=True)
class EnvironmentKey:
    """The parts of the environment that can change a snippet's output."""

    refkit: str
    worker: str
    python: str
    torch: str
    transformers: str
    tokenizers: str
    device: str
    lock: str = ""
    """For a declared environment (:meth:`of_environment`): a digest of its name, its venv's
    key and every version resolved there. Empty for the default environment, and then left out
    of every hash, so the default environment's keys are what they were before environments."""

    @classmethod
    def current(cls, device: str) -> EnvironmentKey:
        """Read the environment of this process.

        Args:
            device: The device asked for (``auto``, ``cpu`` or ``cuda``). ``auto`` is resolved to
                what torch would pick, from whether a GPU is visible.

        Examples:
            >>> key = EnvironmentKey.current("cpu")
            >>> key.device, key.python == platform.python_version()
            ('cpu', True)
        """
        if device == "auto":
            device = "cuda" if gpu_visible() else "cpu"
        # Reading the versions scans every folder of sys.path (a few milliseconds, on every
        # save under `mkdocs serve`): the last answer is kept while nothing it came from
        # changed. See _installation_state.
        known = _CURRENT.get(device)
        if known is not None and _installation_state(known[0]) == known[1]:
            return known[2]
        places = _metadata_places(_KEY_DISTRIBUTIONS)
        state = _installation_state(places)
        worker_digest = hashlib.sha256(_WORKER_SOURCE.read_bytes()).hexdigest()[:16]
        versions = running_versions(_KEY_DISTRIBUTIONS)
        key = cls(
            refkit=refkit.__version__,
            worker=worker_digest,
            python=platform.python_version(),
            torch=versions.get("torch", "not installed"),
            transformers=versions.get("transformers", "not installed"),
            tokenizers=versions.get("tokenizers", "not installed"),
            device=device,
        )
        if not _racy(state):
            _CURRENT[device] = (places, state, key)
        return key

    @classmethod
    def of_environment(cls, report: SyncReport) -> EnvironmentKey:
        """The environment part of the keys of snippets run in a synced environment.

        The versions come from the report (its lock), never from this process: a library
        upgraded there, or the venv made again with other pins, changes the keys.

        Args:
            report: An ``ok`` report of :func:`refkit.engine.environments.check`.

        Examples:
            >>> from refkit.engine.environments import Environment, SyncReport
            >>> report = SyncReport("old", "up to date", Environment("old"), key="ab" * 8,
            ...                     resolved={"torch": "2.13.0+cpu", "transformers": "4.57.6"})
            >>> key = EnvironmentKey.of_environment(report)
            >>> key.transformers, key.tokenizers, len(key.lock)
            ('4.57.6', 'not installed', 16)
            >>> from dataclasses import replace
            >>> key.digest() == replace(key, lock="").digest()
            False
        """
        from refkit.engine.environments import LOCK_NAME

        python = "unknown"
        if report.path is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                python = str(json.loads((report.path / LOCK_NAME).read_text("utf-8"))["python"])
        resolved = dict(report.resolved)
        lock = {"name": report.name, "key": report.key, "resolved": sorted(resolved.items())}
        return cls(
            refkit=refkit.__version__,
            worker=hashlib.sha256(_WORKER_SOURCE.read_bytes()).hexdigest()[:16],
            python=python,
            torch=resolved.get("torch", "not installed"),
            transformers=resolved.get("transformers", "not installed"),
            tokenizers=resolved.get("tokenizers", "not installed"),
            device=report.environment.device,
            lock=hashlib.sha256(json.dumps(lock).encode("utf-8")).hexdigest()[:16],
        )

    def identity(self) -> dict[str, str]:
        """The fields that are hashed: all of them, ``lock`` only when set."""
        fields = dict(vars(self))
        if not self.lock:
            del fields["lock"]
        return fields

    def digest(self) -> str:
        """16 hex digits that name this environment: every key of it starts with them.

        Examples:
            >>> env = EnvironmentKey("0.1", "w", "3.11", "2.13", "5.24", "0.23", "cpu")
            >>> from dataclasses import replace
            >>> len(env.digest()), env.digest() == replace(env, device="cuda").digest()
            (16, False)
        """
        payload = json.dumps({"format": CACHE_FORMAT, **self.identity()}, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:_DIGEST_LENGTH]


def cache_key(snippet: Snippet, environment: EnvironmentKey) -> str:
    """The cache key of one snippet in one environment: 64 hex digits.

    The first 16 are the environment's :meth:`~EnvironmentKey.digest`; the rest hash the
    snippet's id and fingerprint with the environment.

    Examples:
        >>> from pathlib import Path
        >>> s = Snippet("m.demo_f", "m", "demo_f", Path("m.py"), 1, "src", "", "fp1")
        >>> env = EnvironmentKey("0.1", "w", "3.11", "2.13", "5.24", "0.23", "cpu")
        >>> cache_key(s, env) == cache_key(s, env), cache_key(s, env).startswith(env.digest())
        (True, True)
        >>> from dataclasses import replace
        >>> cache_key(s, env) == cache_key(s, replace(env, torch="2.14"))
        False
    """
    payload = json.dumps(
        {
            "format": CACHE_FORMAT,
            "id": snippet.id,
            "fingerprint": snippet.fingerprint,
            **environment.identity(),
        },
        sort_keys=True,
    )
    rest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return environment.digest() + rest[: 64 - _DIGEST_LENGTH]


class ResultCache:
    """A folder of JSON results, one file per key.

    Args:
        folder: Where entries live; created on first write.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def has(self, key: str) -> bool:
        """Whether an entry exists for ``key`` (unread: it may still prove unusable)."""
        return self._path(key).is_file()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(
        self,
        key: str,
        *,
        snippet_id: str | None = None,
        warnings: list[CacheWarning] | None = None,
    ) -> SnippetResult | None:
        """The stored result for ``key``, or ``None`` when there is none to use.

        A hit marks the entry as used now (for :meth:`prune`). An entry that is there but cannot
        be used (unreadable, not a result, a failure, or, when ``snippet_id`` is given, another
        snippet's result) is deleted, so the snippet runs again and its result replaces it,
        and is reported in ``warnings``.

        Args:
            key: From :func:`cache_key`.
            snippet_id: The snippet the key is of; a result of another one is not used.
            warnings: Where to add ``(path, reason)`` for each entry ignored.

        Examples:
            >>> import tempfile
            >>> from refkit.engine.results import OK
            >>> cache = ResultCache(Path(tempfile.mkdtemp()))
            >>> cache.put("ab12", SnippetResult("m.f", OK, return_text="1"))
            True
            >>> cache.get("ab12").from_cache, cache.get("cd34")
            (True, None)
            >>> entry = cache.folder / "ab" / "ab12.json"  # damaged by hand
            >>> _ = entry.write_text('{"snippet_id": "m.f", "status": "ok", "events": "x"}')
            >>> found: list[CacheWarning] = []
            >>> cache.get("ab12", warnings=found), [reason for _, reason in found]
            (None, ["not a snippet result: a result: 'events' must be a list, not str"])
            >>> entry.exists()
            False
        """
        path = self._path(key)
        try:
            result = self._read(path, snippet_id)
        except FileNotFoundError:
            return None
        except _Unusable as unusable:
            reason = str(unusable)
            if len(reason) > _REASON_LENGTH:
                reason = reason[:_REASON_LENGTH] + "…"
            if warnings is not None:
                warnings.append((path, reason))
            if unusable.delete:
                # A concurrent build may have just renamed a good entry into place: deleting it
                # costs that build one rerun, never a wrong result.
                with contextlib.suppress(OSError):
                    path.unlink()
            return None
        with contextlib.suppress(OSError):  # a read-only cache still serves
            os.utime(path)
        return result.cached()

    @staticmethod
    def _read(path: Path, snippet_id: str | None) -> SnippetResult:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise _Unusable(f"cannot be read ({exc.strerror or exc})", delete=False) from exc
        except UnicodeDecodeError as exc:
            raise _Unusable(f"not UTF-8 ({exc.reason})") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:  # JSONDecodeError, or an integer too long to read
            raise _Unusable(f"not JSON ({exc})") from exc
        except RecursionError as exc:
            raise _Unusable("nested too deep to be a snippet result") from exc
        try:
            result = SnippetResult.from_json(data)
        except ResultFormatError as exc:
            raise _Unusable(f"not a snippet result: {exc}") from exc
        if not result.ok:
            raise _Unusable(
                f"holds a result with status {result.status!r}; only successes are kept"
            )
        if snippet_id is not None and result.snippet_id != snippet_id:
            raise _Unusable(f"holds a result of {result.snippet_id!r}, not of {snippet_id!r}")
        return result

    def put(self, key: str, result: SnippetResult) -> bool:
        """Store a successful result atomically.

        Returns:
            ``True`` when stored; ``False`` when the result is a failure (never cached).

        Raises:
            OSError: When the folder cannot be written; the caller decides how loudly to say so.
        """
        if not result.ok:
            return False
        payload = json.dumps(result.to_json(), ensure_ascii=False, indent=1)
        try:
            payload.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: UTF-8 cannot hold it, an escape can
            payload = json.dumps(result.to_json(), indent=1)
        write_atomic(self._path(key), payload, durable=True)
        return True

    def prune(
        self,
        keep: Collection[str],
        environment: EnvironmentKey,
        *,
        now: float | None = None,
        superseded_after: float = SUPERSEDED_AFTER,
        unused_after: float = UNUSED_AFTER,
    ) -> list[Path]:
        """Delete the entries no build is expected to read again (see the module docstring).

        Args:
            keep: The keys of every snippet of the catalog in ``environment``: never deleted.
            environment: The environment of this build.
            now: The time to measure ages from (``time.time()`` by default).
            superseded_after: Seconds an entry of ``environment`` not in ``keep`` may go unused.
            unused_after: Seconds an entry of another environment may go unused.

        Returns:
            The files deleted.

        Raises:
            OSError: When the folder cannot be listed (a file that cannot be deleted is skipped).

        Examples:
            >>> import tempfile
            >>> from refkit.engine.results import OK
            >>> env = EnvironmentKey("0.1", "w", "3.11", "2.13", "5.24", "0.23", "cpu")
            >>> cache = ResultCache(Path(tempfile.mkdtemp()))
            >>> live, old = env.digest() + "1" * 48, env.digest() + "2" * 48
            >>> for key in (live, old):
            ...     _ = cache.put(key, SnippetResult("m.f", OK))
            >>> [p.stem == old for p in cache.prune([live], env, now=time.time() + 2 * 24 * 3600)]
            [True]
        """
        keep = set(keep)
        digest = environment.digest()
        moment = time.time() if now is None else now
        removed: list[Path] = []
        if not self.folder.is_dir():
            return removed
        for shard in self.folder.iterdir():
            # Only the two-hex-digit folders entries live in; links.json and the rest are not ours.
            if not (len(shard.name) == 2 and re.fullmatch(r"[0-9a-f]{2}", shard.name)):
                continue
            with contextlib.suppress(NotADirectoryError):
                for path in shard.iterdir():
                    if _TEMP_NAME.fullmatch(path.name):
                        limit = _ABANDONED_AFTER
                    elif not _ENTRY_NAME.fullmatch(path.name) or path.stem in keep:
                        continue
                    elif path.name.startswith(digest):
                        limit = superseded_after
                    else:
                        limit = unused_after
                    try:
                        if moment - path.stat().st_mtime < limit:
                            continue
                        path.unlink()
                    except OSError:
                        continue  # gone meanwhile, or not ours to delete
                    removed.append(path)
        return removed


class _Unusable(Exception):
    """Why an entry that exists cannot be used; ``delete``: whether to remove it."""

    def __init__(self, reason: str, *, delete: bool = True) -> None:
        super().__init__(reason)
        self.delete = delete
