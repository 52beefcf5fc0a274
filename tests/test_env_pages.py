"""Pages of snippets in several environments: tabs, per-tab stamps and drift, recorded outputs.

The synced environment and the fixture topic are those of ``test_env_runs``; the site build is
a real MkDocs build with Material.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import test_env_runs as runs
from conftest import make_site
from test_env_runs import TOPIC, block, open_session, recorded_result

from refkit.engine.assemble import Block, block_html
from refkit.engine.drift import approved_path, write_approved
from refkit.engine.session import BuildSession
from refkit.engine.settings import Settings

# The run tests' fixtures: one synced environment per module, the fixture topic package.
six_report = runs.six_report
project = runs.project


def test_the_page_shows_one_tab_per_environment_with_its_own_stamp_and_drift(project, six_report):
    session = open_session(project, six_report)
    try:
        session.run(["where.demo_where"])
        approved = project / "approved"
        # Approved there as something else: drift in that tab only.
        path = approved_path(approved, "where.demo_where", environment="six-env")
        path.parent.mkdir(parents=True)
        path.write_text("six 1.15.0\n")
        write_approved(approved, recorded_result("where.demo_where"), "gone")
        html, problems = block_html(session, block(session, "where.demo_where"))
    finally:
        session.close()
    assert html.startswith(
        '<div class="tabbed-set tabbed-alternate refkit-env-tabs" data-tabs="3:3">'
    )
    labels = html.split('<div class="tabbed-labels">')[1].split("</div>")[0]
    assert [part.split(">")[1] for part in labels.split("</label>")[:-1]] == [
        "default",
        "six-env",
        "gone",
    ]
    default_tab, six_tab, gone_tab = html.split('<div class="tabbed-block">')[1:]
    assert "no six" in default_tab and "refkit-drift" not in default_tab
    assert "six 1.16.0" in six_tab and "refkit-drift" in six_tab
    assert six_tab.count('class="refkit-stamp"') == 1 and "torch not installed" in six_tab
    assert "Recorded, not run in this build" in gone_tab
    assert "recorded &lt;s&gt; there" in gone_tab
    assert "<code>refkit env sync gone</code>" in gone_tab
    assert "Recorded on cpu · Python 3.11.7 · torch not installed · transformers 4.29.2" in gone_tab
    [drift] = problems
    assert drift.where == "p.md:3" and not drift.fatal
    assert "in environment six-env no longer gives its approved output" in drift.message
    [note] = session.take_notes()
    assert "'gone'" in note and "refkit env sync gone" in note
    assert session.take_notes() == []


def test_a_missing_environment_never_fails_unless_live_only(project, six_report):
    session = open_session(project, six_report, execute="never", live_only=True)
    html, problems = block_html(session, block(session, "where.demo_where"))
    assert "No output for where.demo_where" in html  # nothing recorded for 'gone'
    [problem] = [p for p in problems if "live_only" in p.message]
    assert problem.fatal and "'gone'" in problem.message
    session = open_session(project, six_report, execute="never")
    _, problems = block_html(session, block(session, "where.demo_where"))
    assert [p for p in problems if "gone" in p.message] == []


def test_an_environment_the_site_does_not_declare_is_named_with_its_page_line(project, six_report):
    (project / "notes" / "where.py").write_text(
        textwrap.dedent(TOPIC).replace('"gone")}', '"typo-env")}')
    )
    session = open_session(project, six_report, execute="never")
    html, problems = block_html(session, block(session, "where.demo_where", "topic.md:7"))
    [problem] = problems
    assert problem.where == "topic.md:7"
    assert "names environment 'typo-env', which the site does not declare" in problem.message
    assert "declared: six-env, gone" in problem.message  # as the site declares them
    assert html.count('<div class="tabbed-block">') == 3


@pytest.mark.slow
def test_a_material_site_shows_the_tabs_and_builds_strict_with_a_missing_environment(
    tmp_path, six_report
):
    assert six_report.path is not None
    options = {
        "environments": runs.DECLARED,
        "environments_dir": str(six_report.path.parent.parent),
    }
    site = make_site(tmp_path / "site", options, theme="material")
    config = json.loads((site.root / "mkdocs.yml").read_text())
    config["markdown_extensions"].append({"pymdownx.tabbed": {"alternate_style": True}})
    (site.root / "mkdocs.yml").write_text(json.dumps(config))
    site.write_topic("where", TOPIC)
    write_approved(site.root / "approved", recorded_result("where.demo_where"), "gone")
    site.write_page("index.md", "# Where\n\n!refkit where.demo_where\n\n!refkit where.demo_plain\n")
    done = site.build("--strict")
    assert done.returncode == 0, done.stderr
    page = site.html()
    assert page.count('class="tabbed-set tabbed-alternate refkit-env-tabs"') == 1
    assert 'data-tabs="3:3"' in page
    assert "six 1.16.0" in page and "no six" in page
    assert "Recorded, not run in this build" in page
    assert "<code>refkit env sync gone</code>" in page
    # The default-only snippet is shown as it always was: no tab set around its output.
    assert _classes_around(page, "plain\n") == ["refkit-output"], "one output, outside any tabs"
    assert "refkit-env-tabs" in _classes_around(page, "six 1.16.0\n")
    assert "WARNING" not in done.stderr
    # The log says, once, which environment was not run and how to get its live outputs.
    assert done.stderr.count("refkit: environment 'gone' is not run in this build") == 1
    assert "For live outputs: refkit env sync gone" in done.stderr


def test_the_environment_page_lists_every_declared_environment_with_pins_and_resolved(
    project, six_report
):
    session = open_session(project, six_report, execute="never")
    html, problems = block_html(session, Block(kind="environment", where="env.md:3"))
    assert problems == []
    declared = html.split('<table class="refkit-declared">')[1]
    six_row, gone_row = declared.split("<tr>")[2:]
    assert "<code>six-env</code>" in six_row and "up to date" in six_row
    assert "six==1.16.0" in six_row and six_report.made in six_row
    assert "<td>six 1.16.0</td>" in six_row  # what was resolved for the pin
    assert "<code>gone</code>" in gone_row and "missing: recorded outputs are shown" in gone_row


def test_without_declared_environments_the_environment_page_is_as_before(project):
    settings = Settings.resolve({"package_dir": "notes"}, environ={}, project_dir=project)
    session = BuildSession.open(settings)
    html, _ = block_html(session, Block(kind="environment"))
    assert html == '<p class="refkit-note">No snippet output was produced in this build.</p>'


def _classes_around(page: str, text: str) -> list[str]:
    """The classes of the ``div`` elements around the first output span whose text starts ``text``."""
    from html.parser import HTMLParser

    class Finder(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []  # one entry per open div: its classes
            self.found: list[str] | None = None
            self.in_output = False

        def handle_starttag(self, tag, attrs):
            classes = dict(attrs).get("class") or ""
            if tag == "div":
                self.stack.append(classes)
            self.in_output = tag == "span" and "refkit-stdout" in classes

        def handle_endtag(self, tag):
            if tag == "div" and self.stack:
                self.stack.pop()
            self.in_output = False

        def handle_data(self, data):
            if self.in_output and data.startswith(text) and self.found is None:
                self.found = [c for entry in self.stack for c in entry.split()]

    finder = Finder()
    finder.feed(page)
    assert finder.found is not None, f"no output {text!r} on the page"
    return [c for c in finder.found if c.startswith("refkit") or c.startswith("tabbed")]
