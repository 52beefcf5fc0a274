"""``mkdocs serve``: rebuild at once when a topic module or data file is saved.

MkDocs polls watched paths every half second, which was most of the time between saving a
topic module and seeing its new output. Here a watchdog observer sets the rebuild trigger of
MkDocs' ``LiveReloadServer`` directly on each file event. That trigger is not public API: where
it is missing, :func:`watch_package` falls back to ``server.watch``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["PackageWatcher", "mark_stale"]

_CHANGE_EVENTS = frozenset({"created", "modified", "moved", "deleted"})


class PackageWatcher:
    """Watches a topic package for a ``mkdocs serve`` server; :meth:`stop` ends it."""

    def __init__(self) -> None:
        self._observers: list[Any] = []

    def watch(self, server: Any, package_dir: Path) -> str:
        """Make saves under ``package_dir`` rebuild the site; says how, for the log."""
        condition: Any = getattr(server, "_rebuild_cond", None)
        if condition is None or not hasattr(server, "_want_rebuild"):
            server.watch(str(package_dir))
            return f"watching '{package_dir}' (polling) for changes to topic modules and data"
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
        return f"watching '{package_dir}' for changes to topic modules and data"

    def stop(self) -> None:
        """Stop every observer started by :meth:`watch`."""
        for observer in self._observers:
            observer.stop()
        self._observers.clear()


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
