"""The runner's end of the worker process: start it, send it requests, read its answers.

Both directions are frames of :mod:`refkit.engine.messages`.

The worker imports the topic package by its folder's name, with the folder's parent first on its
path, so a folder named like a module the worker or its libraries import (``json``, ``email``,
``torch``, ``refkit``) would hide that module from all of them, and the worker would die with a
baffling error. :func:`package_name_problem` says so before the worker is started.
"""

from __future__ import annotations

import contextlib
import importlib.util
import keyword
import os
import re
import selectors
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from refkit.engine.environments import SyncReport

__all__ = [
    "WORKER_START_SECONDS",
    "WorkerError",
    "WorkerProcess",
    "existing_module",
    "module_places",
    "package_name_problem",
    "python_name_for",
    "worker_command",
]

# On top of the snippets' own timeouts: how long the worker may take to start and import.
WORKER_START_SECONDS = 300.0


class WorkerError(RuntimeError):
    """The worker process could not be started or stopped answering."""


def package_name_problem(package_dir: Path) -> str | None:
    """Why the worker could not import ``package_dir`` as its topic package, or ``None``.

    The folder's name must be a Python name, and not one a module of the standard library or of
    this environment (installed, or already imported here) has: the worker would find the folder
    in its place. A copy of refkit itself, under its own name, is fine: the worker then imports
    its engine from that copy, consistently.

    Examples:
        >>> print(package_name_problem(Path("/site/json")))
        package_dir 'json' is the name of a standard-library module: the worker imports the topic package by its folder's name, so this folder would hide the real 'json' from the worker and every library. Rename the folder (and the imports of it in its modules), say to 'json_notes'.
        >>> package_name_problem(Path("/site/my-notes"))
        "package_dir 'my-notes' is not a Python package name (letters, digits and underscores, not starting with a digit); rename the folder, say to 'my_notes'."
        >>> package_name_problem(Path("/site/mynotes")) is None
        True
    """
    name = package_dir.name
    better = python_name_for(name)
    if better is not None:
        return (
            f"package_dir {name!r} is not a Python package name (letters, digits and underscores, "
            f"not starting with a digit); rename the folder, say to {better!r}."
        )
    where = existing_module(name, package_dir)
    if where is None:
        return None
    return (
        f"package_dir {name!r} is the name of {where}: the worker imports the topic package by "
        f"its folder's name, so this folder would hide the real {name!r} from the worker and every "
        f"library. Rename the folder (and the imports of it in its modules), say to "
        f"{name + '_notes'!r}."
    )


def python_name_for(name: str) -> str | None:
    """A Python name close to ``name`` when ``name`` is none (``None`` when it is one).

    A Python name is an identifier that is not a keyword: what a module or package may be called.

    Examples:
        >>> python_name_for("my-notes"), python_name_for("class"), python_name_for("1st")
        ('my_notes', 'notes_class', 'notes_1st')
        >>> python_name_for("notes") is None
        True
    """
    if name.isidentifier() and not keyword.iskeyword(name):
        return None
    better = re.sub(r"\W+", "_", name).strip("_") or "notes"
    return better if better.isidentifier() and not keyword.iskeyword(better) else f"notes_{better}"


def existing_module(name: str, own: Path | None = None) -> str | None:
    """What this process already finds under the top-level module name ``name``, or ``None``.

    Both the worker's import of the topic package and ``python -m doctest`` on a topic file
    import a top-level module of that name, so another module of the same name would hide it,
    or be hidden by it.

    Args:
        name: A Python name.
        own: The folder that is meant to be found under ``name`` (the topic package): finding
            it, or a copy of refkit under its own name, is no clash.

    Returns:
        ``"a standard-library module"``, or ``"a module this environment already has (<where>)"``.

    Examples:
        >>> existing_module("json"), existing_module("no_such_module_anywhere")
        ('a standard-library module', None)
    """
    if name in sys.stdlib_module_names:
        return "a standard-library module"
    places = module_places(name)
    if places is None:
        return None
    if own is not None:
        target = own.resolve()
        for place in places:
            with contextlib.suppress(OSError, ValueError):
                path = Path(place).resolve()
                if path == target or target in path.parents:
                    return None  # the package itself, found on this process's path
        if name == "refkit" and (own / "engine" / "worker.py").is_file():
            return None  # a copy of refkit: its engine is the one the worker runs
    return f"a module this environment already has ({places[0] if places else 'built in'})"


def module_places(name: str) -> list[str] | None:
    """Where this process finds a top-level module ``name``: its folders and file.

    ``None`` when it finds none; ``[]`` for a built-in; ``["already imported"]`` for a module
    imported without a spec to say from where.

    Examples:
        >>> module_places("no_such_module_anywhere") is None
        True
        >>> module_places("sys")
        []
    """
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # ValueError: imported, with no __spec__ to say from where
        return ["already imported"] if name in sys.modules else None
    if spec is None:
        return None
    origin = [spec.origin] if spec.origin and spec.origin not in ("built-in", "frozen") else []
    return [*(spec.submodule_search_locations or ()), *origin]


def worker_command(python: str, *, package: str, jobs: int) -> list[str]:
    """The command that starts :mod:`refkit.engine.worker` with ``python``, in any environment.

    Examples:
        >>> worker_command("/e/bin/python", package="refkit", jobs=2)
        ['/e/bin/python', '-m', 'refkit.engine.worker', '--package', 'refkit', '--jobs', '2']
    """
    return [python, "-m", "refkit.engine.worker", "--package", package, "--jobs", str(jobs)]


class WorkerProcess:
    """One ``python -m refkit.engine.worker`` process and its pipes.

    Args:
        package_dir: The topic package; the worker runs next to it and imports from it.
        jobs: Snippets the worker runs at the same time.
        device: ``REFKIT_DEVICE`` for the snippets.
        environment: A synced environment (an ``ok`` report of
            :func:`refkit.engine.environments.check`) to start the worker in, with that
            environment's Python, path and variables (its own device among them); ``None``:
            the Python running refkit, as always.

    Raises:
        WorkerError: The package folder's name cannot work (:func:`package_name_problem`), or
            the worker did not say it was ready within ``WORKER_START_SECONDS``.
    """

    def __init__(
        self, package_dir: Path, jobs: int, device: str, environment: SyncReport | None = None
    ) -> None:
        problem = package_name_problem(package_dir)
        if problem is not None:
            raise WorkerError(problem)
        if environment is None:
            env = dict(os.environ)
            # The worker imports the topics from the package folder being documented, not from
            # whatever copy of refkit happens to be installed.
            env["PYTHONPATH"] = os.pathsep.join(
                [str(package_dir.parent), *filter(None, [env.get("PYTHONPATH")])]
            )
            env["REFKIT_DEVICE"] = device
            python = sys.executable
        else:
            from refkit.engine.environments import worker_environment

            try:
                env = worker_environment(environment, package_dir.parent)
            except ValueError as exc:
                raise WorkerError(str(exc)) from exc
            python = str(environment.python)
        command = worker_command(python, package=package_dir.name, jobs=jobs)
        env.setdefault("HF_HUB_OFFLINE", "1")  # snippets never download
        env.setdefault("TOKENIZERS_PARALLELISM", "false")  # its threads do not survive a fork
        # No __pycache__ writes into the package folder that `mkdocs serve` watches: each one
        # would trigger a second, useless rebuild.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
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
            if environment is not None:
                raise WorkerError(
                    f"the refkit worker did not start in environment {environment.name!r} "
                    f"({environment.python})"  # whoever shows this says what makes it again
                )
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
