"""References as data: every link of the notes, with what it is good for.

A reference is checked when it is made, so that a page never shows a link of the wrong shape: every
field is a string (``search_query`` may be ``None``), the title is not empty, and the address is
an absolute ``http`` or ``https`` address with a host, without spaces or control characters. A
``javascript:`` or ``data:`` address, a relative path or a typo such as ``https:/example.org`` is
refused with :class:`InvalidReference`, which names the field; discovery turns it into an error
naming the topic module's file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["InvalidReference", "Reference", "is_web_address"]

# Whitespace and control characters have no place in an address (a space is written %20), and
# URL parsers quietly drop some of them, which hides what the address really is.
_NOT_IN_ADDRESS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_SHOWN = 120  # characters of a bad value quoted in a message


def is_web_address(url: object) -> bool:
    """Whether ``url`` is an absolute ``http(s)`` address with a host: what may become a link.

    Examples:
        >>> is_web_address("https://example.org/a?b=1#:~:text=c%20d")
        True
        >>> [is_web_address(u) for u in ("javascript:alert(1)", "/docs", "https:/x.org", "http://", 1)]
        [False, False, False, False, False]
    """
    if not isinstance(url, str) or _NOT_IN_ADDRESS.search(url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class InvalidReference(ValueError):
    """A reference that cannot be shown; ``field`` is the one at fault (``url``, ``title``...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


@dataclass(frozen=True)
class Reference:
    """One link from the original notes.

    Attributes:
        url: The address, exactly as the notes give it (text fragments included): ``http`` or
            ``https``, with a host.
        title: A short human title for the link (not empty).
        good_for: What a reader gets from following it, in one sentence.
        search_query: The web search the author typed to find it (the notes' "gs:" line),
            or ``None`` when the notes give none.

    Raises:
        InvalidReference: When a field has the wrong type, the title is empty or the address is
            not an ``http(s)`` address with a host.

    Examples:
        >>> ref = Reference("https://example.org", "Example", "Shows the shape of a reference.")
        >>> ref.search_query is None
        True
        >>> Reference("javascript:alert(1)", "Click", "Runs code.")
        Traceback (most recent call last):
        ...
        refkit.engine.references.InvalidReference: url must be an http(s) address with a host, not 'javascript:alert(1)'
        >>> Reference(1, 2, 3)
        Traceback (most recent call last):
        ...
        refkit.engine.references.InvalidReference: url must be a string, not int
    """

    url: str
    title: str
    good_for: str
    search_query: str | None = None

    def __post_init__(self) -> None:
        for name in ("url", "title", "good_for", "search_query"):
            value = getattr(self, name)
            if not isinstance(value, str) and not (name == "search_query" and value is None):
                kind = "a string or None" if name == "search_query" else "a string"
                raise InvalidReference(name, f"{name} must be {kind}, not {type(value).__name__}")
        if not self.title.strip():
            raise InvalidReference("title", "title must not be empty")
        if not is_web_address(self.url):
            raise InvalidReference(
                "url", f"url must be an http(s) address with a host, not {_shown(self.url)}"
            )
