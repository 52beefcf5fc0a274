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
from conftest import synced_six

from refkit.engine.cli import cli
from refkit.engine.environments import LOCK_NAME, MISSING, check
from refkit.engine.project import read_project
from refkit.engine.settings import Settings


def declaring(environments: str, environments_dir: object = "envs", extra: str = "") -> str:
    """A ``mkdocs.yml`` whose refkit entry declares ``environments`` (YAML, at any indent).

    ``extra``: more options of the entry, one ``name: value`` per line.
    """
    body = textwrap.indent(textwrap.dedent(environments), " " * 8)
    options = "".join(f"      {line}\n" for line in extra.splitlines())
    return (
        "site_name: p\nplugins:\n  - refkit:\n      package_dir: notes\n"
        f"{options}      environments_dir: {environments_dir}\n      environments:\n{body}"
    )


DECLARED = declaring("""\
    transformers-4.57:
      requirements: [transformers==4.57.6]
    six-old:
      requirements: [six==1.16.0]
      add_torch: false
    """)

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
    assert details[2:4] == [
        "    it was never synced",
        "    make it with: refkit env sync transformers-4.57",
    ]
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
    config = declaring("""\
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
        declaring(
            """\
            six-old:
              requirements: [six==1.16.0]
              add_torch: false
            """,
            environments_dir=envs,
        )
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


# -- environment selectors of check, accept, run and list ------------------------------------

WHERE = '''
"""Where snippets run: what they print tells which interpreter ran them."""

TITLE = "Where"
ENVIRONMENTS = {"demo_where": ("default", "six-env", "gone")}


def demo_where():
    """Say whether six is there (it is in six-env only)."""
    try:
        import six
    except ImportError:
        print("no six")
    else:
        print("six", six.__version__)


def demo_plain():
    """Runs in the default environment only."""
    print("plain")
'''

SELECTORS_ENVIRONMENTS = """\
six-env:
  requirements: [six==1.16.0]
  add_torch: false
gone:
  requirements: [six==1.16.0]
  add_torch: false
"""
"""``six-env`` is synced (where the fixture made it); ``gone`` is declared, never synced."""

GONE_SKIPPED = (
    "SKIPPED environment gone: where.demo_where not {done} there, as it does not exist here "
    "(missing: it was never synced); make it with: refkit env sync gone"
)


@pytest.fixture(scope="module")
def six_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a real synced ``six-env`` (six 1.16.0, no torch), made once for the module."""
    root = tmp_path_factory.mktemp("environments")
    synced_six(root)
    return root


def where_site(site: Path, environments_dir: Path) -> Path:
    """``site`` with the topic ``where``, a page embedding its demo_where and both environments."""
    (site / "mkdocs.yml").write_text(
        declaring(SELECTORS_ENVIRONMENTS, environments_dir=environments_dir, extra="timeout: 60")
    )
    (site / "notes" / "where.py").write_text(WHERE)
    (site / "docs").mkdir()
    (site / "docs" / "p.md").write_text("# Where\n\n!refkit where.demo_where\n")
    return site


def verdicts(output: str) -> dict[str, str]:
    """``check``'s verdict lines: label -> OK, NEW, DRIFT or ERROR."""
    found = re.findall(r"^(OK|NEW|DRIFT|ERROR) +(\S+?):?(?: |$)", output, flags=re.M)
    return {label: verdict for verdict, label in found}


def list_rows(output: str) -> dict[str, list[str]]:
    """``list``'s table: label -> [status, pages]; the notes under the table are left out."""
    pattern = r"(\S+) +(approved|drift|new|failed|not run|env \w+) +(\S.*)"
    found = [re.fullmatch(pattern, line) for line in output.splitlines()]
    return {m[1]: [m[2], m[3]] for m in found if m}


@pytest.mark.slow
def test_check_and_accept_work_in_every_environment_there_and_skip_the_missing_one(site, six_env):
    where_site(site, six_env)
    approved = site / "approved" / "where"

    first = run("check")
    assert first.exit_code == 1, first.output
    assert verdicts(first.output) == {
        "where.demo_where": "NEW",
        "where.demo_where@six-env": "NEW",
        "where.demo_plain": "NEW",
    }
    assert (
        "NEW     where.demo_where@six-env: never approved "
        "(refkit accept where.demo_where --env six-env)"
    ) in first.output
    # The missing environment is no failure: said once, with the command that makes it.
    assert first.output.count("SKIPPED") == 1
    assert GONE_SKIPPED.format(done="checked") in first.output.splitlines()
    assert "0 passed, 3 failed, 1 skipped" in first.output

    accepted = run("accept")
    assert accepted.exit_code == 0, accepted.output
    assert (approved / "demo_where.txt").read_text() == "no six\n"
    assert (approved / "demo_where@six-env.txt").read_text() == "six 1.16.0\n"
    stamp = (approved / "demo_where@six-env.stamp").read_text()
    assert re.fullmatch(r"cpu · Python [\d.]+ · torch not installed.* · run \S+Z\n", stamp), stamp
    assert (approved / "demo_plain.txt").read_text() == "plain\n"
    # Nothing is recorded where nothing ran: not in the missing environment, not for a snippet
    # that does not run in six-env, and the default environment keeps its plain file name.
    assert sorted(p.name for p in approved.iterdir()) == [
        "demo_plain.txt",
        "demo_where.txt",
        "demo_where@six-env.stamp",
        "demo_where@six-env.txt",
    ]
    assert f"approved where.demo_where@six-env -> {approved / 'demo_where@six-env.txt'}" in (
        accepted.stdout
    )
    assert GONE_SKIPPED.format(done="recorded") in accepted.output

    passed = run("check")
    assert passed.exit_code == 0, passed.output
    assert set(verdicts(passed.output).values()) == {"OK"}
    assert len(verdicts(passed.output)) == 3
    assert "3 passed, 0 failed, 1 skipped" in passed.output

    # Drift in six-env only: the default environment's output still agrees with its own.
    (approved / "demo_where@six-env.txt").write_text("six 9.9.9\n")
    for flags in ((), ("--cached",)):
        drifted = run("check", *flags)
        assert drifted.exit_code == 1, drifted.output
        assert verdicts(drifted.output) == {
            "where.demo_where": "OK",
            "where.demo_where@six-env": "DRIFT",
            "where.demo_plain": "OK",
        }
        lines = drifted.output.splitlines()
        diff = lines[lines.index("DRIFT   where.demo_where@six-env") + 1 :]
        assert diff[:2] == [
            "--- approved/where/demo_where@six-env.txt (approved)",
            "+++ where.demo_where (live)",
        ]
        assert "-six 9.9.9" in diff and "+six 1.16.0" in diff
        assert "2 passed, 1 failed, 1 skipped" in drifted.output

    # Only the default environment: the drift there is out of sight, and gone is not selected.
    default_only = run("check", "-e", "default")
    assert default_only.exit_code == 0, default_only.output
    assert verdicts(default_only.output) == {"where.demo_where": "OK", "where.demo_plain": "OK"}
    assert "SKIPPED" not in default_only.output
    # Only six-env: the one snippet that runs there.
    there = run("check", "--env", "six-env")
    assert there.exit_code == 1
    assert verdicts(there.output) == {"where.demo_where@six-env": "DRIFT"}
    assert "0 passed, 1 failed" in there.output

    # With live_only, a missing environment fails the check instead of being skipped.
    strict = run("check", "--cached", "--live-only", "where.demo_where", "-e", "all")
    assert strict.exit_code == 1
    assert (
        "ERROR   where.demo_where@gone: environment gone does not exist here (missing: it was "
        "never synced); make it with: refkit env sync gone, and live_only is set"
    ) in strict.output
    assert "SKIPPED" not in strict.output


@pytest.mark.slow
def test_run_prints_the_output_of_each_environment_under_its_name(site, six_env):
    where_site(site, six_env)
    everywhere = run("run", "where.demo_where")
    assert everywhere.exit_code == 0, everywhere.output
    assert everywhere.stdout == "=== default ===\nno six\n=== six-env ===\nsix 1.16.0\n"
    assert GONE_SKIPPED.format(done="run") in everywhere.stderr
    # One environment, or a snippet of the default one only: its output alone, as before.
    there = run("run", "where.demo_where", "-e", "six-env")
    assert (there.exit_code, there.stdout) == (0, "six 1.16.0\n")
    plain = run("run", "where.demo_plain")
    assert (plain.exit_code, plain.stdout) == (0, "plain\n")
    nowhere = run("run", "where.demo_plain", "-e", "six-env")
    assert nowhere.exit_code == 2
    assert "not in environment six-env: where.demo_plain runs in default" in nowhere.output


@pytest.mark.slow
def test_list_shows_each_environment_of_a_snippet_its_status_there_and_whether_it_exists(
    site, six_env
):
    where_site(site, six_env)
    before = run("list")
    assert before.exit_code == 0, before.output
    assert list_rows(before.output) == {
        "where.demo_where": ["not run", "p.md:3"],
        "where.demo_where@six-env": ["not run", "p.md:3"],
        "where.demo_where@gone": ["env missing", "p.md:3"],
        "where.demo_plain": ["not run", "(on no page)"],
    }
    assert before.output.splitlines()[-1] == (
        "gone: does not exist here (missing: it was never synced); make it with: "
        "refkit env sync gone"
    )
    assert run("accept", "where.demo_where", "-e", "six-env").exit_code == 0
    # The status in six-env comes from six-env's cached result, without running anything.
    after = list_rows(run("list").output)
    assert after["where.demo_where@six-env"] == ["approved", "p.md:3"]
    # Accepting in six-env alone neither ran nor approved anything in the default environment.
    assert after["where.demo_where"] == ["not run", "p.md:3"]
    only = run("list", "-e", "gone")
    assert only.exit_code == 0, only.output
    assert list(list_rows(only.output)) == ["where.demo_where@gone"]


def test_an_environment_named_that_is_not_declared_is_a_usage_error_listing_the_declared(
    site, tmp_path
):
    where_site(site, tmp_path / "no-environments")
    for command in (["check"], ["accept"], ["run", "where.demo_where"], ["list"]):
        done = run(*command, "--env", "six-env", "-e", "sixenv")
        assert done.exit_code == 2, (command, done.output)
        assert (
            "unknown environment 'sixenv'; declared: six-env, gone (and default, the one refkit "
            "runs in, or all)"
        ) in done.output
    assert not (site / "approved").exists()


def test_an_environment_named_that_does_not_exist_here_fails_without_running_anything(
    site, tmp_path
):
    where_site(site, tmp_path / "no-environments")  # neither environment synced
    for command in (["check"], ["accept"], ["run", "where.demo_where"]):
        done = run(*command, "-e", "gone")
        assert done.exit_code == 1, (command, done.output)
        assert done.output == (
            "Error: environment 'gone' does not exist here (missing: it was never synced); "
            "make it with: refkit env sync gone\n"
        )
    assert not (site / "approved").exists()
    assert not (site / ".refkit-cache").exists()  # nothing ran


@pytest.mark.slow
def test_a_snippet_naming_an_environment_the_site_does_not_declare_fails_check(site, tmp_path):
    where_site(site, tmp_path / "no-environments")
    (site / "notes" / "typo.py").write_text(
        '"""A typo in ENVIRONMENTS."""\nTITLE = "Typo"\nENVIRONMENTS = {"demo_t": ("sixenv",)}\n\n\n'
        'def demo_t():\n    """Print."""\n    print("t")\n'
    )
    assert run("accept", "typo.demo_t").exit_code == 0  # its default output is fine
    done = run("check", "typo.demo_t")
    assert done.exit_code == 1, done.output
    assert verdicts(done.output) == {"typo.demo_t": "OK", "typo.demo_t@sixenv": "ERROR"}
    assert (
        "ERROR   typo.demo_t@sixenv: names environment 'sixenv', which the site does not "
        "declare (declared: six-env, gone)"
    ) in done.output
    assert "1 passed, 1 failed" in done.output
