"""The hostile-input campaign of ``scripts/hostile_campaign.py``, run as a user reruns it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def test_every_case_of_the_campaign_holds():
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "hostile_campaign.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert not failed
    # The campaign is not empty: every page case and every disk and command case reported.
    assert done.stdout.count("\nok   ") >= 25, done.stdout
