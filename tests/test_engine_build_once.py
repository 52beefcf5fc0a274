"""What a build works out once: the environment, the pages' directives and snippets, pruning.

Each test counts calls of refkit's own functions (never of a library's) while a session builds
a small fixture package, in-process and without a worker (``execute: never``).
"""

from __future__ import annotations

import functools
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from refkit.engine import directive
from refkit.engine import session as session_module
from refkit.engine.cache import EnvironmentKey, ResultCache
from refkit.engine.cli import cli
from refkit.engine.session import BuildSession, PageSource
from refkit.engine.settings import Settings

TOPIC = '''
"""A topic for counting."""
TITLE = "Counted"


def demo_one():
    print(1)


def demo_two():
    print(2)


def demo_three():
    print(3)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "__init__.py").write_text("")
    (tmp_path / "notes" / "counted.py").write_text(textwrap.dedent(TOPIC))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(page_text())
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: t\nplugins:\n  - refkit:\n      package_dir: notes\n      cache_dir: cache\n"
    )
    return tmp_path


def page_text(marker: str = "") -> str:
    return f"# P {marker}\n\n!refkit counted.demo_one\n\n!refkit counted.demo_two\n"


def open_session(project: Path, mode="build", **options) -> BuildSession:
    settings = Settings.resolve(
        {"package_dir": "notes", "cache_dir": "cache", "execute": "never", **options},
        environ={},
        project_dir=project,
    )
    return BuildSession.open(settings, mode)


class Calls:
    """Counts the calls of a function it wraps (a method too, set on its class)."""

    def __init__(self, function):
        self.function = function
        self.count = 0

    def __call__(self, *args, **kwargs):
        self.count += 1
        return self.function(*args, **kwargs)

    def __get__(self, instance, owner):
        return self if instance is None else functools.partial(self, instance)


@pytest.fixture
def environment_reads(monkeypatch) -> Calls:
    calls = Calls(EnvironmentKey.current)  # bound to the class already
    monkeypatch.setattr(EnvironmentKey, "current", calls)
    return calls


def test_a_build_reads_the_environment_once(project, environment_reads):
    session = open_session(project)
    session.run_ahead()
    session.begin_pages([PageSource("index.md", page_text())])
    assert session.collect() == []
    assert session.prune_cache() == []
    assert session.cached_result(session.catalog.snippets["counted.demo_one"]) is None
    assert environment_reads.count == 1
    session.end_build()
    session.begin_pages([PageSource("index.md", page_text())])  # the next build reads it anew
    assert environment_reads.count == 2


def test_refkit_list_reads_the_environment_once_for_every_snippet(
    project, environment_reads, monkeypatch
):
    monkeypatch.chdir(project)
    done = CliRunner().invoke(cli, ["list"])
    assert done.exit_code == 0, done.output
    assert done.output.count("not run") == 3
    assert environment_reads.count == 1


def test_a_page_is_scanned_for_directives_once_per_build(project, monkeypatch):
    scans = Calls(directive._scan)
    monkeypatch.setattr(directive, "_scan", scans)
    session = open_session(project)
    text = page_text(uuid.uuid4().hex)  # a text no earlier test has scanned
    session.begin_pages([PageSource("index.md", text)])
    markdown, problems = session.assemble("index.md", text, lambda: text)
    assert problems == [] and "!refkit" not in markdown
    assert scans.count == 1


def test_the_places_of_snippets_are_worked_out_once_per_set_of_pages(project):
    session = open_session(project)
    session.plan([PageSource("index.md", page_text())])
    places = session.snippet_pages()
    assert session.snippet_pages() is places
    assert places == {"counted.demo_one": ["index.md:3"], "counted.demo_two": ["index.md:5"]}
    session.plan([PageSource("index.md", "# P\n\n!refkit counted.demo_three\n")])
    assert session.snippet_pages() == {"counted.demo_three": ["index.md:3"]}


def test_pages_kept_for_a_rebuild_ahead_are_neither_read_nor_planned_again(project):
    session = open_session(project, mode="serve")
    session.begin_pages([PageSource("index.md", page_text())])
    plan = session.pages["index.md"]
    session.end_build()
    module = project / "notes" / "counted.py"
    module.write_text(module.read_text().replace("print(1)", "print(11)"))
    assert session.begin_pages(None) == {"index.md"}
    assert session.pages["index.md"] is plan


def test_serve_rebuilds_prune_the_cache_only_once_the_catalog_changed(project, monkeypatch):
    prunes = Calls(ResultCache.prune)
    monkeypatch.setattr(ResultCache, "prune", prunes)
    session = open_session(project, mode="serve")
    for _ in range(3):  # rebuilds after page edits: the catalog is the same
        session.begin_pages([PageSource("index.md", page_text())])
        assert session.prune_cache() == []
        session.end_build()
    assert prunes.count == 1
    module = project / "notes" / "counted.py"
    module.write_text(module.read_text().replace("print(2)", "print(22)"))
    session.begin_pages([PageSource("index.md", page_text())])
    assert session.prune_cache() == []
    assert prunes.count == 2


def test_a_rebuild_with_the_same_package_does_not_check_its_name_again(project, monkeypatch):
    checks = Calls(session_module.package_name_problem)
    monkeypatch.setattr(session_module, "package_name_problem", checks)
    session = open_session(project, mode="serve")
    assert checks.count == 1
    for execute in ("auto", "never", "always"):  # mkdocs serve re-reads the settings each time
        session.reconfigure(session.settings.with_values(execute=execute))
    assert checks.count == 1
    (project / "other_notes").mkdir()
    session.reconfigure(session.settings.with_values(package_dir="other_notes"))
    assert checks.count == 2
