"""``mkdocs serve``: show a saved topic module's new output as soon as it exists.

Three costs stood between saving a topic module and seeing its new output:

- MkDocs polls watched paths every half second. Here a watchdog observer sets the rebuild
  trigger of MkDocs' ``LiveReloadServer`` directly on each file event. That trigger is not
  public API: where it is missing, :meth:`PackageWatcher.watch` falls back to ``server.watch``.
- Every rebuild compiles the theme's templates again: :class:`TemplateCache` keeps them.
- Even a ``--dirty`` rebuild reloads the configuration, lists the theme's thousands of files and
  renders the theme's own pages: about 0.3 s with Material before any page of ours. When only
  snippets changed (no page, no configuration), nothing of that changes either, so
  :func:`rebuild_pages` runs MkDocs' own per-page steps (every plugin's page events included)
  on just the pages that embed them, with the navigation and files of the last full build.

A save's pages do not wait for MkDocs' debounce (a tenth of a second after the last event) either:
as soon as the file is written, :meth:`DevServer.start_saved` starts its snippets and a thread of
its own rebuilds their pages (converting the Markdown while the snippets run), and the rebuild
loop, once it wakes, publishes them and runs MkDocs' full rebuild. A rebuild ahead skips what
no one sees before that full rebuild replaces it: search plugins' index entries (only their
``on_post_build`` writes the index), and what a plugin leaves to the full rebuild when it sees
:attr:`DevServer.ahead`. (The plugin's own page events highlight the page's source listings,
from the session's kept markup, :class:`~refkit.engine.listings.KeptListings`: one snippet
changed, its page has many.)

Threads: the watcher calls :meth:`DevServer.start_saved` in its own thread, while MkDocs builds in
the main one. :attr:`DevServer.lock` keeps them apart: the watcher, and the thread it starts for
a save's pages, touch the session only between builds (never while MkDocs' rebuild loop is
rebuilding, from its wake-up to the build's end), never wait for the lock or for a run (a save
arriving meanwhile is read by the build under way, or by the rebuild it triggers), and shutting
down takes the lock, so it never closes the session under a rebuild of pages ahead or under the
watcher.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from refkit.engine.text import printable
from refkit.engine.worker_process import WorkerError

if TYPE_CHECKING:
    from refkit.engine.session import BuildSession

__all__ = [
    "DevServer",
    "LastBuild",
    "PackageWatcher",
    "TemplateCache",
    "docs_state",
    "mark_stale",
    "rebuild_pages",
]

_log = logging.getLogger("mkdocs.plugins.refkit.serve")
_CHANGE_EVENTS = frozenset({"created", "modified", "moved", "deleted"})
# A file whose writing is over: closed after writing, or renamed into place (editors that save
# atomically). A "modified" event may come from a file half written.
_WRITTEN_EVENTS = frozenset({"closed", "moved"})


class PackageWatcher:
    """Watches a topic package for a ``mkdocs serve`` server; :meth:`stop` ends it."""

    def __init__(self) -> None:
        self._observers: list[Any] = []
        self.saved = threading.Event()
        """Set by every change under a watched package; whoever rebuilds for it clears it."""

    def watch(
        self, server: Any, package_dir: Path, on_written: Callable[[], None] | None = None
    ) -> str:
        """Make saves under ``package_dir`` rebuild the site; says how, for the log.

        Args:
            server: MkDocs' ``LiveReloadServer``.
            package_dir: The topic package.
            on_written: Called (in the watcher's thread) as soon as a file has been written,
                before MkDocs waits for changes to settle: the moment to start its snippets.
        """
        condition: Any = getattr(server, "_rebuild_cond", None)
        if condition is None or not hasattr(server, "_want_rebuild"):
            server.watch(str(package_dir))
            return f"watching '{package_dir}' (polling) for changes to topic modules and data"
        saved = self.saved
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        class _Trigger(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                path = str(event.src_path)
                if event.is_directory or "__pycache__" in path or path.endswith(".pyc"):
                    return
                # Reading a file (every build reads the topics) raises events too: not a change.
                if event.event_type in _CHANGE_EVENTS:
                    saved.set()  # before on_written: what it starts looks for the change
                    with condition:
                        server._want_rebuild = True
                        condition.notify_all()
                if event.event_type in _WRITTEN_EVENTS and on_written is not None:
                    on_written()

        observer = Observer()
        observer.daemon = True
        observer.schedule(_Trigger(), str(package_dir), recursive=True)
        observer.start()
        self._observers.append(observer)
        return f"watching '{package_dir}' for changes to topic modules and data"

    def stop(self) -> None:
        """Stop every observer started by :meth:`watch`."""
        for observer in self._observers:
            observer.stop()
        for observer in self._observers:  # a handler still running finishes before we go on
            observer.join(timeout=5)
        self._observers.clear()


@dataclass
class LastBuild:
    """What the last full build of ``mkdocs serve`` left, for :func:`rebuild_pages` to reuse."""

    config: Any
    files: Any
    docs: tuple[tuple[str, int, int], ...]
    """:func:`docs_state` when that build started reading pages."""
    nav: Any = None
    env: Any = None
    complete: bool = False


def docs_state(config: Any, package_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file a page or the configuration comes from, with its size and modification time.

    The docs folder, the configuration file and the configuration's ``watch`` entries other than
    the topic package: when this is unchanged, only the package did.
    """
    roots = [Path(config.docs_dir), *(Path(item) for item in config.watch)]
    if config.config_file_path:
        roots.append(Path(config.config_file_path))
    package = package_dir.resolve()
    found: list[tuple[str, int, int]] = []
    for root in (path.resolve() for path in roots):
        if root == package or package in root.parents:
            continue
        paths = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" in path.parts:  # written by the build itself (a Griffe extension)
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


def rebuild_pages(uris: set[str], last: LastBuild) -> list[str]:
    """Build again only the pages ``uris``, as MkDocs' own build would, and write them.

    The same steps as a build for those pages: every plugin's page events (reading, Markdown,
    content, the ``env`` event for them, context, output), the theme's page template, the
    navigation of the last full build. Search plugins index nothing meanwhile (see
    :func:`_indexing_discarded`).

    Returns:
        The built files.
    """
    from mkdocs.commands import build as mkdocs_build
    from mkdocs.structure.files import Files, InclusionLevel

    config, files = last.config, last.files
    chosen = [file for uri in sorted(uris) if (file := files.get_file_from_path(uri)) is not None]
    with _indexing_discarded(config.plugins):
        for file in chosen:
            mkdocs_build._populate_page(file.page, config, files)
        config.plugins.on_env(last.env, config=config, files=Files(chosen))
        documentation = files.documentation_pages(inclusion=InclusionLevel.is_in_serve)
        for file in chosen:
            mkdocs_build._build_page(
                file.page,
                config,
                documentation,
                last.nav,
                last.env,
                excluded=file.inclusion.is_excluded(),
            )
    return [file.abs_dest_path for file in chosen]


class _DiscardedIndex:
    """Stands for a search plugin's index while pages are rebuilt ahead: entries go nowhere."""

    def add_entry_from_context(self, page: Any) -> None:
        """Index nothing: see :func:`_indexing_discarded`."""


@contextlib.contextmanager
def _indexing_discarded(plugins: Any) -> Iterator[None]:
    """Search plugins index no page meanwhile; everything else they do to a page, they do.

    A search plugin (MkDocs' own, Material's) adds each page to the index of its build, which
    only its ``on_post_build`` writes. A rebuild of pages ahead runs no ``on_post_build``: its
    entries went into the index of the last build, already written, which the full rebuild
    that follows replaces (every plugin makes a new index in its ``on_config`` or
    ``on_pre_build``). Indexing them parsed the page's HTML for nothing, about a tenth of a
    second for a topic page.
    """
    swapped = [
        (plugin, plugin.search_index)
        for plugin in plugins.values()
        if callable(getattr(getattr(plugin, "search_index", None), "add_entry_from_context", None))
    ]
    for plugin, _ in swapped:
        plugin.search_index = _DiscardedIndex()
    try:
        yield
    finally:
        for plugin, index in swapped:
            plugin.search_index = index


def publish(server: Any) -> bool:
    """Make browsers of ``mkdocs serve`` reload now, before the rebuild under way has finished.

    The live-reload server publishes a new version of the site when its rebuild returns; here
    the version that rebuild will publish is published early, so the same rebuild, when it
    returns, publishes nothing new and browsers reload once. Not public API: where the server
    lacks it, nothing is published early (and ``False`` is returned).
    """
    condition: Any = getattr(server, "_epoch_cond", None)
    wanted = getattr(server, "_wanted_epoch", None)
    if condition is None or wanted is None or not hasattr(server, "_visible_epoch"):
        return False
    with condition:
        server._visible_epoch = wanted
        condition.notify_all()
    return True


def mark_stale(built_files: list[str]) -> None:
    """Make ``mkdocs serve --dirty`` rebuild pages whose Markdown did not change.

    Dirty builds skip a page whose source is older than its built file; a page whose embedded
    snippet changed is out of date all the same, so its built file is made older than anything.
    """
    for path in built_files:
        try:
            os.utime(path, (0, 0))
        except OSError:
            continue


class TemplateCache(jinja2.BytecodeCache):
    """Compiled theme templates, kept in memory across ``mkdocs serve`` rebuilds.

    Every rebuild loads the configuration anew, and with it a new Jinja environment whose
    templates are compiled again: with Material, about 0.2 to 0.4 s of each rebuild, more than
    the rest of a one-page dirty rebuild. Jinja checks each entry against the template's source,
    so an edited template is compiled again.

    Examples:
        >>> cache = TemplateCache()
        >>> environment = jinja2.Environment(
        ...     loader=jinja2.DictLoader({"page.html": "{{ 1 + 1 }}"}), bytecode_cache=cache
        ... )
        >>> environment.get_template("page.html").render()
        '2'
        >>> len(cache.entries)
        1
    """

    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Fill ``bucket`` from memory; Jinja discards it if the source changed."""
        if (data := self.entries.get(bucket.key)) is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Remember a freshly compiled template."""
        self.entries[bucket.key] = bucket.bytecode_to_string()


class DevServer:
    """What ``mkdocs serve`` keeps between rebuilds, for the plugin's events to call.

    Args:
        dirty: Served with ``--dirty``: pages of changed snippets alone are rebuilt first.
        session: Returns the plugin's build session (``None`` while there is none).
        log: Where to say what happened (the plugin's logger).
    """

    def __init__(
        self,
        dirty: bool,
        session: Callable[[], BuildSession | None],
        log: logging.Logger | logging.LoggerAdapter[Any] = _log,
    ) -> None:
        self.dirty = dirty
        self.watcher = PackageWatcher()
        self.templates = TemplateCache()
        self.last: LastBuild | None = None
        self.lock = threading.RLock()
        """Held while anything but a full build uses the session: see the module docstring."""
        self.building = False
        """Between a build's ``on_config`` and its end: the watcher leaves the session alone."""
        self.closed = False
        """Set by :meth:`shutdown`: nothing uses the session any more."""
        self.rebuilding = False
        """MkDocs' rebuild loop is rebuilding (from its wake-up to the build's end)."""
        self.ahead = False
        """Pages are being rebuilt ahead of the site (:meth:`pages_ahead`): the full rebuild
        that follows does the rest, so a plugin may leave it what pages do not show."""
        self._shown_ahead = False
        """Pages were rebuilt ahead on a save, in a thread of their own (``refkit-pages-ahead``):
        the rebuild loop publishes them to browsers when it wakes (see :meth:`attach`)."""
        self._early: Callable[[], None] | None = None
        """Rebuilds the pages of a save at once, set by :meth:`attach` under ``--dirty``."""
        self._session = session
        self._log = log

    def build_started(self) -> bool:
        """A build began (``on_config``): the watcher leaves the session alone.

        Returns:
            ``False`` once the server has shut down: the build must not open a session.
        """
        with self.lock:
            self.building = True
            return not self.closed

    def files_read(self, config: Any, files: Any) -> None:
        """Remember the build's configuration, files, and the docs' state before pages are read."""
        session = self._session()
        if self.dirty and session is not None:  # only a dirty serve rebuilds pages ahead from it
            self.last = LastBuild(config, files, docs_state(config, session.settings.package_path))

    def pages_changed(self, files: Any, stale: set[str]) -> None:
        """Under ``--dirty``, rebuild ``stale`` pages, whose snippets changed, text unchanged."""
        if self.dirty:
            mark_stale([file.abs_dest_path for uri in stale if (file := files.src_uris.get(uri))])

    def nav_made(self, nav: Any) -> None:
        """Remember the build's navigation."""
        if self.last is not None:
            self.last.nav = nav

    def env_made(self, env: Any, config: Any, files: Any) -> None:
        """Keep the environment and compiled templates; name every page in the navigation."""
        if env.bytecode_cache is None:
            env.bytecode_cache = self.templates
        if self.last is not None and self.last.env is None:
            self.last.env = env
        if self.dirty:
            # A dirty build reads only the pages it rebuilds; in their navigation, every page
            # titled by its first heading would show "None". Reading its source gives the title.
            for file in files.documentation_pages():
                if file.page is not None and file.page.markdown is None:
                    file.page.read_source(config)

    def build_finished(self) -> None:
        """The build wrote every page: the next save may rebuild pages from it.

        The session learns that the pages show every change, and its worker imports, while
        the author reads the page, what the next edit will need.
        """
        session = self._session()
        if session is not None:
            session.end_build()
            try:
                session.warm_up()
            except WorkerError as exc:
                self._log.warning(f"could not start the worker ahead of time: {exc}")
        if self.last is not None:
            self.last.complete = True
        with self.lock:
            self.building = False

    def build_failed(self) -> None:
        """The build broke off: the next rebuild is a full one."""
        self.last = None
        with self.lock:
            self.building = False

    def start_saved(self) -> None:
        """A topic module was written: start its changed snippets now, ahead of the rebuild.

        Called in the watcher's thread, which must never stand still: when the lock is taken
        (a rebuild of pages ahead, which may be waiting for snippets) or a build is under way,
        that build, or the rebuild the save triggers, reads the change itself.
        """
        if not self.lock.acquire(blocking=False):
            return
        started = False
        try:
            session = self._session()
            if self.building or self.rebuilding or self.closed or session is None:
                return
            session.start_ahead()  # never waits for a run
            started = True
        except Exception as exc:  # the rebuild that follows runs them, or says what failed
            self._log.debug(f"could not start snippets ahead of the rebuild: {exc}")
        finally:
            self.lock.release()
        if started and self._early is not None:
            # The pages need not wait for MkDocs' debounce (a tenth of a second after the last
            # event): they are rebuilt now, in a thread of their own, while the snippets run.
            threading.Thread(target=self._early, name="refkit-pages-ahead", daemon=True).start()

    def _package_pages_ahead(self, package_dir: Path) -> bool:
        """:meth:`pages_ahead` when only the topic package changed since the last build.

        Called under :attr:`lock`, by both rebuilds ahead: the one a save starts at once and
        the one MkDocs' rebuild loop runs first.
        """
        last = None if self.closed else self._only_package_changed(package_dir)
        return last is not None and self.pages_ahead(last)

    def pages_ahead(self, last: LastBuild) -> bool:
        """Only the package changed: rebuild the pages of changed snippets, ahead of the site.

        Called under :attr:`lock`. The pages are those of ``last``, unchanged, so the session
        keeps their plans.

        Returns:
            Whether any page was rebuilt.
        """
        session = self._session()
        if session is None:
            return False
        started = time.perf_counter()
        stale = session.begin_pages(None)
        if not stale or session.catalog_problems():  # the full rebuild reports problems
            return False
        self.ahead = True
        try:
            built = rebuild_pages(stale, last)
        except Exception as exc:  # whatever went wrong, the full rebuild that follows is right
            self._log.warning(f"could not rebuild {sorted(stale)} ahead: {printable(str(exc))}")
            return False
        finally:
            self.ahead = False
        if built:
            seconds = time.perf_counter() - started
            shown = ", ".join(sorted(stale))
            self._log.info(f"{shown} built in {seconds:.2f} seconds, ahead of the rest of the site")
        return bool(built)

    def attach(self, server: Any, config: Any) -> str:
        """Watch the topic package for ``server``; under ``--dirty``, rebuild pages ahead.

        Args:
            server: MkDocs' ``LiveReloadServer``.
            config: The configuration it serves, whose ``watch`` entries are still to be read.

        Returns:
            What is watched, for the log (nothing without a session).
        """
        session = self._session()
        if session is None:
            return ""
        package_dir = session.settings.package_path
        watching = self.watcher.watch(server, package_dir, on_written=self.start_saved)
        # The watcher sees the package; MkDocs polling it too (a `watch:` entry, there for
        # Zensical) would only rebuild a second time.
        package = package_dir.resolve()
        config.watch[:] = [item for item in config.watch if Path(item).resolve() != package]
        if not self.dirty or not hasattr(server, "builder"):
            return watching
        rebuild = server.builder

        def pages_now() -> None:
            # Right after a save started its snippets (see start_saved), in a thread of its
            # own: MkDocs' rebuild loop, once it wakes, waits for the lock, then publishes.
            if not self.lock.acquire(blocking=False):
                return  # the rebuild loop has the lock: its pages_then_rebuild does this
            try:
                if self.building or self.rebuilding:
                    return
                if self._package_pages_ahead(package_dir):
                    self._shown_ahead = True
            except Exception as exc:
                self._log.warning(f"could not rebuild pages ahead of the site ({exc})")
            finally:
                self.lock.release()

        def pages_then_rebuild() -> None:
            # When only snippets changed, their pages are rebuilt and shown first; MkDocs' own
            # rebuild follows for the rest (the search index), and browsers reload once. It
            # follows whatever happened ahead: an error there must not cost the rebuild.
            try:
                with self.lock:
                    self.rebuilding = True
                    shown, self._shown_ahead = self._shown_ahead, False
                    shown = self._package_pages_ahead(package_dir) or shown
            except Exception as exc:
                self._log.warning(f"could not rebuild pages ahead of the site ({exc})")
                shown = False
            try:
                if shown:
                    publish(server)
                rebuild()
            finally:
                with self.lock:
                    self.rebuilding = False

        self._early = pages_now
        server.builder = pages_then_rebuild
        return watching

    def shutdown(self, close: Callable[[], None]) -> None:
        """Stop watching, then ``close`` the session once nothing else uses it.

        The lock waits for a rebuild of pages ahead, or the watcher's start of snippets, to
        finish; once :attr:`closed` is set, neither starts again (nor a build: see
        :meth:`build_started`), so no worker outlives the server.
        """
        self.watcher.stop()
        with self.lock:
            self.closed = True
            close()

    def _only_package_changed(self, package_dir: Path) -> LastBuild | None:
        """The last full build, if only the package changed since it started."""
        last = self.last
        if last is None or not last.complete or not self.watcher.saved.is_set():
            return None
        if docs_state(last.config, package_dir) != last.docs:
            return None  # a page or the configuration changed too
        self.watcher.saved.clear()
        return last
