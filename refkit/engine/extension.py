"""The ``refkit`` Python-Markdown extension: the same pages under any Python-Markdown host.

Zensical, MkDocs' successor, runs Python-Markdown extensions but no MkDocs plugins. This
extension gives it what the plugin gives MkDocs: sources, live outputs, stamps, drift notices,
error panels, references and the stylesheet (inlined, as an extension cannot add files to a
site). Enable it as ``refkit`` under ``markdown_extensions`` (see the README).

How it fits a host that converts pages one at a time and creates extension objects anew for
every page (Zensical 0.0.x does both):

- the build session and its worker live once per process, keyed by the settings, and close at
  exit;
- the first page converted in the process plans every page of the docs folder and starts every
  snippet they embed, so snippets run ahead of the pages that need them; each page then waits
  only for its own;
- a page is recognised by its text, since the host tells Markdown nothing of which file it
  converts;
- a snippet that raises fails a one-off build (an exception naming page:line); what MkDocs would
  log as a warning goes to stderr. Under ``zensical serve``, where an exception would end the
  server, nothing raises: the page shows the error.
- under MkDocs the plugin does the work and takes this extension out of the list, so the two
  never both run; pages without a directive cost one substring search.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

from refkit.engine.assemble import Block, assemble_page, block_html
from refkit.engine.directive import Directive, find_directives
from refkit.engine.downloads import download_links, write_page_downloads
from refkit.engine.project import ProjectConfig, ProjectError, find_project, read_project
from refkit.engine.session import (
    BuildMode,
    BuildSession,
    PagePlan,
    PageSource,
    Problem,
    SessionError,
)
from refkit.engine.settings import OPTIONS, Settings, SettingsError
from refkit.engine.text import printable

__all__ = ["RefkitBuildError", "RefkitExtension", "makeExtension"]

_STYLESHEET = Path(__file__).with_name("assets") / "refkit.css"
# Before fenced code (superfences: 25) and raw HTML (20) see the page, after whitespace (30).
_PRIORITY = 29


class RefkitBuildError(RuntimeError):
    """A snippet raised during a one-off build (``on_error: fail``); names page:line."""


class _Process:
    """What lives once per process: the sessions (one per settings) and the project file."""

    def __init__(self) -> None:
        self.sessions: dict[Settings, BuildSession] = {}
        self.projects: dict[Path | None, ProjectConfig] = {}
        self.resolved: dict[object, tuple[ProjectConfig, Settings]] = {}
        self.reported: set[str] = set()
        atexit.register(self.close)

    def project(self, config_file: str) -> ProjectConfig:
        path = Path(config_file) if config_file else find_project()
        if path not in self.projects:
            self.projects[path] = read_project(path)
        return self.projects[path]

    def settings(self, config_file: str, options: dict[str, Any]) -> tuple[ProjectConfig, Settings]:
        """The project file and the settings that a page's extension options give.

        Zensical makes the extension anew for every page, and mkdocstrings converts every
        docstring with the page's extensions: hundreds of times a build, the same options would
        be resolved again (parsing an environment declaration is most of that). Resolved once
        per process for what ``Settings.resolve`` reads: the options, the project file (named
        relative to the working folder, or found from it) and the ``REFKIT_*`` variables.
        Options that cannot be made hashable are resolved every time.
        """
        variables = sorted((k, v) for k, v in os.environ.items() if k.startswith("REFKIT_"))
        key = _frozen((config_file, str(Path.cwd()), options, variables))
        if key is not None and key in self.resolved:
            return self.resolved[key]
        project = self.project(config_file)
        settings = Settings.resolve(
            {**project.options, **options},
            project_dir=project.project_dir,
            config_name=project.name,
        )
        if key is not None:
            self.resolved[key] = (project, settings)
        return project, settings

    def session(self, settings: Settings, project: ProjectConfig) -> BuildSession:
        session = self.sessions.get(settings)
        if session is None:
            session = BuildSession.open(settings, _mode())
            session.nav_order = project.nav
            self.sessions[settings] = session
            self.report(session.catalog_problems())
            _plan_docs(session, project.docs_dir)
            session.start()
        return session

    def report(self, problems: list[Problem]) -> None:
        """Warnings to stderr, each once per process; a fatal problem raises."""
        for problem in problems:
            text = printable(str(problem))
            if problem.fatal or _strict():
                raise RefkitBuildError(f"refkit: {text}")
            if text not in self.reported:
                self.reported.add(text)
                sys.stderr.write(f"WARNING -  refkit: {text}\n")

    def close(self) -> None:
        for session in self.sessions.values():
            if session.stats.executed or session.stats.from_cache:
                sys.stderr.write(f"INFO    -  refkit: {session.summary()}\n")
                for note in session.take_notes():
                    sys.stderr.write(f"INFO    -  {printable(note)}\n")
                for problem in session.prune_cache():
                    sys.stderr.write(f"WARNING -  refkit: {printable(str(problem))}\n")
            session.close()
        self.sessions.clear()


_process: _Process | None = None


def _current_process() -> _Process:
    global _process  # noqa: PLW0603 - one per process, by design: see the module docstring
    if _process is None:
        _process = _Process()
    return _process


def _mode() -> BuildMode:
    """``serve`` under ``zensical serve`` (or ``mkdocs serve``), where nothing may raise."""
    return "serve" if "serve" in sys.argv[1:3] else "build"


def _strict() -> bool:
    """Whether a one-off build was asked to fail on warnings (``--strict``, ``-s``)."""
    return _mode() == "build" and bool({"--strict", "-s"} & set(sys.argv[1:]))


def _plan_docs(session: BuildSession, docs_dir: Path) -> None:
    pages = sorted(docs_dir.rglob("*.md")) if docs_dir.is_dir() else []
    session.pages.clear()
    session.plan(
        PageSource(page.relative_to(docs_dir).as_posix(), page.read_text(encoding="utf-8"))
        for page in pages
    )


class _RefkitPreprocessor(Preprocessor):
    def __init__(self, md: Markdown, options: dict[str, Any]) -> None:
        super().__init__(md)
        self.config_file = str(options.pop("config_file", "") or "")
        self.options = options

    def run(self, lines: list[str]) -> list[str]:
        text = "\n".join(lines)
        mentions_refkit = "refkit" in text.lower()
        process = _current_process()
        if process.sessions and not mentions_refkit:
            # Nothing to do, and the session has started: mkdocstrings converts every docstring
            # of the API pages with these extensions too, hundreds of times a build.
            return lines
        try:
            project, settings = process.settings(self.config_file, self.options)
            # The first page of the process, whatever it holds, starts every snippet of the
            # docs folder: hosts convert pages one at a time, and snippets run meanwhile.
            session = process.session(settings, project) if settings.enabled else None
        except (ProjectError, SettingsError, SessionError) as exc:
            raise RefkitBuildError(printable(str(exc))) from exc
        if session is None or not mentions_refkit:
            return lines
        found, errors = find_directives(text)
        if not found and not errors:  # near misses still get their warning
            return lines
        if session.refresh():  # a topic module was saved (zensical serve)
            _plan_docs(session, project.docs_dir)
            session.start()
        plan = session.page_for_body(text)
        if plan is None:  # a page saved since it was planned, or one from outside docs
            _plan_docs(session, project.docs_dir)
            plan = session.page_for_body(text)
        rendered = self._render(
            session, process=process, project=project, text=text, plan=plan, directives=found
        )
        return rendered.split("\n")

    def _render(
        self,
        session: BuildSession,
        *,
        process: _Process,
        project: ProjectConfig,
        text: str,
        plan: PagePlan | None,
        directives: list[Directive],
    ) -> str:
        path = plan.path if plan else "(page)"
        ids = [d.snippet_id for d in directives if d.kind == "snippet"]
        session.start(ids)
        everything = any(d.kind == "environment" for d in directives)  # the table counts all
        problems = session.wait(None if everything else ids)

        def stash(block: Block) -> str:
            html, found = block_html(session, block)
            problems.extend(found)
            return self.md.htmlStash.store(html)

        topic = plan.topic if plan else ""
        # Zensical rewrites a page's relative links, raw HTML too, as if written from the page's
        # source file: the files go beside that, and the links name them from there.
        folder = path.rpartition("/")[0]
        markdown, found = assemble_page(
            session,
            path,
            text,
            first_line=plan.body_line if plan else 1,
            topic=topic,
            placeholder=stash,
            downloads=download_links(topic, f"{folder}/" if folder else "", project.repo_url)
            if topic
            else None,
        )
        if plan is not None and topic:
            # No host event comes after the pages here: the page's files go out with it.
            found += write_page_downloads(session, plan, project.site_dir / folder)[1]
        process.report(found + problems)
        style = self.md.htmlStash.store(f"<style>{_STYLESHEET.read_text(encoding='utf-8')}</style>")
        return f"{style}\n\n{markdown}"


class RefkitExtension(Extension):
    """Runs ``!refkit`` directives; options are those of :mod:`refkit.engine.settings`."""

    def __init__(self, **kwargs: Any) -> None:
        # "" means "not set here": the configuration file's plugin entry, then the environment,
        # then the defaults apply. (Not None: Python-Markdown parses a None default as a bool.)
        self.config = {option.name: ["", option.doc] for option in OPTIONS}
        self.config["config_file"] = ["", "The site's configuration file (found when empty)."]
        super().__init__(**kwargs)

    def extendMarkdown(self, md: Markdown) -> None:
        """Register the preprocessor that replaces directives."""
        options = {k: v for k, v in self.getConfigs().items() if v != ""}
        md.preprocessors.register(_RefkitPreprocessor(md, options), "refkit", _PRIORITY)


def _frozen(value: Any) -> object | None:
    """A hashable copy of options (mappings in their order), ``None`` for other objects.

    Not JSON text: a project's own package may be named ``json`` and shadow the standard one.

    Examples:
        >>> _frozen({"old": {"requirements": ["six"]}})
        (('old', (('requirements', ('six',)),)),)
        >>> _frozen({"old": object()}) is None, _frozen({("a",): {}}) is None
        (True, True)
    """

    def freeze(item: Any) -> object:
        if isinstance(item, Mapping):  # YAML allows odd keys: the parser names them, uncached
            return tuple((freeze_key(key), freeze(inner)) for key, inner in item.items())
        if isinstance(item, (list, tuple)):
            return tuple(freeze(inner) for inner in item)
        if item is None or isinstance(item, (str, int, float, bool)):
            return item
        raise TypeError(item)

    def freeze_key(key: Any) -> object:
        if isinstance(key, (str, int, float, bool)) or key is None:
            return key
        raise TypeError(key)

    try:
        return freeze(value)
    except TypeError:
        return None


def makeExtension(**kwargs: Any) -> RefkitExtension:
    """What Python-Markdown calls for ``refkit.engine.extension``."""
    return RefkitExtension(**kwargs)
