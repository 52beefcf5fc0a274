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
from pathlib import Path
from typing import Any, TypeVar

import click

from refkit.engine import environments
from refkit.engine.atomic import write_atomic
from refkit.engine.discovery import Snippet
from refkit.engine.drift import canonical_text, write_approved
from refkit.engine.environments import Environment, SyncReport, installed_versions
from refkit.engine.project import ProjectConfig, ProjectError, find_project, read_project
from refkit.engine.results import SnippetResult
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


def _describe_failure(result: SnippetResult | None) -> str:
    if result is None:
        return "not run"
    error = result.error
    return f"{result.status}: {error.type}: {error.message}" if error else result.status


def _run(session: BuildSession, snippets: list[Snippet]) -> dict[str, SnippetResult | None]:
    try:
        results, problems = session.run(s.id for s in snippets)
    finally:
        session.close()
    for problem in problems:  # a damaged cache entry, a cache that cannot be written
        click.echo(f"refkit: {printable(str(problem))}", err=True)
    return results


@click.group(help=GROUP_HELP)
def cli() -> None:
    """The refkit command group; its help is GROUP_HELP."""


@cli.command(short_help="Run snippets; fail on drift, an error or no approval.")
@click.argument("ids", nargs=-1)
@click.option("--cached", is_flag=True, help="Reuse cached results when they are current.")
@_settings_flags
def check(ids: tuple[str, ...], cached: bool, **flags: Any) -> None:
    """Run snippets (all by default) and compare their output with the approved one.

    Exits non-zero on drift, on an error, on a snippet never approved, on an unknown id, and
    when no snippet is found at all.
    """
    session, _ = _open(flags, "auto" if cached else "always")
    snippets = _select(session, ids)
    results = _run(session, snippets)
    failed = 0
    for snippet in snippets:
        result = results.get(snippet.id)
        status = session.status(result)
        if status in {"failed", "not run"}:
            click.echo(f"ERROR   {snippet.id}: {printable(_describe_failure(result))}")
            if result is not None and result.error and result.error.traceback:
                click.echo(printable(result.error.traceback.rstrip()))
        elif status == "new":
            click.echo(f"NEW     {snippet.id}: never approved (refkit accept {snippet.id})")
        elif status == "drift":
            assert result is not None
            drift = session.drift_of(result)
            click.echo(f"DRIFT   {snippet.id}\n{printable(drift.diff if drift else '')}")
        else:
            click.echo(f"OK      {snippet.id}")
        failed += status != "approved"
    click.echo(f"{len(snippets) - failed} passed, {failed} failed")
    if session.catalog.errors:
        click.echo(f"{len(session.catalog.errors)} topic module(s) could not be read (see above)")
    if failed or session.catalog.errors:
        sys.exit(1)


@cli.command()
@click.argument("ids", nargs=-1)
@_settings_flags
def accept(ids: tuple[str, ...], **flags: Any) -> None:
    """Record the current outputs as approved."""
    session, _ = _open(flags, "auto")
    snippets = _select(session, ids)
    results = _run(session, snippets)
    failed = 0
    for snippet in snippets:
        result = results.get(snippet.id)
        if result is None or not result.ok:
            click.echo(f"refused {snippet.id}: {printable(_describe_failure(result))}", err=True)
            failed += 1
            continue
        path = write_approved(session.settings.approved_path, result)
        click.echo(f"approved {snippet.id} -> {path}")
    if failed:
        sys.exit(1)


@cli.command(name="list", short_help="List snippets, their pages and status.")
@_settings_flags
def list_snippets(**flags: Any) -> None:
    """List snippets, the pages that embed them and their status, without running anything.

    The status is approved, drift, new (never approved), failed or not run (no cached result
    of the current code).
    """
    session, _ = _open(flags, "never")
    snippets = _select(session, ())
    pages = session.snippet_pages()
    rows = [
        (
            printable(snippet.id),
            session.status(session.cached_result(snippet)),
            printable(", ".join(pages.get(snippet.id, [])) or "(on no page)"),
        )
        for snippet in snippets
    ]
    for line in _columns(rows):
        click.echo(line)


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
@_settings_flags
def run_one(snippet_id: str, **flags: Any) -> None:
    """Run one snippet and print its output."""
    session, _ = _open(flags, "always")
    [snippet] = _select(session, [snippet_id])
    result = _run(session, [snippet])[snippet.id]
    if result is None:
        sys.exit(1)
    click.echo(printable(canonical_text(result)), nl=False)
    if not result.ok:
        error = result.error
        text = (error.traceback or f"{error.type}: {error.message}") if error else result.status
        click.echo(printable(text), err=True)
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
        if not report.ok and report.reason:
            details.append(report.reason)
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
