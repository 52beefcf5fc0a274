"""This repository's own site: every topic page shows sources, live outputs, stamps, references."""

from __future__ import annotations

import ast
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import device_label

from refkit.engine.directive import find_directives
from refkit.engine.discovery import load_catalog
from refkit.engine.run_environments import snippet_environments

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CATALOG = load_catalog(REPO / "refkit")


@pytest.mark.parametrize("module", sorted(CATALOG.topics))
def test_topic_page_shows_every_snippet_with_output_stamp_and_references(
    built_site, real_environments, module
):
    topic = CATALOG.topics[module]
    markdown = (REPO / "docs" / "topics" / f"{module}.md").read_text(encoding="utf-8")
    assert re.search(rf"^---\ntopic: {module}\n---", markdown), "front matter must name the topic"
    directives, errors = find_directives(markdown)
    assert errors == []
    embedded = {d.snippet_id for d in directives}
    assert embedded == {s.id for s in topic.snippets}, "every snippet of the topic is on its page"

    page = (built_site / "topics" / module / "index.html").read_text(encoding="utf-8")
    assert "refkit-problem" not in page and "refkit-missing" not in page
    # One output per environment of a snippet: live where it is synced for the tests (default,
    # the light ones), recorded, with the stamp it was recorded with, elsewhere.
    synced = {path.name for path in real_environments.iterdir()}
    names = [snippet_environments(CATALOG.snippets[d.snippet_id]) for d in directives]
    live = sum(1 for envs in names for name in envs if name == "default" or name in synced)
    recorded = sum(len(envs) for envs in names) - live
    assert page.count('<div class="refkit-output">') == live + recorded
    assert page.count('<p class="refkit-stamp">Ran on ') == live
    assert page.count('<p class="refkit-stamp">Recorded on cpu · Python ') == recorded
    assert page.count('<div class="tabbed-set tabbed-alternate refkit-env-tabs"') == sum(
        1 for envs in names if len(envs) > 1
    )
    for snippet in topic.snippets:
        if next(d for d in directives if d.snippet_id == snippet.id).source != "hide":
            assert f'<span class="nf">{snippet.function}</span>' in page, f"source of {snippet.id}"
    assert 'id="references"' in page
    for ref in topic.references:
        assert (
            f'href="{html.escape(ref.url, quote=True)}" target="_blank" rel="noopener noreferrer"'
            in page
        )


def test_version_tabs_show_each_environment_live_or_recorded(built_site, real_environments):
    """The keras page's TensorFlow tabs and the AutoTokenizer page's transformers 4.57 tab."""

    def tabs(page: str, first_label: str) -> dict[str, str]:
        html_text = (built_site / "topics" / page / "index.html").read_text(encoding="utf-8")
        for block in html_text.split('<div class="tabbed-set tabbed-alternate refkit-env-tabs"')[
            1:
        ]:
            labels = re.findall(r'<label for="__refkit_[0-9a-f]+_\d+">([^<]+)</label>', block)
            contents = block.split('<div class="tabbed-block">')[1 : len(labels) + 1]
            if labels and labels[0] == "default" and first_label in labels:
                texts = (html.unescape(re.sub(r"<[^>]+>", "", c)) for c in contents)
                return dict(zip(labels, texts, strict=True))
        raise AssertionError(f"no tabs with {first_label} on {page}")

    keras = tabs("keras_engine_error", "legacy-tf")
    # One tab per environment the snippet declares, in the order declared, default first.
    declared = snippet_environments(CATALOG.snippets["keras_engine_error.demo_tf_roberta_here"])
    assert tuple(keras) == declared and len(keras) == 8
    # Never synced for the tests: shown as recorded, with the stamp the recording ran with.
    legacy = keras["legacy-tf"]
    assert "Recorded, not run in this build: environment legacy-tf" in legacy
    assert "refkit env sync legacy-tf" in legacy
    assert "No module named 'keras.engine'" in legacy
    assert "transformers 4.29.2 · tokenizers 0.13.3 · tensorflow 2.13.1 · keras 2.13.1" in legacy
    assert "last_hidden_state shape: (1, 5, 32)" in keras["fixed-tf"]
    assert "Keras 3, but this is not yet supported" in keras["keras-3"]
    assert "cannot import name 'TFRobertaModel'" in keras["default"]

    auto = tabs("auto_tokenizer_classes", "transformers-4.57")
    assert "AutoTokenizer       BertTokenizerFast  True" in auto["transformers-4.57"]
    assert "BertTokenizer       BertTokenizer      False" in auto["transformers-4.57"]
    if (real_environments / "transformers-4.57").exists():  # always in CI (see conftest)
        assert "Ran on cpu · Python" in auto["transformers-4.57"]
        assert "transformers 4.57.6 · tokenizers 0.22.2" in auto["transformers-4.57"]
        assert "Recorded, not run" not in auto["transformers-4.57"]
    assert "transformers 5." in auto["default"] and "BertTokenizerFast" not in auto["default"]


def test_environment_page_lists_where_outputs_came_from(built_site):
    page = (built_site / "environment" / "index.html").read_text(encoding="utf-8")
    assert '<table class="refkit-environments">' in page
    device = re.escape(html.escape(device_label()))
    assert re.search(rf"<td>{device}</td><td>3\.\d+\.\d+</td><td>2\.\d+", page)


def test_search_index_holds_prose_outputs_and_references(built_site):
    index = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    by_page: dict[str, str] = {}
    for doc in index["docs"]:
        by_page.setdefault(doc["location"].split("#")[0], "")
        by_page[doc["location"].split("#")[0]] += " " + doc["text"]
    for module, topic in CATALOG.topics.items():
        text = by_page[f"topics/{module}/"]
        assert f"Ran on {device_label()}" in html.unescape(text)  # output stamps are indexed
        for ref in topic.references:
            assert ref.title in html.unescape(text) or html.escape(ref.title) in text
            if ref.search_query:
                assert ref.search_query in html.unescape(text)


def test_search_index_holds_identifiers_of_the_code_but_no_source_listing(built_site):
    """Whole listings made unreadable excerpts: the code is findable by its names instead."""
    index = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    texts = {doc["location"]: html.unescape(doc["text"]) for doc in index["docs"]}
    assert not [
        where
        for where, text in texts.items()
        if "def demo_" in text and where.startswith("topics/")
    ]
    assert not [where for where in texts if where.startswith("api/topics/")]  # a docstring copy
    everything = " ".join(texts.values())
    for snippet in CATALOG.snippets.values():
        if snippet.identifiers:
            assert f"Code of {snippet.id} uses: {', '.join(snippet.identifiers)}" in everything


def test_the_home_page_shows_the_readme_procedure_as_one_list(built_site):
    """The README's steps, included on the home page: each a list item of its own."""
    home = (built_site / "index.html").read_text(encoding="utf-8")
    section = home.split('id="how-to-add-a-topic"', 1)[1].split("</article>", 1)[0]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    steps = readme.split("[start:add-a-topic]", 1)[1].split("[end:add-a-topic]", 1)[0]
    count = len(re.findall(r"^\d+\. ", steps, flags=re.MULTILINE))
    assert count >= 5 and section.count("<ol>") == 1
    assert section.count("<li>") == count and "refkit new" in section


def nav_topic_modules() -> list[str]:
    """The topic modules of mkdocs.yml's "Topics" section, in its order."""
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    [topics] = [entry["Topics"] for entry in nav if isinstance(entry, dict) and "Topics" in entry]
    return [
        Path(page if isinstance(page, str) else next(iter(page.values()))).stem for page in topics
    ]


def module_title_and_summary(module: str) -> tuple[str, str]:
    """``TITLE`` and the first line of the docstring, read from the module's source."""
    tree = ast.parse((REPO / "refkit" / f"{module}.py").read_text(encoding="utf-8"))
    assigned = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    title = ast.literal_eval(assigned["TITLE"])
    return title, (ast.get_docstring(tree) or "").strip().splitlines()[0]


def test_the_home_page_lists_the_topics_in_nav_order_with_their_docstring_summaries(
    built_site, zensical_site
):
    modules = nav_topic_modules()
    assert set(modules) == set(CATALOG.topics)
    # The summary as Markdown renders it: ``literals`` become code, the rest escaped text.
    expected = []
    for module in modules:
        title, summary = module_title_and_summary(module)
        shown = re.sub(r"``(.+?)``", r"<code>\1</code>", html.escape(summary, quote=False))
        expected.append((module, html.escape(title, quote=False), shown))
    for site in (built_site, zensical_site):
        home = (site / "index.html").read_text(encoding="utf-8")
        table = home.split('id="topics"', 1)[1].split("</table>", 1)[0]
        rows = re.findall(
            r'<tr>\s*<td><a href="topics/(\w+)/">(.*?)</a></td>\s*<td>(.*?)</td>\s*</tr>', table
        )
        assert rows == expected, site


# Tests of a stand-in site, for a pytest run in two workers with this suite's conftest: the
# fixtures of the real site are replaced by cheap ones, and each test logs its worker.
GROUPING_TESTS = """
import os, time, pytest

def log(name):
    with open(os.environ["GROUPING_LOG"], "a") as out:
        out.write(f"{os.environ['PYTEST_XDIST_WORKER']} {name}\\n")

@pytest.fixture(scope="session")
def real_cache():
    return None

@pytest.fixture(scope="session")
def built_site(real_cache):
    return None

@pytest.fixture(scope="session")
def zensical_site(built_site):
    return None

@pytest.mark.parametrize("n", range(3))
def test_other_first(n):
    time.sleep(0.05)
    log(f"other-{n}")

@pytest.mark.parametrize("n", range(3))
def test_real_built(built_site, n):
    time.sleep(0.05)
    log(f"real-built-{n}")

def test_real_zensical(zensical_site):
    log("real-zensical")

def test_real_cache(real_cache):
    log("real-cache")

@pytest.mark.parametrize("n", range(8))
def test_other_last(n):
    time.sleep(0.05)
    log(f"other-last-{n}")
"""


def test_the_tests_of_the_real_site_share_one_worker_and_come_first_in_it(tmp_path):
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (tmp_path / "test_grouping.py").write_text(GROUPING_TESTS)
    log = tmp_path / "workers.log"
    # Only xdist among the installed plugins: the others cost a second of start-up per worker.
    pytest_command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "xdist.plugin",
        "-p",
        "no:cacheprovider",
    ]
    done = subprocess.run(
        [*pytest_command, "-n", "2", "--dist", "loadgroup", "--basetemp", str(tmp_path / "inner")],
        cwd=tmp_path,
        env={**os.environ, "GROUPING_LOG": str(log), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    ran = [line.split() for line in log.read_text().splitlines()]
    assert len(ran) == 16 and {worker for worker, _ in ran} == {"gw0", "gw1"}, ran
    real = {worker for worker, name in ran if name.startswith("real-")}
    assert len(real) == 1, ran  # one worker makes the real site's fixtures
    in_that_worker = [name for worker, name in ran if worker in real]
    assert all(name.startswith("real-") for name in in_that_worker[:5]), ran  # and first
