"""``refkit new TOPIC``: a topic module, its page and its nav entry, in a small real project."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from refkit.engine.cli import cli
from refkit.engine.scaffold import add_to_nav

MKDOCS_YML = """\
site_name: p
# The pages, in reading order.
nav:
  - Home: index.md
  - Topics:
      - topics/greetings.md   # the first topic
  - About: about.md

plugins:
  - refkit:
      package_dir: mynotes
      timeout: 30
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a nav whose "Topics" section has one page; the cwd is inside it."""
    root = tmp_path / "proj"
    (root / "mynotes").mkdir(parents=True)
    (root / "mynotes" / "__init__.py").write_text("")
    (root / "docs" / "topics").mkdir(parents=True)
    (root / "docs" / "index.md").write_text("# Home\n")
    (root / "docs" / "about.md").write_text("# About\n")
    (root / "docs" / "topics" / "greetings.md").write_text("# Greetings\n")
    (root / "mkdocs.yml").write_text(MKDOCS_YML)
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")  # found from below, as the other subcommands find it
    return root


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its content: what a refusal must leave as it was."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_new_creates_the_module_the_page_and_the_nav_entry(project):
    done = run("new", "mytopic")
    assert done.exit_code == 0, done.output

    module = (project / "mynotes" / "mytopic.py").read_text()
    assert module.startswith('"""Mytopic: ')
    assert (
        'TITLE: str = "Mytopic"' in module and "REFERENCES: tuple[Reference, ...] = (\n" in module
    )
    assert "from refkit.engine.references import Reference" in module  # absolute imports only
    assert "def demo_first() -> None:" in module and "    Examples:\n" in module
    page = (project / "docs" / "topics" / "mytopic.md").read_text()
    assert page.startswith("---\ntopic: mytopic\n---\n# Mytopic\n\n")
    assert '\n!refkit mytopic.demo_first title="A first demonstration"\n' in page

    # One line added, under the last Topics entry; the comments and the layout are kept.
    assert (project / "mkdocs.yml").read_text() == MKDOCS_YML.replace(
        "# the first topic\n", "# the first topic\n      - topics/mytopic.md\n"
    )
    assert "created ../mynotes/mytopic.py\ncreated ../docs/topics/mytopic.md\n" in done.output
    assert "added topics/mytopic.md to the Topics section of nav in mkdocs.yml" in done.output
    for step in (
        "python -m doctest ../mynotes/mytopic.py",
        "mkdocs serve",
        "refkit accept mytopic.demo_first",
    ):
        assert step in done.output

    # The other subcommands see the new snippet, on the new page.
    listed = run("list").output.split()
    assert listed[:4] == ["mytopic.demo_first", "not", "run", "topics/mytopic.md:9"]


def test_the_new_module_passes_the_stdlib_doctest_runner(project):
    assert run("new", "mytopic").exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "doctest", "-v", "mynotes/mytopic.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed and 0 failed." in done.stdout


@pytest.mark.slow
def test_a_strict_build_of_the_project_shows_the_live_output_of_the_new_snippet(project):
    assert run("new", "mytopic", "--title", "My first topic").exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=project,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "1 run, 0 failed" in done.stderr
    html = (project / "site" / "topics" / "mytopic" / "index.html").read_text()
    assert "My first topic" in html
    assert "Hello from mytopic: 1 + 1 = 2" in html  # the output: the source says `=", 1 + 1)`


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("my-topic", "'my-topic' is not a Python module name"),
        ("class", "'class' is not a Python module name"),
        ("json", "'json' is the name of a standard-library module"),
        ("click", "'click' is the name of a module this environment already has"),
        (
            "_draft",
            "'_draft' starts with '_': files whose name starts with '_' are not read as topics",
        ),
    ],
)
def test_a_name_that_cannot_be_a_topic_is_refused_and_nothing_changes(project, name, reason):
    before = files(project)
    done = run("new", name)
    assert done.exit_code != 0
    assert f"cannot create topic {name!r}: {reason}" in done.output
    assert files(project) == before


@pytest.mark.parametrize("existing", ["mynotes/mytopic.py", "docs/topics/mytopic.md"])
def test_an_existing_file_is_refused_by_its_path_and_never_overwritten(project, existing):
    (project / existing).write_text("mine\n")
    before = files(project)
    done = run("new", "mytopic")
    assert done.exit_code != 0
    assert f"{project / existing} already exists; refkit new never overwrites a file" in (
        done.output.replace("\n", " ")
    )
    assert files(project) == before


def test_without_a_nav_mkdocs_lists_the_page_itself_so_none_is_added(project):
    config = "site_name: p\nplugins:\n  - refkit:\n      package_dir: mynotes\n"
    (project / "mkdocs.yml").write_text(config)
    done = run("new", "mytopic")
    assert done.exit_code == 0, done.output
    assert (project / "mkdocs.yml").read_text() == config
    assert "mkdocs.yml has no nav: MkDocs lists every page itself, so nothing was added" in (
        done.output
    )
    assert (project / "docs" / "topics" / "mytopic.md").is_file()


def test_a_zensical_project_is_told_what_to_add_not_edited(project, tmp_path, monkeypatch):
    (project / "mkdocs.yml").unlink()
    config = textwrap.dedent("""\
        [project]
        site_name = "p"
        nav = [{"Home" = "index.md"}, {"Topics" = ["topics/greetings.md"]}]
        [project.markdown_extensions.refkit]
        package_dir = "mynotes"
        """)
    (project / "zensical.toml").write_text(config)
    monkeypatch.chdir(tmp_path)  # outside the project: found with -f
    done = run("new", "mytopic", "-f", str(project / "zensical.toml"))
    assert done.exit_code == 0, done.output
    assert (project / "zensical.toml").read_text() == config
    assert 'zensical.toml was not edited: add "topics/mytopic.md" to the list of the "Topics"' in (
        done.output
    )
    assert f"python -m doctest {project / 'mynotes' / 'mytopic.py'}" in done.output
    assert "zensical serve" in done.output
    assert (project / "mynotes" / "mytopic.py").is_file()


def test_the_package_dir_flag_and_a_missing_package_folder(project):
    (project / "other").mkdir()
    assert run("new", "mytopic", "--package-dir", "other").exit_code == 0
    assert (project / "other" / "mytopic.py").is_file()
    missing = run("new", "second", "--package-dir", "nowhere")
    assert missing.exit_code != 0
    assert f"{project / 'nowhere'} is not a folder" in missing.output
    assert not (project / "docs" / "topics" / "second.md").exists()


def test_nav_edits_follow_the_form_of_the_section_and_refuse_what_one_line_cannot_extend():
    titled = "nav:\r\n- Topics:\r\n  - Intro: topics/a.md\r\n- About: about.md\r\n"
    edit = add_to_nav(titled, "topics/b.md", "B: a title with # in it")
    assert edit.text == titled.replace(
        "topics/a.md\r\n", 'topics/a.md\r\n  - "B: a title with # in it": topics/b.md\r\n'
    )
    flow = "nav:\n  - Topics: [topics/a.md]\n"
    assert add_to_nav(flow, "topics/b.md", "B").text is None
    assert "add '- topics/b.md' to nav in mkdocs.yml" in add_to_nav(flow, "topics/b.md", "B").note
    no_section = "nav:\n  - index.md\n"
    assert add_to_nav(no_section, "topics/b.md", "B").text is None
    listed = "nav:\n  - Topics:\n      - topics/b.md\n"
    assert add_to_nav(listed, "topics/b.md", "B").note == (
        "topics/b.md is already in the nav of mkdocs.yml"
    )


def test_the_scaffolding_core_imports_no_host():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, refkit.engine.scaffold; "
            "print(sorted({m.split('.')[0] for m in sys.modules} "
            "& {'mkdocs', 'markdown', 'zensical', 'click', 'torch'}))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
