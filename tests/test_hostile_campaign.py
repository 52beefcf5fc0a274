"""The hostile-input campaign of ``scripts/hostile_campaign.py``, run as a user reruns it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

SCRIPT = REPO / "scripts" / "hostile_campaign.py"


def campaign_module():
    """The campaign script as a module: its cases, read from the script itself."""
    spec = importlib.util.spec_from_file_location("hostile_campaign", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_every_case_of_the_campaign_holds():
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, output
    verdicts = [line for line in done.stdout.splitlines() if line.startswith(("ok   ", "FAIL "))]
    assert not [line for line in verdicts if line.startswith("FAIL")], output
    # Every case the script declares, by name and in order: none skipped, none left silent.
    expected = campaign_module().case_names()
    assert [line.removeprefix("ok   ") for line in verdicts] == expected, output
    assert f"{len(expected)} passed, 0 failed" in done.stdout
