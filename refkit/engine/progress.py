"""Progress of a cold build: one live terminal line, or a few log lines when not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from refkit.engine.text import printable

__all__ = ["ProgressLine"]


class ProgressLine:
    """Called as ``progress(done, total, running)`` by the runner.

    Args:
        log: Where non-terminal progress goes (the host's info logger).
        stream: The terminal, when progress should redraw one line; ``sys.stderr`` by default.
        tty: Whether ``stream`` is a terminal; asked of it by default.

    Examples:
        >>> lines = []
        >>> progress = ProgressLine(lines.append, tty=False)
        >>> for done in range(5):
        ...     progress(done, 4, [])
        >>> lines
        ['ran 1/4 snippets', 'ran 2/4 snippets', 'ran 3/4 snippets', 'ran 4/4 snippets']
    """

    def __init__(
        self, log: Callable[[str], None], stream: TextIO | None = None, tty: bool | None = None
    ) -> None:
        self.log = log
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.last_reported = 0

    def __call__(self, done: int, total: int, running: list[str]) -> None:
        """Report that ``done`` of ``total`` snippets finished; ``running`` are running now."""
        now = f", running {printable(', '.join(running))}" if running else ""
        if self.tty:
            end = "\n" if done == total else ""
            self.stream.write(f"\r\x1b[2K[refkit] ran {done}/{total}{now}{end}")
            self.stream.flush()
        elif done > self.last_reported and (
            done == total or done - self.last_reported >= max(1, total // 4)
        ):
            # A log without a terminal gets a line per quarter, not one per snippet.
            self.last_reported = done
            self.log(f"ran {done}/{total} snippets{now}")
