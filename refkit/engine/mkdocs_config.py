"""The ``refkit`` plugin's side of a MkDocs configuration: its options, and what pages need.

The options' config class is generated from the settings model; :func:`drop_extension` leaves
the work to the plugin, :func:`add_page_needs` turns on what refkit's blocks are made of
(admonitions, collapsible details, the stylesheet) and :func:`write_stylesheet` puts the
stylesheet into the built site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as opt
from mkdocs.config.defaults import MkDocsConfig

from refkit.engine.project import EXTENSION_NAMES
from refkit.engine.settings import OPTIONS, Option

__all__ = ["STYLESHEET", "RefkitConfig", "add_page_needs", "drop_extension", "write_stylesheet"]

STYLESHEET = Path(__file__).with_name("assets") / "refkit.css"
_STYLESHEET_URL = "assets/refkit/refkit.css"
_MARKDOWN_EXTENSIONS = ("admonition", "pymdownx.details")


def _config_option(option: Option) -> Any:
    if option.choices:
        return opt.Choice(option.choices, default=option.default)
    kind: type | tuple[type, ...] = (int, float) if option.kind is float else option.kind
    return opt.Type(kind, default=option.default)


# One attribute per option of refkit.engine.settings; MkDocs validates mkdocs.yml against them
# (and warns of unknown names), the settings model then applies the environment on top.
_Options: Any = type(
    "_Options", (base.Config,), {option.name: _config_option(option) for option in OPTIONS}
)


class RefkitConfig(_Options):  # generated above, from the settings model
    """Options of the ``refkit`` plugin (see :mod:`refkit.engine.settings`)."""


def drop_extension(config: MkDocsConfig) -> None:
    """Take the ``refkit`` Markdown extension out of a MkDocs build, enabled or not.

    The same site may list it for Zensical. Under MkDocs it would start a second session when
    enabled, and when disabled it would still read the settings for every docstring that
    mkdocstrings converts: the plugin alone speaks for refkit here.
    """
    config.markdown_extensions[:] = [
        name for name in config.markdown_extensions if name not in EXTENSION_NAMES
    ]


def add_page_needs(config: MkDocsConfig) -> None:
    """Turn on the Markdown extensions and the stylesheet that refkit's blocks need."""
    for extension in _MARKDOWN_EXTENSIONS:
        if extension not in config.markdown_extensions:
            config.markdown_extensions.append(extension)
    if _STYLESHEET_URL not in config.extra_css:
        config.extra_css.append(_STYLESHEET_URL)


def write_stylesheet(site_dir: str) -> None:
    """Write the stylesheet where :func:`add_page_needs` links it from, in the built site."""
    target = Path(site_dir) / _STYLESHEET_URL
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(STYLESHEET.read_text(encoding="utf-8"), encoding="utf-8")
