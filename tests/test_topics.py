"""The topic modules: every example runs, imports stay light, links and outputs hold.

Topics are found from the package, so a new one is checked like the rest; the checks about the
user's notes (their links, their search queries) apply to the notes' seven topics only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import live_runs

from refkit.engine.device import gpu_visible
from refkit.engine.discovery import load_catalog
from refkit.engine.drift import canonical_text, read_approved
from refkit.engine.project import read_project
from refkit.engine.session import BuildSession, PageSource, plan_page
from refkit.engine.settings import Settings

REPO = Path(__file__).resolve().parent.parent
NOTES = REPO / "tests" / "fixtures" / "seed-notes.md"
CATALOG = load_catalog(REPO / "refkit")
NOTES_TOPICS = {
    "train_tokenizer",
    "auto_tokenizer_classes",
    "offset_alignment",
    "model_inputs",
    "keras_engine_error",
    "conv1d_head",
    "loss_selection",
}


def test_every_topic_is_found_without_errors_and_has_a_page_in_the_nav():
    assert CATALOG.errors == []
    assert set(CATALOG.topics) >= NOTES_TOPICS  # the notes' topics are all still there
    nav = read_project(REPO / "mkdocs.yml").nav
    for topic in CATALOG.topics.values():
        assert topic.snippets, f"{topic.module} has no demo_ snippets"
        page = REPO / "docs" / "topics" / f"{topic.module}.md"
        assert plan_page(PageSource(page.name, page.read_text(encoding="utf-8"))).topic == (
            topic.module
        )
        assert f"topics/{topic.module}.md" in nav, f"{topic.module} is not in mkdocs.yml's nav"


@pytest.mark.slow
def test_stdlib_doctest_runner_runs_examples_of_every_snippet():
    # Exactly the documented command, glob expanded by the shell, from the repository root.
    done = subprocess.run(
        ["bash", "-c", "python -m doctest -v refkit/*.py"],
        cwd=REPO,
        env={
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    examples = Counter()
    for count, item in re.findall(r"^\s*(\d+) tests? in (\S+)$", done.stdout, flags=re.MULTILINE):
        examples[item] += int(count)
    for topic in CATALOG.topics.values():
        for snippet in topic.snippets:
            ran = examples[f"{topic.module}.{snippet.function}"]
            assert ran >= 1, f"no example of {snippet.id} ran under python -m doctest"
    assert "Test passed." in done.stdout


def imported_modules(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}


@pytest.mark.parametrize(
    "code", ["import refkit", "import refkit.engine.plugin, refkit.engine.runner"]
)
def test_importing_refkit_and_its_plugin_never_imports_the_heavy_libraries(code):
    modules = imported_modules(code)
    assert "refkit" in modules
    heavy = {
        m for m in modules if m.split(".")[0] in {"torch", "transformers", "tokenizers", "numpy"}
    }
    assert heavy == set()


def note_links() -> list[str]:
    return re.findall(r"https?://[^\s)\]]+", NOTES.read_text(encoding="utf-8"))


def note_queries() -> list[str]:
    queries = re.findall(
        r"^\s*-?\s*gs:\s*(.+)$", NOTES.read_text(encoding="utf-8"), flags=re.MULTILINE
    )
    return [q.strip().removeprefix("(").removesuffix(")").strip() for q in queries]


def test_every_link_of_the_notes_belongs_to_exactly_one_of_the_notes_topics():
    notes_topics = [CATALOG.topics[module] for module in sorted(NOTES_TOPICS)]
    carried = Counter(ref.url for topic in notes_topics for ref in topic.references)
    links = note_links()
    assert len(links) == 10
    for link in links:
        assert carried[link] == 1, f"{link} is carried by {carried[link]} topics"
    assert set(carried) == set(links), "a notes topic carries a link that is not in the notes"


# Which link each "gs:" query of the notes found, read off the notes by hand: the first queries
# stand above their link, the last three below it.
QUERY_OF_LINK = {
    "https://github.com/huggingface/transformers/issues/5587": "huggingface autotokenizer different from tokenizer",
    "https://huggingface.co/transformers/v4.2.2/custom_datasets.html": "huggingface tokenizer offsets",
    "https://medium.com/dejunhuang/": "pytorch cross entropy loss vs binarycrossentropy loss",
    "https://stackoverflow.com/questions/59336899/": "multi label classification binarycross entorpy",
    "https://towardsdatascience.com/cross-entropy-for-classification": "crossentropy loss for multi label classification",
    "https://discuss.pytorch.org/t/what-kind-of-loss": "loss function for multi label classification pytorch",
}


def test_every_search_query_of_the_notes_is_kept_with_its_link():
    assert sorted(QUERY_OF_LINK.values()) == sorted(note_queries())
    references = [
        ref for module in sorted(NOTES_TOPICS) for ref in CATALOG.topics[module].references
    ]
    for url_start, query in QUERY_OF_LINK.items():
        [reference] = [ref for ref in references if ref.url.startswith(url_start)]
        assert reference.search_query == query
    assert sum(1 for ref in references if ref.search_query) == len(QUERY_OF_LINK)


@pytest.mark.slow
@pytest.mark.skipif(gpu_visible(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error():
    code = "from refkit.engine.device import get_device; get_device()"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "REFKIT_DEVICE": "cuda"},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "refkit.engine.device.DeviceUnavailableError: REFKIT_DEVICE=cuda, but torch"
    )
    assert "Set REFKIT_DEVICE=cpu or auto" in last


@pytest.mark.slow
def test_every_snippet_gives_byte_identical_output_to_its_approved_run(
    built_site, real_cache, real_environments
):
    # The site build ran every snippet afresh (a new worker, each snippet in its own fork), in
    # each of its environments there is; its outputs equal, byte for byte, those approved from
    # earlier runs in other processes (in an environment: recorded there, with their stamps).
    options = read_project(REPO / "mkdocs.yml").options  # the environments this site declares
    settings = Settings.resolve(options, environ={}, project_dir=REPO).with_values(
        cache_dir=str(real_cache), environments_dir=str(real_environments)
    )
    session = BuildSession.open(settings)
    compared = 0
    for snippet in session.catalog.snippets.values():
        for environment in session.environments_of(snippet.id):
            report = session.environment_reports().get(environment)
            if environment != "default" and not (report and report.ok):
                continue  # not synced here: its tab shows the recorded output
            result = session.cached_result(snippet, environment)
            where = f"{snippet.id}@{environment}"
            assert result is not None and result.ok, f"{where}: {result and result.error}"
            assert result.output_text, f"{where} printed nothing"
            if environment == "default":
                approved = read_approved(settings.approved_path, result)
                assert approved is not None and canonical_text(result) == approved[0], where
            else:
                recorded = session.recorded(snippet.id, environment)
                assert recorded is not None and canonical_text(result) == recorded.text, where
                assert recorded.stamp.startswith("cpu · Python"), where
            compared += 1
    assert compared == live_runs(real_environments)


@pytest.mark.slow
def test_refkit_check_passes_on_this_repository(built_site, real_cache, real_environments):
    # Every snippet ran afresh in the site build, in each of its environments there is, and
    # matches its approved output in approved/ there.
    done = subprocess.run(
        [str(Path(sys.executable).parent / "refkit"), "check", "--cached"],
        cwd=REPO,
        # The results of the site build: the real snippets run once per test session.
        env={
            **os.environ,
            "REFKIT_CACHE_DIR": str(real_cache),
            "REFKIT_ENVIRONMENTS_DIR": str(real_environments),
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert f"{live_runs(real_environments)} passed, 0 failed" in done.stdout
    # The TensorFlow environments are not linked in: said, with the command that makes them.
    assert "refkit env sync legacy-tf" in done.stdout + done.stderr
