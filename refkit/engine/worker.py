"""The worker process: pay for the heavy imports once, run every snippet in a fresh fork.

Started by :mod:`refkit.engine.worker_process` as ``python -m refkit.engine.worker``. It reads
:class:`~refkit.engine.messages.RunRequest` and :class:`~refkit.engine.messages.PreloadRequest`
frames on stdin and answers on stdout with :class:`~refkit.engine.messages.Ready` once, then a
:class:`~refkit.engine.messages.Started` and a :class:`~refkit.engine.messages.Finished` per run,
in the framing of :mod:`refkit.engine.messages`, which its children use for their results too.
Each request says how long the snippet may run and how much output to keep, and names the
third-party import statements its topic module needs (torch, transformers, ...); the worker runs
each statement once, the first time a request needs it, so a build that runs only a
torch-only snippet never pays for importing transformers. Each request runs in
a child forked from this process, so it starts with the libraries already imported but imports the
topic module itself fresh from disk: it always sees the current code, and whatever it does (hang,
``os._exit``, segfault, change the working directory or environment) stays in the child. Processes
a snippet starts end with it, even those that left its process group for a session of their own:
on Linux the child and the worker are subreapers, so such orphans come back to them to be killed.

Every text a result carries is bounded by the request's ``max_output``, each channel on its own:
printed output (stdout, stderr, warnings and log records together) up to ``max_output``
characters; the return value's text or HTML up to ``max_output`` (its repr computed lazily for
the built-in containers, so a ``list(range(5_000_000))`` is never turned into 44 MB of text); the
traceback up to ``max_output`` (cut in the middle, keeping where it started and where it ended);
the exception's message up to a tenth of it. What is cut ends with a marker saying so, and the
result is marked ``truncated``. A repr that must be computed whole (an arbitrary ``__repr__``) is
cut after; the time and memory it takes are bounded by the snippet's timeout and memory limit.

Each request may also set a memory limit: the worker measures each child's memory (with every
process it started) at every poll and kills it when it is over, reporting a crash of type
``MemoryLimitExceeded`` (the comment above :func:`_process_tree` says what is measured, and why
not with an rlimit).

Requests run concurrently up to ``--jobs`` children at a time. The worker itself never imports a
topic module and never touches the GPU, so forking stays safe (CUDA cannot survive a fork once
initialised; torch's thread pools start lazily and this process never computes).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import datetime as dt
import gc
import importlib
import io
import logging
import os
import platform
import selectors
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

from refkit.engine.display import install_display_sink
from refkit.engine.messages import (
    Finished,
    MessageDecoder,
    PreloadRequest,
    ProtocolError,
    Ready,
    RunRequest,
    Started,
    encode,
    result_frame_limit,
)
from refkit.engine.results import (
    CRASHED,
    DISPLAY,
    ERROR,
    OK,
    TIMEOUT,
    ErrorInfo,
    OutputEvent,
    RunEnvironment,
    SnippetResult,
    Status,
    cut_marker,
    cut_text,
)

__all__ = ["main"]

_POLL_SECONDS = 0.05
# A child that has exited but whose pipe stays open (a grandchild inherited it) is given this long
# to deliver the rest of its result before it counts as crashed.
_EXITED_GRACE_SECONDS = 1.0


class _Capture:
    """Collects output events in order, bounded in size so a flood cannot exhaust memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.truncated = False
        self.events: list[tuple[str, list[str], str | None]] = []
        # Called before each Python-level event is recorded, to record first what came in
        # meanwhile by another way (bytes written straight to file descriptors 1 and 2).
        self.catch_up: Callable[[], None] | None = None

    def add(self, stream: str, text: str) -> None:
        """Record Python-level output, after whatever was written below it in the meantime."""
        if self.catch_up is not None:
            self.catch_up()
        self.append(stream, text)

    def append(self, stream: str, text: str) -> None:
        """Record output as the next event, within the size limit."""
        if not text:
            return
        room = self.limit - self.size
        if room <= 0:
            self.truncated = True
            return
        if len(text) > room:
            text = text[:room]  # cut first: a flood is never copied whole
            self.truncated = True
        text = _clean(text)
        self.size += len(text)
        if self.events and self.events[-1][0] == stream and stream != DISPLAY:
            self.events[-1][1].append(text)
        else:
            self.events.append((stream, [text], None))

    def display(self, text: str, markup: str) -> None:
        """Record a figure or view :func:`~refkit.engine.display.show` showed, as its own event.

        Its text counts against the output limit like printed text. Its picture has a limit of
        its own, ``limit`` again, and is kept whole or not at all (half an SVG would break the
        page around it): without it the text form stands in, with a note on stderr.
        """
        if self.catch_up is not None:
            self.catch_up()
        before = len(self.events)
        self.append(DISPLAY, text or " ")
        if len(self.events) == before:  # over the output limit: nothing to attach a picture to
            return
        if len(markup) > self.limit:
            self.truncated = True
            self.append(
                "stderr",
                f"refkit: the picture shown was {len(markup):,} characters, more than "
                f"max_output ({self.limit:,}) keeps; showing its text instead\n",
            )
            return
        stream, parts, _ = self.events[before]
        self.events[before] = (stream, parts, _clean(markup))

    def output(self) -> tuple[OutputEvent, ...]:
        """The events recorded, each run of one stream joined into one event."""
        return tuple(
            OutputEvent(stream, "".join(parts), markup) for stream, parts, markup in self.events
        )


@dataclass
class _NativeStream:
    """One file descriptor redirected to a nameless file, and how far it has been read."""

    stream: str
    file: IO[bytes]
    read: int = 0
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )


class _NativeOutput:
    """Bytes written straight to file descriptors 1 and 2: by C extensions, by subprocesses.

    Each descriptor points at a temporary file, not a pipe, so no writer can ever block on it.
    Before the capture records any Python-level output, it takes in what the files gained since
    the last look, so both kinds of output keep the order in which they were written (only the
    order between native stdout and native stderr within one such interval is not known).
    """

    def __init__(self, capture: _Capture) -> None:
        self._capture = capture
        # Nameless files, gone from the disk with this process.
        self._streams = [
            _NativeStream("stdout", tempfile.TemporaryFile()),  # noqa: SIM115 - kept open
            _NativeStream("stderr", tempfile.TemporaryFile()),  # noqa: SIM115 - kept open
        ]
        for target, native in enumerate(self._streams, start=1):
            os.dup2(native.file.fileno(), target)
        capture.catch_up = self.collect

    def collect(self) -> None:
        """Record what was written to the descriptors since the last call."""
        for native in self._streams:
            fd = native.file.fileno()
            unread = os.fstat(fd).st_size - native.read
            if unread <= 0:
                continue
            # Never read more than the capture still has room for: a flood stays on disk.
            room = self._capture.limit - self._capture.size
            if room <= 0:
                self._capture.truncated = True
                continue
            data = os.pread(fd, min(unread, room + 1), native.read)
            native.read += len(data)
            self._capture.append(native.stream, native.decoder.decode(data))

    def finish(self) -> None:
        """Flush C-level stdio buffers, then record the rest."""
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None).fflush(None)  # printf output still in libc's buffer
        self.collect()
        for native in self._streams:
            self._capture.append(native.stream, native.decoder.decode(b"", final=True))


class _BytesSink(io.RawIOBase):
    """``sys.stdout.buffer`` for code that writes bytes: decoded, invalid bytes replaced."""

    def __init__(self, capture: _Capture, stream: str) -> None:
        super().__init__()
        self._capture, self._stream = capture, stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self._capture.add(self._stream, raw.decode("utf-8", errors="replace"))
        return len(raw)


class _TextSink(io.TextIOBase):
    """A ``sys.stdout`` / ``sys.stderr`` replacement that records what is written, in order."""

    def __init__(self, capture: _Capture, stream: str) -> None:
        super().__init__()
        self._capture, self._stream = capture, stream
        self.buffer = _BytesSink(capture, stream)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._capture.add(self._stream, text)
        return len(text)


# Set on a record once a library's own console handler has written it into the capture.
_CAPTURED_MARK = "_refkit_captured"


def _capture_once(record: logging.LogRecord) -> bool:
    """Handler filter: let only the first console handler that sees a record write it."""
    if getattr(record, _CAPTURED_MARK, False):
        return False
    setattr(record, _CAPTURED_MARK, True)
    return True


class _CaptureHandler(logging.Handler):
    def __init__(self, capture: _Capture) -> None:
        super().__init__(logging.WARNING)
        self._capture = capture
        self.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # A library logger can both print through its own handler and propagate to the root
        # (transformers 5 propagates whenever the CI environment variable is set): one record,
        # one line of output.
        if getattr(record, _CAPTURED_MARK, False):
            return
        with contextlib.suppress(Exception):
            self._capture.add("log", self.format(record) + "\n")


def _redirect_logging(capture: _Capture, original_streams: tuple[TextIO, ...]) -> None:
    """Route library log handlers that write to the console into the capture."""
    sink = _TextSink(capture, "log")
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and handler.stream in original_streams:
                handler.setStream(sink)
                handler.addFilter(_capture_once)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(_CaptureHandler(capture))


def _clean(text: str) -> str:
    """``text`` with lone surrogates replaced: UTF-8 (the cache, the page) cannot hold them.

    They come from ``os.fsdecode`` of a non-UTF-8 name, say, in output or an exception message.

    Examples:
        >>> _clean("name-\\udcff")
        'name-?'
    """
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def _safe_str(value: object) -> str:
    """``str(value)``, or a note when its ``__str__`` raises (a snippet's exception may)."""
    try:
        return str(value)
    except BaseException:
        return f"<{type(value).__name__}: str() failed>"


def _message_limit(max_output: int) -> int:
    """Characters of an exception's message kept: it also goes into the build log, one line.

    Examples:
        >>> _message_limit(200_000), _message_limit(500)
        (20000, 500)
    """
    return min(max_output, max(1000, max_output // 10))


def _cut_middle(text: str, limit: int) -> tuple[str, bool]:
    """``text`` within ``limit`` characters, cut in the middle: a traceback's both ends matter.

    Examples:
        >>> _cut_middle("abcdefghij", 4)
        ('ab\\n… [cut: 6 more characters] …\\nij', True)
    """
    if len(text) <= limit:
        return text, False
    head = limit // 2
    tail = len(text) - (limit - head)
    return f"{text[:head]}\n… [cut: {tail - head:,} more characters] …\n{text[tail:]}", True


class _ReprFull(Exception):
    """A bounded repr has all the characters it may keep."""


class _BoundedText:
    """Pieces of text up to a limit; the piece that does not fit is cut and ends the writing."""

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.room = max(limit, 0)
        self.overflow = 0
        """Characters of the last piece that did not fit."""

    def write(self, text: str) -> None:
        if len(text) > self.room:
            self.parts.append(text[: self.room])
            self.overflow = len(text) - self.room
            self.room = 0
            raise _ReprFull
        self.parts.append(text)
        self.room -= len(text)


# Types whose repr is written piece by piece, as their own repr would write it, stopping at the
# limit. Matched by the repr method, so a subclass that keeps it is walked too and one that
# overrides it is not.
_TEXT_REPRS = (str.__repr__, bytes.__repr__, bytearray.__repr__)
_WALKED_REPRS = (list.__repr__, tuple.__repr__, dict.__repr__, set.__repr__, frozenset.__repr__)


def _write_repr(value: Any, out: _BoundedText, active: set[int]) -> None:
    """Write ``repr(value)`` to ``out``; ``active`` holds the containers being written."""
    method = type(value).__repr__
    if method in _TEXT_REPRS:
        # The repr of a prefix: the characters past the room would be cut anyway.
        out.write(repr(value[: out.room]) if len(value) > out.room else repr(value))
    elif method is set.__repr__ or method is frozenset.__repr__:
        # set() and frozenset({1}); a bare {1} for a set only (a subclass shows its name). A set
        # cannot hold itself, so there is no cycle to watch for.
        name = type(value).__name__
        bare = type(value) is set and len(value) > 0
        out.write("{" if bare else f"{name}({{" if value else f"{name}(")
        _write_items(value, out, active)
        out.write("}" if bare else "})" if value else ")")
    elif method in _WALKED_REPRS:
        brackets = "[]" if method is list.__repr__ else "()" if method is tuple.__repr__ else "{}"
        opener, closer = brackets[0], brackets[1]
        if id(value) in active:  # as repr does: [[...]] for a list that holds itself
            out.write(f"{opener}...{closer}")
            return
        active.add(id(value))
        try:
            out.write(opener)
            if method is dict.__repr__:
                _write_items(dict.items(value), out, active, pairs=True)
            else:
                _write_items(value, out, active)
            out.write("," + closer if method is tuple.__repr__ and len(value) == 1 else closer)
        finally:
            active.discard(id(value))
    else:
        out.write(repr(value))


def _write_items(
    items: Iterable[Any], out: _BoundedText, active: set[int], *, pairs: bool = False
) -> None:
    for index, item in enumerate(items):
        if index:
            out.write(", ")
        if pairs:
            _write_repr(item[0], out, active)
            out.write(": ")
            _write_repr(item[1], out, active)
        else:
            _write_repr(item, out, active)


def _bounded_repr(value: Any, limit: int) -> tuple[str, bool]:
    """``repr(value)`` kept to ``limit`` characters (plus a marker), and whether it was cut.

    Strings, bytes and the built-in containers are written only as far as the limit, so their
    cost follows the limit, not their size; anything else is repr'd whole, then cut.

    Examples:
        >>> _bounded_repr([1, "a", (2,), {3: {4}}], 100)
        ("[1, 'a', (2,), {3: {4}}]", False)
        >>> cyclic = [1]
        >>> cyclic.append(cyclic)
        >>> _bounded_repr(cyclic, 100) == (repr(cyclic), False)
        True
        >>> _bounded_repr(list(range(5_000_000)), 20)
        ('[0, 1, 2, 3, 4, 5, 6… [cut: a list of 5,000,000 items, shown to 20 characters]', True)
        >>> _bounded_repr(range(10**9), 8)
        ('range(0,… [cut: 12 more characters]', True)
    """
    out = _BoundedText(limit)
    try:
        _write_repr(value, out, set())
    except _ReprFull:
        text = "".join(out.parts)
        method = type(value).__repr__
        if method in _WALKED_REPRS or method in _TEXT_REPRS:
            unit = (
                "character"
                if isinstance(value, str)
                else "byte"
                if method in _TEXT_REPRS
                else "item"
            )
            plural = "" if len(value) == 1 else "s"
            note = f"a {type(value).__name__} of {len(value):,} {unit}{plural}, shown to {limit:,} characters"
            return f"{text}… [cut: {note}]", True
        return text + cut_marker(out.overflow), True  # repr'd whole: the count is exact
    return "".join(out.parts), False


def _describe_value(value: Any, limit: int) -> tuple[str | None, str | None, list[str], bool]:
    """(text, html, problems, cut) for a returned value; a failing repr never loses the run.

    HTML longer than ``limit`` is not cut (half a table would break the page around it): the
    value is shown by its (bounded) repr instead, with a note.
    """
    problems: list[str] = []
    cut = False
    try:
        html_repr = getattr(value, "_repr_html_", None)
    except BaseException as exc:  # a __getattr__ that raises
        html_repr = None
        problems.append(f"_repr_html_ lookup raised {type(exc).__name__}: {_safe_str(exc)}")
    if callable(html_repr):
        try:
            rendered = html_repr()
        except BaseException as exc:
            problems.append(f"_repr_html_ raised {type(exc).__name__}: {_safe_str(exc)}")
        else:
            if isinstance(rendered, str) and len(rendered) <= limit:
                return None, _clean(rendered), problems, False
            if isinstance(rendered, str):
                cut = True
                problems.append(
                    f"_repr_html_ returned {len(rendered):,} characters of HTML, more than "
                    f"max_output ({limit:,}) keeps; showing the repr instead"
                )
    try:
        text, cut_repr = _bounded_repr(value, limit)
    except BaseException as exc:
        problems.append(f"repr raised {type(exc).__name__}: {_safe_str(exc)}")
        return f"<{type(value).__name__} object; repr failed>", None, problems, cut
    return _clean(text), None, problems, cut or cut_repr


def _error_info(exc: BaseException, max_output: int) -> tuple[ErrorInfo, bool]:
    """What a snippet's exception says, each field bounded, and whether any was cut."""
    try:
        # Start below this function's caller: the reader wants the snippet's frames, not ours.
        lines = (
            traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next)
            if exc.__traceback__ is not None
            else traceback.format_exception_only(type(exc), exc)
        )
        trace = "".join(lines)
    except BaseException:  # an exception too odd to format is still an error, not a crash
        trace = ""
    name, cut_name = cut_text(type(exc).__name__, 200)
    message, cut_message = cut_text(_safe_str(exc), _message_limit(max_output))
    trace, cut_trace = _cut_middle(trace, max_output)
    info = ErrorInfo(type=_clean(name), message=_clean(message), traceback=_clean(trace))
    return info, cut_name or cut_message or cut_trace


def _environment() -> RunEnvironment:
    from importlib import metadata

    def version(module: str) -> str:
        loaded = sys.modules.get(module)
        if loaded is not None and hasattr(loaded, "__version__"):
            return str(loaded.__version__)
        try:
            return metadata.version(module)
        except metadata.PackageNotFoundError:
            return "not installed"

    # A snippet that never imported torch put nothing on a device; importing torch here just to
    # ask would cost seconds.
    label = _torch_device_label() if "torch" in sys.modules else "cpu"
    return RunEnvironment(
        python=platform.python_version(),
        torch=version("torch"),
        transformers=version("transformers"),
        tokenizers=version("tokenizers"),
        device=label,
    )


def _torch_device_label() -> str:
    try:
        from refkit.engine.device import get_device

        device = get_device()
        label = device.type
        if device.type == "cuda":
            import torch

            label = f"cuda ({torch.cuda.get_device_name(device)})"
    except Exception as exc:
        label = f"unavailable ({type(exc).__name__})"
    return label


def _run_snippet(request: RunRequest, package: str) -> SnippetResult:
    """Run one snippet in this (child) process and describe everything that happened."""
    capture = _Capture(request.max_output)
    original_streams = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    native = _NativeOutput(capture)
    sys.stdout = _TextSink(capture, "stdout")
    sys.stderr = _TextSink(capture, "stderr")
    _redirect_logging(capture, tuple(s for s in original_streams if s is not None))

    def show_warning(  # noqa: PLR0917 - the signature warnings.showwarning must have
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        capture.add("warning", warnings.formatwarning(message, category, filename, lineno))

    warnings.showwarning = show_warning
    install_display_sink(capture.display)

    status: Status = OK
    error: ErrorInfo | None = None
    started = time.perf_counter()
    value: Any = None
    try:
        module = importlib.import_module(f"{package}.{request.module}")
        value = getattr(module, request.function)()
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are snippet failures too
        status = ERROR
        error, cut = _error_info(exc, request.max_output)
        capture.truncated |= cut
    duration = time.perf_counter() - started
    text: str | None = None
    html: str | None = None
    if value is not None:
        text, html, problems, cut = _describe_value(value, request.max_output)
        capture.truncated |= cut
        for problem in problems:
            capture.add("stderr", f"refkit: {problem}\n")
    native.finish()
    return SnippetResult(
        snippet_id=request.snippet_id,
        status=status,
        events=capture.output(),
        return_text=text,
        return_html=html,
        error=error,
        duration=duration,
        environment=_environment(),
        finished_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        truncated=capture.truncated,
    )


@dataclass
class _Child:
    """A forked child running one request, and what came back from it so far."""

    pid: int
    fd: int
    request: RunRequest
    deadline: float
    decoder: MessageDecoder = field(init=False)
    result: SnippetResult | None = None
    exited_at: float | None = None
    exit_status: int | None = None
    next_memory_check: float = 0.0

    def __post_init__(self) -> None:
        # What the child sends is the snippet's to forge (it runs in that process); a frame
        # larger than any result of this request is refused before it is buffered.
        self.decoder = MessageDecoder(
            accept=[Finished], max_size=result_frame_limit(self.request.max_output)
        )

    def take(self, data: bytes) -> None:
        """Add bytes read from the child's pipe; its result once the frame is complete."""
        if self.result is not None:
            return  # one result per child; anything after it is ignored
        try:
            for message in self.decoder.feed(data):
                assert isinstance(message, Finished)
                if message.request_id != self.request.request_id:
                    raise ProtocolError(f"a result for request {message.request_id!r}")
                if message.result.snippet_id != self.request.snippet_id:
                    raise ProtocolError(f"a result of snippet {message.result.snippet_id!r}")
                self.result = message.result
                return
        except ProtocolError as exc:
            self.result = _failure(
                self.request, CRASHED, "ProcessDied", f"its result could not be decoded ({exc})"
            )


# -- memory -------------------------------------------------------------------------------------
#
# Why the worker measures and kills, rather than the kernel enforcing an rlimit in the child:
#
# - RLIMIT_AS bounds address space, not memory: a CUDA build of torch reserves tens of GiB of
#   virtual addresses when it initialises (unified addressing), so any limit low enough to
#   matter breaks every CUDA snippet; glibc's per-thread malloc arenas reserve 64 MiB each too.
# - RLIMIT_DATA (since Linux 4.7) counts every private writable mapping by its size, mmap
#   included, touched or not: the CUDA runtime's writable mappings, the arenas and any buffer
#   allocated big and filled lazily count in full, so it is again a bound on virtual size.
# - Neither rlimit sees the processes a snippet starts: each gets a count of its own.
# - A cgroup with memory.max would be exact, but needs a delegated cgroup a build rarely has.
#
# So the worker reads, every poll, the memory of the child and of every process below it, and
# kills the lot when the sum is over. It counts resident memory unique to those processes (what
# their death would free): a child forked from a worker that imported torch maps ~150 MiB it
# shares with the worker, which costs nothing new and must not count. Address space is never
# counted, so CUDA's reservations cost nothing. The price is latency: a snippet can overshoot by
# what it allocates in one poll interval (tens of milliseconds) before it is killed.

_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
_MAX_TREE = 4096  # processes followed below one child: a fork bomb is bounded, not a hang


def _process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it, from the kernel's lists of each thread's children."""
    tree = [pid]
    for parent in tree:  # grows as it goes: breadth first
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue  # ended meanwhile
        for task in tasks:
            try:
                tree.extend(int(child) for child in (task / "children").read_bytes().split())
            except (OSError, ValueError):
                continue
        if len(tree) > _MAX_TREE:
            break
    return tree


def _resident_kib(pid: int) -> int:
    """Resident memory of a process, shared pages included (cheap: one small read)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_bytes().split()[1]) * _PAGE_KIB
    except (OSError, ValueError, IndexError):
        return 0


def _unique_kib(pid: int) -> int:
    """Resident memory only this process maps (its USS): private clean and dirty pages.

    Dearer than :func:`_resident_kib` (the kernel walks the page tables), so it is read only once
    the resident total is over the limit.
    """
    total = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_bytes().splitlines():
            if line.startswith((b"Private_Clean:", b"Private_Dirty:")):
                total += int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return _resident_kib(pid)  # no smaps_rollup (Linux < 4.14): the resident size
    return total


def _memory_used_kib(pid: int, limit_kib: int) -> int:
    """The memory a child and its processes use, measured exactly only when it may be over."""
    tree = _process_tree(pid)
    resident = sum(_resident_kib(member) for member in tree)
    if resident <= limit_kib:  # unique memory is never more than resident memory
        return resident
    return sum(_unique_kib(member) for member in tree)


_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


def _become_subreaper() -> bool:
    """Adopt this process's orphaned descendants instead of letting init adopt them (Linux only).

    A process a snippet starts in a new session (``start_new_session=True``, a daemon's double
    fork) leaves the snippet's process group, so killing the group misses it. As a subreaper this
    process still becomes its parent once its own parent exits, and can find and kill it.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _child_pids() -> set[int]:
    """The pids of this process's children, from ``/proc``."""
    own = os.getpid()
    pids: set[int] = set()
    try:
        # Fast path: each thread's list of children (orphans may be adopted by any thread).
        for task in Path(f"/proc/{own}/task").iterdir():
            pids.update(int(pid) for pid in (task / "children").read_text("ascii").split())
        return pids
    except OSError:
        pass  # a kernel without CONFIG_PROC_CHILDREN, or a thread that just ended
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        # Field 2, the command name, may hold spaces and parentheses: parse after its last ")".
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == own:
            pids.add(int(entry.name))
    return pids


def _kill_leftover_children(keep: AbstractSet[int] = frozenset()) -> None:
    """SIGKILL every child of this process not in ``keep``, with the process groups they lead.

    Grandchildren orphaned by a kill are adopted by this process (a subreaper) and taken in the
    next round, so a whole tree goes. Bounded, so a fork bomb cannot keep it here forever.
    """
    for _ in range(100):
        leftovers = _child_pids() - keep
        if not leftovers:
            return
        for pid in leftovers:
            # A pid that is alive is never reused as a group id, so this only hits its own group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in leftovers:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _failure(request: RunRequest, status: Status, error_type: str, message: str) -> SnippetResult:
    """The result of a child that gave none (it timed out, crashed, or sent garbage)."""
    return SnippetResult(
        snippet_id=request.snippet_id,
        status=status,
        error=ErrorInfo(error_type, message),
        duration=request.timeout if status == TIMEOUT else 0.0,
    )


def _describe_exit(status: int | None) -> str:
    if status is None:
        return "its process ended without a result"
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        return f"its process was killed by signal {signal.Signals(signum).name}"
    return f"its process exited with code {os.WEXITSTATUS(status)} before returning a result"


class _Worker:
    def __init__(self, package: str, jobs: int, protocol: BinaryIO) -> None:
        self.package = package
        self.jobs = max(1, jobs)
        self.protocol = protocol
        self.selector = selectors.DefaultSelector()
        self.pending: list[RunRequest] = []
        self.children: dict[int, _Child] = {}
        self.stdin_open = True
        self.requests = MessageDecoder(accept=[RunRequest, PreloadRequest])
        self.preloaded: set[str] = set()
        self.failed = False  # stopped on a malformed request

    def send(self, message: Ready | Started | Finished) -> None:
        self.protocol.write(encode(message))
        self.protocol.flush()

    def preload(self, statements: Iterable[str]) -> None:
        """Run import statements not run yet; failures are left for the snippet to report."""
        for statement in statements:
            if statement not in self.preloaded:
                self.preloaded.add(statement)
                with contextlib.suppress(Exception):
                    exec(statement, {})

    def spawn(self, request: RunRequest) -> None:
        self.preload(request.preload)
        # Move every object to the permanent generation: the child's garbage collector then
        # leaves them alone instead of touching (and so copying) most of the parent's memory.
        gc.freeze()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 0
            try:
                os.close(read_fd)
                os.setpgid(0, 0)  # its own group, so leftovers can be killed with it
                _become_subreaper()  # and what leaves the group still comes back to it
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                with contextlib.suppress(OSError):
                    os.close(self.protocol.fileno())
                result = _run_snippet(request, self.package)
                # The snippet is over: whatever it started and left running goes with it.
                _kill_leftover_children()
                view = memoryview(encode(Finished(request.request_id, result)))
                while view:
                    view = view[os.write(write_fd, view) :]
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        child = _Child(pid, read_fd, request, time.monotonic() + request.timeout)
        self.children[read_fd] = child
        self.selector.register(read_fd, selectors.EVENT_READ)
        self.send(Started(request.request_id))  # for progress

    def reap(self, child: _Child) -> None:
        """Kill what is left of a snippet's process group, reap the child, forget its pipe."""
        self.kill_group(child)
        if child.exit_status is None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)
        self.selector.unregister(child.fd)
        os.close(child.fd)
        del self.children[child.fd]
        # A snippet that died before cleaning up (timeout, crash) leaves orphans that came to
        # this process; every child that is not a running snippet is one of them.
        _kill_leftover_children(keep={running.pid for running in self.children.values()})

    @staticmethod
    def kill_group(child: _Child) -> None:
        """SIGKILL the snippet's process group: the child and whatever it left in its group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)

    def finish(self, child: _Child, result: SnippetResult) -> None:
        """Send ``result``, then reap the child.

        The result goes first: a child that has sent it still takes tens of milliseconds to
        exit (the kernel unmaps the libraries it shares with this process), and nothing it
        could still do changes the result. Its group is sent SIGKILL before the result goes, so
        what the snippet left running is already dying when the host reads it.
        """
        self.kill_group(child)
        self.send(Finished(child.request.request_id, result))
        self.reap(child)

    def abandon(self) -> None:
        """Kill every running snippet (and its process group) and drop what is queued."""
        self.pending.clear()
        for child in list(self.children.values()):
            self.reap(child)

    def stop_reading(self) -> None:
        """Stop at once: nobody waits for answers, and no one would enforce the timeouts."""
        self.stdin_open = False
        self.selector.unregister(0)
        self.abandon()

    def read_stdin(self) -> None:
        data = os.read(0, 1 << 16)
        if not data:  # the runner closed the pipe
            self.stop_reading()
            return
        try:
            for request in self.requests.feed(data):
                if isinstance(request, PreloadRequest):  # warm up ahead of the next run
                    self.preload(request.preload)
                else:
                    assert isinstance(request, RunRequest)
                    self.pending.append(request)
        except ProtocolError as exc:
            # The runner's stream cannot be followed past a bad frame: it is broken.
            print(f"refkit worker: stopping on a malformed request: {exc}", file=sys.stderr)
            self.failed = True
            self.stop_reading()

    def check_children(self) -> None:
        now = time.monotonic()
        for child in list(self.children.values()):
            if child.result is not None:
                self.finish(child, child.result)
                continue
            if child.exit_status is None:
                pid, status = os.waitpid(child.pid, os.WNOHANG)
                if pid:
                    child.exit_status, child.exited_at = status, now
            if child.exited_at is not None and now - child.exited_at > _EXITED_GRACE_SECONDS:
                message = _describe_exit(child.exit_status)
                self.finish(child, _failure(child.request, CRASHED, "ProcessDied", message))
            elif now > child.deadline:
                message = f"killed after running for more than {child.request.timeout} s"
                self.finish(child, _failure(child.request, TIMEOUT, "TimeoutError", message))
            elif self.over_memory(child, now):
                limit = child.request.memory_limit
                message = f"used more than {limit} MiB of memory (memory_limit), so it was killed"
                self.finish(child, _failure(child.request, CRASHED, "MemoryLimitExceeded", message))

    @staticmethod
    def over_memory(child: _Child, now: float) -> bool:
        """Whether a running child with a memory limit is over it (measured once a poll)."""
        limit_kib = child.request.memory_limit * 1024
        if not limit_kib or child.exit_status is not None or now < child.next_memory_check:
            return False
        child.next_memory_check = now + _POLL_SECONDS
        return _memory_used_kib(child.pid, limit_kib) > limit_kib

    def serve(self) -> None:
        self.selector.register(0, selectors.EVENT_READ)
        while self.stdin_open or self.pending or self.children:
            while self.pending and len(self.children) < self.jobs:
                self.spawn(self.pending.pop(0))
            for key, _ in self.selector.select(timeout=_POLL_SECONDS):
                if key.fd == 0:
                    self.read_stdin()
                    continue
                child = self.children[int(key.fd)]
                try:
                    data = os.read(child.fd, 1 << 20)
                except BlockingIOError:
                    continue
                child.take(data)
                if not data and child.exit_status is None:
                    # EOF: the child closed its end; reap it (it is exiting) to learn how.
                    _, child.exit_status = os.waitpid(child.pid, 0)
                    child.exited_at = time.monotonic() - _EXITED_GRACE_SECONDS
            self.check_children()


def _jobs(text: str) -> int:
    jobs = int(text)
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {jobs}")
    return jobs


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m refkit.engine.worker``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", default="refkit", help="the package holding the topics")
    parser.add_argument(
        "--jobs", type=_jobs, required=True, help="snippets run at the same time (at least 1)"
    )
    args = parser.parse_args(argv)

    # The protocol gets a private copy of stdout; fd 1 then points at stderr, so anything a
    # library prints while importing cannot corrupt the protocol.
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    worker = _Worker(args.package, args.jobs, protocol)

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    _become_subreaper()
    try:
        worker.send(Ready())
        worker.serve()
        protocol.flush()
    finally:
        worker.abandon()
    # Tearing down an interpreter with torch loaded takes a second; there is nothing to save.
    os._exit(1 if worker.failed else 0)


if __name__ == "__main__":
    main()
