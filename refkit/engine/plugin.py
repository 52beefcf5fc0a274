"""The ``refkit`` MkDocs plugin: wiring between MkDocs events and the pure core.

Events used, and why:

- ``on_startup``: remember whether this is ``build`` or ``serve``; the plugin object (and with it
  the warm worker) then lives across ``mkdocs serve`` rebuilds.
- ``on_config``: read options (environment wins), find topics and snippets statically, make sure
  the Markdown extensions the output needs are on, add the stylesheet.
- ``on_files``: read every page once, collect the snippets they embed and start them all in one
  batch, so independent snippets run in parallel and the worker starts at most once per build.
- ``on_page_markdown``: replace directives by the source and placeholders; append references.
- ``on_page_context``: wait for the snippets (they ran while MkDocs converted every page), then
  put the escaped output HTML in place of the placeholders: HTML, so it survives any nesting in
  lists or admonitions untouched by Markdown, and before the search plugin indexes the page.
- ``on_serve``: watch the topic package, so saving a topic module rebuilds.
- ``on_post_build`` / ``on_shutdown``: write the stylesheet; stop the worker.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from refkit.engine import render
from refkit.engine.cache import ResultCache, gpu_visible
from refkit.engine.config import RefkitConfig, environment_overrides
from refkit.engine.directive import Directive, find_directives, replace_directives
from refkit.engine.discovery import Catalog, Snippet, load_catalog
from refkit.engine.drift import Drift, canonical_text, compare, read_approved
from refkit.engine.results import ERROR, SnippetResult
from refkit.engine.runner import PendingRun, RunStats, SnippetRunner, WorkerError

__all__ = ["RefkitPlugin"]

log = get_plugin_logger(__name__)

_STYLESHEET = "assets/refkit/refkit.css"
_MARKDOWN_EXTENSIONS = ("admonition", "pymdownx.details")
_CHANGE_EVENTS = frozenset({"created", "modified", "moved", "deleted"})


@dataclass(frozen=True)
class _Block:
    """What replaces one placeholder: ready HTML, or something known once snippets have run."""

    kind: str = "html"  # "html", "output" (of one snippet) or "environment"
    html: str = ""
    snippet: Snippet | None = None
    where: str = ""


class _Progress:
    """Progress of a cold build on one terminal line, or a few log lines when not a terminal."""

    def __init__(self, tty: bool | None = None) -> None:
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.last_reported = 0

    def __call__(self, done: int, total: int, running: list[str]) -> None:
        now = f", running {', '.join(running)}" if running else ""
        if self.tty:
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r\x1b[2K[refkit] ran {done}/{total}{now}{end}")
            sys.stderr.flush()
        elif done == total or done - self.last_reported >= max(1, total // 4):
            # A log without a terminal gets a line per quarter, not one per snippet.
            self.last_reported = done
            log.info(f"ran {done}/{total} snippets{now}")


class RefkitPlugin(BasePlugin[RefkitConfig]):
    """Embeds live snippet output, sources and references into MkDocs pages."""

    def __init__(self) -> None:
        self.command = "build"
        self.catalog: Catalog | None = None
        self.runner: SnippetRunner | None = None
        self.results: dict[str, SnippetResult | None] = {}
        self.stats = RunStats()
        self.pending: PendingRun | None = None
        self.dirty = False
        self._observers: list[Any] = []
        self._rendered_fingerprints: dict[str, str] = {}
        self.drifts: dict[str, Drift] = {}
        self.dead_links: dict[str, str] = {}
        self._blocks: dict[str, dict[str, _Block]] = {}
        self._project_dir = Path.cwd()
        self._runner_settings: tuple[Any, ...] = ()

    def load_config(
        self, options: dict[str, Any], config_file_path: str | None = None
    ) -> tuple[list[Any], list[Any]]:
        """Validate options with environment variables applied on top of ``mkdocs.yml``."""
        return super().load_config({**options, **environment_overrides()}, config_file_path)

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Remember the command: ``serve`` keeps going on errors and keeps the worker warm."""
        self.command = command
        self.dirty = dirty

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        """Read the topics and prepare the runner."""
        if not self.config.enabled:
            return None
        self._project_dir = Path(config.config_file_path or ".").resolve().parent
        package_dir = (self._project_dir / self.config.package_dir).resolve()
        if not package_dir.is_dir():
            raise PluginError(
                f"refkit: package_dir {self.config.package_dir!r} is not a folder next to "
                f"mkdocs.yml ({package_dir}); set `package_dir` to the folder of your topics."
            )
        if self.config.device == "cuda" and not gpu_visible():
            # Said once here, rather than by every snippet that asks torch for the device.
            raise PluginError(
                "refkit: device is 'cuda' (REFKIT_DEVICE or mkdocs.yml) but this machine shows "
                "no NVIDIA GPU; use device 'auto' (CUDA when there is one) or 'cpu'."
            )
        self.catalog = load_catalog(package_dir)
        for problem in self.catalog.errors:
            log.warning(f"{problem.path}:{problem.line}: topic module skipped: {problem}")

        settings = (package_dir, self.config.timeout, self.config.device, self.config.jobs)
        if self.runner is None or self._runner_settings != settings:
            if self.runner is not None:
                self.runner.close()
            self.runner = SnippetRunner(
                package_dir,
                cache=None,
                timeout=float(self.config.timeout),
                device=self.config.device,
                jobs=self.config.jobs,
            )
            self._runner_settings = settings
        self.runner.execute = self.config.execute
        self.runner.cache = ResultCache(self._project_dir / self.config.cache_dir)
        # What `refkit links` last found; the build itself never goes online. The link checker
        # (http, ssl: a tenth of this module's import time) loads only when there is a report.
        links_report = self._project_dir / self.config.cache_dir / "links.json"
        self.dead_links = {}
        if links_report.exists():
            from refkit.engine.links import dead_links

            self.dead_links = dead_links(links_report)

        for extension in _MARKDOWN_EXTENSIONS:
            if extension not in config.markdown_extensions:
                config.markdown_extensions.append(extension)
        if _STYLESHEET not in config.extra_css:
            config.extra_css.append(_STYLESHEET)
        return config

    @event_priority(-50)  # after other plugins have added or removed pages
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files | None:
        """Start every snippet any page embeds, in one batch, without waiting for them.

        The worker imports its libraries and runs snippets while MkDocs converts the pages;
        outputs are put in place at ``on_page_context``, once all pages are converted.
        """
        if not self.config.enabled or self.catalog is None or self.runner is None:
            return None
        snippets = self.catalog.snippets
        needed: dict[str, Snippet] = {}
        pages_by_snippet: dict[str, list[Any]] = {}
        for file in files.documentation_pages():
            directives, _ = find_directives(file.content_string)
            for directive in directives:
                if directive.snippet_id in snippets:
                    needed[directive.snippet_id] = snippets[directive.snippet_id]
                    pages_by_snippet.setdefault(directive.snippet_id, []).append(file)
        try:
            self.pending = self.runner.start(needed.values(), read_state=self.catalog.state)
        except WorkerError as exc:
            raise PluginError(f"refkit: {exc}") from exc
        self.results = dict(self.pending.results)
        if self.dirty:
            self._mark_pages_with_changed_snippets(pages_by_snippet)
        return None

    def _mark_pages_with_changed_snippets(self, pages_by_snippet: dict[str, list[Any]]) -> None:
        """Make ``mkdocs serve --dirty`` rebuild pages whose snippets' code changed.

        Dirty builds skip pages whose Markdown did not change; a page whose embedded snippet
        changed (whether it now runs or its result comes from the cache, as after undoing an
        edit) is out of date all the same, so its built file is made older than its source.
        """
        assert self.catalog is not None
        fingerprints = {sid: self.catalog.snippets[sid].fingerprint for sid in pages_by_snippet}
        for snippet_id, files in pages_by_snippet.items():
            previous = self._rendered_fingerprints.get(snippet_id)
            if previous is not None and previous != fingerprints[snippet_id]:
                for file in files:
                    with contextlib.suppress(OSError):
                        os.utime(file.abs_dest_path, (0, 0))
        self._rendered_fingerprints = fingerprints

    def _collect(self) -> None:
        """Wait for the snippets started in ``on_files`` (once per build)."""
        if self.pending is None or self.runner is None:
            return
        pending, self.pending = self.pending, None
        self.results, self.stats = self.runner.finish(pending, progress=_Progress())
        for problem in self.runner.cache_write_errors:
            log.warning(f"cannot write the result cache ({problem}); results are not kept")
        self.runner.cache_write_errors.clear()
        self.drifts = self._find_drifts()
        stats = self.stats
        log.info(
            f"{len(self.results)} snippets: {stats.from_cache} from the cache, "
            f"{stats.executed} run, {stats.failed} failed, {stats.not_run} not run"
        )

    def _find_drifts(self) -> dict[str, Drift]:
        approved_dir = self._project_dir / self.config.approved_dir
        drifts = {}
        for snippet_id, result in self.results.items():
            if result is None or not result.ok:
                continue
            approved = read_approved(approved_dir, result)
            if approved is None:
                continue
            drift = compare(snippet_id, approved[0], canonical_text(result), approved[1])
            if drift is not None:
                drifts[snippet_id] = drift
        return drifts

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        """Replace directives by the source and placeholders; append the references."""
        if not self.config.enabled or self.catalog is None:
            return None
        source_path = page.file.src_uri
        raw = page.file.content_string
        # Directive line numbers count from the first line of the file, front matter included.
        offset = raw.count("\n") - markdown.count("\n") if raw.endswith(markdown) else 0
        directives, errors = find_directives(markdown)
        for error in errors:
            log.warning(
                f"{source_path}:{error.line + offset}: {error.reason}: {error.text.strip()}"
            )

        nonce = hashlib.sha256(source_path.encode()).hexdigest()[:10]
        blocks: dict[str, _Block] = {}

        def placeholder(block: _Block) -> str:
            token = f"REFKITBLOCK{nonce}N{len(blocks)}X"
            blocks[token] = block
            return token

        rendered: dict[int, str] = {}
        seen: Counter[str] = Counter()
        for directive in directives:
            where = f"{source_path}:{directive.line + offset}"
            if directive.kind == "environment":
                rendered[directive.line] = placeholder(_Block(kind="environment"))
                continue
            seen[directive.snippet_id] += 1
            if seen[directive.snippet_id] == 2:
                log.warning(
                    f"{where}: snippet {directive.snippet_id} is embedded twice on this page"
                )
            rendered[directive.line] = self._render_directive(directive, where, placeholder)

        markdown = replace_directives(markdown, rendered)
        topic = self.catalog.topics.get(str(page.meta.get("topic", "")))
        if page.meta.get("topic") and topic is None:
            log.warning(f"{source_path}: front matter names unknown topic {page.meta['topic']!r}")
        if topic is not None:
            references = render.references_html(topic.references, self.dead_links)
            markdown += "\n\n## References\n\n" + placeholder(_Block(html=references)) + "\n"
        self._blocks[page.file.src_uri] = blocks
        return markdown

    def _render_directive(
        self, directive: Directive, where: str, placeholder: Callable[[_Block], str]
    ) -> str:
        assert self.catalog is not None
        snippet = self.catalog.snippets.get(directive.snippet_id)
        parts = []
        if directive.title:
            parts.append(placeholder(_Block(html=render.title_html(directive.title))))
        if snippet is None:
            reason = self._unknown_snippet_reason(directive.snippet_id)
            log.warning(f"{where}: {reason}")
            panel = render.not_run_panel_html(directive.snippet_id, reason)
            parts.append(placeholder(_Block(html=panel)))
            return "\n\n".join(parts)
        source = render.source_markdown(snippet, directive.source)
        if source:
            parts.append(source)
        parts.append(placeholder(_Block(kind="output", snippet=snippet, where=where)))
        return "\n\n".join(parts)

    def _output_html(self, snippet: Snippet, where: str) -> str:
        """Output, stamp and notices of one embedded snippet, once its result is known."""
        result = self.results.get(snippet.id)
        if result is None:
            reason = "Not run (execute is 'never') and no cached output matches the current code."
            return render.not_run_panel_html(snippet.id, reason)
        if not result.ok:
            self._report_failure(snippet, result, where)
            output = render.output_html(result) if result.events else ""
            return output + render.problem_panel_html(snippet.id, result)
        parts = [render.output_html(result), render.stamp_html(result)]
        drift = self.drifts.get(snippet.id)
        if drift is not None:
            log.warning(
                f"{where}: snippet {snippet.id} no longer gives its approved output "
                f"(refkit accept {snippet.id} records it if the change is right):\n{drift.diff}"
            )
            parts.append(render.drift_notice_html(drift))
        return "".join(parts)

    def _unknown_snippet_reason(self, snippet_id: str) -> str:
        assert self.catalog is not None
        module = snippet_id.split(".", 1)[0]
        for problem in self.catalog.errors:
            if problem.path.stem == module:
                return (
                    f"snippet {snippet_id} is unavailable: its topic module failed to parse "
                    f"({problem})"
                )
        close = difflib.get_close_matches(snippet_id, list(self.catalog.snippets), n=3, cutoff=0.5)
        hint = f"; closest known: {', '.join(close)}" if close else ""
        return f"unknown snippet id {snippet_id!r}{hint}"

    def _report_failure(self, snippet: Snippet, result: SnippetResult, where: str) -> None:
        error = result.error
        detail = f"{error.type}: {error.message}" if error else result.status
        frames = error.last_frames() if error else ""
        message = (
            f"{where}: snippet {snippet.id} ({snippet.path.name}:{snippet.line}) "
            f"{result.status}: {detail}" + (f"\n{frames}" if frames else "")
        )
        # Only an exception is the snippet's own verdict on its code. A timeout or a killed
        # process says as much about the machine, so its page gets a panel and the build goes on
        # (with a warning, which --strict still fails on).
        raised = result.status == ERROR
        if raised and self.command == "build" and self.config.on_error == "fail":
            raise PluginError(f"refkit: {message}")
        log.warning(message)

    def _environment_table(self) -> str:
        counts = Counter(r.environment for r in self.results.values() if r and r.environment)
        return render.environment_table_html(sorted(counts.items(), key=lambda item: -item[1]))

    @event_priority(50)  # before the search plugin indexes the page: outputs are searchable
    def on_page_context(self, context: Any, *, page: Page, config: MkDocsConfig, nav: Any) -> Any:
        """Put outputs, panels and references in place of the placeholders."""
        blocks = self._blocks.pop(page.file.src_uri, None)
        if not blocks or page.content is None:
            return None
        self._collect()

        def resolve(block: _Block) -> str:
            if block.kind == "environment":
                return self._environment_table()
            if block.kind == "output":
                assert block.snippet is not None
                return self._output_html(block.snippet, block.where)
            return block.html

        page.content = re.sub(
            r"(?:<p>)?(REFKITBLOCK[0-9a-f]{10}N\d+X)(?:</p>)?",
            lambda match: resolve(blocks[match[1]]) if match[1] in blocks else match[0],
            page.content,
        )
        return context

    def on_serve(self, server: Any, *, config: MkDocsConfig, builder: Any) -> Any:
        """Rebuild when a topic module or data file changes."""
        if self.config.enabled and self.catalog is not None:
            package_dir = self.catalog.package_dir
            if not self._watch_instantly(server, package_dir):
                server.watch(str(package_dir))
        return server

    def _watch_instantly(self, server: Any, package_dir: Path) -> bool:
        """Trigger rebuilds from filesystem events rather than ``mkdocs serve``'s 0.5 s polling.

        Half a second of polling is most of the time between saving a topic module and seeing
        its new output. This uses the rebuild trigger of MkDocs' LiveReloadServer, which is not
        public API; where it is missing, the caller falls back to ``server.watch``.
        """
        condition: Any = getattr(server, "_rebuild_cond", None)
        if condition is None or not hasattr(server, "_want_rebuild"):
            return False
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        class _Trigger(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                path = str(event.src_path)
                # Reading a file (every build reads the topics) raises events too: not a change.
                if event.event_type not in _CHANGE_EVENTS or event.is_directory:
                    return
                if "__pycache__" in path or path.endswith(".pyc"):
                    return
                with condition:
                    server._want_rebuild = True
                    condition.notify_all()

        observer = Observer()
        observer.daemon = True
        observer.schedule(_Trigger(), str(package_dir), recursive=True)
        observer.start()
        self._observers.append(observer)
        log.info(f"watching '{package_dir}' for changes to topic modules and data")
        return True

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        """Write the stylesheet; a one-off build stops its worker."""
        if not self.config.enabled:
            return
        self._collect()  # results no page asked for (say, all pages skipped) are still kept
        target = Path(config.site_dir) / _STYLESHEET
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            (Path(__file__).with_name("assets") / "refkit.css").read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        if self.runner is None:
            return
        if self.command == "serve" and self.catalog is not None:
            # While the author reads the page, import what the next edit will need.
            try:
                self.runner.warm_up(self.catalog.preload_imports)
            except WorkerError as exc:
                log.warning(f"could not start the worker ahead of time: {exc}")
        else:
            self.runner.close()

    def on_build_error(self, *, error: Exception) -> None:
        """A failed one-off build stops its worker too; serve forgets the abandoned run."""
        self.pending = None
        if self.command != "serve" and self.runner is not None:
            self.runner.close()

    def on_shutdown(self) -> None:
        """Stop the worker and the file watcher when ``mkdocs serve`` stops."""
        for observer in self._observers:
            observer.stop()
        self._observers.clear()
        if self.runner is not None:
            self.runner.close()
