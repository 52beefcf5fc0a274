"""A page's YAML front matter, read the way MkDocs and Zensical read it."""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["split_front_matter"]

# libyaml's safe loader where PyYAML was built with it: the same documents, read in C (the
# pure-Python loader took most of the time a build spends reading its pages' front matter).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_FRONT_MATTER = re.compile(
    r"\A-{3}[ \t]*\n(?P<yaml>.*?\n)?(?:-{3}|\.{3})[ \t]*(?:\n|\Z)", re.DOTALL
)


def split_front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """The front matter, the rest of the page, and the file line on which the rest starts.

    Front matter that is not a YAML mapping is no front matter to a host either, so the page is
    then returned whole.

    Examples:
        >>> split_front_matter("---\\ntopic: conv1d_head\\n---\\n# Title\\n")
        ({'topic': 'conv1d_head'}, '# Title\\n', 4)
        >>> split_front_matter("# No front matter\\n")
        ({}, '# No front matter\\n', 1)
    """
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text, 1
    try:
        meta = yaml.load(match["yaml"] or "", Loader=_SAFE_LOADER) or {}
    except yaml.YAMLError:
        return {}, text, 1
    if not isinstance(meta, dict):
        return {}, text, 1
    return meta, text[match.end() :], match[0].count("\n") + 1
