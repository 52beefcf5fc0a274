"""``refkit env sync`` and ``refkit env list``, in-process on small projects declaring environments.

The fast tests install nothing: an environment is missing, skipped, failed before any install,
or a folder laid out as a sync leaves it (a lock beside a Python that runs). The slow one makes
a real venv with six in it, as a site would.
"""

from __future__ import annotations

import json
import platform
import re
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from refkit.engine.cli import cli
from refkit.engine.environments import LOCK_NAME, MISSING, check
from refkit.engine.project import read_project
from refkit.engine.settings import Settings

DECLARED = """\
site_name: p
plugins:
  - refkit:
      package_dir: notes
      environments_dir: envs
      environments:
        transformers-4.57:
          requirements: [transformers==4.57.6]
        six-old:
          requirements: [six==1.16.0]
          add_torch: false
"""

# name, status, seconds, versions, folder: the columns of both commands.
ROW = re.compile(
    r"(\S+ +)(up to date|missing|created|updated|skipped|failed)( +)(\d+\.\d s)( +)(.+)"
)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a topic package; the cwd is a folder inside it."""
    root = tmp_path / "site"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "__init__.py").write_text("")
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")
    return root


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="refkit")


def rows(output: str) -> dict[str, re.Match[str]]:
    """The table's lines by environment name (detail lines, indented, are left out)."""
    found = [ROW.fullmatch(line) for line in output.splitlines() if not line.startswith(" ")]
    assert all(found), output
    return {match[1].strip(): match for match in found if match}


def lay_out_synced(site: Path, name: str, versions: dict[str, str]) -> Path:
    """Put the venv of ``name`` where a sync would, as a sync leaves it: a Python, then a lock."""
    project = read_project(site / "mkdocs.yml")
    settings = Settings.resolve(project.options, environ={}, project_dir=site)
    [missing] = check([settings.declared_environments[name]], cache_root=settings.environments_path)
    assert missing.status == MISSING
    venv = site / "envs" / name / missing.key
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    lock = {"format": 1, "key": missing.key, "python": platform.python_version()}
    (venv / LOCK_NAME).write_text(json.dumps({**lock, "versions": versions}))
    return venv


def test_list_shows_each_environment_its_status_stamp_folder_and_requirements(site):
    (site / "mkdocs.yml").write_text(DECLARED)
    venv = lay_out_synced(site, "six-old", {"six": "1.16.0", "transformers": "4.57.6"})
    done = run("env", "list")
    assert done.exit_code == 0, done.output
    table = rows(done.output)
    assert list(table) == ["transformers-4.57", "six-old"]  # as declared
    assert table["six-old"][2] == "up to date"
    # The versions a stamp shows (six is not one of them), then the venv's folder.
    assert table["six-old"][6].split() == ["transformers", "4.57.6", str(venv)]
    assert table["transformers-4.57"][2] == "missing"
    assert table["transformers-4.57"][6].split() == ["-", "-"]
    # Columns start together: statuses one space past the longest name, folders past versions.
    assert {len(match[1]) for match in table.values()} == {len("transformers-4.57") + 1}
    assert table["six-old"][0].index(str(venv)) == len(table["transformers-4.57"][0]) - 1
    lines = done.output.splitlines()
    details = lines[lines.index(table["transformers-4.57"][0]) + 1 :]
    assert details[0] == "    requirements: transformers==4.57.6"
    assert re.fullmatch(r"    installs: transformers==4\.57\.6 torch==\S+", details[1])
    assert details[2] == ("    it was never synced; `refkit env sync transformers-4.57` makes it")
    assert "    requirements: six==1.16.0" in lines
    assert not (site / "envs" / "transformers-4.57").exists()  # list installs nothing


def test_list_and_sync_of_names_not_declared_are_usage_errors_listing_the_declared(site):
    (site / "mkdocs.yml").write_text(DECLARED)
    for command in ("list", "sync"):
        done = run("env", command, "six-old", "transformers-4.75")
        assert done.exit_code == 2, done.output
        assert (
            "unknown environment 'transformers-4.75'; declared: transformers-4.57, six-old"
        ) in done.output
    assert not (site / "envs").exists()
    reserved = run("env", "sync", "default")
    assert reserved.exit_code == 2
    assert "default is the environment refkit runs in, never synced" in reserved.output


def test_no_environments_declared_is_said_plainly_and_is_no_failure(site):
    (site / "mkdocs.yml").write_text(
        "site_name: p\nplugins:\n  - refkit:\n      package_dir: notes\n"
    )
    for command in ("list", "sync"):
        done = run("env", command)
        assert done.exit_code == 0, done.output
        assert done.output.startswith("No environments are declared: add them under environments")
    assert run("env", "list", "six-old").exit_code == 2  # naming one is still a mistake


def test_environments_from_the_variable_are_json_and_a_bad_one_names_the_environment(
    site, monkeypatch
):
    (site / "mkdocs.yml").write_text(
        "site_name: p\nplugins:\n  - refkit:\n      package_dir: notes\n"
    )
    monkeypatch.setenv("REFKIT_ENVIRONMENTS", '{"six-old": {"requirements": ["six==1.16.0"]}}')
    monkeypatch.setenv("REFKIT_ENVIRONMENTS_DIR", "envs")
    done = run("env", "list")
    assert done.exit_code == 0, done.output
    assert list(rows(done.output)) == ["six-old"]
    monkeypatch.setenv("REFKIT_ENVIRONMENTS", '{"six-old": {"device": "tpu"}}')
    bad = run("env", "list")
    assert bad.exit_code == 1
    assert "REFKIT_ENVIRONMENTS: refkit environment 'six-old', device: must be one of" in (
        bad.output
    )


def test_a_bad_declaration_in_mkdocs_yml_names_the_file_the_environment_and_the_field(site):
    bad = DECLARED.replace("add_torch: false", "add_torch: false\n          pins: [six]")
    (site / "mkdocs.yml").write_text(bad)
    done = run("env", "sync")
    assert done.exit_code == 1
    assert "mkdocs.yml: refkit option 'environments': refkit environment 'six-old', pins: " in (
        done.output
    )
    assert not (site / "envs").exists()


def test_a_failed_sync_exits_1_with_its_reason_and_the_others_still_sync(site):
    config = textwrap.dedent("""\
        site_name: p
        plugins:
          - refkit:
              package_dir: notes
              environments_dir: envs
              environments:
                old-python:
                  requirements: [six==1.16.0]
                  add_torch: false
                  python: /no/such/python3
                gpu:
                  device: cuda
                  requirements: [torch]
        """)
    (site / "mkdocs.yml").write_text(config)
    done = run("env", "sync")
    assert done.exit_code == 1, done.output
    table = rows(done.stdout)
    assert (table["old-python"][2], table["gpu"][2]) == ("failed", "skipped")
    assert "    the Python '/no/such/python3' cannot start" in done.stdout
    assert "refkit: syncing old-python ..." in done.output  # progress, on stderr
    assert "refkit: syncing" not in done.stdout


@pytest.mark.parametrize("command", ["env sync", "env list"])
def test_help_of_env_commands_is_plain_text(command):
    done = run(*command.split(), "--help")
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"Usage: refkit {command} [OPTIONS]"), done.output
    assert "`" not in done.output, done.output  # no Markdown or reST code from the docs


@pytest.mark.slow
def test_sync_makes_an_environment_once_and_list_then_finds_it_up_to_date(site, tmp_path):
    envs = tmp_path / "envs"
    (site / "mkdocs.yml").write_text(
        textwrap.dedent(f"""\
            site_name: p
            plugins:
              - refkit:
                  package_dir: notes
                  environments_dir: {envs}
                  environments:
                    six-old:
                      requirements: [six==1.16.0]
                      add_torch: false
            """)
    )
    first = run("env", "sync")
    assert first.exit_code == 0, first.output
    [(name, made)] = rows(first.stdout).items()
    assert (name, made[2]) == ("six-old", "created")
    assert made[6].split()[0] == "-"  # six is none of the stamp's packages
    venv = Path(made[6].split()[-1])
    assert venv.parent == envs / "six-old" and (venv / LOCK_NAME).is_file()
    assert json.loads((venv / LOCK_NAME).read_text())["versions"] == {"six": "1.16.0"}

    listed = run("env", "list")
    assert listed.exit_code == 0, listed.output
    assert rows(listed.stdout)["six-old"][2] == "up to date"

    second = run("env", "sync", "six-old")
    assert second.exit_code == 0, second.output
    again = rows(second.stdout)["six-old"]
    assert again[2] == "up to date"
    assert float(again[4].removesuffix(" s")) < 5
    assert again[6] == made[6]  # the same venv, not a new one
