"""The ``refkit`` plugin's options as a MkDocs config class, generated from the settings model."""

from __future__ import annotations

from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as opt

from refkit.engine.settings import OPTIONS, Option

__all__ = ["RefkitConfig"]


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
