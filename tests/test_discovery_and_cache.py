import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from refkit.engine.cache import EnvironmentKey, ResultCache, cache_key
from refkit.engine.discovery import load_catalog
from refkit.engine.results import ERROR, OK, ErrorInfo, SnippetResult

TOPIC = '''
from pkg.shared import helper_value
from refkit.engine.references import Reference

TITLE = "A topic"
REFERENCES = (Reference("https://a.org", "A", "For A.", "find a"),)
SCALE = 2

def _double(x):
    return x * SCALE

def demo_one():
    """Prints one."""
    print(_double(1))

def demo_two():
    """Prints two."""
    print(2)

def demo_calls_two():
    demo_two()
'''


@pytest.fixture
def package(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "shared.py").write_text("def helper_value():\n    return 1\n")
    (pkg / "data" / "corpus.txt").write_text("hello\n")
    (pkg / "topic.py").write_text(textwrap.dedent(TOPIC))
    (pkg / "not_a_topic.py").write_text("def demo_x():\n    pass\n")
    return pkg


def fingerprints(pkg: Path) -> dict[str, str]:
    return {sid: s.fingerprint for sid, s in load_catalog(pkg).snippets.items()}


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def test_topics_snippets_and_references_are_read_statically(package):
    catalog = load_catalog(package)
    assert list(catalog.topics) == ["topic"]
    topic = catalog.topics["topic"]
    assert topic.title == "A topic"
    assert topic.references[0].search_query == "find a"
    assert [s.function for s in topic.snippets] == ["demo_one", "demo_two", "demo_calls_two"]
    assert topic.snippets[0].summary == "Prints one."
    # Pages show the code without the docstring; the live output stands in for its example.
    assert topic.snippets[0].display_source == "def demo_one():\n    print(_double(1))\n"
    assert '"""Prints one."""' in topic.snippets[0].source
    assert topic.snippets[0].line == 12
    # The worker preloads third-party imports only: in-package modules may be edited while it runs.
    assert catalog.preload_imports == ("from refkit.engine.references import Reference",)
    assert topic.snippets[0].preload_imports == catalog.preload_imports


def test_editing_one_snippet_changes_only_it_and_its_callers(package):
    before = fingerprints(package)
    edit(package / "topic.py", "print(2)", "print(22)")
    after = fingerprints(package)
    assert before["topic.demo_one"] == after["topic.demo_one"]
    assert before["topic.demo_two"] != after["topic.demo_two"]
    assert before["topic.demo_calls_two"] != after["topic.demo_calls_two"]


IMPORTING_TOPIC = """
import pkg.topic as first
from pkg.topic import _double, demo_two

TITLE = "Builds on the first topic"

def demo_uses_helper():
    print(_double(5))

def demo_uses_snippet():
    demo_two()
    first.demo_calls_two()
"""


@pytest.mark.parametrize(
    ("old", "new", "changes_importer"),
    [
        ("print(_double(1))", "print(_double(11))", False),  # a snippet nothing else names
        ("print(2)", "print(22)", True),  # demo_two, which the other topic imports
        ("    demo_two()\n", "    demo_two()\n    print()\n", True),  # reached as first.demo_...
        ("return x * SCALE", "return x * SCALE + 0", True),  # a helper it imports
    ],
)
def test_a_topic_importing_another_depends_on_its_helpers_and_the_snippets_it_names(
    package, old, new, changes_importer
):
    (package / "second.py").write_text(textwrap.dedent(IMPORTING_TOPIC))
    before = fingerprints(package)
    edit(package / "topic.py", old, new)
    after = fingerprints(package)
    changed = {sid for sid in before if before[sid] != after[sid]}
    assert changed, "the edit changed nothing at all"
    importer = {"second.demo_uses_helper", "second.demo_uses_snippet"}
    assert (importer <= changed) is changes_importer
    assert (importer & changed == set()) is not changes_importer


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("topic.py", "SCALE = 2", "SCALE = 3"),  # module-level code
        ("shared.py", "return 1", "return 2"),  # an in-package module it imports
        ("data/corpus.txt", "hello", "goodbye"),  # a data file
    ],
)
def test_editing_what_all_snippets_depend_on_changes_all(package, file, old, new):
    before = fingerprints(package)
    edit(package / file, old, new)
    after = fingerprints(package)
    assert all(before[sid] != after[sid] for sid in before)


def test_a_syntax_error_names_file_and_line_and_spares_other_topics(package):
    (package / "broken.py").write_text('TITLE = "b"\n\ndef demo_x(:\n    pass\n')
    catalog = load_catalog(package)
    assert "topic" in catalog.topics and "broken" not in catalog.topics
    [problem] = catalog.errors
    assert problem.path.name == "broken.py" and problem.line == 3


ENV = EnvironmentKey("0.1.0", "w", "3.11.7", "2.13.0", "5.24.0", "0.23.3", "cpu")


@pytest.mark.parametrize(
    "field", ["refkit", "worker", "python", "torch", "transformers", "tokenizers", "device"]
)
def test_every_environment_part_changes_the_key(package, field):
    snippet = load_catalog(package).snippets["topic.demo_one"]
    assert cache_key(snippet, ENV) != cache_key(snippet, replace(ENV, **{field: "other"}))


def test_environment_key_reads_versions_without_importing_torch():
    import subprocess
    import sys

    code = "import sys; from refkit.engine.cache import EnvironmentKey; k = EnvironmentKey.current('auto'); print(k.torch, 'torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0].startswith("2.") and out[1] == "False"


def test_failures_are_never_cached(tmp_path):
    cache = ResultCache(tmp_path)
    failed = SnippetResult("m.f", ERROR, error=ErrorInfo("E", "m"))
    assert cache.put("k1", failed) is False
    assert cache.get("k1") is None
    assert list(tmp_path.rglob("*.json")) == []


@pytest.mark.parametrize(
    "content", ["", "{not json", json.dumps({"status": "exploded"}), json.dumps([1, 2])]
)
def test_an_unreadable_entry_is_treated_as_missing(tmp_path, content):
    cache = ResultCache(tmp_path)
    cache.put("ab" * 32, SnippetResult("m.f", OK, return_text="1"))
    [entry] = tmp_path.rglob("*.json")
    entry.write_text(content)
    assert cache.get("ab" * 32) is None


def test_writes_leave_no_temporary_files(tmp_path):
    cache = ResultCache(tmp_path)
    for i in range(5):
        cache.put(f"{i:02d}" * 32, SnippetResult("m.f", OK, return_text=str(i)))
    names = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert len(names) == 5 and not any(n.startswith(".tmp-") for n in names)


# Rewrites one entry with a 1 MB result and dies part-way: argv is folder, key, kill point.
_KILLED_WRITER = """
import ctypes, os, resource, signal, sys
from pathlib import Path
from refkit.engine.cache import ResultCache
from refkit.engine.results import OK, SnippetResult

folder, key, kill_at = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
new = SnippetResult("m.f", OK, return_text="new " + "x" * 1_000_000)
# Dying by a signal must not leave a core dump behind.
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if kill_at == "mid-write":
    # No file may grow past 64 kB, so whatever file the entry is written to, the process is
    # killed by SIGXFSZ part-way through it (Python ignores that signal, and would raise and
    # clean up instead; a kill runs no cleanup). Set after the imports, which may write .pyc.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_FSIZE, (65_536, resource.RLIM_INFINITY))
else:
    # The new entry is written in full, and the process dies as it moves it into place.
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    os.replace = os.rename = die
ResultCache(folder).put(key, new)
"""


@pytest.mark.parametrize(
    ("kill_at", "signal_number"),
    [("mid-write", signal.SIGXFSZ), ("before-rename", signal.SIGKILL)],
)
def test_a_writer_killed_mid_entry_leaves_the_old_entry_whole(tmp_path, kill_at, signal_number):
    # Deterministic, unlike killing a whole build at a random moment, which almost never lands
    # inside a write: the writer dies inside this one, every time. A plain open/write in put()
    # truncates the entry first, so the old result is lost and a partial one left in its place.
    key = "ab" * 32
    assert ResultCache(tmp_path).put(key, SnippetResult("m.f", OK, return_text="old"))
    died = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path), key, kill_at],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert died.returncode == -signal_number, (
        f"meant to die {kill_at}: {died.returncode} {died.stderr}"
    )
    # The next build (a fresh cache object) is served the old result, whole.
    old = ResultCache(tmp_path).get(key)
    assert old is not None and old.return_text == "old"
    # What the dead writer left behind is never served as an entry, nor blocks the next write.
    cache = ResultCache(tmp_path)
    assert cache.put(key, SnippetResult("m.f", OK, return_text="new"))
    assert cache.get(key).return_text == "new"
    entries = [p.name for p in tmp_path.rglob("*.json") if not p.name.startswith(".tmp-")]
    assert entries == [f"{key}.json"]


@pytest.mark.parametrize(
    "import_line",
    [
        "from pkg import shared",
        "from . import shared",
        "from .shared import helper_value",
        "import pkg.shared",
    ],
)
def test_every_import_style_makes_the_imported_module_a_dependency(package, import_line):
    edit(package / "topic.py", "from pkg.shared import helper_value", import_line)
    before = fingerprints(package)
    edit(package / "shared.py", "return 1", "return 2")
    after = fingerprints(package)
    assert all(before[sid] != after[sid] for sid in before)


def test_a_snippet_depends_on_snippets_it_calls_through_others(package):
    (package / "chain.py").write_text(
        'TITLE = "c"\n'
        "def demo_a():\n    demo_b()\n"
        "def demo_b():\n    demo_c()\n"
        'def demo_c():\n    print("c")\n'
        'def demo_other():\n    print("o")\n'
    )
    before = fingerprints(package)
    edit(package / "chain.py", 'print("c")', 'print("C")')
    after = fingerprints(package)
    assert {sid for sid in before if before[sid] != after[sid]} == {
        "chain.demo_a",
        "chain.demo_b",
        "chain.demo_c",
    }


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ('TITLE = "a" + "b"\n', 1, "TITLE must be a string literal"),
        (
            'from refkit.engine.references import Reference\nTITLE = "t"\nREFERENCES = (Reference("u"),)\n',
            3,
            "malformed Reference",
        ),
        (
            'TITLE = "t"\nREFERENCES = (make_reference(),)\n',
            2,
            "REFERENCES must hold Reference(...) calls",
        ),
    ],
)
def test_a_malformed_topic_is_an_error_naming_its_line_and_spares_the_others(
    package, source, line, message
):
    (package / "odd.py").write_text(source)
    catalog = load_catalog(package)
    assert "topic" in catalog.topics
    [problem] = catalog.errors
    assert (problem.path.name, problem.line) == ("odd.py", line)
    assert message in str(problem)


def _same_catalog(package: Path) -> None:
    """The catalog a reload gives (reusing what earlier loads read) is what a first load gives."""
    from refkit.engine import discovery

    reloaded = load_catalog(package)
    kept = dict(discovery._last_load)
    discovery._last_load.clear()
    try:
        fresh = load_catalog(package)
    finally:
        discovery._last_load.update(kept)
    assert reloaded.topics == fresh.topics
    assert [(str(e), e.line) for e in reloaded.errors] == [(str(e), e.line) for e in fresh.errors]
    assert reloaded.preload_imports == fresh.preload_imports


def test_a_reload_after_edits_renames_deletes_and_syntax_errors_equals_a_first_load(package):
    load_catalog(package)
    steps: list[tuple[str, str, str]] = [
        ("write", "shared.py", "def helper_value():\n    return 3\n"),
        ("rename", "topic.py", "renamed.py"),
        # An import that found no module finds one once it is created, and loses it again.
        (
            "write",
            "extra.py",
            'from pkg.later import VALUE\nTITLE = "Extra"\n\ndef demo_x():\n    print(VALUE)\n',
        ),
        ("write", "later.py", "VALUE = 1\n"),
        ("delete", "later.py", ""),
        ("delete", "shared.py", ""),
        ("write", "extra.py", 'TITLE = "Extra"\n\ndef demo_x(:\n'),
        ("write", "extra.py", 'TITLE = "Extra"\n\ndef demo_x():\n    pass\n'),
        ("folder", "sub", ""),
        ("write", "sub/__init__.py", "import numpy\n"),
        ("write", "extra.py", 'import pkg.sub\nTITLE = "Extra"\n'),
    ]
    seen: list[str | None] = []
    for action, name, text in steps:
        path = package / name
        if action == "write":
            path.write_text(text)
        elif action == "rename":
            path.rename(package / text)
        elif action == "delete":
            path.unlink()
        else:
            path.mkdir()
        _same_catalog(package)
        snippet = load_catalog(package).snippets.get("extra.demo_x")
        seen.append(snippet.fingerprint if snippet else None)
    # The module that appeared, then went, is a dependency while it is there.
    assert seen[2] != seen[3] != seen[4] and seen[2] == seen[4]


def _fake_distribution(folder: Path, version: str, old: int) -> Path:
    """A ``tokenizers`` distribution's metadata in ``folder``, every time set to ``old``."""
    place = folder / f"tokenizers-{version}.dist-info"
    place.mkdir()
    (place / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: tokenizers\nVersion: {version}\n"
    )
    for path in (place / "METADATA", place, folder):
        os.utime(path, ns=(old, old))
    return place


def test_the_environment_key_is_kept_until_a_distribution_changes(tmp_path, monkeypatch):
    from refkit.engine import cache

    monkeypatch.setattr(cache, "_CURRENT", {})
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    old = (int(time.time()) - 3600) * 1_000_000_000  # long enough ago: not racy
    place = _fake_distribution(site, "9.0", old)
    first = EnvironmentKey.current("cpu")
    assert first.tokenizers == "9.0"
    assert EnvironmentKey.current("cpu") is first  # nothing changed: the key is kept

    # Upgraded: the old metadata folder goes, the new one comes (the folder's time changes).
    shutil.rmtree(place)
    place = _fake_distribution(site, "9.1", old + 1_000_000_000)
    assert EnvironmentKey.current("cpu").tokenizers == "9.1"
    # Its metadata rewritten in place, the folder's time untouched (an editable install).
    (place / "METADATA").write_text("Metadata-Version: 2.1\nName: tokenizers\nVersion: 9.2\n")
    os.utime(place / "METADATA", ns=(old + 2_000_000_000,) * 2)
    assert EnvironmentKey.current("cpu").tokenizers == "9.2"
    # Removed altogether: the versions of the folders after it on sys.path show.
    shutil.rmtree(place)
    os.utime(site, ns=(old + 3_000_000_000,) * 2)
    assert EnvironmentKey.current("cpu").tokenizers != "9.2"


def test_an_environment_key_read_just_after_a_change_is_not_kept(tmp_path, monkeypatch):
    # A second change in the same tick of the file system's clock leaves the times as they
    # were: a key read right after a change is read again next time.
    from refkit.engine import cache

    monkeypatch.setattr(cache, "_CURRENT", {})
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    now = time.time_ns()
    place = _fake_distribution(site, "9.0", now)
    assert EnvironmentKey.current("cpu").tokenizers == "9.0"
    (place / "METADATA").write_text("Metadata-Version: 2.1\nName: tokenizers\nVersion: 9.5\n")
    os.utime(place / "METADATA", ns=(now, now))  # the same time and size as before
    assert EnvironmentKey.current("cpu").tokenizers == "9.5"


def test_walks_reused_across_versions_of_a_module_are_what_fresh_walks_find():
    from refkit.engine.discovery import _read_module, _walk

    memo: dict[tuple[object, ...], object] = {}

    def walk(key, node):  # as a reload does: the walk of an earlier version's same statement
        if key not in memo:
            memo[key] = _walk(node)
        return memo[key]

    versions = [
        "a = 1; b = c\nimport os; import json\n\n@deco(d)\ndef demo_x():\n    return q\n",
        "b = c; a = 1\nimport json; import os\n\ndef demo_x():\n    return q\n",
        "a = 1; b = e\nimport os; import json\n\n@other\ndef demo_x():\n    return q + r\n",
        "a = 1; b = c\n\n\nimport os; import json\n\n@deco(d)\ndef demo_x():\n    return q\n",
    ]

    def seen(module):
        return (
            module.mentioned,
            module.context,
            [name for name, _ in module.imports],
            {node.name: names for node, names in module.names.items()},
            {node.name: names for node, names in module.identifiers.items()},
        )

    for source in versions:
        assert seen(_read_module(source, "pkg", walk)) == seen(_read_module(source, "pkg"))
