"""References as data: every link of the notes, with what it is good for."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Reference"]


@dataclass(frozen=True)
class Reference:
    """One link from the original notes.

    Attributes:
        url: The address, exactly as the notes give it (text fragments included).
        title: A short human title for the link.
        good_for: What a reader gets from following it, in one sentence.
        search_query: The web search the author typed to find it (the notes' "gs:" line),
            or ``None`` when the notes give none.

    Examples:
        >>> ref = Reference("https://example.org", "Example", "Shows the shape of a reference.")
        >>> ref.search_query is None
        True
    """

    url: str
    title: str
    good_for: str
    search_query: str | None = None
