"""Every message between the runner, the worker and the worker's forked children, and its framing.

Three pipes, one format:

- runner -> worker (the worker's stdin): :class:`RunRequest`, :class:`PreloadRequest`;
- worker -> runner (a private copy of the worker's stdout): :class:`Ready` once, then a
  :class:`Started` and a :class:`Finished` per request;
- child -> worker (a pipe per forked child): one :class:`Finished`, the snippet's result.

A frame is a 4-byte big-endian unsigned length, then that many bytes of UTF-8 JSON: an object
whose ``"type"`` names the message (``"run"``, ``"preload"``, ``"ready"``, ``"started"``,
``"finished"``) and whose other keys are its fields. :func:`encode` makes a frame; a
:class:`MessageDecoder` takes bytes as they come off a pipe, in pieces of any size, and yields each
message once its frame is complete. Anything that is not a frame of a message the reader expects
raises :class:`ProtocolError`.

Pure standard library plus :mod:`refkit.engine.results`: the worker imports this module before
anything else, and must start fast.

Examples:
    >>> frame = encode(Started("7"))
    >>> int.from_bytes(frame[:FRAME_HEADER], "big"), frame[FRAME_HEADER:]
    (35, b'{"type":"started","request_id":"7"}')
    >>> decoder = MessageDecoder()
    >>> list(decoder.feed(frame[:5]))  # an incomplete frame waits for the rest
    []
    >>> list(decoder.feed(frame[5:] + encode(Ready())))
    [Started(request_id='7'), Ready()]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from refkit.engine.results import ResultFormatError, SnippetResult

__all__ = [
    "FRAME_HEADER",
    "MAX_FRAME_SIZE",
    "Finished",
    "Message",
    "MessageDecoder",
    "PreloadRequest",
    "ProtocolError",
    "Ready",
    "RunRequest",
    "Started",
    "decode_payload",
    "encode",
    "result_frame_limit",
]

FRAME_HEADER = 4
"""Bytes of the length that starts every frame (big-endian, unsigned)."""
MAX_FRAME_SIZE = 1 << 30
"""The largest payload a frame may announce: anything larger is garbage, not a message."""


class ProtocolError(ValueError):
    """Bytes that are not a frame of a message the reader expects.

    The stream cannot be trusted past such a frame: the peer is broken.
    """


def _field(data: Mapping[str, Any], name: str, kind: type, tag: str) -> Any:
    """``data[name]``, checked to be a ``kind`` (an ``int`` is a ``float`` too; a bool is neither)."""
    if name not in data:
        raise ProtocolError(f"{tag!r} message without {name!r}")
    value = data[name]
    accepted = (int, float) if kind is float else kind
    if not isinstance(value, accepted) or (isinstance(value, bool) and kind is not bool):
        raise ProtocolError(
            f"{tag!r} message: {name!r} must be {kind.__name__}, not {type(value).__name__}"
        )
    return value


def _strings(data: Mapping[str, Any], name: str, tag: str) -> tuple[str, ...]:
    values = _field(data, name, list, tag)
    if not all(isinstance(value, str) for value in values):
        raise ProtocolError(f"{tag!r} message: {name!r} must be a list of strings")
    return tuple(values)


@dataclass(frozen=True)
class RunRequest:
    """Runner -> worker: run one snippet in a fresh fork.

    Attributes:
        request_id: Names this run in the answers; unique per runner.
        snippet_id: ``<module>.<function>``.
        module: The topic module, imported inside the worker's package.
        function: The function to call, with no arguments.
        timeout: Seconds the snippet may run before it is killed (an ``int`` stays one, so
            messages quote it as it was given).
        max_output: Characters of output kept; the rest is cut and the result marked truncated.
        preload: Import statements the worker runs (once each) before forking, so the child
            starts with those libraries loaded.
        memory_limit: MiB of memory the snippet (its process and every process it starts) may
            use before it is killed; 0 for no limit.

    Examples:
        >>> request = RunRequest("1", "t.demo", "t", "demo", 2.5, 1000, ("import torch",), 512)
        >>> decode_payload(encode(request)[FRAME_HEADER:]) == request
        True
    """

    TYPE: ClassVar[str] = "run"

    request_id: str
    snippet_id: str
    module: str
    function: str
    timeout: float
    max_output: int
    preload: tuple[str, ...] = ()
    memory_limit: int = 0

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (without the type tag)."""
        return {
            "request_id": self.request_id,
            "snippet_id": self.snippet_id,
            "module": self.module,
            "function": self.function,
            "timeout": self.timeout,
            "max_output": self.max_output,
            "preload": list(self.preload),
            "memory_limit": self.memory_limit,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRequest:
        """Rebuild from :meth:`to_json` output.

        Raises:
            ProtocolError: A field is missing or of the wrong type, or ``memory_limit`` is
                negative.
        """
        tag = cls.TYPE
        request = cls(
            request_id=_field(data, "request_id", str, tag),
            snippet_id=_field(data, "snippet_id", str, tag),
            module=_field(data, "module", str, tag),
            function=_field(data, "function", str, tag),
            timeout=_field(data, "timeout", float, tag),
            max_output=_field(data, "max_output", int, tag),
            preload=_strings(data, "preload", tag),
            memory_limit=_field(data, "memory_limit", int, tag),
        )
        if request.memory_limit < 0:
            raise ProtocolError(f"{tag!r} message: 'memory_limit' must be >= 0")
        return request


@dataclass(frozen=True)
class PreloadRequest:
    """Runner -> worker: run these import statements now, ahead of the next run.

    Examples:
        >>> request = PreloadRequest(("import torch",))
        >>> decode_payload(encode(request)[FRAME_HEADER:]) == request
        True
    """

    TYPE: ClassVar[str] = "preload"

    preload: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (without the type tag)."""
        return {"preload": list(self.preload)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PreloadRequest:
        """Rebuild from :meth:`to_json` output.

        Raises:
            ProtocolError: A field is missing or of the wrong type.
        """
        return cls(preload=_strings(data, "preload", cls.TYPE))


@dataclass(frozen=True)
class Ready:
    """Worker -> runner, once: started, imports done, requests welcome.

    Examples:
        >>> decode_payload(b'{"type": "ready"}')
        Ready()
    """

    TYPE: ClassVar[str] = "ready"

    def to_json(self) -> dict[str, Any]:
        """No fields."""
        return {}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ready:
        """The message (it has no fields)."""
        return cls()


@dataclass(frozen=True)
class Started:
    """Worker -> runner: the child running request ``request_id`` was forked (for progress).

    Examples:
        >>> decode_payload(b'{"type": "started", "request_id": "3"}')
        Started(request_id='3')
    """

    TYPE: ClassVar[str] = "started"

    request_id: str

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (without the type tag)."""
        return {"request_id": self.request_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Started:
        """Rebuild from :meth:`to_json` output.

        Raises:
            ProtocolError: ``request_id`` is missing or not a string.
        """
        return cls(request_id=_field(data, "request_id", str, cls.TYPE))


@dataclass(frozen=True)
class Finished:
    """The result of request ``request_id``: child -> worker, then worker -> runner.

    The child sends it when the snippet returned or raised; the worker forwards it, or makes one
    itself when the child timed out, crashed or sent something unreadable.

    Examples:
        >>> from refkit.engine.results import OK, OutputEvent
        >>> done = Finished("4", SnippetResult("t.demo", OK, (OutputEvent("stdout", "hi\\n"),)))
        >>> decode_payload(encode(done)[FRAME_HEADER:]) == done
        True
    """

    TYPE: ClassVar[str] = "finished"

    request_id: str
    result: SnippetResult

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (without the type tag); the result as ``to_json`` makes it."""
        return {"request_id": self.request_id, "result": self.result.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finished:
        """Rebuild from :meth:`to_json` output.

        Raises:
            ProtocolError: A field is missing, or ``result`` is not a stored result.
        """
        request_id = _field(data, "request_id", str, cls.TYPE)
        raw = _field(data, "result", dict, cls.TYPE)
        try:
            result = SnippetResult.from_json(raw)
        except ResultFormatError as exc:
            raise ProtocolError(
                f"'finished' message: 'result' is not a snippet result ({exc})"
            ) from exc
        return cls(request_id=request_id, result=result)


def result_frame_limit(max_output: int) -> int:
    """The largest frame a child may send for a run with this ``max_output``.

    A child keeps every text field of its result within a bound derived from ``max_output`` (see
    :mod:`refkit.engine.worker`): printed output, the return value and the traceback up to
    ``max_output`` characters each, the exception's message and type less. Escaped as ASCII
    JSON, a character takes at most 12 bytes (a character outside the BMP is a surrogate pair of
    ``\\uXXXX`` escapes); a mebibyte more covers the fields of fixed size and the markers.
    Anything larger was not written by the worker's code, and the worker refuses it before
    buffering it.

    Examples:
        >>> result_frame_limit(200_000)
        10648576
    """
    return 12 * 4 * max(max_output, 0) + (1 << 20)


Message = RunRequest | PreloadRequest | Ready | Started | Finished
"""Any message, on any of the three pipes."""

_TYPES: dict[str, type[Message]] = {
    kind.TYPE: kind for kind in (RunRequest, PreloadRequest, Ready, Started, Finished)
}


def encode(message: Message) -> bytes:
    """One frame: the payload's length, then the message as UTF-8 JSON with its ``"type"``.

    The JSON is ASCII (other characters escaped), so even text with lone surrogates, which
    UTF-8 cannot hold, gets across intact.

    Raises:
        ProtocolError: The payload is larger than :data:`MAX_FRAME_SIZE`.

    Examples:
        >>> frame = encode(PreloadRequest(("import torch",)))
        >>> int.from_bytes(frame[:FRAME_HEADER], "big"), frame[FRAME_HEADER:]
        (45, b'{"type":"preload","preload":["import torch"]}')
    """
    data = {"type": message.TYPE, **message.to_json()}
    payload = json.dumps(data, separators=(",", ":")).encode("utf-8")
    if len(payload) > MAX_FRAME_SIZE:
        raise ProtocolError(
            f"a {message.TYPE!r} message of {len(payload)} bytes is over the "
            f"{MAX_FRAME_SIZE}-byte limit of a frame"
        )
    return len(payload).to_bytes(FRAME_HEADER, "big") + payload


def decode_payload(payload: bytes, accept: Iterable[type[Message]] | None = None) -> Message:
    """The message a frame's payload (what follows the length) holds.

    Args:
        payload: UTF-8 JSON, an object with a ``"type"``.
        accept: The message types the reader expects; any type when ``None``.

    Raises:
        ProtocolError: Not UTF-8 JSON, not an object, an unknown or unexpected type, or a
            field missing or of the wrong type.

    Examples:
        >>> decode_payload(b'{"type": "started", "request_id": "1"}', accept=[Ready])
        Traceback (most recent call last):
        ...
        refkit.engine.messages.ProtocolError: unexpected 'started' message (expected: 'ready')
        >>> decode_payload(b'{"type": "started"}')
        Traceback (most recent call last):
        ...
        refkit.engine.messages.ProtocolError: 'started' message without 'request_id'
        >>> decode_payload(b"print('hello')")
        Traceback (most recent call last):
        ...
        refkit.engine.messages.ProtocolError: a frame that is not UTF-8 JSON: b"print('hello')"
    """
    try:
        data = json.loads(payload.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ProtocolError(f"a frame that is not UTF-8 JSON: {payload[:80]!r}") from exc
    except RecursionError as exc:  # "[[[[...": no message nests that deep
        raise ProtocolError(f"a frame nested too deep to be a message: {payload[:80]!r}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"a frame that is not a JSON object: {payload[:80]!r}")
    tag = data.pop("type", None)
    kind = _TYPES.get(tag) if isinstance(tag, str) else None
    if kind is None:
        raise ProtocolError(f"a frame with an unknown message type {tag!r}")
    if accept is not None:
        expected = tuple(accept)
        if kind not in expected:
            names = ", ".join(repr(other.TYPE) for other in expected)
            raise ProtocolError(f"unexpected {tag!r} message (expected: {names})")
    return kind.from_json(data)


class MessageDecoder:
    """Turns the bytes of a stream of frames, in pieces of any size, into messages.

    Args:
        accept: The message types this end of the pipe expects; any type when ``None``.
        max_size: The largest payload a frame may announce.

    Examples:
        >>> stream = encode(Ready()) + encode(Started("1"))
        >>> decoder = MessageDecoder(accept=[Ready, Started, Finished])
        >>> [message for byte in stream for message in decoder.feed(bytes([byte]))]
        [Ready(), Started(request_id='1')]
        >>> decoder.buffered
        0

        A frame that announces more than any message holds is garbage (here, text printed into
        the pipe); the decoder refuses it, and everything after it:

        >>> list(decoder.feed(b"Hello, world\\n"))
        Traceback (most recent call last):
        ...
        refkit.engine.messages.ProtocolError: a frame announcing 1214606444 bytes (at most 1073741824): b'Hello, world\\n'
        >>> list(decoder.feed(encode(Ready())))
        Traceback (most recent call last):
        ...
        refkit.engine.messages.ProtocolError: a frame announcing 1214606444 bytes (at most 1073741824): b'Hello, world\\n'
    """

    def __init__(
        self, accept: Iterable[type[Message]] | None = None, max_size: int = MAX_FRAME_SIZE
    ) -> None:
        self._accept = None if accept is None else tuple(accept)
        self._max_size = max_size
        self._buffer = bytearray()
        self._error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received that are not part of a message yielded yet (a frame still arriving)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> Iterator[Message]:
        """Add ``data``; yield every message whose frame is now complete, in order.

        ``data`` is taken at once; messages are taken out of the buffer as they are yielded, so
        a message not iterated to yet comes out of the next call instead.

        Raises:
            ProtocolError: (While iterating.) A malformed frame; the messages before it were
                yielded. The stream cannot be resynchronised, so every later call raises it too.
        """
        self._buffer += data
        return self._messages()

    def _messages(self) -> Iterator[Message]:
        while True:
            if self._error is not None:
                raise self._error
            if len(self._buffer) < FRAME_HEADER:
                return
            size = int.from_bytes(self._buffer[:FRAME_HEADER], "big")
            if size > self._max_size:
                self._fail(
                    f"a frame announcing {size} bytes (at most {self._max_size}): "
                    f"{bytes(self._buffer[:80])!r}"
                )
            if len(self._buffer) < FRAME_HEADER + size:
                return
            payload = bytes(self._buffer[FRAME_HEADER : FRAME_HEADER + size])
            try:
                message = decode_payload(payload, self._accept)
            except ProtocolError as exc:
                self._fail(str(exc))
            del self._buffer[: FRAME_HEADER + size]
            yield message

    def _fail(self, reason: str) -> NoReturn:
        self._error = ProtocolError(reason)
        raise self._error
