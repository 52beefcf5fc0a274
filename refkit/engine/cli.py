"""The ``refkit`` command: check, accept, list and run snippets; check reference links.

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
- ``refkit links`` checks every reference URL (see :mod:`refkit.engine.links`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from refkit.engine.discovery import Snippet
from refkit.engine.drift import canonical_text, write_approved
from refkit.engine.project import ProjectConfig, ProjectError, find_project, read_project
from refkit.engine.results import SnippetResult
from refkit.engine.session import BuildSession, PageSource, SessionError
from refkit.engine.settings import OPTIONS, Settings, SettingsError
from refkit.engine.text import printable

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])

# Options that make sense per command; `enabled` and `on_error` belong to site builds.
_FLAG_OPTIONS = [o for o in OPTIONS if o.name not in {"enabled", "on_error", "execute"}]
_CLICK_TYPES: dict[type, Any] = {int: int, float: float, str: str}


def _settings_flags(command: F) -> F:
    """Add ``-f`` and one flag per settings option; values not given stay ``None``."""
    for option in reversed(_FLAG_OPTIONS):
        command = click.option(
            f"--{option.name.replace('_', '-')}",
            option.name,
            type=click.Choice(option.choices) if option.choices else _CLICK_TYPES[option.kind],
            default=None,
            help=f"{option.doc} [{option.variable}; default: {option.default}]",
        )(command)
    command = click.option(
        "--docs-dir", type=click.Path(path_type=Path), default=None,
        help="The site's pages (default: from the configuration file, else docs).",
    )(command)  # fmt: skip
    return click.option(
        "-f", "--config-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
        help="The site's configuration (default: zensical.toml or mkdocs.yml here or above).",
    )(command)  # fmt: skip


def _open(flags: dict[str, Any], execute: str) -> tuple[BuildSession, ProjectConfig]:
    """The session of the project that the flags and the current folder point at."""
    config_file = flags.pop("config_file")
    docs_dir = flags.pop("docs_dir")
    if config_file is not None and not config_file.is_file():
        raise click.UsageError(f"no such configuration file: {config_file}")
    try:
        project = read_project(config_file or find_project())
        settings = Settings.resolve(
            project.options,
            flags=flags,
            project_dir=project.project_dir,
            config_name=project.name,
        ).with_values(execute=execute)
        session = BuildSession.open(settings)
    except (ProjectError, SettingsError, SessionError) as exc:
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


@click.group(help=__doc__.split("\n\n")[0] if __doc__ else None)
def cli() -> None:
    """The ``refkit`` command group."""


@cli.command()
@click.argument("ids", nargs=-1)
@click.option("--cached", is_flag=True, help="Reuse cached results when they are current.")
@_settings_flags
def check(ids: tuple[str, ...], cached: bool, **flags: Any) -> None:
    """Run snippets; fail on drift, an error, no approval, an unknown id or no snippet at all."""
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


@cli.command(name="list")
@_settings_flags
def list_snippets(**flags: Any) -> None:
    """Snippets, their pages and status (approved, drift, new, not run), without running."""
    session, _ = _open(flags, "never")
    snippets = _select(session, ())
    pages = session.snippet_pages()
    for snippet in snippets:
        status = session.status(session.cached_result(snippet))
        where = ", ".join(pages.get(snippet.id, [])) or "(on no page)"
        click.echo(f"{snippet.id:<58} {status:<9} {where}")


@cli.command(name="run")
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


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.option("-f", "--config-file", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.pass_context
def links(ctx: click.Context, config_file: Path | None) -> None:
    """Check every reference URL (``refkit links --help`` for its options)."""
    from refkit.engine.links import main as check_links

    try:
        project = read_project(config_file or find_project())
        settings = Settings.resolve(
            project.options, project_dir=project.project_dir, config_name=project.name
        )
    except (ProjectError, SettingsError) as exc:
        raise click.ClickException(printable(str(exc))) from exc
    argv = list(ctx.args)
    if "--cache" not in argv and not any(a.startswith("--cache=") for a in argv):
        argv += ["--cache", str(settings.cache_path / "links.json")]
    sys.exit(check_links(argv, package_dir=settings.package_path))


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
