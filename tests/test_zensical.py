"""Under Zensical: the Markdown extension gives the pages the MkDocs plugin gives, in real builds."""

from __future__ import annotations

import html
import json
import re
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, zensical

from refkit.engine.discovery import load_catalog
from refkit.engine.run_environments import snippet_environments
from refkit.engine.session import PageSource, plan_page

pytestmark = pytest.mark.slow

CATALOG = load_catalog(REPO / "refkit")

TOPIC = '''
"""A topic for Zensical builds."""
from refkit.engine.references import Reference

TITLE = "Greetings"
REFERENCES = (Reference("https://example.org/hello", "Hello <docs>", "Says hello."),)


def demo_hello():
    """Say hello."""
    print("hello from <zensical> v1")
'''


def make_project(root: Path, page: str, topic: str = TOPIC, config: str | None = None) -> Path:
    """A project whose options live in the MkDocs plugin entry, as in this repository."""
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "__init__.py").write_text("")
    (root / "notes" / "greetings.py").write_text(textwrap.dedent(topic))
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text(textwrap.dedent(page))
    (root / "mkdocs.yml").write_text(
        config
        or textwrap.dedent("""\
            site_name: z
            watch: [notes]
            plugins:
              - refkit:
                  package_dir: notes
                  timeout: 20
            markdown_extensions:
              - admonition
              - pymdownx.details
              - pymdownx.superfences
              - refkit
            """)
    )
    return root


PAGE = """\
---
topic: greetings
---
# Hello

!refkit greetings.demo_hello title="Greeting"
"""


def test_a_zensical_build_embeds_source_output_stamp_and_references(tmp_path):
    project = make_project(tmp_path / "p", PAGE)
    done = zensical(project, "build", "--clean")
    assert done.returncode == 0, done.stderr
    page = (project / "site" / "index.html").read_text(encoding="utf-8")
    assert "hello from &lt;zensical&gt; v1" in page
    assert re.search(r'<h\d id="greeting"[^>]*>Greeting', page)  # a heading, as under MkDocs
    assert '<p class="refkit-stamp">Ran on ' in page
    assert (
        'href="https://example.org/hello" target="_blank" rel="noopener noreferrer">Hello &lt;docs&gt;'
        in page
    )
    assert "<style>" in page and ".refkit-output" in page  # the stylesheet, inlined
    assert "!refkit" not in page
    index = (project / "site" / "search.json").read_text(encoding="utf-8")
    assert "hello from" in index and "!refkit" not in index
    # Results live outside .cache/, which --clean deletes whole: the next clean build reuses them.
    again = zensical(project, "build", "--clean")
    assert again.returncode == 0 and "1 from the cache, 0 run" in again.stderr


def test_options_can_live_in_zensical_toml_alone(tmp_path):
    project = make_project(tmp_path / "p", PAGE)
    (project / "mkdocs.yml").unlink()
    (project / "zensical.toml").write_text(
        textwrap.dedent("""\
            [project]
            site_name = "z"
            [project.markdown_extensions.admonition]
            [project.markdown_extensions.pymdownx.details]
            [project.markdown_extensions.refkit]
            package_dir = "notes"
            jobs = 1
            """)
    )
    done = zensical(project, "build", "--clean")
    assert done.returncode == 0, done.stderr
    assert "hello from &lt;zensical&gt; v1" in (project / "site" / "index.html").read_text()


def test_a_raising_snippet_fails_the_build_naming_page_and_line(tmp_path):
    topic = (
        TOPIC
        + '\n\ndef demo_raises():\n    """Raise."""\n    raise ValueError("no \\x1b[31mred")\n'
    )
    project = make_project(
        tmp_path / "p", PAGE + "\nThen:\n\n!refkit greetings.demo_raises\n", topic
    )
    done = zensical(project, "build", "--clean")
    assert done.returncode != 0
    assert "index.md:10: snippet greetings.demo_raises (greetings.py:14) error: ValueError: no" in (
        done.stderr
    )
    assert "\x1b[31m" not in done.stderr and "\\x1b[31m" in done.stderr


def test_warnings_are_shown_and_fail_strict_builds(tmp_path):
    project = make_project(tmp_path / "p", PAGE + "\n!refkit greetings.demo_helo\n")
    done = zensical(project, "build", "--clean")
    assert done.returncode == 0, done.stderr
    assert (
        "WARNING -  refkit: index.md:8: unknown snippet id 'greetings.demo_helo'; "
        "closest known: greetings.demo_hello" in done.stderr
    )
    strict = zensical(project, "build", "--clean", "--strict")
    assert strict.returncode != 0 and "index.md:8: unknown snippet id" in strict.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode("utf-8"))
    except OSError:
        return ""


class Served:
    """A ``zensical serve`` process of a project; its output once it has stopped."""

    def __init__(self, project: Path) -> None:
        address = f"127.0.0.1:{_free_port()}"
        self.url = f"http://{address}/"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zensical", "serve", "-a", address],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""

    def wait_for(self, text: str, seconds: float) -> str:
        """The home page once it holds ``text``; fails if the server stops first."""
        deadline = time.monotonic() + seconds
        while text not in (page := _get(self.url)):
            assert self.process.poll() is None, f"zensical serve stopped before showing {text!r}"
            assert time.monotonic() < deadline, f"{text!r} never appeared"
            time.sleep(0.1)
        return page

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.output, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output, _ = self.process.communicate()
        return self.output


def test_saving_a_topic_module_under_zensical_serve_shows_the_new_output(tmp_path):
    project = make_project(tmp_path / "p", PAGE)
    served = Served(project)
    try:
        served.wait_for("hello from &lt;zensical&gt; v1", 120)
        time.sleep(1.1)  # Zensical compares watched files by whole seconds of mtime
        module = project / "notes" / "greetings.py"
        module.write_text(module.read_text().replace("v1", "v2"))
        served.wait_for("hello from &lt;zensical&gt; v2", 60)
    finally:
        output = served.stop()
    assert "Traceback" not in output, output[-3000:]


RAISING_LINE = 'raise ValueError("no \\x1b[31mred")'
RAISING = f'\n\ndef demo_raises():\n    """Raise."""\n    {RAISING_LINE}\n'


def test_a_raising_snippet_under_zensical_serve_is_a_panel_and_a_warning_and_heals(tmp_path):
    project = make_project(
        tmp_path / "p", PAGE + "\nThen:\n\n!refkit greetings.demo_raises\n", TOPIC + RAISING
    )
    served = Served(project)
    try:
        page = served.wait_for("Snippet greetings.demo_raises raised ValueError", 120)
        assert '<div class="admonition failure refkit-problem">' in page
        assert "raise ValueError(&quot;no \\x1b[31mred&quot;)" in page  # the snippet's frame
        assert "hello from &lt;zensical&gt; v1" in page  # the rest of the page is there
        time.sleep(1.1)  # Zensical compares watched files by whole seconds of mtime
        module = project / "notes" / "greetings.py"
        module.write_text(module.read_text().replace(RAISING_LINE, 'print("fixed output")'))
        page = served.wait_for("fixed output", 60)
        assert "refkit-problem" not in page
    finally:
        output = served.stop()
    # The server reported it, naming page, line and snippet, and never printed an escape raw.
    assert (
        "WARNING -  refkit: index.md:10: snippet greetings.demo_raises (greetings.py:14) error: "
        "ValueError: no \\x1b[31mred" in output
    ), output[-3000:]
    assert "\x1b[31m" not in output and "Traceback" not in output, output[-3000:]


def _topic_parts(page: str) -> dict[str, list[str]]:
    """What must agree between hosts: outputs as text, stamps without their origin, references."""

    def text(fragment: str) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", fragment))

    outputs = re.findall(r'<div class="refkit-output">(.*?)</div>', page, flags=re.DOTALL)
    stamps = re.findall(r'<p class="refkit-stamp">(.*?)</p>', page)
    references = re.findall(r'<ul class="refkit-references">(.*?)</ul>', page, flags=re.DOTALL)
    return {
        "outputs": [text(o) for o in outputs],
        # "run in this build" or "from the cache (run ...)": the same result, read twice.
        "stamps": [
            text(s).split(" · from the cache")[0].split(" · run in this build")[0] for s in stamps
        ],
        "references": [text(r) for r in references],
    }


def test_this_site_under_zensical_matches_the_mkdocs_build(built_site, zensical_site):
    directives = [
        d.text.strip()
        for page in (REPO / "docs").rglob("*.md")
        for d in plan_page(PageSource(page.name, page.read_text(encoding="utf-8"))).directives
        if d.kind == "snippet"  # `!refkit-environment` alone is also a word of the API pages
    ]
    assert len(directives) >= len(CATALOG.snippets)
    for module in CATALOG.topics:
        mkdocs_page = (built_site / "topics" / module / "index.html").read_text(encoding="utf-8")
        zensical_page = (zensical_site / "topics" / module / "index.html").read_text(
            encoding="utf-8"
        )
        expected = _topic_parts(mkdocs_page)
        # One output per snippet and environment (tabs: live or recorded), on both hosts.
        assert len(expected["outputs"]) == sum(
            len(snippet_environments(snippet)) for snippet in CATALOG.topics[module].snippets
        )
        assert _topic_parts(zensical_page) == expected, module
    indexes = {
        "mkdocs": (built_site / "search" / "search_index.json").read_text(encoding="utf-8"),
        "zensical": (zensical_site / "search.json").read_text(encoding="utf-8"),
    }
    for site in (built_site, zensical_site):
        for page in site.rglob("*.html"):
            text = page.read_text(encoding="utf-8")
            assert not [d for d in directives if html.escape(d, quote=False) in text], page
            assert "<p>!refkit" not in text, page
    for host, index in indexes.items():
        texts = " ".join(
            item["text"]
            for item in json.loads(index).get("items", json.loads(index).get("docs", []))
        )
        assert not [d for d in directives if d in html.unescape(texts)], host
        assert "Ran on " in texts, f"{host}: stamps are searchable"


def test_the_generated_topic_table_and_api_page_list_every_topic_on_both_hosts(
    built_site, zensical_site
):
    """``!refkit-topics`` and ``!refkit-api`` come from the package: a new topic needs no edit."""
    for site in (built_site, zensical_site):
        home = (site / "index.html").read_text(encoding="utf-8")
        api = (site / "api" / "topics" / "index.html").read_text(encoding="utf-8")
        assert "!refkit-topics" not in home and "!refkit-api" not in api, site
        for module, topic in CATALOG.topics.items():
            assert f'href="topics/{module}/"' in home, (site, module)
            assert html.escape(topic.title, quote=False) in home, (site, module)
            assert f"refkit.{module}" in api and f'href="../../topics/{module}/"' in api, (
                site,
                module,
            )
