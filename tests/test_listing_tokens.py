"""Listing tokens kept between builds (:mod:`refkit.engine.listing_tokens`), in-process: the same
highlighting from kept tokens, only the listings' texts kept, and a store that is read back as
input (damaged, tampered or foreign stores change no listing)."""

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


def plain(text: str, **options: object) -> str:
    return highlight(text, PythonLexer(**options), HtmlFormatter())


def test_kept_tokens_give_the_same_highlighting_and_a_build_forgets_what_it_left_out():
    cache = TokenCache()
    original = Lexer.get_tokens
    with cache.remembered():
        assert [plain(text) for text in SOURCES] == [plain(text) for text in SOURCES]
    assert Lexer.get_tokens is original  # lexers answer by themselves again afterwards
    assert cache.hits == 2 and len(cache.entries) == 2  # the second highlighting of each: kept
    cache.forget_unused()
    text = "\n\nx = 1\n"
    with cache.remembered():
        assert highlight(SOURCES[0], PythonLexer(), HtmlFormatter()) == plain(SOURCES[0])
        kept_newlines = highlight(text, PythonLexer(stripnl=False), HtmlFormatter())  # kept
        # Other options are other tokens: never the kept ones.
        stripped = highlight(text, PythonLexer(), HtmlFormatter())
    assert (kept_newlines, stripped) == (plain(text, stripnl=False), plain(text))
    assert kept_newlines != stripped
    assert cache.hits == 4  # SOURCES[0] twice; the text once (the stripped one is no hit)
    cache.forget_unused()
    assert len(cache.entries) == 2  # SOURCES[1] was not highlighted: forgotten, text kept
    assert "print" not in "".join(value for tokens in cache.entries.values() for _, value in tokens)


def test_only_the_listings_texts_are_kept_and_lexers_with_their_own_lexing_are_left_alone():
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
    assert [
        "".join(value for _, value in tokens).rstrip("\n") for tokens in cache.entries.values()
    ] == [SOURCES[0]]


def stored(tmp_path: Path) -> Path:
    """A store of both sources' tokens, written as a build writes it."""
    cache = TokenCache()
    with cache.remembered():
        for text in SOURCES:
            plain(text)
    write_tokens(cache, tmp_path / STORE_NAME)
    return tmp_path / STORE_NAME


def test_a_store_written_by_one_process_answers_the_next(tmp_path):
    store = stored(tmp_path)
    again = read_tokens(store)
    assert len(again.entries) == 2 and not again.changed
    with again.remembered():
        assert [plain(text) for text in SOURCES] == [plain(text) for text in SOURCES]
    assert again.hits == 4 and not again.changed
    before = store.stat().st_mtime_ns
    write_tokens(again, store)  # nothing changed: nothing written
    assert store.stat().st_mtime_ns == before


def _tampered(data: dict) -> dict:
    for tokens in data["entries"].values():
        tokens.insert(0, ["Name", "evil()"])
    return data


def _foreign_type(data: dict) -> dict:
    for tokens in data["entries"].values():
        tokens[0][0] = 'Name"><script>alert(1)</script>'
    return data


def _triple(data: dict) -> dict:
    for tokens in data["entries"].values():
        tokens[0].append("x")
    return data


def _number(data: dict) -> dict:
    for tokens in data["entries"].values():
        tokens[0][1] = 7
    return data


def _non_standard_type(data: dict) -> dict:
    for tokens in data["entries"].values():
        tokens[0][0] = "Name.Evil"
    return data


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
        pytest.param(lambda text: json.dumps(_tampered(json.loads(text))), id="other code"),
        pytest.param(lambda text: json.dumps(_foreign_type(json.loads(text))), id="markup type"),
        pytest.param(
            lambda text: json.dumps(_non_standard_type(json.loads(text))), id="unknown type"
        ),
        pytest.param(lambda text: json.dumps(_triple(json.loads(text))), id="a triple"),
        pytest.param(lambda text: json.dumps(_number(json.loads(text))), id="a number"),
    ],
)
def test_a_damaged_or_foreign_store_changes_no_listing(tmp_path, damage):
    store = stored(tmp_path)
    store.write_text(damage(store.read_text()), errors="surrogateescape")
    cache = read_tokens(store)
    with cache.remembered():
        shown = [plain(text) for text in SOURCES]
    assert shown == [plain(text) for text in SOURCES]
    assert "evil" not in "".join(shown) and "script" not in "".join(shown)
    assert cache.hits == 0 and cache.changed  # lexed anew, to be stored again


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
    plain(SOURCES[0])
    kept.converted()
    assert Lexer.get_tokens is not None and kept.cache is not None
    assert Lexer.get_tokens.__qualname__ == "Lexer.get_tokens"  # restored
    kept.build_finished(every_page=True)
    data = json.loads((tmp_path / STORE_NAME).read_text())
    assert data["pygments"] == pygments.__version__ and len(data["entries"]) == 1
    kept.build_started(tmp_path, [])  # the snippet is gone: its listing is no longer kept
    kept.converting()
    plain(SOURCES[0])
    kept.build_finished(every_page=True)  # closes the patch, forgets the unused entry
    assert Lexer.get_tokens.__qualname__ == "Lexer.get_tokens"
    assert json.loads((tmp_path / STORE_NAME).read_text())["entries"] == {}
