"""Approved outputs versus live ones: the command line loop and the build's notice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from refkit.engine.drift import compare

REFKIT = str(Path(sys.executable).parent / "refkit")

TOPIC = """
TITLE = "Drifting"

def demo_loss():
    print("loss 0.5645")
    print("ids [101, 7, 102]")

def demo_other():
    print("steady")
"""


def refkit(site, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it in the project: options come from its mkdocs.yml."""
    return subprocess.run(
        [REFKIT, *args],
        cwd=site.root,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("approved", "live", "drifted"),
    [
        ("loss 0.5645\n", "loss 0.5646\n", False),  # one unit in the last printed place
        ("loss 0.5645\n", "loss 0.5656\n", True),
        ("ids [101, 7]\n", "ids [101, 8]\n", True),  # integers are exact
        ("at 0x7f00aa11bb22\n", "at 0x55aa00ff0011\n", False),  # addresses normalised
        ("took 1.20 s\n", "took 3.41 s\n", False),  # durations normalised
        (
            "saved to /tmp/refkit-tok-abc/tokenizer.json\n",
            "saved to /tmp/refkit-tok-xyz/tokenizer.json\n",
            False,
        ),
        ("a\nb\n", "a\n", True),
    ],
)
def test_comparison_tolerates_only_what_is_documented(approved, live, drifted):
    assert (compare("m.f", approved, live, Path("a.txt")) is not None) is drifted


@pytest.mark.slow
def test_check_fails_with_a_diff_accept_records_and_check_passes(site):
    topic = site.write_topic("drifting", TOPIC)
    site.write_page("index.md", "# D\n\n!refkit drifting.demo_loss\n")

    never_approved = refkit(site, "check")
    assert never_approved.returncode == 1
    assert "NEW     drifting.demo_loss: never approved" in never_approved.stdout

    assert refkit(site, "accept").returncode == 0
    assert (
        site.root / "approved" / "drifting" / "demo_loss.txt"
    ).read_text() == "loss 0.5645\nids [101, 7, 102]\n"
    assert refkit(site, "check").returncode == 0

    topic.write_text(topic.read_text().replace("[101, 7, 102]", "[101, 9, 102]"))
    drifted = refkit(site, "check")
    assert drifted.returncode == 1
    assert "DRIFT   drifting.demo_loss" in drifted.stdout
    assert "-ids [101, 7, 102]\n+ids [101, 9, 102]" in drifted.stdout
    assert "OK      drifting.demo_other" in drifted.stdout
    assert "1 passed, 1 failed" in drifted.stdout

    listing = refkit(site, "list")
    assert listing.returncode == 0
    assert re.search(r"^drifting\.demo_loss\s+drift\s+index\.md:3$", listing.stdout, re.MULTILINE)
    assert re.search(
        r"^drifting\.demo_other\s+approved\s+\(on no page\)$", listing.stdout, re.MULTILINE
    )

    assert refkit(site, "accept", "drifting.demo_loss").returncode == 0
    assert refkit(site, "check").returncode == 0


@pytest.mark.slow
def test_run_prints_one_snippets_output(site):
    site.write_topic("drifting", TOPIC)
    done = refkit(site, "run", "drifting.demo_other")
    assert (done.returncode, done.stdout) == (0, "steady\n")
    unknown = refkit(site, "run", "drifting.demo_nope")
    assert unknown.returncode != 0 and "unknown snippet id 'drifting.demo_nope'" in unknown.stderr


@pytest.mark.slow
def test_build_warns_with_a_diff_and_the_page_shows_what_changed(site):
    topic = site.write_topic("drifting", TOPIC)
    site.write_page("index.md", "# D\n\n!refkit drifting.demo_loss\n")
    assert refkit(site, "accept").returncode == 0
    assert site.build("--strict").returncode == 0
    assert "refkit-drift" not in site.html()

    topic.write_text(topic.read_text().replace("loss 0.5645", "loss 0.7000"))
    done = site.build()
    assert done.returncode == 0, done.stderr
    assert (
        "index.md:3: snippet drifting.demo_loss no longer gives its approved output" in done.stderr
    )
    assert "-loss 0.5645\n+loss 0.7000" in done.stderr
    page = site.html()
    assert "This output changed since it was approved" in page
    assert "-loss 0.5645\n+loss 0.7000" in page
    assert site.build("--strict").returncode != 0


@pytest.mark.slow
def test_the_command_takes_its_defaults_from_the_plugins_environment_variables(site):
    site.write_topic("drifting", TOPIC)
    env = {
        **os.environ,
        "REFKIT_PACKAGE_DIR": "topics",
        "REFKIT_APPROVED_DIR": "elsewhere",
        "REFKIT_CACHE_DIR": "cache-elsewhere",
    }
    done = subprocess.run(
        [REFKIT, "accept", "drifting.demo_other"],
        cwd=site.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (site.root / "elsewhere" / "drifting" / "demo_other.txt").read_text() == "steady\n"
    assert any((site.root / "cache-elsewhere").iterdir())
    bad = subprocess.run(
        [REFKIT, "list"],
        cwd=site.root,
        env={**env, "REFKIT_JOBS": "two"},
        capture_output=True,
        text=True,
    )
    assert (
        bad.returncode != 0 and "REFKIT_JOBS=two: expected a whole number, got 'two'" in bad.stderr
    )
