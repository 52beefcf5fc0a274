"""Listing tokens kept between builds (:mod:`refkit.engine.listing_tokens`), in-process: the same
highlighting from kept tokens, only the listings' texts kept, the lexers restored however the
patches close, and a store that is read back as input (damaged, tampered or foreign stores change
no listing)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pygments
import pytest
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import PythonConsoleLexer, PythonLexer

from refkit.engine.listing_tokens import (
    STORE_NAME,
    KeptTokens,
    TokenCache,
    read_tokens,
    write_tokens,
)

SOURCES = ["def f(x):\n    return x * 2  # twice", "print('a')"]
ORIGINAL = Lexer.get_tokens


def plain(text: str, **options: object) -> str:
    return highlight(text, PythonLexer(**options), HtmlFormatter(linenos="table"))


def test_kept_tokens_give_the_same_highlighting_and_other_options_are_other_tokens():
    expected = [plain(text) for text in SOURCES]
    text = "\n\nx = 1\n"
    kept_newlines, stripped = plain(text, stripnl=False), plain(text)
    assert kept_newlines != stripped
    cache = TokenCache()
    with cache.remembered():
        assert [plain(text) for text in SOURCES] == expected  # lexed and kept
        assert [plain(text) for text in SOURCES] == expected  # from the kept tokens
        assert plain(text, stripnl=False) == kept_newlines  # kept, with its newlines
        assert plain(text) == stripped  # other options: never the kept tokens
    assert Lexer.get_tokens is ORIGINAL  # lexers answer by themselves again afterwards
    assert cache.hits == 2 and len(cache.entries) == 4


def test_only_the_listings_texts_are_kept_and_dropped_once_they_are_no_listing():
    cache = TokenCache(texts=[SOURCES[0]])
    with cache.remembered():
        plain(SOURCES[0] + "\n")  # as a host hands it, with its newline: kept
        plain(SOURCES[1])  # the author's own code block, mkdocstrings' docstrings: not kept
        filtered = PythonLexer()
        filtered.add_filter("keywordcase", case="upper")
        assert ("Token.Keyword", "DEF") in {
            (str(kind), value) for kind, value in filtered.get_tokens(SOURCES[0])
        }
        list(PythonConsoleLexer().get_tokens(">>> 1\n1\n"))  # lexes by delegating: not kept
    spelled = ["".join(value for _, value in tokens) for tokens in cache.entries.values()]
    assert spelled == [SOURCES[0] + "\n"]
    cache.changed = False
    cache.keep_listings()  # still a listing: kept
    assert len(cache.entries) == 1 and not cache.changed
    cache.texts = frozenset({SOURCES[1]})  # its snippet changed: the old code's tokens go
    cache.keep_listings()
    assert cache.entries == {} and cache.changed


def test_patches_closed_out_of_order_leave_the_lexers_as_they_were(monkeypatch):
    monkeypatch.setattr(Lexer, "get_tokens", ORIGINAL)  # put back for the other tests, after
    first, second = TokenCache(), TokenCache()
    opened_first, opened_second = first.remembered(), second.remembered()
    opened_first.__enter__()
    opened_second.__enter__()
    opened_first.__exit__(None, None, None)  # before the patch laid over it
    opened_second.__exit__(None, None, None)
    # The second put back the first's function: closed, it only passes lexing on.
    plain(SOURCES[0])
    assert first.entries == {} and second.entries == {}


def stored(tmp_path: Path) -> Path:
    """A store of both sources' tokens, written as a build writes it."""
    cache = TokenCache()
    with cache.remembered():
        for text in SOURCES:
            plain(text)
    write_tokens(cache, tmp_path / STORE_NAME)
    return tmp_path / STORE_NAME


def test_a_store_written_by_one_process_answers_the_next(tmp_path):
    expected = [plain(text) for text in SOURCES]
    store = stored(tmp_path)
    again = read_tokens(store)
    assert len(again.entries) == 2 and not again.changed
    with again.remembered():
        assert [plain(text) for text in SOURCES] == expected
    assert again.hits == 2 and not again.changed
    before = store.stat().st_mtime_ns
    write_tokens(again, store)  # nothing changed: nothing written
    assert store.stat().st_mtime_ns == before


def _each(change):
    def damage(text: str) -> str:
        data = json.loads(text)
        for tokens in data["entries"].values():
            change(tokens)
        return json.dumps(data)

    return damage


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: text[: len(text) // 2], id="truncated"),
        pytest.param(lambda text: "\udcff not json", id="not json"),
        pytest.param(lambda text: json.dumps([json.loads(text)]), id="a list"),
        pytest.param(lambda text: "[" * 100_000 + "]" * 100_000, id="deep nesting"),
        pytest.param(
            lambda text: json.dumps({**json.loads(text), "format": 99}), id="another format"
        ),
        pytest.param(
            lambda text: json.dumps({**json.loads(text), "pygments": "0.1"}), id="another pygments"
        ),
        pytest.param(_each(lambda t: t.insert(0, ["Name", "evil()"])), id="other code"),
        pytest.param(_each(lambda t: t.append(["Text", "\n" * 20])), id="more lines"),
        pytest.param(
            _each(lambda t: t[0].__setitem__(0, 'Name"><script>alert(1)</script>')),
            id="markup type",
        ),
        pytest.param(_each(lambda t: t[0].__setitem__(0, "Name.Evil")), id="unknown type"),
        pytest.param(_each(lambda t: t[0].append("x")), id="a triple"),
        pytest.param(_each(lambda t: t[0].__setitem__(1, 7)), id="a number"),
        pytest.param(lambda text: text + " " * 9 * 1024 * 1024, id="too large"),
    ],
)
def test_a_damaged_or_foreign_store_changes_no_listing(tmp_path, damage):
    expected = [plain(text) for text in SOURCES]
    store = stored(tmp_path)
    store.write_text(damage(store.read_text()), errors="surrogateescape")
    cache = read_tokens(store)
    with cache.remembered():
        shown = [plain(text) for text in SOURCES]
    assert shown == expected
    assert cache.hits == 0 and cache.changed  # lexed anew, to be stored again


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
def test_a_store_that_is_no_regular_file_is_not_read(tmp_path, kind):
    store = tmp_path / STORE_NAME
    if kind == "fifo":
        os.mkfifo(store)  # reading it would wait for a writer that never comes
    else:
        store.symlink_to("/dev/zero")  # reading it would never end
    assert read_tokens(store).entries == {}


def test_a_store_is_written_only_into_an_existing_folder_and_an_unwritable_one_costs_nothing(
    tmp_path,
):
    cache = TokenCache()
    with cache.remembered():
        plain(SOURCES[0])
    write_tokens(cache, tmp_path / "missing" / STORE_NAME)
    assert not (tmp_path / "missing").exists()  # a build that made no result cache keeps none
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        write_tokens(cache, locked / STORE_NAME)  # no error: the next build lexes again
    finally:
        os.chmod(locked, 0o700)
    assert cache.changed == (not (locked / STORE_NAME).exists())


def test_kept_tokens_of_a_host_process_across_builds(tmp_path):
    from refkit.engine.discovery import Snippet

    snippet = Snippet("m.demo_f", "m", "demo_f", tmp_path / "m.py", 1, SOURCES[0] + "\n", "", "")
    kept = KeptTokens()
    kept.build_started(tmp_path, [snippet])
    kept.converting()
    kept.converting()  # a second page event before the page is converted: still one patch
    assert Lexer.get_tokens is not ORIGINAL
    plain(SOURCES[0])
    kept.converted()
    assert Lexer.get_tokens is ORIGINAL
    kept.build_finished()
    data = json.loads((tmp_path / STORE_NAME).read_text())
    assert data["pygments"] == pygments.__version__ and len(data["entries"]) == 1
    kept.converting()  # a rebuild of pages ahead that broke off before its page was converted
    kept.build_started(tmp_path, [])  # the next build: lexers answer by themselves first
    assert Lexer.get_tokens is ORIGINAL
    kept.build_finished()  # the snippet is gone: so is its listing's entry
    assert json.loads((tmp_path / STORE_NAME).read_text())["entries"] == {}
