"""Shared helpers: small real MkDocs sites in temp folders, built in real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from refkit.engine.discovery import load_catalog

REPO = Path(__file__).resolve().parent.parent

# The developer's own REFKIT_* settings (REFKIT_JOBS, REFKIT_ENABLED=false, ...), taken out of
# the environment for the whole session by pytest_configure: a test that wants one sets it.
SCRUBBED: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Take every ``REFKIT_*`` variable out of the environment, before any test is collected.

    Each xdist worker runs this too. Subprocesses the tests start inherit ``os.environ``, so
    builds, commands and servers see only the variables a test sets on purpose.
    """
    for name in [name for name in os.environ if name.startswith("REFKIT_")]:
        SCRUBBED[name] = os.environ.pop(name)
    if not hasattr(config, "workerinput"):  # once, in the process that starts the workers
        compile_bytecode()


def compile_bytecode() -> None:
    """Write the bytecode of ``refkit/``, as a first import does, when it is missing or stale.

    With ``PYTHONDONTWRITEBYTECODE`` set (and the snippet workers always set it), no import
    writes it, so each of the suite's hundreds of builds, commands and workers compiled every
    refkit module again: a tenth of a second or more each. Python still reads a ``.pyc`` that
    matches its source, so they start from these instead; what runs is the same.
    """
    import compileall

    compileall.compile_dir(REPO / "refkit", quiet=2)  # a folder it cannot write: source it is


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session):
    """Let pytest keep the test modules it rewrote (``__pycache__/*-pytest-*.pyc``) for later runs.

    Rewriting the asserts of every test module takes each worker seconds; under
    ``PYTHONDONTWRITEBYTECODE`` pytest redid it in every worker of every run. Only collection
    writes bytecode so: the tests themselves run under the developer's setting.
    """
    keep = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        return (yield)
    finally:
        sys.dont_write_bytecode = keep


def pytest_unconfigure(config: pytest.Config) -> None:
    os.environ.update(SCRUBBED)


# A build script run in a fresh interpreter: builds the site in-process, then reports what the
# MkDocs process imported and what the plugin did.
_BUILD_AND_REPORT = """
import json, sys
from mkdocs.commands.build import build
from mkdocs.config import load_config
config = load_config("mkdocs.yml")
config.plugins.on_startup(command="build", dirty=False)
try:
    build(config)
finally:
    config.plugins.on_shutdown()
stats = config.plugins["refkit"].stats
print(json.dumps({
    "torch_imported": "torch" in sys.modules,
    "transformers_imported": "transformers" in sys.modules,
    "topic_imported": any(name.startswith("topics.") for name in sys.modules),
    "executed": stats.executed_ids,
    "from_cache": stats.from_cache,
}))
"""


@dataclass
class Site:
    """A small MkDocs project: a topic package ``topics/`` and pages under ``docs/``."""

    root: Path

    def write_topic(self, name: str, source: str) -> Path:
        path = self.root / "topics" / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def write_page(self, name: str, markdown: str) -> Path:
        path = self.root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(markdown), encoding="utf-8")
        return path

    def html(self, page: str = "index.html") -> str:
        return (self.root / "site" / page).read_text(encoding="utf-8")

    def build(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """``mkdocs build`` in a subprocess, as a user runs it."""
        return subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", *args],
            cwd=self.root,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def build_and_report(self, env: dict[str, str] | None = None) -> dict[str, object]:
        """Build in a fresh interpreter and report imports and plugin statistics."""
        done = subprocess.run(
            [sys.executable, "-c", _BUILD_AND_REPORT],
            cwd=self.root,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])


def device_label() -> str:
    """How a page stamps the device torch snippets ran on here (REFKIT_DEVICE and the GPU)."""
    from refkit.engine.device import gpu_visible

    if not gpu_visible() and os.environ.get("REFKIT_DEVICE", "auto") != "cuda":
        return "cpu"  # torch cannot pick a GPU it has no driver for: no need to import it
    import torch

    from refkit.engine.device import get_device

    device = get_device()
    return f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else device.type


def topic_package(path: Path) -> Path:
    """Create an empty package at ``path`` for a test to write topic modules into."""
    path.mkdir()
    (path / "__init__.py").write_text("")
    return path


def pid_alive(pid: int) -> bool:
    """Whether a process runs; a zombie counts as dead (it only waits to be reaped)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def make_site(root: Path, options: dict[str, object] | None = None, theme: str = "mkdocs") -> Site:
    """Create a site whose plugin reads topics from ``root/topics``."""
    (root / "topics").mkdir(parents=True)
    (root / "topics" / "__init__.py").write_text("", encoding="utf-8")
    (root / "docs").mkdir()
    plugin_options = {
        "package_dir": "topics",
        "timeout": 20,
        "cache_dir": ".cache/refkit",
        **(options or {}),
    }
    config = {
        "site_name": "fixture",
        "theme": {"name": theme},
        "plugins": ["search", {"refkit": plugin_options}],
        "markdown_extensions": ["pymdownx.highlight", "pymdownx.superfences"],
    }
    # JSON is valid YAML.
    (root / "mkdocs.yml").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return Site(root)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path / "site-project")


def zensical(project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600):
    """``zensical`` in a subprocess in ``project``, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "zensical", *args],
        cwd=project,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def synced_six(root: Path, name: str = "six-env"):
    """A real synced environment ``name`` with six 1.16.0 and no torch, under ``root``.

    About two seconds with uv, which the tests of environments need (skipped without it).
    """
    import shutil

    from refkit.engine.environments import Environment, sync

    if shutil.which("uv") is None:
        try:
            from uv import find_uv_bin  # noqa: F401
        except ImportError:
            pytest.skip("uv is not installed (pip install uv)")
    [report] = sync(
        [Environment(name, ("six==1.16.0",), add_torch=False)], cache_root=root, installer="uv"
    )
    assert report.ok, report.reason
    return report


LIGHT_ENVIRONMENTS = ("transformers-4.57",)
"""The version environments ``scripts/dev setup`` syncs (its REFKIT_SYNC_ENVIRONMENTS default)."""


@pytest.fixture(scope="session")
def real_environments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``environments_dir`` for builds of this site: the light environments synced here, only.

    Links to the user's synced ones, so that a test session runs the same environments on a
    developer's machine (which may have the TensorFlow ones too) as in CI (which has only
    these): the TensorFlow tabs show their recorded outputs in both. In CI the light ones must
    be there: ``.ci/run`` syncs them, and their tabs are meant to run live.
    """
    from refkit.engine.environments import default_cache_root

    folder = tmp_path_factory.mktemp("real-environments")
    root = default_cache_root({**os.environ, **SCRUBBED})  # the user's, if they set one
    for name in LIGHT_ENVIRONMENTS:
        if (root / name).is_dir():
            (folder / name).symlink_to(root / name, target_is_directory=True)
        elif os.environ.get("CI"):
            pytest.fail(f"CI: environment {name} is not synced (scripts/dev setup syncs it)")
    return folder


def live_runs(environments_dir: Path) -> int:
    """How many (snippet, environment) runs a fresh build of this site makes with those environments.

    Every snippet in ``default``, plus each declared environment of a snippet that exists there.
    """
    from refkit.engine.run_environments import snippet_environments

    catalog = load_catalog(REPO / "refkit")
    synced = {path.name for path in environments_dir.iterdir()}
    runs = 0
    for snippet in catalog.snippets.values():
        names = snippet_environments(snippet)
        runs += sum(1 for name in names if name == "default" or name in synced)
    return runs


@pytest.fixture(scope="session")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The result cache of this repository's real snippets, filled once per test session.

    Every test of the real snippets reads it, so they all run once per session: in the
    ``--strict`` MkDocs build of :func:`built_site`, which fills it.
    """
    return tmp_path_factory.mktemp("real-cache")


class ZensicalBuild:
    """``zensical build --clean`` of a copy of this repository, running in the background.

    A copy, because Zensical writes its site and page cache inside the project. It reads the
    results the MkDocs build left in ``cache``, so nothing runs twice.
    """

    def __init__(self, project: Path, cache: Path, environments: Path) -> None:
        import shutil

        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for folder in ("docs", "refkit", "approved"):
            shutil.copytree(REPO / folder, project / folder, ignore=ignore)
        for name in ("mkdocs.yml", "README.md"):  # the home page includes a README section
            shutil.copy(REPO / name, project / name)
        self.project = project
        self.log = project.parent / f"{project.name}.log"  # a file: a full pipe would stall it
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "zensical", "build", "--clean"],
                cwd=project,
                env={
                    **os.environ,
                    "REFKIT_CACHE_DIR": str(cache),
                    "REFKIT_ENVIRONMENTS_DIR": str(environments),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait(self, timeout: float = 600) -> tuple[int, str]:
        """The exit status and output, once the build has finished."""
        returncode = self.process.wait(timeout=timeout)
        return returncode, self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_ZENSICAL_BUILD = pytest.StashKey[ZensicalBuild]()


@pytest.fixture(scope="session")
def built_site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    real_cache: Path,
    real_environments: Path,
) -> Path:
    """This repository's own site, built once per test session with ``--strict`` and a fresh cache.

    When the session also has tests of :func:`zensical_site`, that build starts next, in the
    background, while the tests of this one run (the browser's mostly wait).
    """
    out = tmp_path_factory.mktemp("real-site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out / "site")],
        cwd=REPO,
        env={
            **os.environ,
            "NO_MKDOCS_2_WARNING": "1",
            "REFKIT_CACHE_DIR": str(real_cache),
            "REFKIT_ENVIRONMENTS_DIR": str(real_environments),
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    # A fresh cache: every snippet of the package is on a page and ran in this build, in each
    # of its environments that exists.
    count = live_runs(real_environments)
    assert count > 0
    ran = f"refkit: {count} snippets: 0 from the cache, {count} run, 0 failed, 0 not run"
    assert ran in done.stderr, done.stderr[-3000:]
    if any("zensical_site" in getattr(item, "fixturenames", ()) for item in request.session.items):
        build = ZensicalBuild(
            tmp_path_factory.mktemp("zensical-project"), real_cache, real_environments
        )
        request.config.stash[_ZENSICAL_BUILD] = build
        request.addfinalizer(build.stop)
    return out / "site"


@pytest.fixture(scope="session")
def zensical_site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    built_site: Path,
    real_cache: Path,
    real_environments: Path,
) -> Path:
    """This repository's site built by ``zensical build --clean`` (see :class:`ZensicalBuild`)."""
    build = request.config.stash.get(_ZENSICAL_BUILD, None)
    if build is None:
        build = ZensicalBuild(
            tmp_path_factory.mktemp("zensical-project"), real_cache, real_environments
        )
        request.addfinalizer(build.stop)
    returncode, log = build.wait()
    assert returncode == 0, log[-5000:]
    count = live_runs(real_environments)
    from_cache = f"refkit: {count} snippets: {count} from the cache, 0 run, 0 failed, 0 not run"
    assert from_cache in log, log[-3000:]
    return build.project / "site"


# The fixtures of this repository's own site: built once per test process.
_REAL_SITE_FIXTURES = frozenset({"real_cache", "real_environments", "built_site", "zensical_site"})


def join_xdist_group(item: pytest.Item, group: str) -> None:
    """Put ``item`` in ``group`` of ``--dist loadgroup``, as an ``xdist_group`` marker means to.

    pytest-xdist groups the tests whose node ids end in ``@<group>``: its own hook writes that
    suffix to ``item._nodeid``, which pytest 9 no longer reads (it keeps the id as a ``NodeId``
    in ``item._id``), so with these versions the marker groups nothing and every worker built
    the real site. The suffix is written here, where each version keeps it.
    """
    suffixed = f"{item.nodeid}@{group}"
    node_id = getattr(item, "_id", None)
    if node_id is None or isinstance(node_id, str):
        item._nodeid = suffixed  # type: ignore[attr-defined]
    else:
        item._id = type(node_id).parse(suffixed)  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup``, keep every test of the real site in one worker, first.

    Session fixtures are made once per worker process; the real site (every snippet run, then two
    builds) is the costliest of them, so its tests share one worker (``--dist loadgroup``, as
    ``scripts/dev test`` runs) and the other workers take everything else.
    """
    if not getattr(config.option, "loadgroup", False):  # set in xdist's workers only
        return
    real = [item for item in items if _REAL_SITE_FIXTURES & set(getattr(item, "fixturenames", ()))]
    for item in real:
        join_xdist_group(item, "real-site")
    # The longest piece of work goes first: handed out last, it would run alone at the end.
    chosen = set(map(id, real))
    items[:] = real + [item for item in items if id(item) not in chosen]


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


# One Chromium per test process for every browser test: starting one costs seconds of CPU.
@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail(
            "the browser tests need Debian's chromium and chromium-driver "
            "(apt-get install chromium chromium-driver; scripts/dev test does it as root)"
        )
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium must never try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
