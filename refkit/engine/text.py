"""Text from snippets made safe for a terminal or a log: control characters shown, not obeyed."""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 controls except tab and newline, DEL, and C1 controls: an ESC in a build log can drive the
# terminal of whoever reads it.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters (other than tab and newline) written as escapes.

    Examples:
        >>> printable("red \\x1b[31mtext\\x00 ok\\tfine\\n")
        'red \\\\x1b[31mtext\\\\x00 ok\\tfine\\n'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)
