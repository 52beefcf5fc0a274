"""Text from snippets made safe for a terminal, a log or a page: control characters shown, not obeyed."""

from __future__ import annotations

import re

__all__ = ["CONTROL", "escapes", "printable"]

# C0 controls except tab and newline, DEL, C1 controls, and lone surrogates: an ESC in a build
# log can drive the terminal of whoever reads it, and no encoding of a page or a terminal can
# hold a lone surrogate (text from a snippet may carry them all).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]+")


def escapes(chars: str) -> str:
    r"""Characters written as Python escapes.

    Examples:
        >>> print(escapes("\x1b\x00\x85\udcff"))
        \x1b\x00\x85\udcff
    """
    return "".join(
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}" for char in chars
    )


def printable(text: str) -> str:
    """``text`` with control characters (other than tab and newline) written as escapes.

    Examples:
        >>> printable("red \\x1b[31mtext\\x00 ok\\tfine\\n")
        'red \\\\x1b[31mtext\\\\x00 ok\\tfine\\n'
    """
    return CONTROL.sub(lambda m: escapes(m[0]), text)
