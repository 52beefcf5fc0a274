"""Find a site's configuration file and read what refkit needs from it, without any host.

The ``refkit`` command and the Markdown extension both start from a folder, not from a host's
loaded configuration. They look for the file a host would read, from the current folder upward:
``zensical.toml``, ``mkdocs.yml`` or ``mkdocs.yaml`` (Zensical's own order). From it they take
the docs folder and refkit's options, which may stand in two places:

- the ``refkit`` entry under ``plugins`` (MkDocs);
- the ``refkit`` entry under ``markdown_extensions`` (the extension, for Zensical), whose
  options win where both give one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CONFIG_NAMES",
    "EXTENSION_NAMES",
    "ProjectConfig",
    "ProjectError",
    "find_project",
    "nav_pages",
    "read_project",
]

CONFIG_NAMES = ("zensical.toml", "mkdocs.yml", "mkdocs.yaml")
# How a site may name the extension in `markdown_extensions`.
EXTENSION_NAMES = ("refkit", "refkit.engine.extension", "refkit.engine.extension:RefkitExtension")


class ProjectError(ValueError):
    """A configuration file that cannot be read; the message names it."""


@dataclass(frozen=True)
class ProjectConfig:
    """What refkit reads from a site's configuration file.

    Attributes:
        path: The configuration file, or ``None`` when none was found (defaults apply).
        docs_dir: The folder of the pages.
        options: refkit's options from the file (plugin entry, then extension entry).
        nav: The pages of the file's ``nav``, in its order (empty without a ``nav``).
        site_dir: The folder the built site goes to.
        repo_url: The site's ``repo_url`` (``""`` without one): Colab links need GitHub's.
    """

    path: Path | None
    docs_dir: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    nav: tuple[str, ...] = ()
    site_dir: Path = Path("site")
    repo_url: str = ""

    @property
    def project_dir(self) -> Path:
        """The folder relative paths start from: the file's folder."""
        return self.path.parent if self.path else self.docs_dir.parent

    @property
    def name(self) -> str:
        """The file's name, for messages."""
        return self.path.name if self.path else "(no configuration file)"


class _TolerantLoader(yaml.SafeLoader):
    """Safe YAML that reads MkDocs' tags (``!ENV``, ``!!python/name:``) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_TolerantLoader.add_multi_constructor("!", _any_tag)
_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", _any_tag)


def find_project(start: Path | None = None) -> Path | None:
    """The nearest configuration file in ``start`` (default: the current folder) or above it."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        for name in CONFIG_NAMES:
            if (candidate / name).is_file():
                return candidate / name
    return None


def _entries(items: Any) -> dict[str, Any]:
    """``plugins`` / ``markdown_extensions`` as a dict, from a YAML list or a mapping."""
    if isinstance(items, Mapping):
        return dict(items)
    found: dict[str, Any] = {}
    for item in items or ():
        if isinstance(item, str):
            found[item] = {}
        elif isinstance(item, Mapping):
            found.update(item)
    return found


def nav_pages(nav: Any) -> tuple[str, ...]:
    """The Markdown pages of a ``nav`` entry, in order, however deeply nested.

    Examples:
        >>> nav_pages([{"Home": "index.md"}, {"Topics": ["topics/a.md", {"B": "topics/b.md"}]},
        ...            {"Site": "https://example.org/"}])
        ('index.md', 'topics/a.md', 'topics/b.md')
    """
    if isinstance(nav, str):
        return (nav,) if nav.endswith(".md") else ()
    if isinstance(nav, Mapping):
        nav = list(nav.values())
    if isinstance(nav, list | tuple):
        return tuple(page for item in nav for page in nav_pages(item))
    return ()


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path}: cannot read the file ({exc})") from exc
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            data = tomllib.loads(text).get("project", {})
        else:
            data = yaml.load(text, Loader=_TolerantLoader)  # a SafeLoader, tolerant of tags
    except Exception as exc:
        raise ProjectError(f"{path}: not valid {path.suffix[1:].upper()} ({exc})") from exc
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected a mapping at the top level")
    return data


def read_project(path: Path | None) -> ProjectConfig:
    """Read refkit's part of a configuration file (``None``: no file, defaults from here).

    Raises:
        ProjectError: The file cannot be read or parsed, or refkit's entry is not a mapping.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "mkdocs.yml").write_text(
        ...     "docs_dir: pages\\nplugins:\\n  - search\\n  - refkit:\\n      package_dir: notes\\n"
        ...     "markdown_extensions:\\n  - refkit:\\n      jobs: 1\\n  - pymdownx.emoji:\\n"
        ...     "      emoji_index: !!python/name:material.extensions.emoji.twemoji\\n")
        >>> project = read_project(folder / "mkdocs.yml")
        >>> project.docs_dir.name, dict(project.options)
        ('pages', {'package_dir': 'notes', 'jobs': 1})
    """
    if path is None:
        return ProjectConfig(None, Path.cwd().resolve() / "docs")
    path = path.resolve()
    data = _read_file(path)
    options: dict[str, Any] = {}
    plugin = _entries(data.get("plugins")).get("refkit")
    extensions = _entries(data.get("markdown_extensions"))
    extension = next((extensions[n] for n in EXTENSION_NAMES if n in extensions), None)
    for where, entry in (("plugins", plugin), ("markdown_extensions", extension)):
        if entry in (None, {}):
            continue
        if not isinstance(entry, Mapping):
            raise ProjectError(
                f"{path}: the refkit entry under {where} must be a mapping of options"
            )
        options.update(entry)
    docs_dir = path.parent / str(data.get("docs_dir") or "docs")
    return ProjectConfig(
        path,
        docs_dir,
        options,
        nav_pages(data.get("nav")),
        site_dir=path.parent / str(data.get("site_dir") or "site"),
        repo_url=str(data.get("repo_url") or ""),
    )
