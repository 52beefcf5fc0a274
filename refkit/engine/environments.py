"""Named Python environments as data, and a reproducible, idempotent sync that makes them.

A site declares environments under its refkit settings (``refkit: environments:`` in
``mkdocs.yml``); :func:`parse_environments` turns that mapping into :class:`Environment`
records, and :func:`sync` creates one virtual environment per record under a per-user cache
(:func:`default_cache_root`), with uv when it is installed and with pip otherwise. The
environment refkit itself runs in is ``default`` and is never declared.

Three rules shape the sync:

- **Never CUDA by accident.** Left to itself, an installer asked for ``torch`` (or for a
  package that needs it) on Linux takes PyPI's build, which has CUDA: several GB. So for a CPU
  environment a torch requirement without an exact pin, and a missing one, become
  ``torch==<the version running here>`` (:func:`pinned_requirements`), and uv, which does not
  read pip's configuration, is given pip's wheel sources (:func:`read_pip_sources`,
  :func:`uv_install_arguments`), where the CPU wheel of that version is found. Before uv
  installs anything into a CPU environment it resolves the plan (``--dry-run``) and refuses
  one with NVIDIA or CUDA wheels in it, so a pin that found no CPU wheel costs a second, not
  gigabytes. (pip reads its own sources; its dry run downloads what it resolves, so it gets
  no such check.)
- **Idempotent.** Each venv lives at ``<cache>/<name>/<key>/``, the key a hash of the Python
  version, the normalised requirements and the device (:func:`environment_key`). A venv there
  holds a lock, ``refkit-lock.json``, with what was resolved; when it is there and the venv's
  Python runs, the sync is done without calling any installer.
- **Whole or absent.** A venv is built in a temporary folder beside its final place, its lock
  written last, then renamed into place: an interrupted or failed sync leaves no half-made
  environment anyone could use, and the earlier environment of that name stays until a new one
  has replaced it.

The worker (:mod:`refkit.engine.worker` with :mod:`~refkit.engine.messages`,
:mod:`~refkit.engine.results` and :mod:`~refkit.engine.display`) imports only the standard
library, so it runs in any such venv of Python 3.10 or newer with the project on ``PYTHONPATH``
(:func:`~refkit.engine.worker_process.worker_command`, :func:`worker_environment`); what a
snippet imports (torch, transformers, matplotlib for figures) is the environment's own business.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from refkit.engine.atomic import write_atomic
from refkit.engine.device import gpu_visible
from refkit.engine.text import printable

__all__ = [
    "CREATED",
    "DEFAULT_ENVIRONMENT",
    "DEVICES",
    "ENVIRONMENTS_DIR_VARIABLE",
    "FAILED",
    "LOCK_NAME",
    "MISSING",
    "SKIPPED",
    "STAMP_PACKAGES",
    "UPDATED",
    "UP_TO_DATE",
    "Environment",
    "EnvironmentConfigError",
    "SyncReport",
    "SyncStatus",
    "WheelSources",
    "check",
    "default_cache_root",
    "environment_key",
    "installed_versions",
    "parse_environments",
    "pinned_requirements",
    "pip_sources",
    "read_pip_sources",
    "running_torch_version",
    "running_versions",
    "sync",
    "uv_install_arguments",
    "worker_environment",
]

DEFAULT_ENVIRONMENT = "default"
"""The environment refkit itself runs in; reserved, never declared."""
DEVICES = ("cpu", "cuda")
ENVIRONMENTS_DIR_VARIABLE = "REFKIT_ENVIRONMENTS_DIR"
LOCK_NAME = "refkit-lock.json"
STAMP_PACKAGES = ("torch", "transformers", "tokenizers", "tensorflow", "keras")
"""What a page tab's stamp shows, where installed (:func:`installed_versions`)."""

SyncStatus = Literal["created", "updated", "up to date", "skipped", "failed", "missing"]
CREATED: SyncStatus = "created"
UPDATED: SyncStatus = "updated"
UP_TO_DATE: SyncStatus = "up to date"
SKIPPED: SyncStatus = "skipped"
FAILED: SyncStatus = "failed"
MISSING: SyncStatus = "missing"
"""Only from :func:`check`: never synced, or synced with other requirements."""
_READY: frozenset[str] = frozenset({CREATED, UPDATED, UP_TO_DATE})

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[0-9a-f]{16}")
# The worker's imports depend on these; an environment setting them would break it.
_RESERVED_VARIABLES = frozenset({"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"})
_FIELDS = ("requirements", "device", "variables", "python", "add_torch")
_LOCK_FORMAT = 1
# The worker and the results it sends use what Python 3.10 added (see pyproject's
# requires-python); an older interpreter would fail at the worker's first import.
_MIN_PYTHON = (3, 10)
_TAIL_LINES = 20
_INSTALL_TIMEOUT = 1800.0
_QUICK_TIMEOUT = 60.0


class EnvironmentConfigError(ValueError):
    """A declared environment that cannot be used; the message names the environment and field.

    Attributes:
        environment: The environment's name (``""`` when the whole mapping is wrong).
        field: The field that holds the bad value (``""`` for the name itself).
    """

    def __init__(self, environment: str, field: str, problem: str) -> None:
        where = f"refkit environment {environment!r}" if environment else "refkit environments"
        super().__init__(f"{where}, {field}: {problem}" if field else f"{where}: {problem}")
        self.environment = environment
        self.field = field


@dataclass(frozen=True)
class Environment:
    """One named environment: what to install, on which device, with which variables set.

    Constructing one validates it, exactly as :func:`parse_environments` does.

    Attributes:
        name: Lowercase letters, digits, ``.``, ``-`` and ``_``; ``default`` is reserved.
        requirements: pip requirement strings, e.g. ``("transformers==4.57.6",)``.
        device: ``"cpu"`` or ``"cuda"``.
        variables: Environment variables the worker runs with there, e.g.
            ``{"FORCE_TF_AVAILABLE": "1"}``.
        python: The interpreter to build the venv from (a path or a command on ``PATH``);
            ``None`` for the one running refkit.
        add_torch: Whether a CPU environment that does not name torch gets the torch running
            here (refkit's topic modules import it). Off for an environment that must lack
            torch, or that needs none; a torch it does name is pinned either way.

    Examples:
        >>> env = Environment("legacy-tf", ("tensorflow==2.13.1",), variables={"A": "1"})
        >>> env.device, dict(env.variables), env.python
        ('cpu', {'A': '1'}, None)
        >>> Environment("Legacy")
        Traceback (most recent call last):
        ...
        refkit.engine.environments.EnvironmentConfigError: refkit environment 'Legacy': a name is lowercase letters, digits, '.', '-' and '_', starting with a letter or digit (at most 64 characters)
    """

    name: str
    requirements: tuple[str, ...] = ()
    device: str = "cpu"
    # Not hashed: a mapping cannot be; equality still compares it.
    variables: Mapping[str, str] = field(default_factory=dict, hash=False)
    python: str | None = None
    add_torch: bool = True

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "requirements", _checked_requirements(self))
        if self.device not in DEVICES:
            raise EnvironmentConfigError(
                self.name, "device", f"must be one of {', '.join(DEVICES)}, not {self.device!r}"
            )
        object.__setattr__(self, "variables", _checked_variables(self.name, self.variables))
        if self.python is not None and (not isinstance(self.python, str) or not self.python):
            raise EnvironmentConfigError(
                self.name,
                "python",
                f"must be an interpreter's path or command, not {self.python!r}",
            )
        if not isinstance(self.add_torch, bool):
            raise EnvironmentConfigError(
                self.name, "add_torch", f"must be true or false, not {self.add_torch!r}"
            )


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise EnvironmentConfigError(
            str(name),
            "",
            "a name is lowercase letters, digits, '.', '-' and '_', starting with a letter or "
            "digit (at most 64 characters)",
        )
    if name == DEFAULT_ENVIRONMENT:
        raise EnvironmentConfigError(
            name, "", "'default' is reserved for the environment refkit itself runs in"
        )


def _checked_requirements(env: Environment) -> tuple[str, ...]:
    raw = env.requirements
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise EnvironmentConfigError(
            env.name, "requirements", f"must be a list of requirement strings, not {raw!r}"
        )
    for item in raw:
        if not isinstance(item, str):
            raise EnvironmentConfigError(
                env.name, "requirements", f"{item!r} is not a requirement string"
            )
        try:
            Requirement(item)
        except InvalidRequirement as exc:
            # pip options (-e, --index-url) land here too: sources come from pip's own config.
            raise EnvironmentConfigError(
                env.name, "requirements", f"{item!r} is not a requirement: {exc}"
            ) from None
    return tuple(raw)


def _checked_variables(name: str, raw: object) -> Mapping[str, str]:
    if not isinstance(raw, Mapping):
        raise EnvironmentConfigError(name, "variables", f"must be a mapping, not {raw!r}")
    variables: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _VARIABLE.fullmatch(key):
            raise EnvironmentConfigError(
                name, "variables", f"{key!r} is not an environment variable's name"
            )
        if key in _RESERVED_VARIABLES:
            raise EnvironmentConfigError(
                name, "variables", f"{key} is set by refkit for the worker; it cannot be changed"
            )
        # YAML reads `1` as an int (fine) but `true` as a bool, which has no one spelling.
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise EnvironmentConfigError(
                name, "variables", f"{key} must be text (quote it in YAML), not {value!r}"
            )
        variables[key] = str(value)
    return MappingProxyType(dict(sorted(variables.items())))


def parse_environments(raw: Mapping[str, Any] | None) -> dict[str, Environment]:
    """The environments a site declares, from the mapping under ``refkit: environments:``.

    Args:
        raw: Environment name to its fields: ``requirements`` (a list of requirement
            strings), and optionally ``device``, ``variables``, ``python`` and ``add_torch``
            (see :class:`Environment`). ``None`` declares none.

    Returns:
        Name to :class:`Environment`, in the order declared.

    Raises:
        EnvironmentConfigError: A bad name, an unknown field or a bad value, naming both.

    Examples:
        >>> envs = parse_environments({
        ...     "transformers-4.57": {"requirements": ["transformers==4.57.6"]},
        ...     "legacy-tf": {
        ...         "requirements": ["transformers==4.29.2", "tensorflow-cpu==2.13.1"],
        ...         "variables": {"FORCE_TF_AVAILABLE": 1},
        ...     },
        ... })
        >>> list(envs), dict(envs["legacy-tf"].variables)
        (['transformers-4.57', 'legacy-tf'], {'FORCE_TF_AVAILABLE': '1'})
        >>> parse_environments({"x": {"requirement": ["six"]}})
        Traceback (most recent call last):
        ...
        refkit.engine.environments.EnvironmentConfigError: refkit environment 'x', requirement: unknown field; the fields are requirements, device, variables, python, add_torch
        >>> parse_environments({"x": {"requirements": ["six=1"]}})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        refkit.engine.environments.EnvironmentConfigError: refkit environment 'x', requirements: 'six=1' is not a requirement: ...
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise EnvironmentConfigError(
            "", "", f"must be a mapping of names to environments, not {raw!r}"
        )
    environments: dict[str, Environment] = {}
    for name, value in raw.items():
        _check_name(name)
        fields = {} if value is None else value
        if not isinstance(fields, Mapping):
            raise EnvironmentConfigError(
                name, "", f"must be a mapping of fields (requirements, ...), not {fields!r}"
            )
        for key in fields:
            if key not in _FIELDS:
                raise EnvironmentConfigError(
                    name, str(key), f"unknown field; the fields are {', '.join(_FIELDS)}"
                )
        requirements = fields.get("requirements") or ()
        if isinstance(requirements, list):
            requirements = tuple(requirements)
        # None (an empty YAML value) means the field's default, as for an absent one.
        variables = fields.get("variables")
        environments[name] = Environment(
            name=name,
            requirements=requirements,
            device=fields.get("device") or "cpu",
            variables={} if variables is None else variables,
            python=fields.get("python"),
            add_torch=fields.get("add_torch", True),
        )
    return environments


def _normalised(text: str) -> str:
    """One spelling per requirement: canonical name, specifiers and marker as packaging writes.

    Examples:
        >>> _normalised("Six == 1.16.0"), _normalised("Typing_Extensions>=4 ; python_version<'3.12'")
        ('six==1.16.0', 'typing-extensions>=4; python_version < "3.12"')
    """
    requirement = Requirement(text)
    requirement.name = canonicalize_name(requirement.name)
    return str(requirement)


def pinned_requirements(env: Environment, torch_version: str | None) -> tuple[str, ...]:
    """The requirements to install: normalised, with torch pinned where it could come as CUDA.

    For a CPU environment, a torch requirement that is not an exact pin (``torch``,
    ``torch>=2.4``) becomes ``torch==<torch_version>``, and one is added when torch is absent
    and ``env.add_torch``. A CUDA environment is left as declared: there the default build is
    the one wanted.

    Args:
        env: The environment.
        torch_version: The torch running here (:func:`running_torch_version`), local label
            such as ``+cpu`` dropped or not; ``None`` when none is installed.

    Returns:
        The normalised requirements, in the declared order, torch last when added.

    Raises:
        EnvironmentConfigError: torch must be pinned but no torch runs here, or the declared
            range excludes the one that does (any other version may be a CUDA build).

    Examples:
        >>> cpu = Environment("t", ("Transformers==4.57.6",))
        >>> pinned_requirements(cpu, "2.13.0+cpu")
        ('transformers==4.57.6', 'torch==2.13.0')
        >>> pinned_requirements(Environment("t", ("torch>=2.4", "six")), "2.13.0+cpu")
        ('torch==2.13.0', 'six')
        >>> pinned_requirements(Environment("t", ("torch==2.5.1",)), "2.13.0")
        ('torch==2.5.1',)
        >>> pinned_requirements(Environment("t", ("six",), add_torch=False), "2.13.0")
        ('six',)
        >>> pinned_requirements(Environment("t", ("torch",), device="cuda"), "2.13.0")
        ('torch',)
    """
    requirements = [Requirement(text) for text in env.requirements]
    if env.device == "cuda":
        return tuple(_normalised(text) for text in env.requirements)
    pinned: list[str] = []
    named_torch = False
    for requirement in requirements:
        if canonicalize_name(requirement.name) != "torch":
            pinned.append(_normalised(str(requirement)))
            continue
        named_torch = True
        if requirement.url or _is_exact_pin(requirement.specifier):
            pinned.append(_normalised(str(requirement)))
            continue
        version = _public_version(env.name, torch_version)
        if not requirement.specifier.contains(version, prereleases=True):
            raise EnvironmentConfigError(
                env.name,
                "requirements",
                f"{requirement} excludes the torch running here ({version}), and any other "
                "version may come as a CUDA build of several GB: pin it exactly "
                "(torch==X.Y.Z) with a CPU wheel of it in pip's find-links",
            )
        requirement.name = "torch"
        requirement.specifier = SpecifierSet(f"=={version}")
        pinned.append(str(requirement))
    if not named_torch and env.add_torch:
        pinned.append(f"torch=={_public_version(env.name, torch_version)}")
    return tuple(pinned)


def _is_exact_pin(specifier: SpecifierSet) -> bool:
    return any(spec.operator in ("==", "===") and "*" not in spec.version for spec in specifier)


def _public_version(name: str, torch_version: str | None) -> str:
    if torch_version is None:
        raise EnvironmentConfigError(
            name,
            "requirements",
            "torch must be pinned to the torch running here, but none is installed: pin it "
            "(torch==X.Y.Z), or set add_torch: false if the environment needs none",
        )
    # torch==2.13.0 admits 2.13.0+cpu (PEP 440), and the local wheel is found by its sources.
    return torch_version.split("+", 1)[0]


def running_versions(names: Iterable[str]) -> dict[str, str]:
    """The versions of ``names`` installed where refkit runs (the default environment), in order.

    Read from package metadata, nothing imported: importing torch to ask would cost seconds.
    Those not installed are left out.

    Examples:
        >>> running_versions(["packaging", "no-such-distribution"]) == {
        ...     "packaging": metadata.version("packaging")}
        True
    """
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def running_torch_version() -> str | None:
    """The version of the torch running here (``2.13.0+cpu``), or ``None``.

    The imported module's own, when it is imported (an upgrade since does not change it).
    """
    loaded = sys.modules.get("torch")
    if loaded is not None and hasattr(loaded, "__version__"):
        return str(loaded.__version__)
    return running_versions(["torch"]).get("torch")


def environment_key(python_version: str, requirements: Iterable[str], device: str) -> str:
    """The hash that names a venv: same Python, same requirements, same device, same venv.

    Args:
        python_version: The interpreter, e.g. ``"cpython-3.11.7"``.
        requirements: The requirements installed (:func:`pinned_requirements`); their order,
            repeats and spelling (``Six`` or ``six``) do not count.
        device: ``"cpu"`` or ``"cuda"``.

    Returns:
        16 hex digits.

    Examples:
        >>> a = environment_key("cpython-3.11.7", ["six==1.16.0", "torch==2.13.0"], "cpu")
        >>> a == environment_key("cpython-3.11.7", ["torch==2.13.0", "Six==1.16.0"], "cpu")
        True
        >>> a == environment_key("cpython-3.12.1", ["six==1.16.0", "torch==2.13.0"], "cpu")
        False
        >>> len(a), a == environment_key("cpython-3.11.7", ["six==1.16.0", "torch==2.13.0"], "cuda")
        (16, False)
    """
    identity = {
        "format": _LOCK_FORMAT,
        "python": python_version,
        "requirements": sorted({_normalised(text) for text in requirements}),
        "device": device,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def default_cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """Where environments live: ``$REFKIT_ENVIRONMENTS_DIR``, else the per-user cache.

    Examples:
        >>> default_cache_root({"REFKIT_ENVIRONMENTS_DIR": "/srv/envs", "XDG_CACHE_HOME": "/c"})
        PosixPath('/srv/envs')
        >>> default_cache_root({"XDG_CACHE_HOME": "/c"})
        PosixPath('/c/refkit/environments')
        >>> default_cache_root({"HOME": "/home/me"})
        PosixPath('/home/me/.cache/refkit/environments')
    """
    env = os.environ if environ is None else environ
    if env.get(ENVIRONMENTS_DIR_VARIABLE):
        return Path(env[ENVIRONMENTS_DIR_VARIABLE]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "refkit" / "environments"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".cache" / "refkit" / "environments"


@dataclass(frozen=True)
class WheelSources:
    """Where pip looks for packages besides (or instead of) PyPI, read from its configuration.

    Attributes:
        find_links: Folders or pages of wheels (``--find-links``).
        extra_index_urls: Indexes searched as well as the main one.
        index_url: The main index, when not PyPI.
        no_index: Whether pip searches no index at all.
        constraint: Constraint files pip applies to every install (a machine's cap).
        cert: The CA bundle pip verifies TLS with.
    """

    find_links: tuple[str, ...] = ()
    extra_index_urls: tuple[str, ...] = ()
    index_url: str | None = None
    no_index: bool = False
    constraint: tuple[str, ...] = ()
    cert: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The sources as plain data, for the lock."""
        return {
            "find_links": list(self.find_links),
            "extra_index_urls": list(self.extra_index_urls),
            "index_url": self.index_url,
            "no_index": self.no_index,
            "constraint": list(self.constraint),
        }


_PIP_OPTIONS = ("find-links", "extra-index-url", "index-url", "no-index", "constraint", "cert")


def pip_sources(config_list: Iterable[str], environ: Mapping[str, str]) -> WheelSources:
    """The wheel sources pip uses, from the lines of ``pip config list`` and ``PIP_*`` variables.

    pip's own precedence: a variable wins over the ``install`` section, which wins over
    ``global``; a list option's value is split on whitespace.

    Args:
        config_list: Lines such as ``global.find-links='/opt/wheels'``.
        environ: The environment (``PIP_FIND_LINKS``, ``PIP_EXTRA_INDEX_URL``, ...).

    Returns:
        The sources.

    Examples:
        >>> lines = [
        ...     "global.extra-index-url='file:///opt/pypi/simple file:///opt/more/simple'",
        ...     "global.find-links='/opt/old'",
        ...     ":env:.find-links='/opt/wheels'",
        ... ]
        >>> s = pip_sources(lines, {})
        >>> s.find_links, s.extra_index_urls
        (('/opt/wheels',), ('file:///opt/pypi/simple', 'file:///opt/more/simple'))
        >>> pip_sources(lines, {"PIP_FIND_LINKS": "/a /b", "PIP_NO_INDEX": "yes"}).find_links
        ('/a', '/b')
        >>> pip_sources([], {"PIP_NO_INDEX": "yes"}).no_index
        True
    """
    rank = {"global": 0, "install": 1, ":env:": 2}
    found: dict[str, tuple[int, str]] = {}
    for line in config_list:
        key, sep, value = line.strip().partition("=")
        section, dot, option = key.rpartition(".")
        if not sep or not dot or section not in rank or option not in _PIP_OPTIONS:
            continue
        with contextlib.suppress(ValueError, SyntaxError):
            value = ast.literal_eval(value)  # pip prints each value as a Python repr
        if option not in found or rank[section] >= found[option][0]:
            found[option] = (rank[section], str(value))
    values = {option: text for option, (_, text) in found.items()}
    for option in _PIP_OPTIONS:
        variable = "PIP_" + option.upper().replace("-", "_")
        if environ.get(variable):
            values[option] = environ[variable]
    return WheelSources(
        find_links=tuple(values.get("find-links", "").split()),
        extra_index_urls=tuple(values.get("extra-index-url", "").split()),
        index_url=values.get("index-url") or None,
        no_index=values.get("no-index", "").strip().lower() in {"1", "true", "yes", "on"},
        constraint=tuple(values.get("constraint", "").split()),
        cert=values.get("cert") or None,
    )


def read_pip_sources(python: str | None = None) -> WheelSources:
    """The wheel sources pip uses, as ``python -m pip config list`` reports them (with variables).

    Args:
        python: The interpreter whose pip to ask; the running one when ``None``. Without a
            pip there, only the ``PIP_*`` variables count.
    """
    try:
        listed = subprocess.run(
            [python or sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=_QUICK_TIMEOUT,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        listed = []
    return pip_sources(listed, os.environ)


def uv_install_arguments(python: Path | str, sources: WheelSources) -> list[str]:
    """The arguments after ``uv`` that install into ``python``'s venv from pip's sources.

    The requirements go after them. uv reads none of pip's configuration, so each source is
    passed explicitly; ``unsafe-best-match`` makes uv weigh every index like pip does (by
    default it takes a package only from the first index that has it, so ``transformers`` on
    a local index holding 5.x alone would hide 4.57.6 on the next one).

    Examples:
        >>> sources = WheelSources(("/opt/wheels",), ("file:///opt/pypi/simple",))
        >>> uv_install_arguments("/envs/x/bin/python", sources)  # doctest: +NORMALIZE_WHITESPACE
        ['pip', 'install', '--python', '/envs/x/bin/python', '--compile-bytecode',
         '--index-strategy', 'unsafe-best-match', '--extra-index-url', 'file:///opt/pypi/simple',
         '--find-links', '/opt/wheels']
        >>> uv_install_arguments("py", WheelSources())
        ['pip', 'install', '--python', 'py', '--compile-bytecode']
    """
    # Compiled now, as pip does: the worker runs with PYTHONDONTWRITEBYTECODE (no __pycache__
    # in a watched folder), so without .pyc files every worker start would compile torch and
    # transformers again (13 s here for `import transformers`, against 6 s).
    arguments = ["pip", "install", "--python", str(python), "--compile-bytecode"]
    if sources.extra_index_urls or sources.find_links or sources.index_url:
        arguments += ["--index-strategy", "unsafe-best-match"]
    if sources.no_index:
        arguments.append("--no-index")
    else:
        if sources.index_url:
            arguments += ["--index-url", sources.index_url]
        for url in sources.extra_index_urls:
            arguments += ["--extra-index-url", url]
    for link in sources.find_links:
        arguments += ["--find-links", link]
    for constraint in sources.constraint:
        # pip's machine-wide cap applies to uv too, so both refuse the same releases.
        arguments += ["--constraint", constraint]
    return arguments


@dataclass(frozen=True)
class SyncReport:
    """What :func:`sync` or :func:`check` found or did for one environment.

    Attributes:
        name: The environment's name.
        status: ``created``, ``updated``, ``up to date``, ``skipped``, ``failed`` or
            ``missing``.
        environment: The declared environment (its variables, device).
        path: The venv's folder, once it exists.
        python: The venv's Python executable, once it exists.
        resolved: Every installed distribution's canonical name to its version.
        seconds: How long this took.
        reason: Why it was skipped, failed or is missing; the installer's last lines of
            output for a failed install.
        key: :func:`environment_key` of what was asked for (``""`` when not computed).
        requirements: What was (or would be) installed, torch pinned.
        installer: The installer that made the venv (``uv 0.13.9``), from its lock.
        made: When the venv was made (ISO 8601, UTC), from its lock.
    """

    name: str
    status: SyncStatus
    environment: Environment
    path: Path | None = None
    python: Path | None = None
    resolved: Mapping[str, str] = field(default_factory=dict, hash=False)
    seconds: float = 0.0
    reason: str = ""
    key: str = ""
    requirements: tuple[str, ...] = ()
    installer: str = ""
    made: str = ""

    @property
    def ok(self) -> bool:
        """Whether the environment exists and matches its declaration."""
        return self.status in _READY


def installed_versions(report: SyncReport, names: Iterable[str] = STAMP_PACKAGES) -> dict[str, str]:
    """The versions a stamp shows: those of ``names`` installed in the environment, in order.

    Examples:
        >>> report = SyncReport("t", UP_TO_DATE, Environment("t"),
        ...                     resolved={"torch": "2.13.0+cpu", "tensorflow-cpu": "2.13.1",
        ...                               "tensorflow": "2.13.1", "six": "1.16.0"})
        >>> installed_versions(report)
        {'torch': '2.13.0+cpu', 'tensorflow': '2.13.1'}
        >>> installed_versions(report, ["Six", "keras"])
        {'Six': '1.16.0'}
    """
    versions: dict[str, str] = {}
    for name in names:
        version = report.resolved.get(canonicalize_name(name))
        if version is not None:
            versions[name] = version
    return versions


def worker_environment(
    report: SyncReport, project_root: Path, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables the worker of a synced environment runs with.

    ``PYTHONPATH`` holds the project first (its topic package, and its own copy of refkit if
    it has one), then a folder of the venv holding nothing but a link to the running refkit
    package, made here when missing: refkit is not installed in the environment, and the
    folder it is installed in may be the default environment's site-packages, whose torch and
    transformers must not shadow the environment's own. An inherited ``PYTHONPATH`` is dropped
    for the same reason. The venv is activated (``VIRTUAL_ENV``, its ``bin`` first on
    ``PATH``), so that a snippet's ``python`` subprocess is the environment's too, and
    ``REFKIT_DEVICE`` is its device. The environment's declared variables come last.

    Args:
        report: An ``ok`` report.
        project_root: The folder holding the topic package.
        base: The variables to start from; ``os.environ`` when ``None``.

    Raises:
        ValueError: The environment is not there (the report says why).

    Examples:
        >>> import tempfile
        >>> venv = Path(tempfile.mkdtemp())
        >>> env = Environment("t", variables={"FORCE_TF_AVAILABLE": "1"})
        >>> report = SyncReport("t", UP_TO_DATE, env, path=venv, python=venv / "bin" / "python")
        >>> base = {"PATH": "/usr/bin", "PYTHONPATH": "/elsewhere"}
        >>> variables = worker_environment(report, Path("/site"), base=base)
        >>> variables["PYTHONPATH"] == f"/site:{venv}/refkit-link", variables["PATH"] == f"{venv}/bin:/usr/bin"
        (True, True)
        >>> (venv / "refkit-link" / "refkit" / "engine" / "worker.py").is_file()
        True
        >>> variables["FORCE_TF_AVAILABLE"], variables["REFKIT_DEVICE"]
        ('1', 'cpu')
    """
    if not report.ok or report.path is None or report.python is None:
        raise ValueError(f"environment {report.name!r} is {report.status}: {report.reason}")
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONHOME", None)
    env["PYTHONPATH"] = os.pathsep.join([str(project_root), str(_refkit_link(report.path))])
    env["VIRTUAL_ENV"] = str(report.path)
    env["PATH"] = os.pathsep.join([str(report.python.parent), *filter(None, [env.get("PATH")])])
    env["REFKIT_DEVICE"] = report.environment.device
    env.update(report.environment.variables)
    return env


def _refkit_link(venv: Path) -> Path:
    """``<venv>/refkit-link``, holding only ``refkit``: a link to the package running this."""
    package = Path(__file__).resolve().parent.parent
    folder = venv / "refkit-link"
    link = folder / "refkit"
    if link.is_symlink() and link.readlink() == package:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    # Made beside it, then renamed over it: a worker starting meanwhile sees one link or the other.
    temporary = folder / f".refkit-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(package, target_is_directory=True)
    temporary.replace(link)
    return folder


def sync(
    environments: Iterable[Environment],
    *,
    cache_root: Path | None = None,
    installer: Literal["auto", "uv", "pip"] = "auto",
    gpu: bool | None = None,
    timeout: float = _INSTALL_TIMEOUT,
) -> list[SyncReport]:
    """Create or update a venv per environment; one already up to date costs no install.

    Args:
        environments: The environments, synced one after the other.
        cache_root: Where venvs live; :func:`default_cache_root` when ``None``.
        installer: ``uv``, ``pip``, or ``auto``: uv when it is installed, else pip.
        gpu: Whether a GPU is visible (CUDA environments are skipped without one);
            :func:`gpu_visible` when ``None``.
        timeout: Seconds each installer step may take.

    Returns:
        One report per environment, in order. A failure is a ``failed`` report, never an
        exception, and leaves every other environment, and the earlier one of its name, as
        they were.
    """
    return _run(environments, cache_root, installer, gpu, timeout, install=True)


def check(
    environments: Iterable[Environment],
    *,
    cache_root: Path | None = None,
    gpu: bool | None = None,
) -> list[SyncReport]:
    """What a build can use: :func:`sync`'s answer for each environment, without installing.

    An environment is ``up to date``, ``skipped`` (a CUDA one without a GPU), ``failed`` (its
    Python cannot start, torch cannot be pinned) or ``missing`` (never synced, or synced with
    other requirements), the reason saying how to get it.
    """
    return _run(environments, cache_root, "auto", gpu, _INSTALL_TIMEOUT, install=False)


def _run(
    environments: Iterable[Environment],
    cache_root: Path | None,
    installer: str,
    gpu: bool | None,
    timeout: float,
    *,
    install: bool,
) -> list[SyncReport]:
    if installer not in ("auto", "uv", "pip"):
        raise ValueError(f"installer must be auto, uv or pip, not {installer!r}")
    root = Path(cache_root if cache_root is not None else default_cache_root()).expanduser()
    root = root.absolute()
    reports = []
    torch = running_torch_version()  # once: a metadata read costs milliseconds per environment
    for env in environments:
        if env.device == "cuda" and gpu is None:
            gpu = gpu_visible()
        build = _Build(env, root, installer, timeout, gpu=bool(gpu), torch=torch)
        reports.append(build.run(install=install))
    return reports


class _InstallFailed(Exception):
    """A step of making a venv failed; the message is what the report's reason says."""


@dataclass(frozen=True)
class _Interpreter:
    executable: str
    tag: str  # "cpython-3.11.7", part of the key
    version: str


def _interpreter(python: str | None) -> _Interpreter:
    """The interpreter to build from, and its version (asking it, when it is not this one)."""
    if python is None:
        version = platform.python_version()
        return _Interpreter(sys.executable, f"{sys.implementation.name}-{version}", version)
    executable = shutil.which(python) or python
    probe = (
        "import platform, sys; "
        "print(sys.implementation.name, platform.python_version(), sys.version_info[:2] >= (3, 10))"
    )
    try:
        answer = subprocess.run(
            [executable, "-I", "-c", probe],
            check=False,
            capture_output=True,
            text=True,
            timeout=_QUICK_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise _InstallFailed(f"the Python {python!r} cannot start: {exc}") from None
    fields = answer.stdout.split()
    if answer.returncode != 0 or len(fields) != 3:
        raise _InstallFailed(
            f"the Python {python!r} cannot start (exit {answer.returncode}):\n"
            + _tail(answer.stdout + answer.stderr)
        )
    implementation, version, recent = fields
    if recent != "True":
        minimum = ".".join(map(str, _MIN_PYTHON))
        raise _InstallFailed(
            f"the Python {python!r} is {version}; the refkit worker needs {minimum} or newer"
        )
    return _Interpreter(executable, f"{implementation}-{version}", version)


def _tail(output: str, lines: int = _TAIL_LINES) -> str:
    r"""The last lines of an installer's output, control characters shown as escapes.

    Examples:
        >>> print(_tail("a\nb\n\x1b[31merror\x1b[0m: no such package\n", lines=2))
        b
        \x1b[31merror\x1b[0m: no such package
    """
    kept = [line for line in output.splitlines() if line.strip()][-lines:]
    return printable("\n".join(kept))


_PLANNED = re.compile(r"^\s*\+\s*([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def _cuda_packages(dry_run: str) -> list[str]:
    r"""What in uv's ``--dry-run`` plan is a CUDA build: NVIDIA's and CUDA's wheels, a ``+cu`` torch.

    Examples:
        >>> _cuda_packages(" + torch==2.13.0+cpu\n + sympy==1.14.0\n")
        []
        >>> _cuda_packages(" + cuda-bindings==13.5.0\n + nvidia-cublas==13.1.1.3\n + torch==2.13.0\n")
        ['cuda-bindings==13.5.0', 'nvidia-cublas==13.1.1.3']
        >>> _cuda_packages(" + torch==2.13.0+cu130\n")
        ['torch==2.13.0+cu130']
    """
    found = []
    for raw_name, version in _PLANNED.findall(dry_run):
        name = canonicalize_name(raw_name)
        if name.startswith(("nvidia-", "cuda-")) or (name == "torch" and "+cu" in version):
            found.append(f"{name}=={version}")
    return found


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


_VERSIONS_SCRIPT = (
    "import json, platform\n"
    "from importlib import metadata\n"
    "versions = {d.metadata['Name']: d.version for d in metadata.distributions()"
    " if d.metadata['Name']}\n"
    "print(json.dumps({'python': platform.python_version(), 'versions': versions}))\n"
)


def _load_lock(venv: Path) -> dict[str, Any] | None:
    """The venv's lock as written, or ``None`` when there is none or it is not a JSON object."""
    try:
        lock = json.loads((venv / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return lock if isinstance(lock, dict) else None


def _read_lock(venv: Path, key: str) -> dict[str, Any] | None:
    """The lock of the venv at ``venv`` when it is whole and made for ``key``, else ``None``."""
    lock = _load_lock(venv)
    if lock is None or lock.get("format") != _LOCK_FORMAT or lock.get("key") != key:
        return None
    versions = lock.get("versions")
    if not isinstance(versions, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in versions.items()
    ):
        return None
    return lock


def _executable_identity(python: Path) -> list[object] | None:
    """The file a venv's Python is, past its links: real path, size, modification time.

    ``None`` when it is not there (a link whose interpreter was removed).
    """
    try:
        real = python.resolve(strict=True)
        stat = real.stat()
    except (OSError, RuntimeError):
        return None
    return [str(real), stat.st_size, stat.st_mtime_ns]


def _remember_executable(venv: Path, key: str) -> None:
    """Record the venv's Python as a file in its lock, once it ran, if the lock says otherwise.

    A lock written before locks had it, or an interpreter upgraded in place, which
    :meth:`_Sync.found` had to start.
    """
    lock = _read_lock(venv, key)
    identity = _executable_identity(_venv_python(venv))
    if lock is not None and lock.get("executable") != identity:
        lock["executable"] = identity
        write_atomic(venv / LOCK_NAME, json.dumps(lock, indent=1) + "\n", durable=True)


def _python_runs(python: Path, version: object) -> bool:
    """Whether the venv's Python starts and is the version the lock recorded."""
    try:
        answer = subprocess.run(
            [str(python), "-I", "-c", "import platform; print(platform.python_version())"],
            check=False,
            capture_output=True,
            text=True,
            timeout=_QUICK_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return answer.returncode == 0 and answer.stdout.strip() == version


def _outer_pip() -> list[str] | None:
    """The pip of the Python running refkit, if it can install into another venv (22.3+)."""
    try:
        version = metadata.version("pip")
    except metadata.PackageNotFoundError:
        return None
    try:
        if Version(version) < Version("22.3"):
            return None
    except InvalidVersion:
        return None
    return [sys.executable, "-m", "pip"]


def _find_uv() -> str | None:
    """The uv on ``PATH``, else the binary of the ``uv`` package installed beside refkit."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold a lock on ``folder`` so that two syncs of one environment take turns."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".sync.flock").open("a") as handle:
        try:
            import fcntl
        except ImportError:  # no flock on Windows; the rename still keeps venvs whole
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Build:
    """Sync one environment: find it up to date, or build it beside its place and rename it in."""

    def __init__(
        self,
        env: Environment,
        root: Path,
        installer: str,
        timeout: float,
        *,
        gpu: bool,
        torch: str | None,
    ) -> None:
        self.env = env
        self.torch = torch
        """The torch running here (:func:`running_torch_version`), which a CPU venv is pinned to."""
        self.folder = root / env.name
        self.installer = installer
        self.timeout = timeout
        self.gpu = gpu
        self.started = time.monotonic()
        self.step_env: dict[str, str] = {}
        """The variables each installer step runs with, set by :meth:`build`."""

    def report(self, status: SyncStatus, reason: str = "", **fields: Any) -> SyncReport:
        seconds = round(time.monotonic() - self.started, 3)
        return SyncReport(self.env.name, status, self.env, seconds=seconds, reason=reason, **fields)

    def run(self, *, install: bool) -> SyncReport:
        if self.env.device == "cuda" and not self.gpu:
            return self.report(
                SKIPPED,
                "a CUDA environment needs an NVIDIA GPU, and none is visible here "
                "(`nvidia-smi -L` finds none); its recorded outputs stand in for it",
            )
        try:
            interpreter = _interpreter(self.env.python)
            requirements = pinned_requirements(self.env, self.torch)
        except (_InstallFailed, EnvironmentConfigError) as exc:
            return self.report(FAILED, str(exc))
        key = environment_key(interpreter.tag, requirements, self.env.device)
        venv = self.folder / key
        if not install:
            # No lock taken: a venv appears whole, by a rename, so reading it is safe anyway,
            # and a build must not wait for a sync that takes minutes.
            return self.found(venv, key, requirements) or self.missing(venv, key, requirements)
        with _exclusive(self.folder):
            up_to_date = self.found(venv, key, requirements)
            if up_to_date is not None:
                _remember_executable(venv, key)
                return up_to_date
            earlier = [p for p in self.folder.iterdir() if _KEY.fullmatch(p.name)]
            try:
                lock = self.build(venv, key, interpreter, requirements)
            except _InstallFailed as exc:
                return self.report(FAILED, str(exc), key=key, requirements=requirements)
            replaced = [other for other in earlier if _made_with(other, interpreter)]
            for other in replaced:
                if other != venv:
                    # One venv per environment and Python: the one it had before goes once this
                    # is in place. Another Python's venv (a second checkout's, say) stays.
                    shutil.rmtree(other, ignore_errors=True)
            return self.ready(UPDATED if replaced else CREATED, venv, key, requirements, lock)

    def found(self, venv: Path, key: str, requirements: tuple[str, ...]) -> SyncReport | None:
        """The ``up to date`` report when the venv has its lock and its Python runs.

        Starting the venv's Python takes about 50 ms, on every build, for every environment. It
        is skipped when the interpreter is, as a file, the one that ran when the lock was
        written: the same real path, size and modification time.
        """
        lock = _read_lock(venv, key)
        if lock is None:
            return None
        python = _venv_python(venv)
        identity = _executable_identity(python)
        if identity is None or (
            lock.get("executable") != identity and not _python_runs(python, lock.get("python"))
        ):
            return None
        return self.ready(UP_TO_DATE, venv, key, requirements, lock)

    def missing(self, venv: Path, key: str, requirements: tuple[str, ...]) -> SyncReport:
        earlier = self.folder.is_dir() and any(
            _KEY.fullmatch(p.name) for p in self.folder.iterdir()
        )
        if venv.exists():
            why = "its venv is incomplete or its Python no longer runs"
        elif earlier:
            why = "its requirements (or Python) changed since the last sync"
        else:
            why = "it was never synced"
        return self.report(  # what makes it is said by those who show this: see `absence`
            MISSING,
            why,
            key=key,
            requirements=requirements,
        )

    def ready(
        self,
        status: SyncStatus,
        venv: Path,
        key: str,
        requirements: tuple[str, ...],
        lock: Mapping[str, Any],
    ) -> SyncReport:
        return self.report(
            status,
            path=venv,
            python=_venv_python(venv),
            resolved=MappingProxyType(dict(lock["versions"])),
            key=key,
            requirements=requirements,
            installer=str(lock.get("installer", "")),
            made=str(lock.get("made", "")),
        )

    def build(
        self, venv: Path, key: str, interpreter: _Interpreter, requirements: tuple[str, ...]
    ) -> dict[str, Any]:
        for stale in self.folder.glob(".build-*"):
            # Left by a sync that was killed; this one holds the environment's lock.
            shutil.rmtree(stale, ignore_errors=True)
        uv = _find_uv() if self.installer in ("auto", "uv") else None
        if self.installer == "uv" and uv is None:
            raise _InstallFailed("uv is not installed: `pip install uv`, or use installer pip")
        sources = read_pip_sources()
        self.step_env = dict(os.environ, NO_COLOR="1", UV_PYTHON_DOWNLOADS="never")
        self.step_env.pop("VIRTUAL_ENV", None)  # act on the venv named, never on refkit's own
        if sources.cert and "SSL_CERT_FILE" not in self.step_env:
            self.step_env["SSL_CERT_FILE"] = sources.cert  # the CA bundle pip trusts, for uv too
        temporary = _new_folder(self.folder, f".build-{key}-")
        try:
            python = _venv_python(temporary)
            if uv is not None:
                tool = " ".join(self.step([uv, "--version"]).split()[:2])
                self.step([uv, "venv", "--python", interpreter.executable, str(temporary)])
                install = [uv, *uv_install_arguments(python, sources), *requirements]
                if self.env.device == "cpu":
                    self.refuse_cuda(self.step([*install, "--dry-run"], stderr=True))
                self.step(install)
                freeze = self.step([uv, "pip", "freeze", "--python", str(python)])
            else:
                outer = _outer_pip()
                if outer is not None:
                    # Installing pip into the venv is most of a venv's making (about 7 s): the
                    # pip running refkit installs into it instead (pip's --python, 22.3+).
                    self.step(
                        [interpreter.executable, "-m", "venv", "--without-pip", str(temporary)]
                    )
                    pip = [*outer, "--python", str(python)]
                else:
                    self.step([interpreter.executable, "-m", "venv", str(temporary)])
                    pip = [str(python), "-m", "pip"]
                tool = " ".join(self.step([*pip, "--version"]).split()[:2])
                self.step([*pip, "install", "--no-input", *requirements])
                freeze = self.step([*pip, "freeze"])
            found = json.loads(self.step([str(python), "-I", "-c", _VERSIONS_SCRIPT]))
            lock = {
                "format": _LOCK_FORMAT,
                "name": self.env.name,
                "key": key,
                "device": self.env.device,
                "python": found["python"],
                "interpreter": interpreter.tag,
                "executable": _executable_identity(python),
                "requirements": list(self.env.requirements),
                "installed": list(requirements),
                "installer": tool,
                "sources": sources.as_json(),
                "made": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "seconds": round(time.monotonic() - self.started, 1),
                "freeze": [line for line in freeze.splitlines() if line.strip()],
                "versions": {
                    canonicalize_name(name): version
                    for name, version in sorted(found["versions"].items())
                },
            }
            _relocate(temporary, venv)
            # The lock is the last thing written: a venv is taken as whole only with it.
            write_atomic(temporary / LOCK_NAME, json.dumps(lock, indent=1) + "\n", durable=True)
            self.move_into_place(temporary, venv)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
        return lock

    def refuse_cuda(self, dry_run: str) -> None:
        """Stop before a CPU environment downloads CUDA builds: the pins did not suffice."""
        cuda = _cuda_packages(dry_run)
        if cuda:
            raise _InstallFailed(
                f"refused: this CPU environment would get CUDA builds ({', '.join(cuda)}), "
                "several GB; put a CPU wheel of the torch it needs in pip's find-links (or an "
                "index with CPU builds in its extra-index-url), or declare device: cuda"
            )

    def step(self, command: list[str], *, stderr: bool = False) -> str:
        """Run one installer step; its standard output, or :class:`_InstallFailed`.

        The failure carries the last lines of both streams, standard error last: that is where
        uv and pip say what went wrong.
        """
        shown = " ".join(
            Path(command[0]).name if i == 0 else part for i, part in enumerate(command[:4])
        )
        try:
            done = subprocess.run(
                command,
                check=False,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout,
                env=self.step_env,
                cwd=self.folder,  # not the project's folder, whose uv.toml or pyproject uv reads
            )
        except subprocess.TimeoutExpired as exc:
            partial = "\n".join(
                text if isinstance(text, str) else (text or b"").decode(errors="replace")
                for text in (exc.stdout, exc.stderr)
            )
            raise _InstallFailed(
                f"`{shown} ...` took over {self.timeout:g} s; its last lines:\n{_tail(partial)}"
            ) from None
        except OSError as exc:
            raise _InstallFailed(f"`{shown} ...` could not start: {exc}") from None
        if done.returncode != 0:
            raise _InstallFailed(
                f"`{shown} ...` failed (exit {done.returncode}); its last lines:\n"
                + _tail(f"{done.stdout}\n{done.stderr}")
            )
        return f"{done.stdout}\n{done.stderr}" if stderr else done.stdout

    def move_into_place(self, temporary: Path, venv: Path) -> None:
        if not venv.exists():
            temporary.rename(venv)
            return
        # A venv at this key whose lock is missing or whose Python no longer runs.
        trash = _new_folder(self.folder, ".build-trash-")
        venv.rename(trash / "venv")
        temporary.rename(venv)
        shutil.rmtree(trash, ignore_errors=True)


def _made_with(venv: Path, interpreter: _Interpreter) -> bool:
    """Whether ``venv`` was made from ``interpreter`` (a venv without a readable lock counts)."""
    lock = _load_lock(venv)  # None: half-made or damaged, nobody's environment
    return lock is None or lock.get("interpreter") in (None, interpreter.tag)


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new folder ``<prefix><random>`` in ``parent``, with the umask's permissions.

    Not :func:`tempfile.mkdtemp`, whose folder only its owner may enter: it becomes the venv.
    """
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


def _relocate(built: Path, final: Path) -> None:
    """Point the scripts of a venv built at ``built`` to ``final``, where it is renamed to.

    A venv records its own path in its scripts' ``#!`` lines, its activation scripts and
    ``pyvenv.cfg``; Python itself finds its ``pyvenv.cfg`` beside it, wherever that is.
    """
    old, new = str(built).encode(), str(final).encode()
    bin_folder = _venv_python(built).parent
    for path in [built / "pyvenv.cfg", *bin_folder.iterdir()]:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
            continue
        content = path.read_bytes()
        if old in content:
            path.write_bytes(content.replace(old, new))
