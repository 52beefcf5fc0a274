"""The ``refkit`` MkDocs plugin: MkDocs events translated into calls of a build session.

Events used, and why:

- ``on_startup``: remember ``build`` or ``serve``; the plugin object, and with it the session and
  its warm worker, then lives across ``mkdocs serve`` rebuilds.
- ``on_config``: resolve the settings (``mkdocs.yml``, then the environment), open or reconfigure
  the session, turn on the Markdown extensions the output needs, add the stylesheet.
- ``on_files``: plan every page and start every snippet they embed, in one batch, so the worker
  runs them while MkDocs converts the pages.
- ``on_page_markdown``: directives become sources and placeholders; references are appended.
- ``on_page_context``: wait for the snippets, then put their escaped output in place of the
  placeholders, before the search plugin indexes the page, so outputs are searchable.
- ``on_nav``: the navigation's order of pages, for the table of topics.
- ``on_nav`` / ``on_env``: under ``mkdocs serve``, keep the navigation, the environment and the
  theme's compiled templates for the next rebuild (see :mod:`refkit.engine.serve_watch`).
- ``on_serve``: watch the topic package; a save starts the changed snippets at once, and under
  ``--dirty``, when only snippets changed, their pages are rebuilt and shown before the rest.
- ``on_post_build`` / ``on_build_error`` / ``on_shutdown``: write the stylesheet; stop the worker.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from refkit.engine.assemble import Block, assemble_page, fill_placeholders, placeholder_token
from refkit.engine.mkdocs_config import RefkitConfig
from refkit.engine.progress import ProgressLine
from refkit.engine.project import EXTENSION_NAMES
from refkit.engine.runner import RunStats
from refkit.engine.serve_watch import DevServer, LastBuild, mark_stale, rebuild_pages
from refkit.engine.session import (
    BuildMode,
    BuildSession,
    PageSource,
    Problem,
    SessionError,
    plan_page,
)
from refkit.engine.settings import Settings, SettingsError
from refkit.engine.text import printable
from refkit.engine.worker_process import WorkerError

__all__ = ["STYLESHEET", "RefkitPlugin"]

log = get_plugin_logger(__name__)

STYLESHEET = Path(__file__).with_name("assets") / "refkit.css"
_STYLESHEET_URL = "assets/refkit/refkit.css"
_MARKDOWN_EXTENSIONS = ("admonition", "pymdownx.details")


class RefkitPlugin(BasePlugin[RefkitConfig]):
    """Embeds live snippet output, sources and references into MkDocs pages."""

    def __init__(self) -> None:
        self.command = "build"
        self.dirty = False
        self.session: BuildSession | None = None
        self._blocks: dict[str, dict[str, Block]] = {}
        self._collected = False
        self._serve: DevServer | None = None
        self.stats = RunStats()
        """What the last build ran and took from the cache (for logs, tests and benchmarks)."""

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Remember the command: ``serve`` keeps going on errors and keeps the worker warm."""
        self.command, self.dirty = command, dirty
        self._serve = DevServer(dirty) if command == "serve" else None

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        """Resolve the settings and open the session."""
        project_dir = Path(config.config_file_path or "mkdocs.yml").resolve().parent
        try:
            settings = Settings.resolve(dict(self.config), project_dir=project_dir)
        except SettingsError as exc:
            raise PluginError(f"refkit: {exc}") from exc
        if not settings.enabled:
            self._close()
            return None
        mode: BuildMode = "serve" if self.command == "serve" else "build"
        if self._serve is not None:
            self._serve.build_started()
        try:
            if self.session is None:
                self.session = BuildSession.open(settings, mode)
            else:
                self.session.reconfigure(settings)
        except SessionError as exc:
            raise PluginError(str(exc)) from exc
        for extension in _MARKDOWN_EXTENSIONS:
            if extension not in config.markdown_extensions:
                config.markdown_extensions.append(extension)
        # The same site may list the refkit extension for Zensical; under MkDocs it would only
        # start a second session, so the plugin does the work alone.
        config.markdown_extensions[:] = [
            name for name in config.markdown_extensions if name not in EXTENSION_NAMES
        ]
        if _STYLESHEET_URL not in config.extra_css:
            config.extra_css.append(_STYLESHEET_URL)
        if self.command != "serve":  # serve keeps its worker warm between rebuilds already
            try:
                self.session.run_ahead()
            except WorkerError as exc:
                raise PluginError(f"refkit: {exc}") from exc
        return config

    @event_priority(-50)  # after other plugins have added or removed pages
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files | None:
        """Plan every page and start every snippet they embed, without waiting."""
        if self.session is None:
            return None
        if self._serve is not None:
            self._serve.files_read(config, files, self.session.settings.package_path)
        stale = self._begin(files)
        _report(self.session.catalog_problems())
        if self.dirty:
            mark_stale([file.abs_dest_path for uri in stale if (file := files.src_uris.get(uri))])
        return None

    def _begin(self, files: Files) -> set[str]:
        """Plan the pages and start their snippets; returns the pages whose snippets changed."""
        assert self.session is not None
        session = self.session
        changed = session.begin_build()
        self._collected = False
        pages = files.documentation_pages()
        session.plan(PageSource(file.src_uri, file.content_string) for file in pages)
        try:
            session.start()
        except WorkerError as exc:
            raise PluginError(f"refkit: {exc}") from exc
        places = session.snippet_pages()
        return {place.rsplit(":", 1)[0] for sid in changed for place in places.get(sid, [])}

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
        """Replace directives by sources and placeholders; append the references."""
        if self.session is None:
            return None
        uri = page.file.src_uri
        plan = self.session.pages.get(uri) or plan_page(PageSource(uri, page.file.content_string))
        raw = page.file.content_string
        # Lines are counted from the top of the file, front matter included.
        first_line = raw.count("\n") - markdown.count("\n") + 1 if raw.endswith(markdown) else 1
        blocks: dict[str, Block] = {}

        def placeholder(block: Block) -> str:
            token = placeholder_token(uri, len(blocks))
            blocks[token] = block
            return token

        topic = str(page.meta.get("topic") or plan.topic or "")
        markdown, problems = assemble_page(
            self.session, uri, markdown, first_line=first_line, topic=topic, placeholder=placeholder
        )
        _report(problems)
        self._blocks[uri] = blocks
        return markdown

    def _collect(self) -> None:
        """Wait for the snippets started in ``on_files`` (once per build)."""
        if self.session is None or self._collected:
            return
        self._collected = True
        _report(self.session.wait(progress=ProgressLine(log.info)))
        self.stats = self.session.stats
        log.info(self.session.summary())

    @event_priority(50)  # before the search plugin indexes the page: outputs are searchable
    def on_page_context(self, context: Any, *, page: Page, config: MkDocsConfig, nav: Any) -> Any:
        """Put outputs, panels and references in place of the placeholders."""
        blocks = self._blocks.pop(page.file.src_uri, None)
        if self.session is None or not blocks or page.content is None:
            return None
        self._collect()
        page.content, problems = fill_placeholders(page.content, blocks, self.session)
        _report(problems)
        return context

    def on_env(self, env: Any, *, config: MkDocsConfig, files: Files) -> Any:
        """Under ``mkdocs serve``, keep what a rebuild of some pages reuses."""
        if self._serve is not None:
            self._serve.env_made(env, config, files)
        return env

    def on_serve(self, server: Any, *, config: MkDocsConfig, builder: Any) -> Any:
        """Rebuild when a topic module or data file changes."""
        if self.session is not None and self._serve is not None:
            package = self.session.settings.package_path
            log.info(self._serve.attach(server, config, package, self._start_saved, self._ahead))
        return server

    def _start_saved(self) -> None:
        """A topic module was saved: start its changed snippets now, ahead of the rebuild."""
        assert self._serve is not None
        with self._serve.lock:
            if self._serve.building or self.session is None:
                return  # the build under way reads the change itself
            try:
                self.session.start_ahead()
            except Exception as exc:  # the rebuild that follows runs them, or says what failed
                log.debug(f"could not start snippets ahead of the rebuild: {exc}")

    def _ahead(self, last: LastBuild) -> bool:
        """Only the package changed: rebuild the pages of changed snippets, ahead of the site."""
        if self.session is None:
            return False
        started = time.perf_counter()
        stale = self._begin(last.files)
        if not stale or self.session.catalog_problems():  # the full rebuild reports problems
            return False
        try:
            built = rebuild_pages(stale, last)
        except Exception as exc:  # whatever went wrong, the full rebuild that follows is right
            log.warning(f"could not rebuild {sorted(stale)} ahead: {printable(str(exc))}")
            return False
        self._collect()
        if built:
            seconds = time.perf_counter() - started
            shown = ", ".join(sorted(stale))
            log.info(f"{shown} built in {seconds:.2f} seconds, ahead of the rest of the site")
        return bool(built)

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        """Write the stylesheet; a one-off build stops its worker."""
        if self.session is None:
            return
        self._collect()  # results no page asked for (say, all pages skipped) are still kept
        _report(self.session.prune_cache())
        target = Path(config.site_dir) / _STYLESHEET_URL
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(STYLESHEET.read_text(encoding="utf-8"), encoding="utf-8")
        if self.command != "serve":
            self._close()
            return
        self.session.end_build()
        try:  # while the author reads the page, import what the next edit will need
            self.session.warm_up()
        except WorkerError as exc:
            log.warning(f"could not start the worker ahead of time: {exc}")
        if self._serve is not None:
            self._serve.build_finished()

    def on_build_error(self, *, error: Exception) -> None:
        """A failed one-off build stops its worker too; serve keeps what the run still owes."""
        if self._serve is not None:
            self._serve.build_failed()
        if self.command != "serve":
            self._close()

    def on_shutdown(self) -> None:
        """Stop the worker and the file watcher when ``mkdocs serve`` stops."""
        if self._serve is not None:
            self._serve.watcher.stop()
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
