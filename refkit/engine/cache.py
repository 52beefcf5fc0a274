"""Snippet results on disk, keyed by everything that can change them.

A key hashes the snippet's fingerprint (its source, the module context and in-package modules it
depends on, the package's data files), the refkit version and the source of the worker that
captures output, the Python / torch / transformers / tokenizers versions and the device asked
for. Versions come from package metadata, so computing a key never imports torch.

Only successful results are stored; failures are always run again. Writes go to a temporary
file in the same folder and are renamed into place, so a reader (or a build killed half-way)
never sees half an entry; an entry that cannot be read is treated as missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import refkit
from refkit.engine.atomic import write_atomic
from refkit.engine.discovery import Snippet
from refkit.engine.results import SnippetResult

__all__ = ["CACHE_FORMAT", "EnvironmentKey", "ResultCache", "cache_key", "gpu_visible"]

CACHE_FORMAT = 1
_WORKER_SOURCE = Path(__file__).with_name("worker.py")


def _installed_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def gpu_visible() -> bool:
    """Whether an NVIDIA GPU is visible to this process, checked without importing torch."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()


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
        worker_digest = hashlib.sha256(_WORKER_SOURCE.read_bytes()).hexdigest()[:16]
        return cls(
            refkit=refkit.__version__,
            worker=worker_digest,
            python=platform.python_version(),
            torch=_installed_version("torch"),
            transformers=_installed_version("transformers"),
            tokenizers=_installed_version("tokenizers"),
            device=device,
        )


def cache_key(snippet: Snippet, environment: EnvironmentKey) -> str:
    """The cache key of one snippet in one environment.

    Examples:
        >>> from pathlib import Path
        >>> s = Snippet("m.demo_f", "m", "demo_f", Path("m.py"), 1, "src", "", "fp1")
        >>> env = EnvironmentKey("0.1", "w", "3.11", "2.13", "5.24", "0.23", "cpu")
        >>> cache_key(s, env) == cache_key(s, env)
        True
        >>> from dataclasses import replace
        >>> cache_key(s, env) == cache_key(s, replace(env, torch="2.14"))
        False
    """
    payload = json.dumps(
        {
            "format": CACHE_FORMAT,
            "id": snippet.id,
            "fingerprint": snippet.fingerprint,
            **vars(environment),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResultCache:
    """A folder of JSON results, one file per key.

    Args:
        folder: Where entries live; created on first write.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> SnippetResult | None:
        """The stored result for ``key``, or ``None`` when missing or unreadable.

        Examples:
            >>> import tempfile
            >>> from refkit.engine.results import OK
            >>> cache = ResultCache(Path(tempfile.mkdtemp()))
            >>> cache.put("ab12", SnippetResult("m.f", OK, return_text="1"))
            True
            >>> cache.get("ab12").from_cache, cache.get("cd34")
            (True, None)
        """
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            return SnippetResult.from_json(data).cached()
        except (OSError, ValueError, KeyError, TypeError):
            return None

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
        write_atomic(self._path(key), payload, durable=True)
        return True
