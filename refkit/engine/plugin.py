"""The ``refkit`` MkDocs plugin: MkDocs events translated into calls of a build session.

- ``on_startup``: the plugin, its session and warm worker live across ``mkdocs serve`` rebuilds.
- ``on_config``: settings (``mkdocs.yml``, then the environment), the session, what pages need.
- ``on_files``: plan every page and start every snippet they embed, in one batch, so the worker
  runs them while MkDocs converts the pages.
- ``on_page_markdown``: directives become placeholders (source listings, highlighted by refkit,
  among them: :mod:`refkit.engine.listings`); references are appended.
- ``on_page_context``: wait for the snippets and put their escaped output in place, before the
  search plugin indexes the page (outputs are searchable; source listings and pictures, which
  search leaves out, are set aside until ``on_post_page``); write a topic page's notebook and
  script.
- ``on_nav``, ``on_env``, ``on_serve``: the navigation's order for the table of topics; under
  ``mkdocs serve``, what :mod:`refkit.engine.serve_watch` keeps and watches.
- ``on_post_build``, ``on_build_error``, ``on_shutdown``: write the stylesheet; stop the worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from refkit.engine.assemble import restore_unindexed, set_aside_unindexed
from refkit.engine.downloads import download_links, write_page_downloads
from refkit.engine.mkdocs_config import (
    STYLESHEET,
    RefkitConfig,
    add_page_needs,
    drop_extension,
    write_stylesheet,
)
from refkit.engine.progress import ProgressLine
from refkit.engine.runner import RunStats
from refkit.engine.serve_watch import DevServer
from refkit.engine.session import BuildMode, BuildSession, PageSource, Problem, SessionError
from refkit.engine.settings import Settings, SettingsError
from refkit.engine.text import printable
from refkit.engine.worker_process import WorkerError

__all__ = ["STYLESHEET", "RefkitPlugin"]

log = get_plugin_logger(__name__)


class RefkitPlugin(BasePlugin[RefkitConfig]):
    """Embeds live snippet output, sources and references into MkDocs pages."""

    def __init__(self) -> None:
        self.command = "build"
        self.session: BuildSession | None = None
        self._serve: DevServer | None = None
        self._unindexed: dict[str, list[str]] = {}
        self.stats = RunStats()
        """What the last build ran and took from the cache (for logs, tests and benchmarks)."""

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Remember the command: ``serve`` keeps going on errors and keeps the worker warm."""
        self.command = command
        self._serve = DevServer(dirty, lambda: self.session, log) if command == "serve" else None

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        """Resolve the settings and open the session."""
        project_dir = Path(config.config_file_path or "mkdocs.yml").resolve().parent
        mode: BuildMode = "serve" if self._serve is not None else "build"
        drop_extension(config)
        try:
            settings = Settings.resolve(dict(self.config), project_dir=project_dir)
            if not settings.enabled or (self._serve and not self._serve.build_started()):
                self._close()  # disabled, or the server has shut down
                return None
            self.session = BuildSession.reopen(self.session, settings, mode)
            if self._serve is None:  # serve keeps its worker warm between rebuilds already
                self.session.run_ahead(Path(config["docs_dir"]))
        except (SettingsError, SessionError, WorkerError) as exc:
            raise PluginError(f"refkit: {str(exc).removeprefix('refkit: ')}") from exc
        add_page_needs(config)
        return config

    @event_priority(-50)  # after other plugins have added or removed pages
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files | None:
        """Plan every page and start every snippet they embed, without waiting."""
        if self.session is None:
            return None
        if self._serve is not None:  # the docs' state first, then the pages are read
            self._serve.files_read(config, files)
        self._unindexed.clear()  # a build that broke off may have left some
        pages = files.documentation_pages()
        try:
            stale = self.session.begin_pages(PageSource(f.src_uri, f.content_string) for f in pages)
        except WorkerError as exc:
            raise PluginError(f"refkit: {exc}") from exc
        _report(self.session.catalog_problems())
        if self._serve is not None:
            self._serve.pages_changed(files, stale)
        return None

    def on_nav(self, nav: Any, *, config: MkDocsConfig, files: Files) -> Any:
        """Topic tables follow the navigation's order; ``mkdocs serve`` keeps the navigation."""
        if self.session is not None:
            self.session.nav_order = tuple(page.file.src_uri for page in nav.pages)
        if self._serve is not None:
            self._serve.nav_made(nav)
        return nav

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        """Replace directives by placeholders; append the references."""
        if self.session is None:
            return None
        topic = page.meta.get("topic")
        links = download_links(str(topic), page.url, config.repo_url or "") if topic else None
        markdown, problems = self.session.assemble(
            page.file.src_uri, markdown, lambda: page.file.content_string, topic, links
        )
        _report(problems)
        return markdown

    @event_priority(50)  # before the search plugin indexes the page: outputs are searchable
    def on_page_context(self, context: Any, *, page: Page, config: MkDocsConfig, nav: Any) -> Any:
        """Put outputs, panels and references in place of the placeholders."""
        uri = page.file.src_uri
        if self.session is None or page.content is None or not self.session.has_placeholders(uri):
            return None
        self._collect()
        html, problems = self.session.fill(uri, page.content)
        page.content, self._unindexed[uri] = set_aside_unindexed(html)  # search need not parse them
        ahead = self._serve is not None and self._serve.ahead  # the full rebuild writes them
        if (plan := self.session.pages.get(uri)) is not None and plan.topic and not ahead:
            folder = Path(config.site_dir, page.file.dest_uri).parent  # links name it from there
            problems += write_page_downloads(self.session, plan, folder)[1]
        _report(problems)
        return context

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str | None:
        """Put back the listings and pictures ``on_page_context`` set aside while search indexed."""
        return restore_unindexed(output, self._unindexed.pop(page.file.src_uri, []))

    def _collect(self) -> None:
        """Wait for the snippets started in ``on_files``, once per build, with progress."""
        if self.session is not None and not self.session.collected:
            _report(self.session.collect(progress=ProgressLine(log.info)))
            self.stats = self.session.stats
            log.info(self.session.summary())

    def on_env(self, env: Any, *, config: MkDocsConfig, files: Files) -> Any:
        """Under ``mkdocs serve``, keep what a rebuild of some pages reuses."""
        if self._serve is not None:
            self._serve.env_made(env, config, files)
        return env

    def on_serve(self, server: Any, *, config: MkDocsConfig, builder: Any) -> Any:
        """Rebuild when a topic module or data file changes."""
        if self._serve is not None and (watching := self._serve.attach(server, config)):
            log.info(watching)
        return server

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        """Write the stylesheet; a one-off build stops its worker."""
        if self.session is None:
            return
        self._collect()  # results no page asked for (say, all pages skipped) are still kept
        for note in self.session.take_notes():  # an environment shown as recorded, say
            log.info(note.removeprefix("refkit: "))
        _report(self.session.prune_cache())
        write_stylesheet(config.site_dir)
        if self._serve is not None:
            self._serve.build_finished()
        else:
            self._close()

    def on_build_error(self, *, error: Exception) -> None:
        """A failed one-off build stops its worker too; serve keeps what the run still owes."""
        if self._serve is not None:
            self._serve.build_failed()
        else:
            self._close()

    def on_shutdown(self) -> None:
        """Stop the file watcher, then the worker, when ``mkdocs serve`` stops."""
        if self._serve is not None:
            self._serve.shutdown(self._close)
        else:
            self._close()

    def _close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def _report(problems: list[Problem]) -> None:
    """Warnings (which ``--strict`` counts) for problems; a fatal one stops the build."""
    for problem in problems:
        text = printable(str(problem))
        if problem.fatal:
            raise PluginError(f"refkit: {text}")
        log.warning(text)
