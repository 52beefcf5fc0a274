"""The ``refkit`` command: check, accept, list and run snippets; add topics; check links.

Every subcommand finds the site's configuration file (from the current folder upward, or
``-f FILE``) and reads refkit's options from it, then from ``REFKIT_*`` variables, then from its
own flags: the same settings, and the same build session, as ``mkdocs build`` and ``zensical
build`` use.

- ``refkit check [ID ...]`` runs snippets (all by default) and exits non-zero on drift from the
  approved output, on an error, on a snippet never approved, on an unknown id, and when there is
  no snippet at all;
- ``refkit accept [ID ...]`` records the current outputs as approved;
- ``refkit list`` lists snippets with their pages and status, without running anything;
- ``refkit run ID`` runs one snippet and prints its output;

  these four take ``-e``/``--env NAME`` (repeatable; ``default``, a declared environment, or
  ``all``), and by default work in every environment available: ``default`` and each declared
  environment a snippet runs in (its topic module's ``ENVIRONMENTS``) that exists here. A
  snippet is then named ``ID`` in ``default`` and ``ID@ENV`` elsewhere, and each environment's
  output is held to, or recorded as, its own approved file (see :mod:`refkit.engine.drift`).
  A declared environment that is not synced is skipped, said once with the ``refkit env sync``
  command that makes it (``check --live-only`` fails on it instead); one named with ``--env``
  must exist, and a name not declared is a usage error listing those that are;
- ``refkit new TOPIC`` scaffolds a topic: its module, its page and its ``nav`` entry (see
  :mod:`refkit.engine.scaffold`);
- ``refkit links`` checks every reference URL (see :mod:`refkit.engine.links`);
- ``refkit env sync [NAME ...]`` creates or updates the site's declared version environments,
  and ``refkit env list`` says which exist, without installing (see
  :mod:`refkit.engine.environments`).

The help the terminal shows is plain text (click prints docstrings as they are), so each
command's docstring is written without markup, and the group's help is :data:`GROUP_HELP`.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from refkit.engine import environments
from refkit.engine.atomic import write_atomic
from refkit.engine.discovery import Snippet
from refkit.engine.drift import canonical_text, write_approved
from refkit.engine.environments import (
    DEFAULT_ENVIRONMENT,
    Environment,
    SyncReport,
    installed_versions,
)
from refkit.engine.project import ProjectConfig, ProjectError, find_project, read_project
from refkit.engine.results import SnippetResult
from refkit.engine.run_environments import (
    absence,
    accept_command,
    remedy,
    undeclared_reason,
)
from refkit.engine.scaffold import (
    ScaffoldError,
    TopicPlan,
    add_to_nav,
    create_topic,
    nav_note_for_toml,
    plan_topic,
)
from refkit.engine.session import BuildSession, PageSource, SessionError
from refkit.engine.settings import OPTIONS, Settings, SettingsError
from refkit.engine.text import printable

__all__ = ["GROUP_HELP", "cli", "main"]

GROUP_HELP = """\
Check, accept, list and run the snippets of a refkit site, add topics, check the
reference links, and make the site's version environments.

Every subcommand finds the site's configuration the way a host does: zensical.toml, mkdocs.yml
or mkdocs.yaml in the current folder or the nearest folder above it (or -f FILE), and reads
refkit's options from it. Flags win over REFKIT_* variables, which win over the file.
"""

F = TypeVar("F", bound=Callable[..., Any])

# Options that make sense per command; `enabled` and `on_error` belong to site builds.
_FLAG_OPTIONS = [o for o in OPTIONS if o.name not in {"enabled", "on_error", "execute"}]
# A mapping option (environments) is JSON text on the command line, as in its variable.
_CLICK_TYPES: dict[type, Any] = {int: int, float: float, str: str, Mapping: str}
# The settings' docs are Markdown (the README's table, the plugin's config); a terminal shows
# `code` better without its backticks.
_MARKDOWN_CODE = re.compile(r"`([^`]+)`")


def _terminal(text: str) -> str:
    """Markdown inline code as plain text, for help shown in a terminal.

    Examples:
        >>> _terminal("`auto` (CUDA when a GPU is visible), `cpu` or `cuda`.")
        'auto (CUDA when a GPU is visible), cpu or cuda.'
    """
    return _MARKDOWN_CODE.sub(r"\1", text)


def _settings_flags(
    command: F, options: Iterable[str] | None = None, *, docs_dir: bool = True
) -> F:
    """Add ``-f``, ``--docs-dir`` and one flag per settings option; values not given are ``None``.

    Args:
        command: The command function.
        options: The names of the options to add (default: every option a command takes).
        docs_dir: Whether to add ``--docs-dir`` (a command that reads no pages takes none).
    """
    wanted = set(options) if options is not None else None
    for option in reversed(_FLAG_OPTIONS):
        if wanted is not None and option.name not in wanted:
            continue
        name = option.name.replace("_", "-")
        help_text = f"{_terminal(option.doc)} [{option.variable}; default: {option.shown_default}]"
        if option.kind is bool:
            # --live-only / --no-live-only; neither given is None, so the lower layers decide.
            command = click.option(
                f"--{name}/--no-{name}", option.name, default=None, help=help_text
            )(command)
            continue
        command = click.option(
            f"--{name}",
            option.name,
            type=click.Choice(option.choices) if option.choices else _CLICK_TYPES[option.kind],
            default=None,
            help=help_text,
        )(command)
    if docs_dir:
        command = click.option(
            "--docs-dir", type=click.Path(path_type=Path), default=None,
            help="The site's pages (default: from the configuration file, else docs).",
        )(command)  # fmt: skip
    return click.option(
        "-f", "--config-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
        help="The site's configuration (default: zensical.toml or mkdocs.yml here or above).",
    )(command)  # fmt: skip


def _project(
    config_file: Path | None, flags: dict[str, Any], *, required: bool = False
) -> tuple[ProjectConfig, Settings]:
    """The project that ``-f`` or the current folder points at, and its settings with ``flags``.

    Args:
        config_file: The ``-f`` flag.
        flags: Values of the settings' flags (``None``: not given).
        required: Refuse to go on without a configuration file (else defaults apply).
    """
    if config_file is not None and not config_file.is_file():
        raise click.UsageError(f"no such configuration file: {config_file}")
    path = config_file or find_project()
    if path is None and required:
        raise click.ClickException(
            f"no zensical.toml, mkdocs.yml or mkdocs.yaml in {Path.cwd()} or above it: run "
            "refkit new inside a site (mkdocs new makes one), or pass -f FILE"
        )
    try:
        project = read_project(path)
        settings = Settings.resolve(
            project.options, flags=flags, project_dir=project.project_dir, config_name=project.name
        )
    except (ProjectError, SettingsError) as exc:
        raise click.ClickException(printable(str(exc)).removeprefix("refkit: ")) from exc
    return project, settings


def _open(flags: dict[str, Any], execute: str) -> tuple[BuildSession, ProjectConfig]:
    """The session of the project that the flags and the current folder point at."""
    config_file, docs_dir = flags.pop("config_file"), flags.pop("docs_dir")
    project, settings = _project(config_file, flags)
    try:
        session = BuildSession.open(settings.with_values(execute=execute))
    except SessionError as exc:
        raise click.ClickException(printable(str(exc)).removeprefix("refkit: ")) from exc
    for problem in session.catalog_problems():
        click.echo(f"refkit: {printable(str(problem))}", err=True)
    pages_dir = docs_dir or project.docs_dir
    session.plan(
        PageSource(page.relative_to(pages_dir).as_posix(), page.read_text(encoding="utf-8"))
        for page in (sorted(pages_dir.rglob("*.md")) if pages_dir.is_dir() else [])
    )
    return session, project


def _select(session: BuildSession, ids: Iterable[str]) -> list[Snippet]:
    snippets = session.catalog.snippets
    wanted = list(ids)
    unknown = [sid for sid in wanted if sid not in snippets]
    if unknown:
        reasons = "; ".join(session.unknown_snippet_reason(sid) for sid in unknown)
        raise click.ClickException(printable(reasons))
    if not wanted and not snippets:
        where = session.settings.package_path
        raise click.ClickException(
            f"no snippets found in {where} (a topic module defines TITLE and demo_* functions); "
            "is package_dir right?"
        )
    return [snippets[sid] for sid in wanted] if wanted else list(snippets.values())


ALL_ENVIRONMENTS = "all"
"""What ``--env`` takes for every environment that exists here (as no ``--env`` at all)."""


def _environment_flag(command: F) -> F:
    """Add ``-e``/``--env NAME``, repeatable; the names given (none: every one available)."""
    return click.option(
        "-e",
        "--env",
        "env_names",
        multiple=True,
        metavar="NAME",
        help=(
            "An environment to work in, repeatable: default, a declared one, or all (every one "
            "that exists here). [default: all]"
        ),
    )(command)


def _label(snippet_id: str, environment: str) -> str:
    """How messages name a snippet in an environment; the default one keeps the bare id.

    Examples:
        >>> _label("m.demo_x", "default"), _label("m.demo_x", "six-old")
        ('m.demo_x', 'm.demo_x@six-old')
    """
    return snippet_id if environment == DEFAULT_ENVIRONMENT else f"{snippet_id}@{environment}"


@dataclass
class _Plan:
    """Where the selected snippets are worked on, and where they cannot be.

    Attributes:
        places: Each selected snippet with each selected environment it runs in, in order.
        absent: A declared environment that does not exist here -> the snippets it left out.
        undeclared: An environment topic modules name but the site does not declare -> the
            snippets naming it.
        reports: Declared environment -> whether it exists (the session's reports).
    """

    places: list[tuple[Snippet, str]] = field(default_factory=list)
    absent: dict[str, list[str]] = field(default_factory=dict)
    undeclared: dict[str, list[str]] = field(default_factory=dict)
    reports: Mapping[str, SyncReport] = field(default_factory=dict)

    @property
    def environments(self) -> set[str]:
        """The environments something runs in."""
        return {environment for _, environment in self.places}


def _plan(
    session: BuildSession,
    snippets: Sequence[Snippet],
    env_names: Sequence[str],
    *,
    ids_named: bool,
    runs: bool = True,
) -> _Plan:
    """Where to work on ``snippets``: the environments ``--env`` selects, among each one's own.

    With no ``--env`` (or ``all``), every environment a snippet declares that exists here;
    ``default`` always does. Environments that do not exist are left out, for the command to
    say so (:attr:`_Plan.absent`, :attr:`_Plan.undeclared`).

    Args:
        session: The open session.
        snippets: The selected snippets.
        env_names: The ``--env`` values.
        ids_named: Whether the snippets were named on the command line (then each must run in
            a selected environment).
        runs: Whether the command runs them: an environment named that does not exist here is
            then an error, and one that does not is left out. ``False`` (``list``): every
            selected environment is a place, existing or not.

    Raises:
        click.UsageError: An environment neither declared, ``default`` nor ``all``; a named
            snippet that runs in none of the environments named.
        click.ClickException: An environment named that does not exist here (``runs``); no
            snippet running in any environment named.
    """
    named = list(dict.fromkeys(name for name in env_names if name != ALL_ENVIRONMENTS))
    every = not env_names or ALL_ENVIRONMENTS in env_names
    # Finding out whether environments exist starts a Python for each: only when it matters.
    others_asked = any(name != DEFAULT_ENVIRONMENT for name in named)
    needed = others_asked or any(len(session.environments_of(s.id)) > 1 for s in snippets)
    reports = session.environment_reports() if needed else {}
    unknown = [name for name in named if name != DEFAULT_ENVIRONMENT and name not in reports]
    if unknown:
        choices = (
            f"declared: {', '.join(reports)}" if reports else "the site declares no environments"
        )
        raise click.UsageError(
            printable(
                f"unknown environment {', '.join(map(repr, unknown))}; {choices} (and "
                f"{DEFAULT_ENVIRONMENT}, the one refkit runs in, or {ALL_ENVIRONMENTS})"
            )
        )
    if runs:
        gone = [reports[name] for name in named if name in reports and not reports[name].ok]
        if gone:
            raise click.ClickException(
                "\n".join(printable(f"environment {r.name!r} {absence(r)}") for r in gone)
            )
    plan = _Plan(reports=reports)
    nowhere = []
    for snippet in snippets:
        declared = session.environments_of(snippet.id)
        for environment in declared:
            report = reports.get(environment)
            exists = environment == DEFAULT_ENVIRONMENT or (report is not None and report.ok)
            if environment in named or (every and (exists or not runs)):
                plan.places.append((snippet, environment))
            elif not every:
                continue  # not selected
            elif report is not None:
                plan.absent.setdefault(environment, []).append(snippet.id)
            else:
                plan.undeclared.setdefault(environment, []).append(snippet.id)
        if ids_named and not every and not set(declared) & set(named):
            nowhere.append(f"{snippet.id} runs in {', '.join(declared)}")
    if nowhere:
        raise click.UsageError(
            printable(f"not in environment {', '.join(named)}: {'; '.join(nowhere)}")
        )
    if not plan.places:
        raise click.ClickException(printable(f"no snippet runs in environment {', '.join(named)}"))
    return plan


def _some(ids: Sequence[str], most: int = 3) -> str:
    """A few ids, then how many more.

    Examples:
        >>> _some(["a", "b"]), _some(["a", "b", "c", "d", "e"])
        ('a, b', 'a, b, c and 2 more')
    """
    shown = ", ".join(ids[:most])
    return f"{shown} and {len(ids) - most} more" if len(ids) > most else shown


def _echo_absent(plan: _Plan, done: str, *, err: bool = False) -> None:
    """Say once per environment that it was skipped as it does not exist, and how to make it.

    Args:
        plan: The plan.
        done: What was not done there, in the past tense (``checked``).
        err: To stderr (a command whose standard output is the snippets' output).
    """
    for environment, ids in plan.absent.items():
        report = plan.reports[environment]
        click.echo(
            printable(
                f"SKIPPED environment {environment}: {_some(ids)} not {done} there, as it "
                f"{absence(report)}"
            ),
            err=err,
        )


def _describe_failure(result: SnippetResult | None, report: SyncReport | None = None) -> str:
    if result is None:
        if report is not None and not report.ok:  # its worker could not start
            return f"not run: environment {report.name} {absence(report)}"
        return "not run"
    error = result.error
    return f"{result.status}: {error.type}: {error.message}" if error else result.status


def _run(session: BuildSession, plan: _Plan) -> dict[tuple[str, str], SnippetResult | None]:
    """Run the plan's places; (snippet id, environment) -> its result there."""
    ids = [snippet.id for snippet, _ in plan.places]
    try:
        _, problems = session.run(ids, environments=plan.environments)
    finally:
        session.close()
    for problem in problems:  # a damaged cache entry, a cache that cannot be written
        click.echo(f"refkit: {printable(str(problem))}", err=True)
    return {
        (snippet.id, environment): session.result(snippet.id, environment)
        for snippet, environment in plan.places
    }


@click.group(help=GROUP_HELP)
def cli() -> None:
    """The refkit command group; its help is GROUP_HELP."""


@cli.command(short_help="Run snippets; fail on drift, an error or no approval.")
@click.argument("ids", nargs=-1)
@click.option("--cached", is_flag=True, help="Reuse cached results when they are current.")
@_environment_flag
@_settings_flags
def check(ids: tuple[str, ...], cached: bool, env_names: tuple[str, ...], **flags: Any) -> None:
    """Run snippets (all by default) and compare their output with the approved one.

    Each snippet is checked in each of its environments that --env selects (by default every
    one that exists here), against the output approved there; a line names it ID in the
    default environment and ID@ENV in another. An environment that is declared but does not
    exist here is skipped, and said so once with the command that makes it (with --live-only
    it fails instead); one named with --env must exist.

    Exits non-zero on drift, on an error, on a snippet never approved, in any environment
    checked; on an unknown id or environment; on an environment a snippet names that the site
    does not declare; and when no snippet is found at all.
    """
    session, _ = _open(flags, "auto" if cached else "always")
    snippets = _select(session, ids)
    plan = _plan(session, snippets, env_names, ids_named=bool(ids))
    results = _run(session, plan)
    failed = 0
    for snippet, environment in plan.places:
        result = results.get((snippet.id, environment))
        label = _label(snippet.id, environment)
        status = session.status(result, environment)
        if status in {"failed", "not run"}:
            failure = _describe_failure(result, plan.reports.get(environment))
            click.echo(f"ERROR   {printable(label)}: {printable(failure)}")
            if result is not None and result.error and result.error.traceback:
                click.echo(printable(result.error.traceback.rstrip()))
        elif status == "new":
            accept_it = accept_command(snippet.id, environment)
            click.echo(f"NEW     {printable(label)}: never approved ({printable(accept_it)})")
        elif status == "drift":
            assert result is not None
            drift = session.drift_of(result, environment)
            click.echo(f"DRIFT   {printable(label)}\n{printable(drift.diff if drift else '')}")
        else:
            click.echo(f"OK      {printable(label)}")
        failed += status != "approved"
    checked = len(plan.places)
    # An environment the site does not declare is a mistake in the topic (pages warn of it).
    missed = [
        (snippet_id, env, undeclared_reason(env, plan.reports))
        for env, snippet_ids in plan.undeclared.items()
        for snippet_id in snippet_ids
    ]
    skipped = 0
    if session.settings.live_only:
        # Declared but not here: with live_only, a failure rather than a skip, as in a build.
        missed += [
            (
                snippet_id,
                env,
                f"environment {env} {absence(plan.reports[env])}, and live_only is set",
            )
            for env, snippet_ids in plan.absent.items()
            for snippet_id in snippet_ids
        ]
    else:
        skipped = sum(len(ids) for ids in plan.absent.values())
        _echo_absent(plan, "checked")
    for snippet_id, environment, reason in missed:
        click.echo(f"ERROR   {printable(_label(snippet_id, environment))}: {printable(reason)}")
    checked += len(missed)
    failed += len(missed)
    summary = f"{checked - failed} passed, {failed} failed"
    click.echo(summary + (f", {skipped} skipped" if skipped else ""))
    if session.catalog.errors:
        click.echo(f"{len(session.catalog.errors)} topic module(s) could not be read (see above)")
    if failed or session.catalog.errors:
        sys.exit(1)


@cli.command(short_help="Record the current outputs as approved.")
@click.argument("ids", nargs=-1)
@_environment_flag
@_settings_flags
def accept(ids: tuple[str, ...], env_names: tuple[str, ...], **flags: Any) -> None:
    """Record the current outputs as approved (all snippets by default).

    In each environment that --env selects (by default every one that exists here): the
    default environment's output goes to approved/MODULE/FUNCTION.txt, another's to
    FUNCTION@ENV.txt with the stamp of its run beside it (FUNCTION@ENV.stamp). Only an output
    the environment gave here is recorded: one that does not exist is skipped, and said so.
    Exits non-zero when an output is refused (the snippet failed there), on an unknown id or
    environment, and on an environment named that does not exist here.
    """
    session, _ = _open(flags, "auto")
    snippets = _select(session, ids)
    plan = _plan(session, snippets, env_names, ids_named=bool(ids))
    results = _run(session, plan)
    failed = 0
    for snippet, environment in plan.places:
        result = results.get((snippet.id, environment))
        label = printable(_label(snippet.id, environment))
        if result is None or not result.ok:
            failure = _describe_failure(result, plan.reports.get(environment))
            click.echo(f"refused {label}: {printable(failure)}", err=True)
            failed += 1
            continue
        versions = session.stamp_versions(environment)
        path = write_approved(session.settings.approved_path, result, environment, versions)
        click.echo(f"approved {label} -> {printable(str(path))}")
    _echo_absent(plan, "recorded", err=True)
    for environment, snippet_ids in plan.undeclared.items():
        reason = f"{_some(snippet_ids)} {undeclared_reason(environment, plan.reports)}"
        click.echo(f"refkit: not recorded: {printable(reason)}", err=True)
    if failed:
        sys.exit(1)


@cli.command(name="list", short_help="List snippets, their pages and status.")
@_environment_flag
@_settings_flags
def list_snippets(env_names: tuple[str, ...], **flags: Any) -> None:
    """List snippets, the pages that embed them and their status, without running anything.

    The status is approved, drift, new (never approved), failed or not run (no cached result
    of the current code). A snippet that runs in other environments than default has a line
    per environment, ID@ENV, for each one --env selects (by default all it declares): its
    status there, or, for an environment that does not exist here, env missing, env skipped
    or env failed (then why, under the table), and env undeclared for one the site does not
    declare.
    """
    session, _ = _open(flags, "never")
    snippets = _select(session, ())
    plan = _plan(session, snippets, env_names, ids_named=False, runs=False)
    pages = session.snippet_pages()
    rows = []
    for snippet, environment in plan.places:
        report = plan.reports.get(environment)
        status: str
        if environment == DEFAULT_ENVIRONMENT or (report is not None and report.ok):
            status = session.status(session.cached_result(snippet, environment), environment)
        else:
            status = f"env {report.status}" if report is not None else "env undeclared"
        where = ", ".join(pages.get(snippet.id, [])) or "(on no page)"
        rows.append((printable(_label(snippet.id, environment)), status, printable(where)))
    for line in _columns(rows):
        click.echo(line)
    for environment in sorted(plan.environments - {DEFAULT_ENVIRONMENT}):
        report = plan.reports.get(environment)
        if report is None:
            click.echo(printable(f"{environment}: not declared by the site"))
        elif not report.ok:
            click.echo(printable(f"{environment}: {absence(report)}"))


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines of left-aligned columns as wide as their widest cell; the last is unpadded.

    Examples:
        >>> _columns([("a.demo_x", "new", "p.md:3"), ("long.demo_name", "approved", "q.md:1")])
        ['a.demo_x       new      p.md:3', 'long.demo_name approved q.md:1']
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)] if rows else []
    return [
        " ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


@cli.command(name="run", short_help="Run one snippet and print its output.")
@click.argument("snippet_id")
@_environment_flag
@_settings_flags
def run_one(snippet_id: str, env_names: tuple[str, ...], **flags: Any) -> None:
    """Run one snippet and print its output.

    In each of its environments that --env selects (by default every one that exists here),
    each output under a line === ENV === when there is more than one. Exits 1 when it fails
    anywhere, and on an environment named that does not exist here.
    """
    session, _ = _open(flags, "always")
    [snippet] = _select(session, [snippet_id])
    plan = _plan(session, [snippet], env_names, ids_named=True)
    results = _run(session, plan)
    _echo_absent(plan, "run", err=True)
    for environment, snippet_ids in plan.undeclared.items():
        reason = f"{_some(snippet_ids)} {undeclared_reason(environment, plan.reports)}"
        click.echo(f"refkit: not run: {printable(reason)}", err=True)
    failed = False
    for _, environment in plan.places:
        if len(plan.places) > 1:
            click.echo(f"=== {printable(environment)} ===")
        result = results[(snippet.id, environment)]
        if result is None:
            failure = _describe_failure(result, plan.reports.get(environment))
            click.echo(printable(f"refkit: {failure}"), err=True)
            failed = True
            continue
        click.echo(printable(canonical_text(result)), nl=False)
        if not result.ok:
            error = result.error
            text = (error.traceback or f"{error.type}: {error.message}") if error else result.status
            click.echo(printable(text), err=True)
            failed = True
    if failed:
        sys.exit(1)


@cli.command(name="new", short_help="Add a topic: its module, its page and its nav entry.")
@click.argument("topic")
@click.option("--title", default=None, help="The topic's title (default: its name as words).")
@functools.partial(_settings_flags, options=["package_dir"])
def new_topic(
    topic: str,
    title: str | None,
    package_dir: str | None,
    docs_dir: Path | None,
    config_file: Path | None,
) -> None:
    """Add the topic TOPIC to the site: a topic module, its page and its place in nav.

    Creates TOPIC.py in the package folder, with a docstring, TITLE, REFERENCES and one
    demonstration whose doctest passes, and topics/TOPIC.md in the docs folder, whose front
    matter names the topic and which embeds that demonstration. The page is added to the
    Topics section of nav in mkdocs.yml when there is one; zensical.toml is not edited.

    Refuses, changing nothing, a name that is not a Python module name or that is the name of
    a standard-library or installed module, and a topic whose module or page already exists.
    """
    project, settings = _project(config_file, {"package_dir": package_dir}, required=True)
    assert project.path is not None  # required above
    config_path = project.path
    try:
        plan = plan_topic(
            topic,
            package_dir=settings.package_path,
            docs_dir=(docs_dir or project.docs_dir).resolve(),
            title=title,
        )
        created = create_topic(plan)
    except (ScaffoldError, OSError) as exc:
        raise click.ClickException(printable(str(exc)).removeprefix("refkit: ")) from exc
    shown = functools.partial(_shown, project_dir=project.project_dir)
    for path in created:
        click.echo(f"created {printable(shown(path))}")
    click.echo(printable(_add_page_to_nav(config_path, plan)))
    # This repository serves through scripts/dev (it installs first); other sites their host.
    if (project.project_dir / "scripts" / "dev").is_file():
        serve = "scripts/dev serve"
    else:
        serve = "zensical serve" if config_path.suffix == ".toml" else "mkdocs serve"
    module, page = printable(shown(plan.module_path)), printable(shown(plan.page_path))
    click.echo(
        "\nNext steps:\n"
        f"  1. Write the topic in {module}: its docstring, TITLE, REFERENCES and one\n"
        f"     demo_* function per claim; and the page's prose in {page}.\n"
        f"  2. python -m doctest {module}\n"
        f"  3. {serve}   (and open the page)\n"
        f"  4. refkit accept {printable(plan.snippet_id)}   (once its output is right)"
    )


def _add_page_to_nav(config: Path, plan: TopicPlan) -> str:
    """Add the new page to the nav of ``mkdocs.yml``; what was done, or what to do by hand."""
    try:
        text = config.read_text(encoding="utf-8")
        if config.suffix == ".toml":
            return nav_note_for_toml(text, plan.nav_entry, name=config.name)
        edit = add_to_nav(text, plan.nav_entry, plan.title, name=config.name)
        if edit.text is not None:
            write_atomic(config, edit.text)
    except (OSError, UnicodeDecodeError) as exc:
        return f"{config} could not be edited ({exc}); add '- {plan.nav_entry}' to its nav"
    return edit.note


def _shown(path: Path, project_dir: Path) -> str:
    """A path as a command typed here can use it: relative to the current folder in a project."""
    here = Path.cwd().resolve()
    if here == project_dir or project_dir in here.parents:
        return Path(os.path.relpath(path, here)).as_posix()
    return os.fspath(path)


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
    short_help="Check every reference URL (refkit links --help: its options).",
)
@click.option("-f", "--config-file", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.pass_context
def links(ctx: click.Context, config_file: Path | None) -> None:
    """Check every reference URL of the topics; refkit links --help lists its options."""
    from refkit.engine.links import main as check_links

    _, settings = _project(config_file, {})
    argv = list(ctx.args)
    if "--cache" not in argv and not any(a.startswith("--cache=") for a in argv):
        argv += ["--cache", str(settings.cache_path / "links.json")]
    sys.exit(check_links(argv, package_dir=settings.package_path))


@cli.group(name="env", short_help="Make and list the site's version environments.")
def env_group() -> None:
    """Make and list the version environments the site declares.

    They are declared under environments in refkit's options (mkdocs.yml's refkit entry, or
    REFKIT_ENVIRONMENTS as JSON). The environment refkit itself runs in is default and is never
    declared or synced.
    """


_ENVIRONMENT_FLAGS = functools.partial(
    _settings_flags, options=["environments", "environments_dir"], docs_dir=False
)


@env_group.command(name="sync", short_help="Create or update the declared environments.")
@click.argument("names", nargs=-1)
@click.option(
    "--installer",
    type=click.Choice(["auto", "uv", "pip"]),
    default="auto",
    show_default=True,
    help="What installs the packages; auto: uv when it is installed, else pip.",
)
@_ENVIRONMENT_FLAGS
def env_sync(
    names: tuple[str, ...], installer: str, config_file: Path | None, **flags: Any
) -> None:
    """Create or update the declared environments (all, or the NAMEs given).

    An environment already up to date costs no install, so a second sync takes seconds. Torch,
    when an environment gets it, is pinned to the CPU build running here on a machine without
    a GPU. Prints one line per environment: its name, status, seconds, the versions its outputs'
    stamps show, and its folder, then why for one that failed. Exits 1 if any failed.
    """
    settings, wanted = _declared(config_file, flags, names)
    if not wanted:
        return
    reports = []
    for env in wanted:
        # An install takes minutes: say which one is under way, on stderr, before the table.
        click.echo(f"refkit: syncing {printable(env.name)} ...", err=True)
        reports.extend(
            environments.sync(
                [env],
                cache_root=settings.environments_path,
                installer=installer,  # type: ignore[arg-type]  # click.Choice checked it
            )
        )
    _echo_environments(reports)
    if any(report.status == environments.FAILED for report in reports):
        sys.exit(1)


@env_group.command(name="list", short_help="List the declared environments, without installing.")
@click.argument("names", nargs=-1)
@_ENVIRONMENT_FLAGS
def env_list(names: tuple[str, ...], config_file: Path | None, **flags: Any) -> None:
    """List the declared environments (all, or the NAMEs given) and whether they exist.

    Installs nothing. The status is up to date, missing (never synced, or synced with other
    requirements: refkit env sync makes it), skipped (a CUDA environment on a machine without
    a GPU) or failed; each line is followed by the environment's requirements.
    """
    settings, wanted = _declared(config_file, flags, names)
    if wanted:
        _echo_environments(
            environments.check(wanted, cache_root=settings.environments_path),
            requirements=True,
        )


def _declared(
    config_file: Path | None, flags: dict[str, Any], names: Sequence[str]
) -> tuple[Settings, list[Environment]]:
    """The settings, and the declared environments named (all when none is named).

    Raises:
        click.UsageError: A name that is not declared; the message lists those that are.
    """
    _, settings = _project(config_file, flags)
    declared = settings.declared_environments
    unknown = [name for name in names if name not in declared]
    if unknown:
        listed = ", ".join(declared) or "none"
        default = (
            f" ({environments.DEFAULT_ENVIRONMENT} is the environment refkit runs in, never synced)"
            if environments.DEFAULT_ENVIRONMENT in unknown
            else ""
        )
        raise click.UsageError(
            printable(
                f"unknown environment {', '.join(map(repr, unknown))}{default}; declared: {listed}"
            )
        )
    if not declared:
        click.echo(
            "No environments are declared: add them under environments in refkit's options "
            "(mkdocs.yml's refkit entry), e.g.\n"
            "  environments:\n"
            "    transformers-4.57:\n"
            "      requirements: [transformers==4.57.6]"
        )
        return settings, []
    named = [declared[name] for name in dict.fromkeys(names)]  # each once, in the order given
    return settings, named or list(declared.values())


def _echo_environments(reports: Sequence[SyncReport], *, requirements: bool = False) -> None:
    """One aligned line per report (name, status, seconds, stamp versions, folder), then details.

    Under a line: the requirements when ``requirements``, and the reason for one that is not
    ready (an installer's last lines, already escaped).
    """
    rows = [_environment_row(report) for report in reports]
    for line, report in zip(_columns(rows), reports, strict=True):
        click.echo(line)
        details = []
        if requirements:
            declared = " ".join(report.environment.requirements) or "(none)"
            details.append(f"requirements: {declared}")
            if report.requirements and report.requirements != report.environment.requirements:
                details.append(f"installs: {' '.join(report.requirements)}")
        if not report.ok:
            details += [report.reason] if report.reason else []
            details += [fix] if (fix := remedy(report)) else []
        for detail in details:
            click.echo(printable("\n".join(f"    {part}" for part in detail.splitlines())))


def _environment_row(report: SyncReport) -> tuple[str, ...]:
    """The cells of one environment's line.

    Examples:
        >>> from refkit.engine.environments import Environment
        >>> report = SyncReport("t", "up to date", Environment("t"), path=Path("/e/t/k"),
        ...                     resolved={"torch": "2.13.0", "six": "1"}, seconds=0.25)
        >>> _environment_row(report)
        ('t', 'up to date', '0.2 s', 'torch 2.13.0', '/e/t/k')
    """
    versions = ", ".join(
        f"{name} {version}" for name, version in installed_versions(report).items()
    )
    return (
        printable(report.name),
        report.status,
        f"{report.seconds:.1f} s",
        printable(versions) or "-",
        printable(str(report.path)) if report.path is not None else "-",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``refkit`` console command; returns the exit code."""
    try:
        cli.main(args=argv, prog_name="refkit", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 1
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
