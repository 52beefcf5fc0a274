"""Source listings (:mod:`refkit.engine.listings`), in-process: refkit's own markup, the same when
kept as when made, what Pygments lexes, the store pruned to the listings, and a store that is
read back as input (damaged, tampered or foreign stores change no listing)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pygments
import pytest
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from refkit.engine import render
from refkit.engine.discovery import Snippet
from refkit.engine.listings import (
    STORE_NAME,
    KeptListings,
    lexed_text,
    listing_html,
    read_listings,
    source_html,
    write_listings,
)

SOURCES = ["def f(x):\n    return x > 2  # twice, if", "print('a' if 1 > 0 else 'b')"]
TAG = re.compile(r"<[^>]*>")


def shown_text(markup: str) -> str:
    """What a reader sees of a listing: its text, tags dropped and entities read."""
    import html

    return html.unescape(TAG.sub("", markup))


def test_a_listing_is_pygments_markup_in_the_wrapper_material_styles():
    code = 'def f():\n    return "</code><script>x</script>" < 1  # é'
    markup = listing_html(code, KeptListings())
    assert markup.startswith('<div class="language-python highlight"><pre><span></span><code>')
    assert markup.endswith("</code></pre></div>")
    assert '<span class="k">def</span>' in markup and '<span class="nf">f</span>' in markup
    assert "<script>" not in markup and "&lt;/code&gt;&lt;script&gt;" in markup
    assert shown_text(markup) == code + "\n"  # every character of the code, nothing else


def test_a_snippets_listing_shown_collapsed_or_hidden():
    snippet = Snippet(
        "m.demo_f", "m", "demo_f", Path("m.py"), 1, "  def demo_f():\n    pass\n", "", ""
    )
    shown = source_html(snippet, "show", KeptListings())
    assert shown.startswith(render.SOURCE_OPEN_HTML) and shown.endswith(render.SOURCE_CLOSE_HTML)
    assert shown_text(shown) == "def demo_f():\n  pass\n"  # dedented, as the module reads
    collapsed = source_html(snippet, "collapsed", KeptListings())
    inner = collapsed.removeprefix(render.SOURCE_OPEN_HTML).removesuffix(render.SOURCE_CLOSE_HTML)
    assert inner.startswith('<details class="quote"><summary>Source of demo_f</summary><div')
    assert inner.endswith("</div></details>")
    assert source_html(snippet, "hide", KeptListings()) == ""


@pytest.mark.parametrize(
    "code",
    ["x = 1", "\n\n\nx = 1\n\n\n", "a\r\nb\rc", "\ufeffx = 1", "\tif x:\n\t\ty = '\\t'", "", "\n"],
)
def test_lexed_text_is_what_pygments_lexes(code):
    assert lexed_text(code) == "".join(value for _, value in PythonLexer().get_tokens(code))


def test_kept_markup_gives_the_same_listing_and_only_the_listings_are_kept():
    kept = KeptListings()
    first = [listing_html(code, kept) for code in SOURCES]
    assert len(kept.entries) == 2 and kept.hits == 0 and kept.changed
    assert [listing_html(code, kept) for code in SOURCES] == first
    assert kept.hits == 2
    kept.changed = False
    kept.keep_only(SOURCES)  # still listings: kept
    assert len(kept.entries) == 2 and not kept.changed
    kept.keep_only(SOURCES[:1])  # the second snippet changed: its old code's markup goes
    assert len(kept.entries) == 1 and kept.changed
    assert [listing_html(code, kept) for code in SOURCES] == first
    assert kept.hits == 3  # the first kept, the second highlighted again


def stored(tmp_path: Path) -> Path:
    """A store of both sources' tokens, written as a build writes it."""
    kept = KeptListings()
    for code in SOURCES:
        listing_html(code, kept)
    write_listings(kept, tmp_path / STORE_NAME)
    return tmp_path / STORE_NAME


def test_a_store_written_by_one_process_answers_the_next(tmp_path):
    expected = [listing_html(code, KeptListings()) for code in SOURCES]
    store = stored(tmp_path)
    again = read_listings(store)
    assert len(again.entries) == 2 and not again.changed
    assert [listing_html(code, again) for code in SOURCES] == expected
    assert again.hits == 2 and not again.changed
    before = store.stat().st_mtime_ns
    write_listings(again, store)  # nothing changed: nothing written
    assert store.stat().st_mtime_ns == before


def _each(change):
    def damage(text: str) -> str:
        data = json.loads(text)
        data["entries"] = {key: change(inner) for key, inner in data["entries"].items()}
        return json.dumps(data)

    return damage


def _header(**changes):
    return lambda text: json.dumps({**json.loads(text), **changes})


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: text[: len(text) // 2], id="truncated"),
        pytest.param(lambda text: "\udcff not json", id="not json"),
        pytest.param(lambda text: json.dumps([json.loads(text)]), id="a list"),
        pytest.param(lambda text: "[" * 100_000 + "]" * 100_000, id="deep nesting"),
        pytest.param(_header(format=99), id="another format"),
        pytest.param(_header(pygments="0.1"), id="another pygments"),
        pytest.param(_each(lambda inner: "evil()" + inner), id="other code"),
        pytest.param(_each(lambda inner: inner + "\n" * 20), id="more lines"),
        pytest.param(_each(lambda inner: inner.replace("&gt;", ">")), id="unescaped"),
        pytest.param(_each(lambda inner: "<script>alert(1)</script>" + inner), id="a script"),
        pytest.param(
            _each(lambda inner: inner.replace('<span class="k">', '<span class="k" onclick="x">')),
            id="an attribute",
        ),
        pytest.param(
            _each(lambda inner: inner.replace('class="k"', 'class="k"><b')), id="a tag in a span"
        ),
        pytest.param(_each(lambda inner: inner.replace("</span>", "</code>", 1)), id="a closing"),
        pytest.param(_each(lambda inner: 7), id="a number"),
        pytest.param(_each(lambda inner: [inner]), id="a list entry"),
        pytest.param(lambda text: text + " " * 9 * 1024 * 1024, id="too large"),
    ],
)
def test_a_damaged_or_foreign_store_changes_no_listing(tmp_path, damage):
    expected = [listing_html(code, KeptListings()) for code in SOURCES]
    store = stored(tmp_path)
    store.write_text(damage(store.read_text()), errors="surrogateescape")
    kept = read_listings(store)
    assert [listing_html(code, kept) for code in SOURCES] == expected
    assert kept.hits == 0 and kept.changed  # lexed anew, to be stored again


def test_the_store_holds_what_the_formatter_put_inside_the_wrapper(tmp_path):
    data = json.loads(stored(tmp_path).read_text())
    assert data["pygments"] == pygments.__version__ and len(data["entries"]) == 2
    made = highlight(SOURCES[0], PythonLexer(), HtmlFormatter(wrapcode=True))
    assert next(iter(data["entries"].values())) in made


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
def test_a_store_that_is_no_regular_file_is_not_read(tmp_path, kind):
    store = tmp_path / STORE_NAME
    if kind == "fifo":
        os.mkfifo(store)  # reading it would wait for a writer that never comes
    else:
        store.symlink_to("/dev/zero")  # reading it would never end
    assert read_listings(store).entries == {}


def test_a_store_is_written_only_into_an_existing_folder_and_an_unwritable_one_costs_nothing(
    tmp_path,
):
    kept = KeptListings()
    listing_html(SOURCES[0], kept)
    write_listings(kept, tmp_path / "missing" / STORE_NAME)
    assert not (tmp_path / "missing").exists()  # a build that made no result cache keeps none
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        write_listings(kept, locked / STORE_NAME)  # no error: the next build lexes again
    finally:
        os.chmod(locked, 0o700)
    assert kept.changed == (not (locked / STORE_NAME).exists())
