"""The runner's end of the worker process: start it, send it requests, read its answers.

Both directions are frames of :mod:`refkit.engine.messages`.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from refkit.engine.messages import (
    Finished,
    MessageDecoder,
    PreloadRequest,
    ProtocolError,
    Ready,
    RunRequest,
    Started,
    encode,
)

__all__ = ["WORKER_START_SECONDS", "WorkerError", "WorkerProcess"]

# On top of the snippets' own timeouts: how long the worker may take to start and import.
WORKER_START_SECONDS = 300.0


class WorkerError(RuntimeError):
    """The worker process could not be started or stopped answering."""


class WorkerProcess:
    """One ``python -m refkit.engine.worker`` process and its pipes.

    Args:
        package_dir: The topic package; the worker runs next to it and imports from it.
        jobs: Snippets the worker runs at the same time.
        device: ``REFKIT_DEVICE`` for the snippets.

    Raises:
        WorkerError: The worker did not say it was ready within ``WORKER_START_SECONDS``.
    """

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
        self._decoder = MessageDecoder(accept=[Ready, Started, Finished])
        self._messages: deque[Ready | Started | Finished] = deque()
        self.failure = ""
        """Why :meth:`read_message` gave up, once it has: how the worker failed."""
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ)
        ready = self.read_message(time.monotonic() + WORKER_START_SECONDS)
        if not isinstance(ready, Ready):
            self.close()
            raise WorkerError(
                "the refkit worker did not start; run `python -m refkit.engine.worker --jobs 1` "
                "to see why (is torch installed in this environment?)"
            )

    @property
    def alive(self) -> bool:
        """Whether the worker process is still running."""
        return self.process.poll() is None

    def send(self, message: RunRequest | PreloadRequest) -> None:
        """Write one request to the worker."""
        assert self.process.stdin is not None
        self.process.stdin.write(encode(message))
        self.process.stdin.flush()

    def read_message(self, deadline: float) -> Ready | Started | Finished | None:
        """The next message, or ``None`` (and :attr:`failure` says why) if there is none.

        ``None`` when the worker died, stopped answering until ``deadline`` (a
        ``time.monotonic()`` value) or sent something that is not a message; the worker is
        unusable then.
        """
        assert self.process.stdout is not None
        # Raw reads into our own buffer: a buffered read could swallow two messages while
        # select() then reports nothing left to read, and the build would wait forever.
        fd = self.process.stdout.fileno()
        while not self._messages:
            if self.failure:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.failure = "stopped answering"
                return None
            if self._selector.select(timeout=min(1.0, remaining)):
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    self.failure = "ended unexpectedly"
                    return None
                try:
                    for message in self._decoder.feed(chunk):
                        assert isinstance(message, (Ready, Started, Finished))
                        self._messages.append(message)
                except ProtocolError as exc:
                    # What came before the bad frame is still good; nothing after it is read.
                    self.failure = f"sent a malformed message ({exc})"
            elif not self.alive:
                self.failure = "ended unexpectedly"
                return None
        return self._messages.popleft()

    def close(self) -> None:
        """Stop the worker: closing its stdin makes it kill its snippets and exit."""
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
