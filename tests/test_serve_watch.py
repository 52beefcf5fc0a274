"""What ``mkdocs serve`` relies on between rebuilds, in-process: the catalog reload, the docs
state, the early publish, the template cache and the index skipped by a rebuild of pages ahead,
and what a save's snippets wait for (the worker's result, the watcher's order)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jinja2
from mkdocs.config import load_config
from mkdocs.livereload import LiveReloadServer

from refkit.engine.discovery import load_catalog
from refkit.engine.serve_watch import TemplateCache, docs_state, publish


def write_package(root: Path) -> Path:
    package = root / "notes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("SCALE = 2\n")
    (package / "uses.py").write_text(
        textwrap.dedent(
            """
            from notes.helpers import SCALE
            TITLE = "Uses"

            def demo_scaled():
                print(SCALE * 3)
            """
        )
    )
    (package / "alone.py").write_text('TITLE = "Alone"\n\ndef demo_alone():\n    print(1)\n')
    return package


def test_a_reload_reuses_unchanged_topics_and_follows_every_change(tmp_path):
    package = write_package(tmp_path)
    first = load_catalog(package)
    again = load_catalog(package)
    assert again.topics["uses"] is first.topics["uses"]  # nothing changed: nothing re-read
    # A change in a module a topic imports changes that topic, and only that one.
    (package / "helpers.py").write_text("SCALE = 5\n")
    third = load_catalog(package)
    assert third.topics["alone"] is first.topics["alone"]
    before = first.snippets["uses.demo_scaled"].fingerprint
    assert third.snippets["uses.demo_scaled"].fingerprint != before
    # Back to the first text: the same fingerprint as a fresh read gives.
    (package / "helpers.py").write_text("SCALE = 2\n")
    assert load_catalog(package).snippets["uses.demo_scaled"].fingerprint == before
    # A module that stops parsing is an error, whatever was remembered of it.
    (package / "alone.py").write_text('TITLE = "Alone"\n\ndef demo_alone(:\n')
    broken = load_catalog(package)
    assert "alone" not in broken.topics and "alone.py:3" in str(broken.errors[0])


def make_config(root: Path) -> object:
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text("# Home\n")
    (root / "mkdocs.yml").write_text("site_name: t\nwatch: [notes, extra]\n")
    (root / "extra").mkdir()
    (root / "extra" / "a.txt").write_text("a")
    return load_config(str(root / "mkdocs.yml"))


def test_the_docs_state_sees_pages_configuration_and_watched_folders_but_not_the_package(
    tmp_path,
):
    package = write_package(tmp_path)
    config = make_config(tmp_path)
    state = docs_state(config, package)
    (package / "alone.py").write_text('TITLE = "Alone, edited"\n')
    # Bytecode that a build writes (MkDocs importing a hook or Griffe extension in docs/) is no
    # edit of the docs: the first save after startup must still rebuild pages ahead.
    (tmp_path / "docs" / "__pycache__").mkdir()
    (tmp_path / "docs" / "__pycache__" / "hook.cpython-311.pyc").write_bytes(b"\0")
    assert docs_state(config, package) == state
    for changed in ("docs/index.md", "mkdocs.yml", "extra/a.txt"):
        path = tmp_path / changed
        path.write_text(path.read_text() + "\n# edited\n")
        assert docs_state(config, package) != state, changed
        state = docs_state(config, package)


def test_publish_lets_browsers_see_the_version_the_rebuild_will_publish(tmp_path):
    server = LiveReloadServer(builder=lambda: None, host="127.0.0.1", port=0, root=str(tmp_path))
    try:
        server._wanted_epoch = server._visible_epoch + 1  # as the build loop sets it
        assert publish(server) is True
        assert server._visible_epoch == server._wanted_epoch
    finally:
        server.server_close()
    assert publish(object()) is False  # another server: nothing published early


def test_the_template_cache_compiles_a_template_once_per_source():
    cache = TemplateCache()
    sources = {"page.html": "{{ 6 * 7 }}"}
    compiled: list[str] = []

    class Counting(jinja2.Environment):
        def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
            compiled.append(name)
            return super().compile(source, name, filename, raw, defer_init)

    def render() -> str:  # every rebuild makes a new environment
        loader = jinja2.DictLoader(sources)
        return Counting(loader=loader, bytecode_cache=cache).get_template("page.html").render()

    assert render() == "42" and render() == "42"
    assert compiled == ["page.html"]
    sources["page.html"] = "{{ 6 * 6 }}"  # an edited template is compiled again
    assert render() == "36"
    assert compiled == ["page.html", "page.html"]


class _Index:
    def __init__(self) -> None:
        self.pages: list[str] = []

    def add_entry_from_context(self, page: str) -> None:
        self.pages.append(page)


class _Search:
    def __init__(self) -> None:
        self.search_index = _Index()

    def on_page_context(self, page: str) -> str:  # as both search plugins do: index, then edit
        self.search_index.add_entry_from_context(page)
        return page.upper()


def test_rebuilding_pages_ahead_indexes_nothing_but_plugins_still_see_the_page():
    from refkit.engine.serve_watch import _indexing_discarded

    search, other = _Search(), object()
    plugins = {"search": search, "other": other}
    index = search.search_index
    with _indexing_discarded(plugins):
        assert search.on_page_context("page") == "PAGE"
    assert search.search_index is index and index.pages == []
    try:
        with _indexing_discarded(plugins):
            raise RuntimeError("a page failed")
    except RuntimeError:
        pass
    assert search.search_index is index  # put back whatever happened
    search.on_page_context("later")
    assert index.pages == ["later"]


def test_the_worker_sends_a_result_before_it_waits_for_the_snippets_process_to_exit(
    monkeypatch,
):
    # A child that has sent its result takes tens of milliseconds to exit; a save's page waits
    # for the result, not for that. What the snippet left running is killed first all the same.
    from refkit.engine import worker
    from refkit.engine.messages import RunRequest
    from refkit.engine.results import OK, SnippetResult

    order: list[str] = []

    class Protocol:
        def write(self, data: bytes) -> None:
            order.append("sent")

        def flush(self) -> None:
            pass

    monkeypatch.setattr(worker.os, "killpg", lambda pid, signum: order.append("killed"))
    monkeypatch.setattr(worker._Worker, "reap", lambda self, child: order.append("reaped"))
    request = RunRequest("1", "t.demo_x", "t", "demo_x", 5, 1000, (), 0)
    child = worker._Child(pid=2**22 + 1, fd=-1, request=request, deadline=0.0)
    worker._Worker("pkg", 1, Protocol()).finish(child, SnippetResult("t.demo_x", OK))
    assert order == ["killed", "sent", "reaped"]


def test_a_written_file_is_known_as_saved_before_its_snippets_are_started(tmp_path):
    # What on_written starts (the snippets, then the pages ahead) looks for the change: it
    # must be recorded first, for an editor that saves in place or by renaming into place.
    import os
    import threading
    import time

    from refkit.engine.serve_watch import PackageWatcher

    class Server:
        def __init__(self) -> None:
            self._rebuild_cond = threading.Condition()
            self._want_rebuild = False

    server, watcher = Server(), PackageWatcher()
    seen: list[tuple[bool, bool]] = []

    def on_written() -> None:
        seen.append((watcher.saved.is_set(), server._want_rebuild))
        watcher.saved.clear()
        server._want_rebuild = False

    watcher.watch(server, tmp_path, on_written=on_written)
    try:
        (tmp_path / "topic.py").write_text("x = 1\n")  # in place
        (tmp_path / "new.tmp").write_text("x = 2\n")
        os.replace(tmp_path / "new.tmp", tmp_path / "topic.py")  # renamed into place
        deadline = time.monotonic() + 30
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.stop()
    assert len(seen) >= 3  # closed (topic.py), closed (new.tmp), moved
    assert all(state == (True, True) for state in seen), seen
