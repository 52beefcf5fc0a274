"""What running a snippet produced, as plain data that survives JSON (the cache, the worker pipe).

Results come back from places that cannot be trusted to be whole or honest: a cache entry on disk
(edited by hand, written by another version, damaged), a forked child that ran arbitrary code.
:meth:`SnippetResult.from_json` therefore checks every field's type and raises
:class:`ResultFormatError`, and nothing else, when anything is off.

:func:`cut_text` is how every text field is kept within its bound, with a visible marker of what
was cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

__all__ = [
    "CRASHED",
    "DISPLAY",
    "ERROR",
    "OK",
    "STATUSES",
    "STREAMS",
    "TIMEOUT",
    "ErrorInfo",
    "OutputEvent",
    "ResultFormatError",
    "RunEnvironment",
    "SnippetResult",
    "Status",
    "cut_marker",
    "cut_text",
]

Status = Literal["ok", "error", "timeout", "crashed"]
OK: Status = "ok"
ERROR: Status = "error"
TIMEOUT: Status = "timeout"
CRASHED: Status = "crashed"
STATUSES: tuple[Status, ...] = (OK, ERROR, TIMEOUT, CRASHED)
DISPLAY = "display"
STREAMS = ("stdout", "stderr", "warning", "log", DISPLAY)
"""The output streams a result's events may name (see :class:`OutputEvent`)."""


class ResultFormatError(ValueError):
    """Data that is not a snippet result: a missing field, a field of the wrong type, a bad value.

    The one exception :meth:`SnippetResult.from_json` raises, whatever the data holds.
    """


def cut_marker(count: int) -> str:
    """The note that ends a cut text: how many characters were left out.

    Examples:
        >>> cut_marker(44_000_000)
        '… [cut: 44,000,000 more characters]'
    """
    return f"… [cut: {count:,} more characters]"


def cut_text(text: str, limit: int) -> tuple[str, bool]:
    """``text`` kept to ``limit`` characters plus a marker of what was cut, and whether it was.

    Examples:
        >>> cut_text("abcdef", 3)
        ('abc… [cut: 3 more characters]', True)
        >>> cut_text("abc", 3)
        ('abc', False)
    """
    if len(text) <= limit:
        return text, False
    return text[: max(limit, 0)] + cut_marker(len(text) - max(limit, 0)), True


@dataclass(frozen=True)
class OutputEvent:
    """A piece of output, in the order the snippet produced it.

    Attributes:
        stream: ``stdout``, ``stderr`` (both including what C code and subprocesses write
            straight to file descriptors 1 and 2), ``warning`` (a ``warnings`` warning),
            ``log`` (a ``logging`` record, the snippet's or a library's) or ``display`` (a
            figure or view the snippet showed with :func:`refkit.engine.display.show`).
        text: The text, decoded with invalid bytes replaced. For ``display``, the text form
            of what was shown: its caption on the first line, then the facts it shows.
        html: For ``display`` only, the picture: a figure's SVG or a view's HTML (None when it
            was too large to keep: the text form stands in for it).
    """

    stream: str
    text: str
    html: str | None = None

    @property
    def caption(self) -> str:
        """A display event's caption: the first line of its text.

        Examples:
            >>> OutputEvent(DISPLAY, "Zero pattern\\n1 0 1", "<svg/>").caption
            'Zero pattern'
        """
        return self.text.partition("\n")[0]


@dataclass(frozen=True)
class RunEnvironment:
    """Where a snippet ran: shown in its stamp and on the environment page."""

    python: str
    torch: str
    transformers: str
    tokenizers: str
    device: str

    def describe(self) -> str:
        """One line for the stamp.

        Examples:
            >>> RunEnvironment("3.11.7", "2.13.0", "5.24.0", "0.23.3", "cpu").describe()
            'cpu · Python 3.11.7 · torch 2.13.0 · transformers 5.24.0 · tokenizers 0.23.3'
        """
        return (
            f"{self.device} · Python {self.python} · torch {self.torch} · "
            f"transformers {self.transformers} · tokenizers {self.tokenizers}"
        )


@dataclass(frozen=True)
class ErrorInfo:
    """An exception raised by a snippet, or why its process ended without a result."""

    type: str
    message: str
    traceback: str = ""

    def last_frames(self, count: int = 3) -> str:
        """The last ``count`` frames of the traceback, for a build error message.

        Examples:
            >>> tb = 'Traceback (most recent call last):\\n  File "a.py", line 1, in f\\n    x()\\n'
            >>> ErrorInfo("E", "m", tb + "E: m\\n").last_frames(1)
            '  File "a.py", line 1, in f\\n    x()'
        """
        frames: list[list[str]] = []
        for line in self.traceback.splitlines():
            if line.startswith("  File "):
                frames.append([line])
            elif frames and line.startswith("    "):
                frames[-1].append(line)
        return "\n".join(line for frame in frames[-count:] for line in frame)


@dataclass(frozen=True)
class SnippetResult:
    """Everything one run of one snippet produced."""

    snippet_id: str
    status: Status
    events: tuple[OutputEvent, ...] = ()
    return_text: str | None = None
    return_html: str | None = None
    error: ErrorInfo | None = None
    duration: float = 0.0
    environment: RunEnvironment | None = None
    finished_at: str = ""
    truncated: bool = False
    from_cache: bool = field(default=False, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the snippet ran to completion without raising."""
        return self.status == OK

    @property
    def output_text(self) -> str:
        """All output events joined, as a reader sees them (no return value).

        Examples:
            >>> r = SnippetResult("m.f", OK, (OutputEvent("stdout", "a\\n"), OutputEvent("stderr", "b\\n")))
            >>> r.output_text
            'a\\nb\\n'
        """
        return "".join(event.text for event in self.events)

    def cached(self) -> SnippetResult:
        """The same result, marked as served from the cache."""
        return replace(self, from_cache=True)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``from_cache`` is not stored: it is a property of the reading)."""
        data = asdict(self)
        data.pop("from_cache")
        # JSON has lists, and from_json wants one; an event without a picture stores no html.
        data["events"] = [
            {key: value for key, value in event.items() if key != "html" or value is not None}
            for event in data["events"]
        ]
        return data

    @classmethod
    def from_json(cls, data: Any) -> SnippetResult:
        """Rebuild a result from :meth:`to_json` output, checking every field.

        ``snippet_id`` and ``status`` are required; the other fields may be missing (they take
        their defaults) but, when present, must be of their type. Unknown fields are refused:
        they mean the data was written by something else.

        Raises:
            ResultFormatError: When ``data`` is not a stored result, whatever is wrong with it.

        Examples:
            >>> r = SnippetResult("m.f", OK, (OutputEvent("stdout", "hi"),), return_text="1")
            >>> SnippetResult.from_json(r.to_json()) == r
            True
            >>> SnippetResult.from_json({**r.to_json(), "return_text": 123})
            Traceback (most recent call last):
            ...
            refkit.engine.results.ResultFormatError: a result: 'return_text' must be a string or null, not int
            >>> SnippetResult.from_json({**r.to_json(), "status": "exploded"})
            Traceback (most recent call last):
            ...
            refkit.engine.results.ResultFormatError: unknown status 'exploded' (known: ok, error, timeout, crashed)
        """
        fields = _fields(data, "a result", _RESULT_FIELDS, required=("snippet_id", "status"))
        status = fields["status"]
        if status not in STATUSES:
            raise ResultFormatError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
        error = fields.get("error")
        environment = fields.get("environment")
        return cls(
            snippet_id=fields["snippet_id"],
            status=status,
            events=tuple(_event(raw, i) for i, raw in enumerate(fields.get("events", []))),
            return_text=fields.get("return_text"),
            return_html=fields.get("return_html"),
            error=None
            if error is None
            else ErrorInfo(**_fields(error, "'error'", _ERROR_FIELDS, ("type", "message"))),
            duration=_duration(fields.get("duration", 0.0)),
            environment=None
            if environment is None
            else RunEnvironment(
                **_fields(environment, "'environment'", _ENVIRONMENT_FIELDS, _ENVIRONMENT_FIELDS)
            ),
            finished_at=fields.get("finished_at", ""),
            truncated=fields.get("truncated", False),
        )


# The type each field of the JSON form must have; None means null is allowed. A bool is never
# taken for a number (isinstance would). Nested objects are checked with their own table.
_RESULT_FIELDS: dict[str, tuple[Any, ...]] = {
    "snippet_id": (str,),
    "status": (str,),
    "events": (list,),
    "return_text": (str, None),
    "return_html": (str, None),
    "error": (dict, None),
    "duration": (int, float),
    "environment": (dict, None),
    "finished_at": (str,),
    "truncated": (bool,),
}
_ERROR_FIELDS: dict[str, tuple[Any, ...]] = {"type": (str,), "message": (str,), "traceback": (str,)}
_ENVIRONMENT_FIELDS: dict[str, tuple[Any, ...]] = dict.fromkeys(
    ("python", "torch", "transformers", "tokenizers", "device"), (str,)
)
_EVENT_FIELDS: dict[str, tuple[Any, ...]] = {"stream": (str,), "text": (str,), "html": (str, None)}
_TYPE_NAMES: dict[Any, str] = {
    None: "null",
    str: "a string",
    list: "a list",
    dict: "an object",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


def _kind(value: Any) -> str:
    """How a JSON value's type is named in messages."""
    return "null" if value is None else type(value).__name__


def _has_type(value: Any, allowed: tuple[Any, ...]) -> bool:
    if value is None:
        return None in allowed
    if isinstance(value, bool):
        return bool in allowed
    return isinstance(value, tuple(kind for kind in allowed if kind is not None))


def _fields(
    data: Any, what: str, table: Mapping[str, tuple[Any, ...]], required: Iterable[str]
) -> dict[str, Any]:
    """``data``, checked to be an object of the fields ``table`` names, each of its type."""
    if not isinstance(data, dict):
        raise ResultFormatError(f"{what} must be an object, not {_kind(data)}")
    unknown = sorted(str(name) for name in data if name not in table)
    if unknown:
        raise ResultFormatError(f"{what} has unknown fields: {', '.join(unknown)}")
    for name in required:
        if name not in data:
            raise ResultFormatError(f"{what} without {name!r}")
    for name, value in data.items():
        allowed = table[name]
        if not _has_type(value, allowed):
            names = " or ".join(dict.fromkeys(_TYPE_NAMES[kind] for kind in allowed))
            raise ResultFormatError(f"{what}: {name!r} must be {names}, not {_kind(value)}")
    return data


def _event(raw: Any, index: int) -> OutputEvent:
    fields = _fields(raw, f"event {index}", _EVENT_FIELDS, required=("stream", "text"))
    if fields["stream"] not in STREAMS:
        raise ResultFormatError(
            f"event {index} has unknown stream {fields['stream']!r} (known: {', '.join(STREAMS)})"
        )
    html = fields.get("html")
    if html is not None and fields["stream"] != DISPLAY:
        raise ResultFormatError(f"event {index}: only a display event has html")
    return OutputEvent(fields["stream"], fields["text"], html)


def _duration(value: float) -> float:
    try:
        duration = float(value)
    except OverflowError:  # an integer too large for a float
        duration = math.inf
    if not math.isfinite(duration) or duration < 0:
        raise ResultFormatError(f"'duration' must be a finite number >= 0, not {value!r:.40}")
    return duration
