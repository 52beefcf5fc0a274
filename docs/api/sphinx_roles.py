"""A Griffe extension for the API pages: Sphinx roles in docstrings become cross-references.

refkit's docstrings are Google style, but some of them name other objects with Sphinx roles,
such as ``:mod:`refkit.engine.worker``` or ``:meth:`start```, which mkdocstrings would print
as they are. Once the package is loaded, this extension rewrites each role: into a link when
the name resolves (from the scope of the docstring, as Python would) to a public object with a
docstring, which the API pages show; into plain code otherwise. A leading ``~`` shows only the
last part of the name, as in Sphinx.

mkdocs.yml loads it through the Python handler's ``extensions`` option and keeps it out of the
built site with ``exclude_docs``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import griffe

_ROLE = re.compile(r":(?:mod|class|func|meth|attr|data|exc|obj):`(~?)([\w.]+)`")


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    """Yield ``obj`` and everything defined inside it, skipping imported names."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


def _shown_path(pkg: griffe.Module, scope: griffe.Object, name: str) -> str | None:
    """The full path of ``name`` seen from ``scope`` if the API pages show it, else ``None``."""
    head, _, rest = name.partition(".")
    try:
        # A name that starts with the package's is already a full path.
        path = name if head == pkg.path else scope.resolve(head) + (f".{rest}" if rest else "")
        target = pkg[path.removeprefix(f"{pkg.path}.")] if path != pkg.path else pkg
        if target.is_alias:
            target = target.final_target
    except (griffe.NameResolutionError, griffe.AliasResolutionError, KeyError):
        return None
    private = any(part.startswith("_") and not part.startswith("__") for part in path.split("."))
    return None if private or target.docstring is None else target.path


class SphinxRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring in a package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite the docstrings of ``pkg`` and of everything in it."""
        for obj in _objects(pkg):
            if obj.docstring is None:
                continue

            def replace(match: re.Match[str], scope: griffe.Object = obj) -> str:
                short, name = match.groups()
                shown = name.rsplit(".", 1)[-1] if short else name
                path = _shown_path(pkg, scope, name)
                return f"[`{shown}`][{path}]" if path else f"`{shown}`"

            obj.docstring.value = _ROLE.sub(replace, obj.docstring.value)
