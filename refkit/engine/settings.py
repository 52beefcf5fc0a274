"""Every refkit option, defined once: name, type, default, meaning and environment variable.

Each front door reads the options from its host's configuration (the ``refkit`` entry under
``plugins`` in ``mkdocs.yml``, or the ``refkit`` extension's options under Zensical), then from
the environment (``REFKIT_<NAME>``), then from command-line flags, each layer winning over the
one before. :meth:`Settings.resolve` does that, and says which layer held a bad value.

The MkDocs config class, the Markdown extension's ``config`` and the command-line flags are all
generated from :data:`OPTIONS`, so they cannot disagree.

One option is a mapping: ``environments``, the version environments a site declares (see
:mod:`refkit.engine.environments`). From the environment variable and from a flag it is JSON
text; the settings hold it as a tuple of :class:`~refkit.engine.environments.Environment`, so
that settings stay hashable and comparable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from refkit.engine.environments import Environment, EnvironmentConfigError, parse_environments

__all__ = [
    "DEVICES",
    "EXECUTE_MODES",
    "ON_ERROR_MODES",
    "OPTIONS",
    "Option",
    "Settings",
    "SettingsError",
    "options_table",
]

EXECUTE_MODES = ("auto", "always", "never")
DEVICES = ("auto", "cpu", "cuda")
ON_ERROR_MODES = ("fail", "warn")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """An option with a value that cannot be used; the message names where it was set."""


def _option(
    default: Any,
    doc: str,
    *,
    kind: type | None = None,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    runs: bool = False,
    blank: bool = False,
    declared: Any = None,
) -> Any:
    """A settings field; ``runs``: what a run gives depends on it (see :meth:`Settings.same_runs`).

    ``blank``: empty text is a value (it means "the default place"); ``declared``: the default
    as a host's configuration writes it, when the field holds it in another form (a mapping
    held as a tuple).
    """
    metadata = {"doc": doc, "kind": kind or type(default), "choices": choices, "min": minimum}
    metadata |= {"blank": blank, "declared": default if declared is None else declared}
    return field(default=default, metadata={**metadata, "runs": runs})


@dataclass(frozen=True)
class Settings:
    """The resolved options of one build; paths are relative to :attr:`project_dir`.

    Examples:
        >>> s = Settings.resolve({"jobs": 4}, environ={"REFKIT_EXECUTE": "never"})
        >>> s.jobs, s.execute, s.timeout
        (4, 'never', 120.0)
    """

    enabled: bool = _option(True, "Run refkit at all; when false, directives stay as text.")
    execute: str = _option(
        "auto",
        "`auto`: run what is missing or stale and use the cache for the rest; `always`: run "
        "everything; `never`: cache only, a missing output is a visible placeholder.",
        choices=EXECUTE_MODES,
    )
    timeout: float = _option(
        120.0,
        "Seconds one snippet may run before it is killed; its page then shows a timeout panel.",
        kind=float,
        minimum=0.1,
        runs=True,
    )
    device: str = _option(
        "auto",
        "Where snippets put tensors: `auto` (CUDA when a GPU is visible), `cpu` or `cuda`.",
        choices=DEVICES,
        runs=True,
    )
    jobs: int = _option(2, "How many snippets run at the same time.", minimum=1, runs=True)
    max_output: int = _option(
        200_000,
        "Characters of output one snippet may produce; what is past it is cut, with a note.",
        minimum=100,
        runs=True,
    )
    memory_limit: int = _option(
        -1,
        "MiB of memory one snippet, with the processes it starts, may use before it is killed; "
        "its page then shows a crash panel. `-1`: half of this machine's memory; `0`: no limit.",
        minimum=-1,
        runs=True,
    )
    on_error: str = _option(
        "fail",
        "A snippet that raises: `fail` stops a one-off build, `warn` logs a warning (which "
        "`--strict` fails on). A timeout or a crash is always a warning and a panel.",
        choices=ON_ERROR_MODES,
    )
    package_dir: str = _option("refkit", "Folder of the topic modules.", runs=True)
    cache_dir: str = _option(
        ".refkit-cache",
        "Folder of cached results and the link report. Outside `.cache/`, which "
        "`zensical build --clean` deletes whole.",
    )
    approved_dir: str = _option("approved", "Folder of approved outputs.")
    # Not `runs`: the default environment's worker runs as it did whatever others are declared.
    environments: tuple[Environment, ...] = _option(
        (),
        "Named version environments besides the one refkit runs in: a mapping of names to "
        "`requirements` (and optionally `device`, `variables`, `python`, `add_torch`), as "
        "JSON text in the variable and the flag. `refkit env sync` makes them.",
        kind=Mapping,
        declared=MappingProxyType({}),
    )
    environments_dir: str = _option(
        "",
        "Folder the synced environments live in; empty: the per-user cache "
        "(`~/.cache/refkit/environments`, under `$XDG_CACHE_HOME` when set).",
        blank=True,
    )
    live_only: bool = _option(
        False,
        "Fail when an environment is missing instead of showing its recorded output.",
    )
    project_dir: Path = field(default=Path(), metadata={"internal": True, "runs": True})
    """The folder of the host's configuration file, which relative paths start from."""

    @classmethod
    def resolve(
        cls,
        config: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        flags: Mapping[str, Any] | None = None,
        project_dir: Path | None = None,
        config_name: str = "mkdocs.yml",
    ) -> Settings:
        """Options from the host's config, then the environment, then flags (each wins).

        Args:
            config: The host's options for refkit (unknown names are an error).
            environ: The environment; ``os.environ`` when ``None``.
            flags: Command-line values; ``None`` values mean "not given".
            project_dir: Where relative paths start: the folder of the config file.
            config_name: How to name the config in messages.

        Raises:
            SettingsError: A value of the wrong type or out of range, naming its source.

        Examples:
            >>> Settings.resolve({"timeout": "soon"})
            Traceback (most recent call last):
            ...
            refkit.engine.settings.SettingsError: mkdocs.yml: refkit option 'timeout': expected a number, got 'soon'
            >>> Settings.resolve(environ={"REFKIT_JOBS": "0"})
            Traceback (most recent call last):
            ...
            refkit.engine.settings.SettingsError: REFKIT_JOBS=0: must be at least 1
            >>> Settings.resolve({"jobs": 3}, environ={"REFKIT_JOBS": "1"}, flags={"jobs": None}).jobs
            1
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, raw in (config or {}).items():
            option = _BY_NAME.get(name)
            if option is None:
                known = ", ".join(_BY_NAME)
                raise SettingsError(
                    f"{config_name}: unknown refkit option {name!r} (known: {known})"
                )
            values[name] = option.convert(raw, f"{config_name}: refkit option {name!r}")
        for option in OPTIONS:
            raw = env.get(option.variable, "").strip()
            if raw:
                # A mapping's JSON is too long to repeat; the message names the variable.
                source = option.variable if option.kind is Mapping else f"{option.variable}={raw}"
                values[option.name] = option.convert(raw, source)
        for name, raw in (flags or {}).items():
            if raw is not None:
                option = _BY_NAME[name]
                values[name] = option.convert(raw, f"--{name.replace('_', '-')}")
        return cls(**values, project_dir=(project_dir or Path.cwd()).resolve())

    def path(self, value: str) -> Path:
        """A path option made absolute, relative to the project folder.

        Examples:
            >>> Settings(project_dir=Path("/p")).path("refkit").as_posix()
            '/p/refkit'
        """
        return self.project_dir / value

    @property
    def package_path(self) -> Path:
        """The folder of the topic modules."""
        return self.path(self.package_dir)

    @property
    def cache_path(self) -> Path:
        """The folder of the result cache."""
        return self.path(self.cache_dir)

    @property
    def approved_path(self) -> Path:
        """The folder of approved outputs."""
        return self.path(self.approved_dir)

    @property
    def environments_path(self) -> Path | None:
        """The folder of synced environments; ``None``: the per-user cache.

        ``None`` lets :func:`~refkit.engine.environments.default_cache_root` decide, as
        :func:`~refkit.engine.environments.sync` does when given no folder.

        Examples:
            >>> Settings(project_dir=Path("/p"), environments_dir="envs").environments_path
            PosixPath('/p/envs')
            >>> Settings(project_dir=Path("/p")).environments_path is None
            True
        """
        if not self.environments_dir:
            return None
        return self.path(str(Path(self.environments_dir).expanduser()))

    @property
    def declared_environments(self) -> dict[str, Environment]:
        """The declared environments by name, in the order declared."""
        return {env.name: env for env in self.environments}

    def same_runs(self, other: Settings) -> bool:
        """Whether snippets run as they do under ``other``: the same worker, the same outputs.

        The options marked ``runs`` in the model decide (the topic package, the device, the
        worker's jobs, the limits of a run); the others (``execute``, ``on_error``, the cache and
        approved folders) change what a build does with results, not what a run gives.

        Examples:
            >>> Settings(jobs=2).same_runs(Settings(jobs=2, execute="never"))
            True
            >>> Settings(jobs=2).same_runs(Settings(jobs=3))
            False
        """
        return all(getattr(self, name) == getattr(other, name) for name in _RUN_FIELDS)

    def with_values(self, **values: Any) -> Settings:
        """A copy with some options replaced (values already of the right type)."""
        return replace(self, **values)


@dataclass(frozen=True)
class Option:
    """One option as the front doors describe it.

    Attributes:
        name: The option's name in ``mkdocs.yml`` / ``zensical.toml``.
        kind: ``bool``, ``int``, ``float``, ``str`` or ``Mapping``.
        default: Its value when nothing sets it, as a host's configuration writes it.
        doc: One sentence for docs and ``--help``.
        choices: The allowed values of a choice option, else empty.
        minimum: The smallest allowed number, or ``None``.
        blank: Whether empty text is a value rather than a mistake.
    """

    name: str
    kind: type
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    blank: bool = False

    @property
    def variable(self) -> str:
        """The environment variable that sets it.

        Examples:
            >>> OPTIONS[0].variable
            'REFKIT_ENABLED'
        """
        return f"REFKIT_{self.name.upper()}"

    @property
    def shown_default(self) -> str:
        """The default as the docs and ``--help`` show it.

        Examples:
            >>> [o.shown_default for o in OPTIONS if o.name in ("enabled", "timeout", "environments")]
            ['true', '120', '{}']
        """
        value = self.default
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, Mapping):
            return json.dumps(dict(value))
        return str(value) if value != "" else '""'

    def convert(self, raw: Any, source: str) -> Any:
        """``raw`` as this option's type; text (from the environment or flags) is parsed.

        Raises:
            SettingsError: Naming ``source`` and what was expected.

        Examples:
            >>> _BY_NAME["enabled"].convert("off", "REFKIT_ENABLED=off")
            False
            >>> _BY_NAME["device"].convert("CUDA", "REFKIT_DEVICE=CUDA")
            'cuda'
            >>> _BY_NAME["environments"].convert('{"old": {"requirements": ["six"]}}', "E")
            (Environment(name='old', requirements=('six',), device='cpu', variables=mappingproxy({}), python=None, add_torch=True),)
        """
        if self.kind is Mapping:
            return _environments(raw, source)
        value = self._typed(raw, source)
        if self.choices and value not in self.choices:
            raise SettingsError(f"{source}: {value!r} is not one of {', '.join(self.choices)}")
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(f"{source}: must be at least {self.minimum:g}")
        return value

    def _typed(self, raw: Any, source: str) -> Any:
        text = raw.strip() if isinstance(raw, str) else None
        if self.kind is bool:
            if isinstance(raw, bool):
                return raw
            if text is not None and text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise SettingsError(f"{source}: expected true or false, got {raw!r}")
        if self.kind in (int, float):
            if isinstance(raw, bool):
                raise SettingsError(f"{source}: expected a number, got {raw!r}")
            number: float | None
            if isinstance(raw, int | float):
                number = raw
            else:
                try:
                    number = self.kind(text) if text is not None else None
                except ValueError:
                    number = None
            if number is None or (self.kind is int and number != int(number)):
                kind = "a whole number" if self.kind is int else "a number"
                raise SettingsError(f"{source}: expected {kind}, got {raw!r}")
            return self.kind(number)
        if text is None or (not text and not self.blank):
            raise SettingsError(f"{source}: expected text, got {raw!r}")
        return text.lower() if self.choices else text


def _environments(raw: Any, source: str) -> tuple[Environment, ...]:
    """The ``environments`` option: a mapping, JSON text of one, or environments already made.

    Raises:
        SettingsError: Not a mapping, or a declaration :func:`parse_environments` refuses;
            the message names ``source``, the environment and its field.

    Examples:
        >>> _environments('{"Old": {}}', "REFKIT_ENVIRONMENTS")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        refkit.engine.settings.SettingsError: REFKIT_ENVIRONMENTS: refkit environment 'Old': a name is ...
        >>> _environments("[1]", "REFKIT_ENVIRONMENTS")
        Traceback (most recent call last):
        ...
        refkit.engine.settings.SettingsError: REFKIT_ENVIRONMENTS: refkit environments: must be a mapping of names to environments, not [1]
    """
    if isinstance(raw, tuple) and all(isinstance(env, Environment) for env in raw):
        return raw  # from Settings.with_values or a host that resolved them already
    if isinstance(raw, str):
        if not raw.strip():
            return ()
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise SettingsError(
                f"{source}: expected a JSON object of environments ({exc})"
            ) from None
    try:
        return tuple(parse_environments(raw).values())
    except EnvironmentConfigError as exc:
        raise SettingsError(f"{source}: {exc}") from exc


OPTIONS: tuple[Option, ...] = tuple(
    Option(
        name=f.name,
        kind=f.metadata["kind"],
        default=f.metadata["declared"],
        doc=f.metadata["doc"],
        choices=f.metadata["choices"],
        minimum=f.metadata["min"],
        blank=f.metadata["blank"],
    )
    for f in fields(Settings)
    if not f.metadata.get("internal")
)
"""Every option, in the order the docs list them."""

_BY_NAME = {option.name: option for option in OPTIONS}
_RUN_FIELDS = tuple(f.name for f in fields(Settings) if f.metadata.get("runs"))


def options_table(options: Iterable[Option] = OPTIONS) -> str:
    """The options as a Markdown table, for the README and ``--help``.

    Examples:
        >>> print(options_table(OPTIONS[:1]))
        | option | environment | default | meaning |
        | --- | --- | --- | --- |
        | `enabled` | `REFKIT_ENABLED` | `true` | Run refkit at all; when false, directives stay as text. |
    """
    rows = [f"| `{o.name}` | `{o.variable}` | `{o.shown_default}` | {o.doc} |" for o in options]
    return "\n".join(
        ["| option | environment | default | meaning |", "| --- | --- | --- | --- |", *rows]
    )
