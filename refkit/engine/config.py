"""The plugin's options, typed, each settable from ``mkdocs.yml`` or from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as opt

__all__ = ["ENVIRONMENT_VARIABLES", "RefkitConfig", "environment_overrides"]


class RefkitConfig(base.Config):
    """Options of the ``refkit`` plugin."""

    enabled = opt.Type(bool, default=True)
    """Run the plugin at all; when false, directives stay in the pages as plain text."""

    execute = opt.Choice(("auto", "always", "never"), default="auto")
    """`auto`: run what is missing or stale, use the cache for the rest; `always`: run
    everything; `never`: cache only, missing outputs become a visible placeholder."""

    timeout = opt.Type((int, float), default=120)
    """Seconds one snippet may run before it is killed and its page shows a timeout panel."""

    device = opt.Choice(("auto", "cpu", "cuda"), default="auto")
    """Where snippets put tensors and models (passed to them as `REFKIT_DEVICE`)."""

    cache_dir = opt.Type(str, default=".cache/plugin/refkit")
    """Folder of cached results, relative to `mkdocs.yml`."""

    on_error = opt.Choice(("fail", "warn"), default="fail")
    """A snippet that raises: `fail` stops `mkdocs build`; `warn` logs a warning (which
    `--strict` turns into a failure). `mkdocs serve` never stops: the page shows the error.
    A snippet that times out or kills its process is always a warning and a panel on its page:
    the rest of the site still builds."""

    package_dir = opt.Type(str, default="refkit")
    """The folder of the topic modules, relative to `mkdocs.yml`."""

    jobs = opt.Type(int, default=2)
    """How many snippets run at the same time."""

    approved_dir = opt.Type(str, default="approved")
    """Folder of approved outputs, relative to `mkdocs.yml`; a live output that differs from
    its approved one is a warning and a notice on its page."""


# Option name -> environment variable. REFKIT_DEVICE is the same variable the snippets read.
ENVIRONMENT_VARIABLES = {
    "enabled": "REFKIT_ENABLED",
    "execute": "REFKIT_EXECUTE",
    "timeout": "REFKIT_TIMEOUT",
    "device": "REFKIT_DEVICE",
    "cache_dir": "REFKIT_CACHE_DIR",
    "on_error": "REFKIT_ON_ERROR",
    "jobs": "REFKIT_JOBS",
    "package_dir": "REFKIT_PACKAGE_DIR",
    "approved_dir": "REFKIT_APPROVED_DIR",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(option: str, raw: str) -> Any:  # noqa: PLR0911 - one return per option type
    value = raw.strip()
    if option == "enabled":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        return value  # left for the config validation to reject with its own message
    if option == "timeout":
        try:
            return float(value)
        except ValueError:
            return value
    if option == "jobs":
        try:
            return int(value)
        except ValueError:
            return value
    return value.lower() if option in {"execute", "device", "on_error"} else value


def environment_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Options set through environment variables, which win over ``mkdocs.yml``.

    Examples:
        >>> environment_overrides({"REFKIT_EXECUTE": "never", "REFKIT_TIMEOUT": "5", "HOME": "/"})
        {'execute': 'never', 'timeout': 5.0}
        >>> environment_overrides({"REFKIT_ENABLED": "off"})
        {'enabled': False}
    """
    env = os.environ if environ is None else environ
    return {
        option: _convert(option, env[variable])
        for option, variable in ENVIRONMENT_VARIABLES.items()
        if env.get(variable, "").strip()
    }
