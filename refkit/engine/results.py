"""What running a snippet produced, as plain data that survives JSON (the cache, the worker pipe)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

__all__ = [
    "CRASHED",
    "ERROR",
    "OK",
    "TIMEOUT",
    "ErrorInfo",
    "OutputEvent",
    "RunEnvironment",
    "SnippetResult",
    "Status",
]

Status = Literal["ok", "error", "timeout", "crashed"]
OK: Status = "ok"
ERROR: Status = "error"
TIMEOUT: Status = "timeout"
CRASHED: Status = "crashed"


@dataclass(frozen=True)
class OutputEvent:
    """A piece of output, in the order the snippet produced it.

    Attributes:
        stream: ``stdout``, ``stderr`` (both including what C code and subprocesses write
            straight to file descriptors 1 and 2), ``warning`` (a ``warnings`` warning) or
            ``log`` (a ``logging`` record, the snippet's or a library's).
        text: The text, decoded with invalid bytes replaced.
    """

    stream: str
    text: str


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
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SnippetResult:
        """Rebuild a result from :meth:`to_json` output.

        Raises:
            KeyError, TypeError, ValueError: When ``data`` is not a stored result.

        Examples:
            >>> r = SnippetResult("m.f", OK, (OutputEvent("stdout", "hi"),), return_text="1")
            >>> SnippetResult.from_json(r.to_json()) == r
            True
        """
        if data["status"] not in (OK, ERROR, TIMEOUT, CRASHED):
            raise ValueError(f"unknown status {data['status']!r}")
        return cls(
            snippet_id=str(data["snippet_id"]),
            status=data["status"],
            events=tuple(OutputEvent(str(e["stream"]), str(e["text"])) for e in data["events"]),
            return_text=data.get("return_text"),
            return_html=data.get("return_html"),
            error=ErrorInfo(**data["error"]) if data.get("error") else None,
            duration=float(data.get("duration", 0.0)),
            environment=RunEnvironment(**data["environment"]) if data.get("environment") else None,
            finished_at=str(data.get("finished_at", "")),
            truncated=bool(data.get("truncated", False)),
        )
