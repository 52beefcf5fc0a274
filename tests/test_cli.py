"""The ``refkit`` command, run in-process on small projects: found by its configuration file."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from refkit.engine.cli import cli, main

GREETINGS = '''
"""Greetings, for tests."""
TITLE = "Greetings"
REFERENCES = ()


def demo_hello():
    """Say hello."""
    print("hello <world>")


def demo_raises():
    """Raise, with a terminal escape in the message."""
    raise ValueError("bad \\x1b[31mred")
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project whose mkdocs.yml puts its topics in ``mynotes``; the cwd is inside it."""
    root = tmp_path / "proj"
    (root / "mynotes").mkdir(parents=True)
    (root / "mynotes" / "__init__.py").write_text("")
    (root / "mynotes" / "greetings.py").write_text(GREETINGS)
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text("# Hi\n\n!refkit greetings.demo_hello\n")
    (root / "mkdocs.yml").write_text(
        textwrap.dedent("""\
            site_name: p
            plugins:
              - refkit:
                  package_dir: mynotes
                  timeout: 30
            """)
    )
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")  # found from below, as git finds its repository
    return root


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


# What reST leaves in text that click prints as it is: ``literals`` and :role:`targets`.
REST_MARKUP = re.compile(r"``|:[a-z]+:`")


@pytest.mark.parametrize("command", ["", *sorted(cli.commands)])
def test_help_is_plain_text_without_rest_markup(command):
    done = run(*command.split(), "--help")
    assert done.exit_code == 0, done.output
    assert done.output.startswith(("Usage: ", "usage: ")), done.output
    assert not REST_MARKUP.search(done.output), done.output
    assert "`" not in done.output, done.output  # Markdown code from the settings' docs neither


def test_the_group_help_lists_every_command_with_a_whole_summary():
    lines = run("--help").output.split("Commands:\n", 1)[1].splitlines()
    summaries = dict(line.split(maxsplit=1) for line in lines if line.strip())
    assert set(summaries) == set(cli.commands)
    assert not [s for s in summaries.values() if s.endswith("...")]  # none cut short


LONG_IDS = '''
"""Snippets with ids of very different lengths, for the columns of refkit list."""
TITLE = "Lengths"


def demo_a():
    """Short."""
    print("a")


def demo_a_snippet_whose_name_is_much_longer_than_any_fixed_column_would_be():
    """Long."""
    print("long")
'''


def test_list_aligns_its_columns_whatever_the_length_of_the_ids(project):
    (project / "mynotes" / "lengths.py").write_text(LONG_IDS)
    long_id = "lengths.demo_a_snippet_whose_name_is_much_longer_than_any_fixed_column_would_be"
    (project / "docs" / "long.md").write_text(f"# Long\n\n!refkit {long_id}\n")
    done = run("list")
    assert done.exit_code == 0, done.output
    rows = [
        re.fullmatch(r"(\S+ +)(approved|drift|new|failed|not run)( +)(\S.*)", line)
        for line in done.output.splitlines()
    ]
    assert all(rows), done.output
    assert {row[1].strip() for row in rows} >= {"lengths.demo_a", long_id, "greetings.demo_hello"}
    # Statuses start together, one space past the longest id: no fixed width cuts or pads it.
    assert {len(row[1]) for row in rows} == {len(long_id) + 1}, done.output
    assert len({len(row[1] + row[2] + row[3]) for row in rows}) == 1, done.output  # pages too
    assert {row[1].strip(): row[4] for row in rows}[long_id] == "long.md:3"


def test_list_finds_the_package_from_mkdocs_yml_without_flags(project):
    done = run("list")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].split() == ["greetings.demo_hello", "not", "run", "index.md:3"]
    assert lines[1].split()[:1] == ["greetings.demo_raises"]


@pytest.mark.slow
def test_accept_then_check_pass_and_run_prints_the_output(project):
    assert run("check", "greetings.demo_hello").exit_code == 1  # never approved
    accepted = run("accept", "greetings.demo_hello")
    assert accepted.exit_code == 0, accepted.output
    assert (project / "approved" / "greetings" / "demo_hello.txt").read_text() == "hello <world>\n"
    checked = run("check", "greetings.demo_hello")
    assert checked.exit_code == 0 and "1 passed, 0 failed" in checked.output
    assert run("list").output.split()[:2] == ["greetings.demo_hello", "approved"]
    ran = run("run", "greetings.demo_hello")
    assert (ran.exit_code, ran.output) == (0, "hello <world>\n")


@pytest.mark.slow
def test_a_failing_snippet_fails_check_and_its_escape_is_shown_not_sent(project):
    done = run("check", "greetings.demo_raises")
    assert done.exit_code == 1
    assert "ValueError: bad \\x1b[31mred" in done.output
    assert "\x1b" not in done.output


def test_check_fails_on_zero_snippets_and_on_unknown_ids(project):
    (project / "mynotes" / "greetings.py").unlink()
    empty = run("check")
    assert empty.exit_code != 0
    assert "no snippets found in" in empty.output and "mynotes" in empty.output
    (project / "mynotes" / "greetings.py").write_text(GREETINGS)
    unknown = run("check", "greetings.demo_helo")
    assert unknown.exit_code != 0
    assert "unknown snippet id 'greetings.demo_helo'; closest known: greetings.demo_hello" in (
        unknown.output
    )


def test_flags_win_over_the_environment_and_name_bad_values(project, monkeypatch):
    monkeypatch.setenv("REFKIT_PACKAGE_DIR", "nowhere")
    assert "is not a folder" in run("list").output
    assert run("list", "--package-dir", "mynotes").exit_code == 0
    monkeypatch.setenv("REFKIT_JOBS", "two")
    bad = run("list", "--package-dir", "mynotes")
    assert bad.exit_code != 0 and "REFKIT_JOBS=two: expected a whole number" in bad.output


def test_an_explicit_config_file_and_a_missing_one(project, tmp_path):
    assert main(["list", "-f", str(project / "mkdocs.yml")]) == 0
    assert main(["list", "-f", str(tmp_path / "absent.yml")]) == 2


def test_options_under_markdown_extensions_are_read_for_zensical_sites(project):
    (project / "mkdocs.yml").unlink()
    (project / "zensical.toml").write_text(
        '[project]\nsite_name = "p"\n[project.markdown_extensions.refkit]\npackage_dir = "mynotes"\n'
    )
    done = run("list")
    assert done.exit_code == 0, done.output
    assert "greetings.demo_hello" in done.output


@pytest.mark.slow
def test_a_damaged_cache_entry_is_reported_by_the_command_too(project):
    assert run("accept", "greetings.demo_hello").exit_code == 0
    [entry] = (project / ".refkit-cache").glob("??/*.json")  # <key[:2]>/<key>.json
    entry.write_text('{"status": "ok", "events": [')
    done = run("check", "--cached", "greetings.demo_hello")
    assert done.exit_code == 0, done.output
    assert f"refkit: {entry}: unusable cache entry deleted (not JSON" in done.output
