"""Standalone sources and page downloads: they validate, and their code reproduces the page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, make_site, topic_package

from refkit.engine.discovery import load_catalog
from refkit.engine.drift import compare
from refkit.engine.notebook import page_downloads
from refkit.engine.results import (
    DISPLAY,
    OK,
    ErrorInfo,
    OutputEvent,
    RunEnvironment,
    SnippetResult,
)
from refkit.engine.standalone import StandaloneError, standalone_source

CATALOG = load_catalog(REPO / "refkit")
ENVIRONMENT = RunEnvironment("3.11.7", "2.13.0+cpu", "5.24.0", "0.23.3", "cpu")

# Runs the notebooks it is given, each in a process of its own forked from this fresh one, at
# most two at a time: every code cell of a notebook top to bottom in its process, each cell in a
# namespace of its own (stricter than a kernel, whose cells share one), recording what each
# printed. Before the forks it runs the import statements of the topic modules, as the snippet
# worker does (`Catalog.preload_imports`): transformers loads a submodule at the first use of
# each name, seconds apiece, once here instead of once per notebook. A cell still runs its own
# imports, in its own namespace; a statement that fails here (no TensorFlow) is left to the cell.
DRIVER = """
import contextlib, gc, io, json, os, sys, traceback


def run_notebook(path):
    done = []
    for cell in json.load(open(path, encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or source.startswith("%pip"):
            continue
        printed, error = io.StringIO(), None
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(source, cell["id"], "exec"), {"__name__": "__main__"})
            except BaseException:
                error = traceback.format_exc()
        done.append({"notebook": path, "id": cell["id"], "stdout": printed.getvalue(), "error": error})
    return done


def main(out, preload, paths, at_once=2):
    for statement in json.loads(preload):
        with contextlib.suppress(Exception):
            exec(statement, {})
    # The preloaded objects move to the permanent generation, as the snippet worker's do before
    # it forks: a child's garbage collector then leaves them alone instead of copying their pages.
    gc.freeze()
    parts = [f"{out}.{number}" for number in range(len(paths))]
    running, failed = {}, []

    def reap_one():
        pid, status = os.wait()
        if os.waitstatus_to_exitcode(status) != 0:
            failed.append(running[pid])
        del running[pid]

    for path, part in zip(paths, parts):
        while len(running) >= at_once:
            reap_one()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the notebook's own process
            with open(part, "w", encoding="utf-8") as file:
                json.dump(run_notebook(path), file)
            sys.stdout.flush()
            sys.stderr.flush()
            # Not a normal exit: tearing down torch's and transformers' modules took seconds
            # of CPU per notebook, and the driver waits only for the status.
            os._exit(0)
        running[pid] = path
    while running:
        reap_one()
    if failed:
        print("the process of these notebooks failed:", *failed, file=sys.stderr)
        return 1
    done = [cell for part in parts for cell in json.load(open(part, encoding="utf-8"))]
    json.dump(done, open(out, "w", encoding="utf-8"))
    return 0


sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
"""

PACKAGE_HELPERS = '''
"""Helpers that a topic imports."""
import math

SCALE = 3


def scaled(value):
    return value * SCALE + math.floor(0.5)
'''

TOPIC = '''
"""A topic with helpers from its package."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pkgdemo.helpers import scaled as times_three

if TYPE_CHECKING:
    from decimal import Decimal

TITLE = "Demo"
LOG = logging.getLogger("demo")
OFFSET = 1


def offset(value: Decimal) -> int:
    return value + OFFSET


def demo_numbers() -> None:
    """Print numbers."""
    print(offset(times_three(2)))
'''

PAGE = """# Demo page

Prose before the first demo.

## Numbers

!refkit topic.demo_numbers title="Seven, by helpers"

Closing words.
"""


def fresh_python(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Python in isolated mode in ``cwd``, offline: no hub, no user site, no PYTHONPATH."""
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-I", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def package(tmp_path: Path) -> Path:
    pkg = topic_package(tmp_path / "pkgdemo")
    (pkg / "helpers.py").write_text(PACKAGE_HELPERS)
    (pkg / "topic.py").write_text(TOPIC)
    return pkg


def test_a_standalone_source_inlines_package_helpers_and_keeps_other_imports(package, tmp_path):
    code = standalone_source(package, "topic", "demo_numbers")
    assert "pkgdemo" not in code
    assert "import math" in code
    assert "logging" not in code  # LOG is not used by the demo, so neither is its import
    assert "def scaled(value):" in code and "times_three = scaled" in code
    assert "SCALE = 3" in code and "OFFSET = 1" in code
    assert "Decimal" not in code.split("def offset")[0]  # a type-only import stays out
    # Dependencies come before what uses them.
    assert (
        code.index("def scaled")
        < code.index("times_three = scaled")
        < code.index("def demo_numbers")
    )
    script = tmp_path / "alone.py"
    script.write_text(code + "\ndemo_numbers()\n")
    done = fresh_python(str(script), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "7\n"), done.stderr


def test_module_level_effects_travel_with_the_definitions(package, tmp_path):
    (package / "topic.py").write_text(
        TOPIC + '\nimport os\nos.environ.setdefault("DEMO_MODE", "on")\n\n'
        'def demo_mode():\n    print(os.environ["DEMO_MODE"])\n'
    )
    code = standalone_source(package, "topic", "demo_mode")
    assert 'os.environ.setdefault("DEMO_MODE", "on")' in code
    assert code.index("setdefault") < code.index("def demo_mode")


def test_a_name_two_modules_define_differently_is_refused_with_both_places(package):
    (package / "helpers.py").write_text(
        PACKAGE_HELPERS + "\nOFFSET = 2\n\ndef shift():\n    return OFFSET\n"
    )
    (package / "topic.py").write_text(
        TOPIC
        + "\nfrom pkgdemo.helpers import shift\n\ndef demo_both():\n    print(shift(), OFFSET)\n"
    )
    with pytest.raises(
        StandaloneError, match=r"'OFFSET' is defined in both pkgdemo\.\w+ and pkgdemo\.\w+"
    ):
        standalone_source(package, "topic", "demo_both")


def test_a_star_import_is_refused_naming_file_and_line(package):
    (package / "topic.py").write_text("from pkgdemo.helpers import *\n\ndef demo_x():\n    pass\n")
    with pytest.raises(StandaloneError, match=r"topic\.py:1: `from pkgdemo\.helpers import \*`"):
        standalone_source(package, "topic", "demo_x")


def _results() -> dict[str, SnippetResult]:
    events = (
        OutputEvent("stdout", "7\n"),
        OutputEvent(DISPLAY, "A picture\naxes", "<svg><text>&lt;s&gt;</text></svg>"),
        OutputEvent(DISPLAY, "A view\ntable", "<div class='refkit-view'></div>"),
        OutputEvent("warning", "careful\n"),
    )
    return {
        "topic.demo_numbers": SnippetResult(
            "topic.demo_numbers", OK, events, environment=ENVIRONMENT
        )
    }


def test_a_page_notebook_has_an_install_cell_prose_headings_and_the_recorded_outputs(package):
    made = page_downloads(
        PAGE, title="Demo <page>", page="topics/demo.md", package_dir=package, results=_results()
    )
    notebook = nbformat.reads(made.notebook, as_version=4)
    nbformat.validate(notebook)
    kinds = [
        (cell.cell_type, cell.source.splitlines()[0] if cell.source else "")
        for cell in notebook.cells
    ]
    assert kinds[0] == ("markdown", "# Demo <page>")
    assert kinds[1] == (
        "code",
        "%pip install --quiet torch==2.13.0 transformers==5.24.0 tokenizers==0.23.3 matplotlib=="
        + kinds[1][1].rsplit("==", 1)[1],
    )
    assert ("markdown", "# Demo page") in kinds and ("markdown", "### Seven, by helpers") in kinds
    assert kinds[-1] == ("markdown", "Closing words.")
    code = next(cell for cell in notebook.cells[2:] if cell.cell_type == "code")
    assert code.source.endswith("\n\ndemo_numbers()\n") and "pkgdemo" not in code.source
    outputs = [(o.output_type, o.get("name"), sorted(o.get("data", {}))) for o in code.outputs]
    assert outputs == [
        ("stream", "stdout", []),
        ("display_data", None, ["image/svg+xml", "text/plain"]),
        ("display_data", None, ["text/html", "text/plain"]),
        ("stream", "stderr", []),
    ]
    assert [cell.id for cell in notebook.cells] == [
        f"cell-{n}" for n in range(1, len(notebook.cells) + 1)
    ]
    # The same page and results make the same bytes.
    again = page_downloads(
        PAGE, title="Demo <page>", page="topics/demo.md", package_dir=package, results=_results()
    )
    assert again == made


def test_a_failed_snippet_becomes_an_error_output_and_a_missing_result_no_output(package):
    failed = SnippetResult(
        "topic.demo_numbers",
        "error",
        error=ErrorInfo("ValueError", "bad", "Traceback...\nValueError: bad"),
    )
    cells = json.loads(
        page_downloads(
            PAGE,
            title="t",
            page="p.md",
            package_dir=package,
            results={"topic.demo_numbers": failed},
        ).notebook
    )["cells"]
    code = [c for c in cells if c["cell_type"] == "code"][1]
    assert code["outputs"] == [
        {
            "output_type": "error",
            "ename": "ValueError",
            "evalue": "bad",
            "traceback": ["Traceback...", "ValueError: bad"],
        }
    ]
    cells = json.loads(
        page_downloads(PAGE, title="t", page="p.md", package_dir=package, results={}).notebook
    )["cells"]
    assert [c for c in cells if c["cell_type"] == "code"][1]["outputs"] == []


def test_the_script_runs_every_demonstration_of_the_page_in_order(package, tmp_path):
    made = page_downloads(
        PAGE,
        title='A "quoted"\ntitle',
        page="topics/demo.md",
        package_dir=package,
        results=_results(),
    )
    assert made.script.startswith('# A "quoted" title\n#')
    script = tmp_path / "demo.py"
    script.write_text(made.script)
    done = fresh_python(str(script), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "## Seven, by helpers\n7\n"), done.stderr


def _expected_print(outputs: list[dict]) -> str:
    """What a cell prints when run alone: its stdout, and each picture's text form."""
    parts = []
    for output in outputs:
        if output["output_type"] == "stream" and output["name"] == "stdout":
            parts.append("".join(output["text"]))
        elif output["output_type"] == "display_data":
            parts.append("".join(output["data"]["text/plain"]).rstrip("\n") + "\n")
    return "".join(parts)


def _run_notebooks(notebooks: list[Path], workdir: Path) -> list[dict]:
    out = workdir / f"run-{notebooks[0].stem}.json"
    done = fresh_python(
        "-c",
        DRIVER,
        str(out),
        json.dumps(CATALOG.preload_imports),
        *map(str, notebooks),
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def site_notebooks(site: Path) -> list[Path]:
    """The valid notebook (and script) every topic page links, in topic order."""
    notebooks = []
    for topic in CATALOG.topics:
        page = next(site.glob(f"topics/**/{topic}*/index.html"), None) or next(
            site.glob(f"topics/{topic}/index.html")
        )
        link = re.search(
            r'<a href="([^"]+\.ipynb)" download>notebook</a>', page.read_text(encoding="utf-8")
        )
        assert link, f"{page} links no notebook"
        notebook = (page.parent / link[1]).resolve()
        assert notebook.is_file(), f"{page} links {link[1]}, which is not in the site"
        nbformat.validate(nbformat.read(notebook, as_version=4))
        script = notebook.with_suffix(".py")
        assert script.is_file() and f'<a href="{link[1][:-6]}.py" download>' in page.read_text(
            encoding="utf-8"
        )
        notebooks.append(notebook)
    return notebooks


def check_site_notebooks(site: Path, workdir: Path) -> None:
    """Every topic page links a valid notebook whose code cells, run, print the page's outputs."""
    notebooks = site_notebooks(site)
    runs = _run_notebooks(notebooks, workdir)  # a process per notebook, two at a time
    cells = {
        (str(nb), cell["id"]): cell
        for nb in notebooks
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]
    }
    assert len(runs) == len(CATALOG.snippets) - len(_unembedded())
    for run in runs:
        assert run["error"] is None, f"{run['notebook']} {run['id']}:\n{run['error']}"
        recorded = _expected_print(cells[(run["notebook"], run["id"])]["outputs"])
        assert recorded.strip(), f"{run['notebook']} {run['id']} has no recorded output"
        drift = compare(run["id"], recorded, run["stdout"], Path(run["notebook"]))
        assert drift is None, drift.diff


def _unembedded() -> set[str]:
    pages = " ".join(p.read_text(encoding="utf-8") for p in (REPO / "docs").rglob("*.md"))
    return {sid for sid in CATALOG.snippets if f"!refkit {sid}" not in pages}


@pytest.mark.slow
def test_mkdocs_site_notebooks_validate_and_reproduce_the_pages(built_site, tmp_path):
    check_site_notebooks(built_site, tmp_path)


@pytest.mark.slow
def test_zensical_site_notebooks_are_the_mkdocs_sites_code_and_outputs(built_site, zensical_site):
    # The MkDocs site's notebooks are run cell by cell above; the other host's, made from the
    # same results, must hold the same code and recorded outputs (the prose's links may differ).
    def code_cells(notebook: Path) -> list[tuple[str, str, list]]:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        return [(c["id"], c["source"], c["outputs"]) for c in cells if c["cell_type"] == "code"]

    pairs = list(zip(site_notebooks(built_site), site_notebooks(zensical_site), strict=True))
    for mkdocs_notebook, zensical_notebook in pairs:
        assert mkdocs_notebook.name == zensical_notebook.name
        assert code_cells(zensical_notebook) == code_cells(mkdocs_notebook), zensical_notebook
        assert code_cells(mkdocs_notebook), mkdocs_notebook
        script = zensical_notebook.with_suffix(".py").read_text(encoding="utf-8")
        assert script == mkdocs_notebook.with_suffix(".py").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_github_site_links_colab_at_the_published_notebook(tmp_path):
    site = make_site(tmp_path / "project")
    config = json.loads((site.root / "mkdocs.yml").read_text())
    config["repo_url"] = "https://github.com/acme/notes"
    (site.root / "mkdocs.yml").write_text(json.dumps(config))
    site.write_topic("greet", 'TITLE = "Greetings"\n\ndef demo_hi():\n    print("hi <b>")\n')
    site.write_page(
        "topics/greet.md", "---\ntopic: greet\n---\n# Greetings\n\n!refkit greet.demo_hi\n"
    )
    done = site.build("--strict")
    assert done.returncode == 0, done.stderr[-3000:]
    page = (site.root / "site" / "topics" / "greet" / "index.html").read_text(encoding="utf-8")
    colab = (
        "https://colab.research.google.com/github/acme/notes/blob/gh-pages/topics/greet/greet.ipynb"
    )
    assert f'<a href="{colab}">Open in Colab</a>' in page
    assert page.index("refkit-downloads") < page.index("hi &lt;b&gt;")  # under the title
    notebook = nbformat.read(site.root / "site" / "topics" / "greet" / "greet.ipynb", as_version=4)
    assert notebook.cells[-1].outputs[0]["text"] == "hi <b>\n"


def test_every_real_snippet_has_a_standalone_source_without_the_package():
    for snippet_id in CATALOG.snippets:
        module, function = snippet_id.split(".", 1)
        code = standalone_source(REPO / "refkit", module, function)
        compile(code, snippet_id, "exec")
        assert not re.search(r"^\s*(from|import) refkit\b", code, re.MULTILINE), snippet_id
        assert textwrap.dedent(code).startswith("from __future__ import annotations\n")


@pytest.mark.slow
def test_downloads_are_kept_by_what_they_are_made_of_and_a_damaged_copy_is_made_anew(tmp_path):
    site = make_site(tmp_path / "project")
    site.write_topic("greet", 'TITLE = "Greetings"\n\ndef demo_hi():\n    print("hi v1")\n')
    site.write_page(
        "topics/greet.md", "---\ntopic: greet\n---\n# Greetings\n\n!refkit greet.demo_hi\n"
    )
    kept_dir = site.root / ".cache" / "refkit" / "downloads"
    notebook = site.root / "site" / "topics" / "greet" / "greet.ipynb"

    def build_and_read() -> tuple[list[Path], str]:
        done = site.build("--strict")
        assert done.returncode == 0, done.stderr[-3000:]
        return sorted(kept_dir.iterdir()), notebook.read_text(encoding="utf-8")

    kept, first = build_and_read()
    assert len(kept) == 1 and "hi v1" in first
    whole = kept[0].read_text(encoding="utf-8")
    for damaged in ('{"notebook": 3}', whole.replace("hi v1", "hi v0")):  # not what refkit wrote
        kept[0].write_text(damaged, encoding="utf-8")
        again, second = build_and_read()
        assert again == kept and second == first
        assert kept[0].read_text(encoding="utf-8") == whole  # the copy was made anew
    site.write_topic("greet", 'TITLE = "Greetings"\n\ndef demo_hi():\n    print("hi v2")\n')
    changed, third = build_and_read()
    assert len(changed) == 1 and changed != kept  # the earlier state's copy is gone
    assert "hi v2" in third and "hi v1" not in third
