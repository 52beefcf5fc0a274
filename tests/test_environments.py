"""Environments as data, and their sync: parsing, keys, torch pinning, uv's arguments, real venvs.

The fast tests install nothing. The slow ones make real venvs with the real uv (and pip) in a
temporary cache root; they skip only when uv is not installed at all.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import select
import shutil
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import IO

import pytest
from conftest import REPO, SCRUBBED

from refkit.engine import environments
from refkit.engine.environments import (
    CREATED,
    FAILED,
    LOCK_NAME,
    MISSING,
    SKIPPED,
    UP_TO_DATE,
    UPDATED,
    Environment,
    EnvironmentConfigError,
    SyncReport,
    WheelSources,
    check,
    default_cache_root,
    environment_key,
    installed_versions,
    parse_environments,
    pinned_requirements,
    pip_sources,
    read_pip_sources,
    running_torch_version,
    sync,
    uv_install_arguments,
    worker_environment,
)
from refkit.engine.messages import Finished, MessageDecoder, Ready, RunRequest, Started, encode
from refkit.engine.results import OK
from refkit.engine.run_environments import sync_command
from refkit.engine.worker_process import worker_command

# The sync-mechanics tests turn torch off on purpose: with it, each would install (and compile)
# 700 MB of torch to prove what six proves. Torch pinning has its own real test below.
SIX = Environment("six", ("six==1.16.0",), add_torch=False)


# --- parsing and validation -------------------------------------------------------------------


def test_parse_reads_what_a_site_writes_under_refkit_environments():
    envs = parse_environments(
        {
            "transformers-4.57": {"requirements": ["transformers==4.57.6"]},
            "legacy-tf": {
                "requirements": ["transformers==4.29.2", "tensorflow-cpu==2.13.1"],
                "variables": {"FORCE_TF_AVAILABLE": 1, "TF_CPP_MIN_LOG_LEVEL": "2"},
            },
            "gpu_1.0": {"requirements": ["torch"], "device": "cuda", "python": sys.executable},
            "bare": None,
        }
    )
    assert list(envs) == ["transformers-4.57", "legacy-tf", "gpu_1.0", "bare"]
    assert envs["transformers-4.57"] == Environment("transformers-4.57", ("transformers==4.57.6",))
    legacy = envs["legacy-tf"]
    assert legacy.requirements == ("transformers==4.29.2", "tensorflow-cpu==2.13.1")
    assert dict(legacy.variables) == {"FORCE_TF_AVAILABLE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    assert (envs["gpu_1.0"].device, envs["gpu_1.0"].python) == ("cuda", sys.executable)
    bare = envs["bare"]
    assert (bare.requirements, bare.device, dict(bare.variables), bare.python, bare.add_torch) == (
        (),
        "cpu",
        {},
        None,
        True,
    )
    assert parse_environments(None) == {}


@pytest.mark.parametrize(
    ("raw", "environment", "field", "says"),
    [
        ({"Legacy TF": {}}, "Legacy TF", "", "lowercase letters"),
        ({"-x": {}}, "-x", "", "starting with a letter or digit"),
        ({"default": {}}, "default", "", "reserved"),
        ({"x": {"requirements": "six==1.16.0"}}, "x", "requirements", "a list"),
        ({"x": {"requirements": ["six=1"]}}, "x", "requirements", "'six=1' is not a requirement"),
        ({"x": {"requirements": ["-e ."]}}, "x", "requirements", "is not a requirement"),
        ({"x": {"requirements": [3]}}, "x", "requirements", "3 is not a requirement string"),
        ({"x": {"device": "gpu"}}, "x", "device", "cpu, cuda"),
        ({"x": {"variables": ["A=1"]}}, "x", "variables", "a mapping"),
        ({"x": {"variables": {"1A": "1"}}}, "x", "variables", "not an environment variable"),
        ({"x": {"variables": {"A": True}}}, "x", "variables", "quote it"),
        ({"x": {"variables": {"PYTHONPATH": "/x"}}}, "x", "variables", "set by refkit"),
        ({"x": {"python": 3.11}}, "x", "python", "interpreter"),
        ({"x": {"add_torch": "no"}}, "x", "add_torch", "true or false"),
        ({"x": {"requirement": ["six"]}}, "x", "requirement", "unknown field"),
        ({"x": ["six"]}, "x", "", "a mapping of fields"),
        (["x"], "", "", "a mapping of names"),
    ],
)
def test_a_bad_declaration_names_the_environment_and_the_field(raw, environment, field, says):
    with pytest.raises(EnvironmentConfigError) as caught:
        parse_environments(raw)
    assert (caught.value.environment, caught.value.field) == (environment, field)
    message = str(caught.value)
    assert says in message
    if environment:
        assert f"refkit environment {environment!r}" in message
    if field:
        assert f", {field}:" in message
    # A ValueError of its own, not the builtin EnvironmentError (OSError) that callers may catch.
    assert not isinstance(caught.value, OSError)


def test_an_environment_built_directly_is_validated_too():
    with pytest.raises(EnvironmentConfigError, match="device"):
        Environment("x", device="tpu")
    env = Environment("x", ["six"], variables={"B": "2", "A": "1"})
    assert env.requirements == ("six",)
    assert list(env.variables) == ["A", "B"]
    with pytest.raises(TypeError):
        env.variables["C"] = "3"
    assert hash(env) == hash(Environment("x", ("six",), variables={"A": "1", "B": "2"}))
    # Equal whatever the order the variables came in, and unequal when one differs (the hash
    # leaves the variables out, so it cannot tell).
    assert env == Environment("x", ("six",), variables={"A": "1", "B": "2"})
    assert env != Environment("x", ("six",), variables={"A": "1", "B": "3"})


# --- keys and torch pinning ---------------------------------------------------------------------


def test_the_key_ignores_order_spelling_and_repeats_and_sees_everything_else():
    base = environment_key("cpython-3.11.7", ["six==1.16.0", "torch==2.13.0"], "cpu")
    assert base == environment_key(
        "cpython-3.11.7", ["Torch == 2.13.0", "six==1.16.0", "six==1.16.0"], "cpu"
    )
    others = {
        environment_key("cpython-3.12.1", ["six==1.16.0", "torch==2.13.0"], "cpu"),
        environment_key("cpython-3.11.7", ["six==1.16.0", "torch==2.13.0"], "cuda"),
        environment_key("cpython-3.11.7", ["six==1.17.0", "torch==2.13.0"], "cpu"),
        environment_key("cpython-3.11.7", ["six==1.16.0", "torch==2.14.1"], "cpu"),
        environment_key("cpython-3.11.7", ["six==1.16.0"], "cpu"),
    }
    assert base not in others
    assert len(others) == 5


@pytest.mark.parametrize(
    ("requirements", "options", "expected"),
    [
        # Absent: refkit's snippets import torch, so the running one is added.
        (("transformers==4.57.6",), {}, ("transformers==4.57.6", "torch==2.13.0")),
        # Named without a pin, or with a range that admits it: pinned, extras and markers kept.
        (("torch",), {}, ("torch==2.13.0",)),
        (("Torch>=2.4,<3",), {}, ("torch==2.13.0",)),
        (("torch[opt-einsum]",), {}, ("torch[opt-einsum]==2.13.0",)),
        (
            ('torch; sys_platform == "linux"',),
            {},
            ('torch==2.13.0; sys_platform == "linux"',),
        ),
        # An exact pin is the user's: kept.
        (("torch==2.13.0+cpu",), {}, ("torch==2.13.0+cpu",)),
        (("torch==2.5.1",), {}, ("torch==2.5.1",)),
        # add_torch off: none added, but a torch named is still pinned (never CUDA by accident).
        (("six",), {"add_torch": False}, ("six",)),
        (("six", "torch"), {"add_torch": False}, ("six", "torch==2.13.0")),
        # CUDA: as declared, nothing added.
        (("torch", "six"), {"device": "cuda"}, ("torch", "six")),
    ],
)
def test_torch_is_pinned_to_the_running_version_in_a_cpu_environment(
    requirements, options, expected
):
    env = Environment("t", requirements, **options)
    assert pinned_requirements(env, "2.13.0+cpu") == expected


def test_a_torch_range_that_excludes_the_running_one_is_refused():
    with pytest.raises(EnvironmentConfigError, match=r"torch<2\.5 excludes the torch running"):
        pinned_requirements(Environment("old", ("torch<2.5",)), "2.13.0+cpu")


def test_without_a_running_torch_a_pin_cannot_be_made_up():
    with pytest.raises(EnvironmentConfigError, match="none is installed") as caught:
        pinned_requirements(Environment("t", ("six",)), None)
    assert caught.value.environment == "t"
    assert pinned_requirements(Environment("t", ("six",), add_torch=False), None) == ("six",)


def test_the_pin_is_the_running_torch_without_its_local_label():
    version = running_torch_version()
    assert version == metadata.version("torch")
    pinned = pinned_requirements(Environment("t"), version)
    assert pinned == (f"torch=={version.split('+')[0]}",)
    assert "+" not in pinned[0]


# --- pip's sources, given to uv ------------------------------------------------------------------


def test_pip_sources_follow_pips_precedence():
    listed = [
        "global.cert='/etc/ssl/certs/ca-certificates.crt'",
        "global.constraint='/etc/xdg/pip/constraints.txt'",
        "global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'",
        "global.find-links='/opt/global'",
        "install.find-links='/opt/install'",
        ":env:.find-links='/opt/wheels'",
        ":env:.default-timeout='180'",
        "not a config line",
    ]
    sources = pip_sources(listed, {})
    assert sources == WheelSources(
        find_links=("/opt/wheels",),
        extra_index_urls=("file:///opt/pypi/simple", "file:///opt/pypi-more/simple"),
        constraint=("/etc/xdg/pip/constraints.txt",),
        cert="/etc/ssl/certs/ca-certificates.crt",
    )
    environ = {"PIP_EXTRA_INDEX_URL": "https://a/simple", "PIP_INDEX_URL": "https://b/simple"}
    overridden = pip_sources(listed, environ)
    assert overridden.extra_index_urls == ("https://a/simple",)
    assert overridden.index_url == "https://b/simple"


def test_the_sources_come_from_pip_itself(monkeypatch):
    monkeypatch.setenv("PIP_FIND_LINKS", "/somewhere/wheels /elsewhere")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///somewhere/simple")
    sources = read_pip_sources()
    assert sources.find_links == ("/somewhere/wheels", "/elsewhere")
    assert sources.extra_index_urls == ("file:///somewhere/simple",)


def test_uv_gets_every_source_and_weighs_indexes_like_pip():
    sources = WheelSources(
        find_links=("/opt/wheels",),
        extra_index_urls=("file:///opt/pypi/simple", "file:///opt/more/simple"),
        index_url="https://mirror/simple",
        constraint=("/etc/cap.txt",),
    )
    arguments = uv_install_arguments(Path("/e/bin/python"), sources)
    assert arguments[:4] == ["pip", "install", "--python", "/e/bin/python"]
    pairs = list(itertools.pairwise(arguments))
    assert ("--index-strategy", "unsafe-best-match") in pairs
    assert ("--find-links", "/opt/wheels") in pairs
    assert ("--extra-index-url", "file:///opt/pypi/simple") in pairs
    assert ("--extra-index-url", "file:///opt/more/simple") in pairs
    assert ("--index-url", "https://mirror/simple") in pairs
    assert ("--constraint", "/etc/cap.txt") in pairs
    assert "--compile-bytecode" in arguments
    offline = uv_install_arguments(
        "py", WheelSources(("/w",), ("file:///x",), index_url="https://i", no_index=True)
    )
    assert "--no-index" in offline
    assert "--index-url" not in offline
    assert "--extra-index-url" not in offline
    assert "--index-strategy" not in uv_install_arguments("py", WheelSources())


# --- where environments live, and what a build gets from them ------------------------------------


def test_the_cache_root_is_the_variable_then_xdg_then_home():
    assert default_cache_root({"REFKIT_ENVIRONMENTS_DIR": "/r", "XDG_CACHE_HOME": "/x"}) == Path(
        "/r"
    )
    assert default_cache_root({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path(
        "/x/refkit/environments"
    )
    assert default_cache_root({"HOME": "/h"}) == Path("/h/.cache/refkit/environments")


def test_check_uses_the_variables_cache_root_and_reports_a_never_synced_one(tmp_path, monkeypatch):
    monkeypatch.setenv("REFKIT_ENVIRONMENTS_DIR", str(tmp_path / "envs"))
    [report] = check([SIX])
    assert report.status == MISSING
    assert not report.ok
    assert "never synced" in report.reason
    assert sync_command(report) == "refkit env sync six"  # said beside the reason
    assert report.requirements == ("six==1.16.0",)
    assert not (tmp_path / "envs").exists()  # looking creates nothing


def test_a_cuda_environment_without_a_gpu_is_skipped_not_failed(tmp_path):
    cuda = Environment("gpu", ("torch",), device="cuda")
    [report] = sync([cuda], cache_root=tmp_path, gpu=False)
    assert report.status == SKIPPED
    assert "NVIDIA GPU" in report.reason
    assert report.path is None
    assert list(tmp_path.iterdir()) == []


def test_a_python_that_cannot_start_is_a_failed_report(tmp_path):
    broken = Environment("old-python", ("six",), python=str(tmp_path / "no-such-python3"))
    [report] = sync([broken], cache_root=tmp_path)
    assert report.status == FAILED
    assert "no-such-python3" in report.reason
    assert "cannot start" in report.reason


def test_a_torch_that_cannot_be_pinned_is_a_failed_report(tmp_path):
    [report] = sync([Environment("old-torch", ("torch<2",))], cache_root=tmp_path)
    assert report.status == FAILED
    assert "excludes the torch running here" in report.reason


def test_a_failing_installer_is_reported_with_its_last_lines_escaped(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "uv"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "uv 0.0.0"; exit 0; fi\n'
        "echo 'Resolving...'\n"
        "printf '\\033[31merror\\033[0m: no wheel for you\\n' >&2\n"
        "exit 2\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    [report] = sync([SIX], cache_root=tmp_path / "envs", installer="uv")
    assert report.status == FAILED
    assert "failed (exit 2)" in report.reason
    assert "Resolving...\n\\x1b[31merror\\x1b[0m: no wheel for you" in report.reason
    assert "\x1b" not in report.reason
    assert sorted(p.name for p in (tmp_path / "envs" / "six").iterdir()) == [".sync.flock"]


def test_installed_versions_are_the_stamps_packages_that_are_there():
    report = SyncReport(
        "t",
        UP_TO_DATE,
        Environment("t"),
        resolved={"torch": "2.13.0+cpu", "tensorflow": "2.13.1", "keras": "2.13.1", "six": "1"},
    )
    assert installed_versions(report) == {
        "torch": "2.13.0+cpu",
        "tensorflow": "2.13.1",
        "keras": "2.13.1",
    }
    assert installed_versions(report, ["Six", "transformers"]) == {"Six": "1"}


def test_the_worker_of_an_environment_gets_its_python_path_and_variables(tmp_path):
    venv = tmp_path / "venv"
    env = Environment("legacy-tf", variables={"FORCE_TF_AVAILABLE": "1"})
    report = SyncReport("legacy-tf", UP_TO_DATE, env, path=venv, python=venv / "bin" / "python")
    # A stale link (refkit moved) is pointed at the refkit running now.
    (venv / "refkit-link").mkdir(parents=True)
    (venv / "refkit-link" / "refkit").symlink_to(tmp_path)
    base = {"PATH": "/usr/bin", "PYTHONPATH": "/default/site-packages", "PYTHONHOME": "/h"}
    variables = worker_environment(report, tmp_path / "site", base=base)
    assert variables["PYTHONPATH"].split(os.pathsep) == [
        str(tmp_path / "site"),
        str(venv / "refkit-link"),
    ]
    assert (venv / "refkit-link" / "refkit").resolve() == (REPO / "refkit").resolve()
    assert variables["PATH"] == f"{venv / 'bin'}{os.pathsep}/usr/bin"
    assert variables["VIRTUAL_ENV"] == str(venv)
    assert "PYTHONHOME" not in variables
    assert (variables["FORCE_TF_AVAILABLE"], variables["REFKIT_DEVICE"]) == ("1", "cpu")


def test_an_environment_that_is_not_there_has_no_worker():
    report = SyncReport("gpu", SKIPPED, Environment("gpu", device="cuda"), reason="no GPU")
    with pytest.raises(ValueError, match="'gpu' is skipped: no GPU"):
        worker_environment(report, REPO)


# --- real environments -----------------------------------------------------------------------


@pytest.fixture
def real_uv() -> str:
    found = shutil.which("uv")
    if found is None:
        try:
            from uv import find_uv_bin
        except ImportError:
            pytest.skip("uv is not installed (pip install uv)")
        found = str(find_uv_bin())
    return found


def put_on_path(monkeypatch, folder: Path, script: str) -> Path:
    """An executable ``uv`` in ``folder``, first on ``PATH``."""
    folder.mkdir(exist_ok=True)
    uv = folder / "uv"
    uv.write_text(script)
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return uv


def make_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel with no files but its metadata: enough for a resolver."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    metadata_text = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {requirement}\n" for requirement in requires
    )
    wheel_text = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{dist}.dist-info/METADATA", metadata_text)
        wheel.writestr(f"{dist}.dist-info/WHEEL", wheel_text)
        wheel.writestr(f"{dist}.dist-info/RECORD", "")
    return path


@pytest.fixture
def local_wheels(tmp_path, monkeypatch) -> Path:
    """pip's sources are one folder of wheels and no index: nothing here can download."""
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "cpu-probe", "1.0")
    make_wheel(wheels, "cuda-probe", "1.0", ("nvidia-fake-runtime==13.0",))
    make_wheel(wheels, "nvidia-fake-runtime", "13.0")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    return wheels


def test_pips_find_links_reach_uv(tmp_path, local_wheels, real_uv):
    env = Environment("probe", ("cpu-probe==1.0",), add_torch=False)
    [report] = sync([env], cache_root=tmp_path / "envs", installer="uv")
    assert report.status == CREATED, report.reason
    assert report.resolved["cpu-probe"] == "1.0"


def test_a_cpu_environment_that_would_get_cuda_builds_is_refused_before_any_download(
    tmp_path, local_wheels, real_uv
):
    env = Environment("by-accident", ("cuda-probe==1.0",), add_torch=False)
    [report] = sync([env], cache_root=tmp_path / "envs", installer="uv")
    assert report.status == FAILED
    assert "refused" in report.reason
    assert "nvidia-fake-runtime==13.0" in report.reason
    assert sorted(p.name for p in (tmp_path / "envs" / "by-accident").iterdir()) == [".sync.flock"]
    # Declared as CUDA (with a GPU), the same requirements are what was asked for.
    cuda = Environment("on-purpose", ("cuda-probe==1.0",), device="cuda")
    [wanted] = sync([cuda], cache_root=tmp_path / "envs", installer="uv", gpu=True)
    assert wanted.status == CREATED, wanted.reason
    assert wanted.resolved["nvidia-fake-runtime"] == "13.0"


def python_says(report: SyncReport, code: str) -> str:
    assert report.python is not None
    done = subprocess.run(
        [str(report.python), "-I", "-c", code], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.slow
def test_a_second_sync_installs_nothing(tmp_path, monkeypatch, real_uv):
    calls = tmp_path / "uv-calls.log"
    put_on_path(
        monkeypatch, tmp_path / "bin", f'#!/bin/sh\necho "$@" >> {calls}\nexec {real_uv} "$@"\n'
    )
    [first] = sync([SIX], cache_root=tmp_path / "envs", installer="uv")
    assert first.status == CREATED, first.reason
    assert first.path is not None
    assert first.path.parent == tmp_path / "envs" / "six"
    assert python_says(first, "import six; print(six.__version__)") == "1.16.0"
    lock = json.loads((first.path / LOCK_NAME).read_text())
    assert "six==1.16.0" in lock["freeze"]
    assert lock["versions"] == {"six": "1.16.0"}
    assert lock["requirements"] == ["six==1.16.0"]
    assert lock["made"] == first.made
    assert first.installer.startswith("uv ")
    assert any(line.startswith("pip install") for line in calls.read_text().splitlines())

    # The installer is gone (any call of it would fail, and be logged): nothing needs it.
    before = calls.read_text()
    put_on_path(monkeypatch, tmp_path / "bin", f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    [second] = sync([SIX], cache_root=tmp_path / "envs", installer="uv")
    assert second.status == UP_TO_DATE, second.reason
    assert calls.read_text() == before
    assert (second.path, second.python, dict(second.resolved)) == (
        first.path,
        first.python,
        {"six": "1.16.0"},
    )
    assert second.made == first.made
    # A build's check starts no Python while the interpreter is the file the lock recorded...
    started: list[object] = []
    python_runs = environments._python_runs
    monkeypatch.setattr(
        environments, "_python_runs", lambda *args: started.append(args) or python_runs(*args)
    )
    assert lock["executable"][0] == str(first.python.resolve())
    [looked] = check([SIX], cache_root=tmp_path / "envs")
    assert (looked.status, started) == (UP_TO_DATE, [])
    # ... and starts it when the file differs (an interpreter upgraded in place), until a sync
    # records the file it now is.
    lock["executable"][2] -= 1
    (first.path / LOCK_NAME).write_text(json.dumps(lock))
    [looked] = check([SIX], cache_root=tmp_path / "envs")
    assert (looked.status, len(started)) == (UP_TO_DATE, 1)
    sync([SIX], cache_root=tmp_path / "envs", installer="uv")
    assert json.loads((first.path / LOCK_NAME).read_text())["executable"][2] == (
        first.python.resolve().stat().st_mtime_ns
    )
    [looked] = check([SIX], cache_root=tmp_path / "envs")
    assert (looked.status, len(started)) == (UP_TO_DATE, 2)  # only the sync's own


@pytest.mark.slow
def test_a_failed_install_keeps_the_earlier_environment(tmp_path, real_uv):
    root = tmp_path / "envs"
    [good] = sync([SIX], cache_root=root, installer="uv")
    assert good.status == CREATED, good.reason
    changed = Environment("six", ("six==1.16.0", "nonexistent-package-xyz==1"), add_torch=False)
    [bad] = sync([changed], cache_root=root, installer="uv")
    assert bad.status == FAILED
    assert "nonexistent-package-xyz" in bad.reason
    assert "its last lines" in bad.reason
    assert bad.path is None
    assert bad.key != good.key
    # The earlier venv is whole and still the one a build finds for the earlier declaration.
    assert python_says(good, "import six; print(six.__version__)") == "1.16.0"
    assert sorted(p.name for p in (root / "six").iterdir()) == [".sync.flock", good.key]
    assert check([SIX], cache_root=root)[0].status == UP_TO_DATE
    [wanted] = check([changed], cache_root=root)
    assert wanted.status == MISSING
    assert "requirements (or Python) changed" in wanted.reason


@pytest.mark.slow
def test_changed_requirements_replace_the_environment(tmp_path, real_uv):
    root = tmp_path / "envs"
    [old] = sync([SIX], cache_root=root, installer="uv")
    newer = Environment("six", ("six==1.17.0",), add_torch=False)
    [new] = sync([newer], cache_root=root, installer="uv")
    assert (old.status, new.status) == (CREATED, UPDATED), new.reason
    assert new.resolved["six"] == "1.17.0"
    assert old.path is not None
    assert not old.path.exists()  # one venv per environment
    assert check([SIX], cache_root=root)[0].status == MISSING


def _another_python() -> str | None:
    """An interpreter of another version than this one, 3.10 or newer, if the machine has one.

    Asked as a sync asks it (``environments._interpreter``): one that refuses is not a candidate.
    """
    import shutil

    for name in ("/usr/bin/python3", "python3.12", "python3.11", "python3.10", "python3"):
        found = shutil.which(name)
        if not found:
            continue
        try:
            interpreter = environments._interpreter(found)
        except environments._InstallFailed:
            continue
        if interpreter.version != platform.python_version():
            return found
    return None


@pytest.mark.slow
def test_a_sync_from_another_python_keeps_this_pythons_environment(tmp_path, real_uv):
    # Two checkouts on different Pythons share the user's cache: neither may delete the other's.
    other = _another_python()
    if other is None:
        pytest.skip("no second Python of another version on this machine")
    root = tmp_path / "envs"
    [here] = sync([SIX], cache_root=root, installer="uv")
    there_env = Environment("six", ("six==1.16.0",), add_torch=False, python=other)
    [there] = sync([there_env], cache_root=root, installer="uv")
    assert (here.status, there.status) == (CREATED, CREATED), there.reason
    assert here.path != there.path and here.path.exists() and there.path.exists()
    assert check([SIX], cache_root=root)[0].status == UP_TO_DATE


@pytest.mark.slow
@pytest.mark.parametrize("outer_pip", [True, False], ids=["outer pip", "pip in the venv"])
def test_pip_makes_the_same_environment_without_uv(tmp_path, monkeypatch, outer_pip):
    if not outer_pip:  # a refkit whose Python has no pip (or one older than 22.3)
        monkeypatch.setattr(environments, "_outer_pip", lambda: None)
    [report] = sync([SIX], cache_root=tmp_path / "envs", installer="pip")
    assert report.status == CREATED, report.reason
    assert report.installer.startswith("pip ")
    # The venv has its own pip only when no outer pip could install into it.
    has_pip = python_says(
        report, "import importlib.util; print(bool(importlib.util.find_spec('pip')))"
    )
    assert has_pip == str(not outer_pip)
    lock = json.loads((report.path / LOCK_NAME).read_text())
    assert "six==1.16.0" in lock["freeze"]
    assert python_says(report, "import six, sys; print(six.__version__, sys.prefix)") == (
        f"1.16.0 {report.path}"
    )


PROBE = """
import importlib.util, sys

import six


def demo_where():
    torch = importlib.util.find_spec("torch") is not None
    return f"six {six.__version__} in {sys.prefix}; torch found: {torch}"
"""


def read_until_finished(stream: IO[bytes], deadline: float) -> list[object]:
    decoder = MessageDecoder(accept=[Ready, Started, Finished])
    messages: list[object] = []
    while not messages or not isinstance(messages[-1], Finished):
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        data = os.read(stream.fileno(), 1 << 16) if ready else b""
        if not data:
            pytest.fail(f"the worker stopped answering after {messages}")
        messages.extend(decoder.feed(data))
    return messages


@pytest.mark.slow
def test_the_worker_runs_a_snippet_in_the_environment(tmp_path, real_uv):
    [report] = sync([SIX], cache_root=tmp_path / "envs", installer="uv")
    assert report.status == CREATED, report.reason
    project = tmp_path / "site"
    (project / "probe").mkdir(parents=True)
    (project / "probe" / "__init__.py").write_text("")
    (project / "probe" / "where.py").write_text(textwrap.dedent(PROBE))
    request = RunRequest("1", "where.demo_where", "where", "demo_where", 60, 10_000)
    worker = subprocess.Popen(
        worker_command(str(report.python), package="probe", jobs=1),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=worker_environment(report, project),
        cwd=project,
    )
    assert worker.stdin is not None
    assert worker.stdout is not None
    try:
        worker.stdin.write(encode(request))
        worker.stdin.flush()
        # The stdin pipe stays open until the answer is in: its end tells the worker to stop.
        messages = read_until_finished(worker.stdout, deadline=time.monotonic() + 120)
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)
        worker.stdout.close()
    assert [type(m) for m in messages] == [Ready, Started, Finished]
    result = messages[-1].result
    assert result.status == OK, result.error
    # The worker imported only the standard library and refkit: no torch there, six from the venv.
    assert result.return_text == repr(f"six 1.16.0 in {report.path}; torch found: False")
    assert result.environment is not None
    assert result.environment.torch == "not installed"


@pytest.mark.slow
def test_transformers_4_57_gets_the_local_cpu_torch(tmp_path):
    # The site's light environment, as `scripts/dev setup` synced it into the user's cache (CI
    # always has it); made here in a new cache when it is not there (about a minute).
    env = Environment("transformers-4.57", ("transformers==4.57.6",))
    root = default_cache_root({**os.environ, **SCRUBBED})
    [report] = check([env], cache_root=root)
    if not report.ok:
        root = tmp_path / "envs"
        [report] = sync([env], cache_root=root)
        assert report.status == CREATED, report.reason
    assert report.requirements == ("transformers==4.57.6", "torch==2.13.0")
    torch = report.resolved["torch"]
    assert torch == running_torch_version()
    assert torch.endswith("+cpu")
    assert [name for name in report.resolved if name.startswith("nvidia")] == []
    assert installed_versions(report) == {
        "torch": torch,
        "transformers": "4.57.6",
        "tokenizers": report.resolved["tokenizers"],
    }
    assert python_says(report, "import transformers; print(transformers.__version__)") == "4.57.6"
    [again] = sync([env], cache_root=root)
    assert again.status == UP_TO_DATE and again.path == report.path
