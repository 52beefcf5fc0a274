"""The catalog kept on disk between processes: taken only when read from the same bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import REPO, topic_package

from refkit.engine import catalog_store, discovery
from refkit.engine.catalog_store import STORE_NAME, stored_catalog
from refkit.engine.discovery import load_catalog

TOPIC = '''
"""Greetings."""
from pkgstore.helpers import WORD

TITLE = "Greetings"
REFERENCES = (Reference("https://example.org/a", "A", "For A.", "find a"),)
ENVIRONMENTS = {"demo_hello": ("default", "old")}

from refkit.engine.references import Reference


def demo_hello():
    """Says hello."""
    print(WORD, "hello")
'''


@pytest.fixture
def package(tmp_path: Path) -> Path:
    folder = topic_package(tmp_path / "pkgstore")
    (folder / "helpers.py").write_text('WORD = "well,"\n')
    (folder / "greet.py").write_text(TOPIC)
    (folder / "broken.py").write_text('TITLE = "Broken"\n\ndef demo_x(:\n')
    (folder / "odd.py").write_text(
        'TITLE = "Odd"\nENVIRONMENTS = {"demo_y": 3}\n\n\ndef demo_y():\n    print(1)\n'
    )
    return folder


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every module source the catalog reader parses, as a process that starts anew would."""
    parsed: list[str] = []
    original = discovery._read_module

    def counted(source: str, *args: object, **kwargs: object) -> object:
        parsed.append(source)
        return original(source, *args, **kwargs)

    monkeypatch.setattr(discovery, "_read_module", counted)
    monkeypatch.setattr(discovery, "_last_load", {})  # no reload memo: a new process
    return parsed


def _same(a: discovery.Catalog, b: discovery.Catalog) -> None:
    assert a.topics == b.topics
    assert [str(e) for e in a.errors] == [str(e) for e in b.errors]
    assert (a.package_dir, a.state) == (b.package_dir, b.state)


def test_the_next_process_takes_the_stored_catalog_which_is_the_one_the_files_give(
    package, tmp_path, reads
):
    cache = tmp_path / "cache"
    stored_catalog(package, cache)
    assert not cache.exists()  # reading makes no folder: only a build's results do
    cache.mkdir()
    first = stored_catalog(package, cache)
    assert reads and (cache / STORE_NAME).is_file()
    reads.clear()
    discovery._last_load.clear()
    again = stored_catalog(package, tmp_path / "cache")
    assert reads == []  # nothing parsed
    _same(again, first)
    discovery._last_load.clear()
    _same(again, load_catalog(package))
    assert again.errors and "broken.py:3" in str(again.errors[0])
    [snippet] = again.topics["greet"].snippets
    assert snippet.environments == ("default", "old") and snippet.identifiers
    assert again.topics["odd"].declaration_problems  # they round trip too


def test_this_repositorys_catalog_comes_back_the_same(tmp_path):
    stored_catalog(REPO / "refkit", tmp_path)
    discovery._last_load.clear()
    _same(stored_catalog(REPO / "refkit", tmp_path), load_catalog(REPO / "refkit"))


def test_a_byte_changed_in_a_helper_with_size_and_time_kept_is_read_again(package, tmp_path):
    before = stored_catalog(package, tmp_path).topics["greet"].snippets[0].fingerprint
    helpers = package / "helpers.py"
    times = helpers.stat()
    helpers.write_text('WORD = "well;"\n')  # same size
    os.utime(helpers, ns=(times.st_atime_ns, times.st_mtime_ns))
    after = stored_catalog(package, tmp_path).topics["greet"].snippets[0].fingerprint
    assert after != before
    discovery._last_load.clear()
    assert after == load_catalog(package).topics["greet"].snippets[0].fingerprint


def _stored(tmp_path: Path) -> dict:
    return json.loads((tmp_path / STORE_NAME).read_text())


def _first_snippet(data: dict) -> dict:
    return next(t for t in data["topics"] if t["module"] == "greet")["snippets"][0]


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # cut off
        lambda text: "\x00\xff garbage",
        lambda text: json.dumps([1, 2]),
        lambda text: json.dumps({**json.loads(text), "topics": {"greet": 1}}),
        lambda text: text.replace('"line": ', '"line": true, "was": ', 1),  # a bool, not a line
        lambda text: text.replace('"https://example.org/a"', '"javascript:alert(1)"'),
        lambda text: text.replace('"identifiers": [', '"identifiers": [7, ', 1),
        lambda text: text.replace('"errors": [[', '"errors": [["x", "3", ', 1),
        lambda text: text.replace('"title": "Greetings"', '"title": ' + "[" * 10**5 + "]" * 10**5),
        lambda text: text.replace('"id": "greet.demo_hello"', '"id": "greet.demo_other"'),
        lambda text: text.replace('"fingerprint": "', '"fingerprint": "not hex ', 1),
        lambda text: text.replace('"line": ', '"line": -5, "was": ', 1),
    ],
    ids=[
        "truncated",
        "binary",
        "a list",
        "topics",
        "bool line",
        "bad link",
        "number",
        "errors",
        "deep",
        "id",
        "fingerprint",
        "negative line",
    ],
)
def test_a_damaged_store_is_read_as_missing_and_written_anew(package, tmp_path, reads, damage):
    stored_catalog(package, tmp_path)
    store = tmp_path / STORE_NAME
    text = store.read_text()
    damaged = damage(text)
    assert damaged != text
    store.write_text(damaged, encoding="utf-8", errors="surrogateescape")
    reads.clear()
    discovery._last_load.clear()
    catalog = stored_catalog(package, tmp_path)
    assert reads  # read from the files, not from the damaged store
    discovery._last_load.clear()
    _same(catalog, load_catalog(package))
    assert store.read_text() == text  # and stored again


def test_a_store_of_another_key_is_not_taken(package, tmp_path, reads, monkeypatch):
    stored_catalog(package, tmp_path)
    data = _stored(tmp_path)
    _first_snippet(data)["source"] = "def demo_hello():\n    print('forged')\n"
    (tmp_path / STORE_NAME).write_text(json.dumps(data))
    discovery._last_load.clear()
    # Another refkit, whose discovery code differs, wrote it: same files, another key.
    monkeypatch.setattr(catalog_store, "_CODE", (b"another refkit",))
    reads.clear()
    catalog = stored_catalog(package, tmp_path)
    assert reads and "forged" not in catalog.topics["greet"].snippets[0].source


def test_a_folder_that_cannot_be_written_still_gives_the_catalog(package, tmp_path):
    (tmp_path / STORE_NAME).mkdir()  # a folder where the file goes: root cannot write it either
    catalog = stored_catalog(package, tmp_path)
    assert sorted(catalog.topics) == ["greet", "odd"] and (tmp_path / STORE_NAME).is_dir()


def test_a_file_saved_while_the_package_is_read_is_not_stored_under_the_old_key(
    package, tmp_path, monkeypatch
):
    helpers = package / "helpers.py"
    old = helpers.read_text()
    original = discovery.load_catalog

    def saved_meanwhile(folder: Path) -> discovery.Catalog:
        helpers.write_text('WORD = "later"\n')  # the editor saves after the key was taken
        return original(folder)

    monkeypatch.setattr(discovery, "load_catalog", saved_meanwhile)
    stored_catalog(package, tmp_path)
    monkeypatch.setattr(discovery, "load_catalog", original)
    helpers.write_text(old)  # and the author takes the save back
    discovery._last_load.clear()
    fingerprint = stored_catalog(package, tmp_path).topics["greet"].snippets[0].fingerprint
    discovery._last_load.clear()
    assert fingerprint == load_catalog(package).topics["greet"].snippets[0].fingerprint


def _fingerprint(package: Path, folder: Path) -> str:
    discovery._last_load.clear()
    return stored_catalog(package, folder).topics["greet"].snippets[0].fingerprint


def _fresh_fingerprint(package: Path) -> str:
    discovery._last_load.clear()
    return load_catalog(package).topics["greet"].snippets[0].fingerprint


def test_the_same_files_in_another_folder_or_python_are_read_again(package, tmp_path, monkeypatch):
    import shutil
    import sys

    cache = tmp_path / "cache"
    cache.mkdir()
    stored_catalog(package, cache)
    moved = tmp_path / "elsewhere" / package.name
    shutil.copytree(package, moved)
    assert stored_catalog(moved, cache).topics["greet"].path == moved / "greet.py"
    monkeypatch.setattr(sys, "version", "3.99.0 (another Python)")
    reads: list[str] = []
    original = discovery._read_module
    monkeypatch.setattr(discovery, "_read_module", lambda s, *a: reads.append(s) or original(s, *a))
    discovery._last_load.clear()
    stored_catalog(moved, cache)
    assert reads


def test_what_a_linked_folder_holds_is_never_taken_from_the_store(package, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "words.txt").write_text("one")
    (package / "data").symlink_to(shared, target_is_directory=True)
    before = _fingerprint(package, tmp_path)
    (shared / "words.txt").write_text("two")  # behind the link: the package's listing is the same
    after = _fingerprint(package, tmp_path)
    assert after != before and after == _fresh_fingerprint(package)


def test_a_link_or_folder_that_comes_and_goes_is_part_of_the_key(package, tmp_path):
    lock = package / ".#greet.py"  # an editor's lock file: a dangling link while a file is open
    lock.symlink_to("root@host.1234:1700000000")
    discovery._last_load.clear()
    assert any(".#greet.py" in str(e) for e in stored_catalog(package, tmp_path).errors)
    lock.unlink()
    discovery._last_load.clear()
    assert not any(".#greet.py" in str(e) for e in stored_catalog(package, tmp_path).errors)
    (package / "x.py").mkdir()  # a folder with a module's name
    discovery._last_load.clear()
    _same(stored_catalog(package, tmp_path), load_catalog(package))


def test_a_link_that_loops_or_runs_through_a_file_is_keyed_and_stored(package, tmp_path, reads):
    (package / "loop.py").symlink_to("loop.py")
    (package / "through.py").symlink_to("helpers.py/child")
    assert catalog_store._key(package.resolve()) is not None
    stored_catalog(package, tmp_path)
    assert (tmp_path / catalog_store.STORE_NAME).is_file()
    reads.clear()
    discovery._last_load.clear()
    taken = stored_catalog(package, tmp_path)
    assert not reads  # the next process took the stored catalog
    _same(taken, load_catalog(package))


def test_the_scan_lists_what_rglob_lists_in_the_same_order(package, tmp_path):
    (package / ".hidden").write_text("x")
    (package / "a-b.txt").write_text("x")
    (package / "a").mkdir()
    (package / "a" / "x.txt").write_text("x")
    (package / "a" / "__pycache__").mkdir()
    (package / "a" / "__pycache__" / "x.pyc").write_bytes(b"")
    (package / "dangling").symlink_to("nowhere")
    (package / "linked").symlink_to(package / "a", target_is_directory=True)
    expected = sorted(
        p for p in package.rglob("*") if "__pycache__" not in p.relative_to(package).parts
    )
    assert discovery.package_entries(package) == expected
    names = [p.relative_to(package).as_posix() for p in expected]
    assert {".hidden", "a/x.txt", "dangling", "linked"} <= set(names)
    assert "linked/x.txt" not in names  # a linked folder is not entered


def test_a_file_name_that_is_not_utf8_is_no_crash(package, tmp_path):
    import os

    (package / os.fsdecode(b"notes-\xff.txt")).write_text("x")
    stored_catalog(package, tmp_path)
    discovery._last_load.clear()
    _same(stored_catalog(package, tmp_path), load_catalog(package))


def test_a_package_inside_a_folder_named_pycache_still_has_its_files_in_the_key(tmp_path):
    (tmp_path / "__pycache__").mkdir()
    folder = topic_package(tmp_path / "__pycache__" / "pkgstore")
    (folder / "helpers.py").write_text('WORD = "well,"\n')
    (folder / "greet.py").write_text(TOPIC)
    assert discovery.package_state(folder)  # the folders above the package are not its bytecode
    before = _fingerprint(folder, tmp_path)
    (folder / "helpers.py").write_text('WORD = "well;"\n')
    after = _fingerprint(folder, tmp_path)
    assert after != before and after == _fresh_fingerprint(folder)
