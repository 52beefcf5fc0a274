"""Hostile input: the build survives it, says what happened, and never loses a good result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import pid_alive

pytestmark = pytest.mark.slow

HOSTILE = """
import contextlib, os, resource, subprocess, sys
TITLE = "Hostile"
# Where demo_fifty_megabytes reports its memory growth: its own output is truncated.
GROWTH_FILE = "GROWTH_FILE"

class HtmlFails:
    def _repr_html_(self):
        raise ValueError("no html today")
    def __repr__(self):
        return "HtmlFails()"

def demo_fifty_megabytes():
    chunk = "y" * 1_000_000 + "\\n"
    # Measure the peak of this process only: a forked process may start with its parent's peak,
    # which would hide any growth below it, so reset the peak first where Linux allows.
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(50):
        sys.stdout.write(chunk)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(GROWTH_FILE, "w") as report:
        report.write(str(after - before))  # kB on Linux

def demo_bad_bytes_everywhere():
    sys.stdout.buffer.write(b"out \\xff\\xfe\\n")
    sys.stderr.buffer.write(b"err \\xc3\\x28\\n")
    os.write(1, b"native \\xff\\n")

def demo_repr_html_raises():
    return HtmlFails()

def demo_leaves_a_child_behind():
    child = subprocess.Popen(["sleep", "300"])
    print("child", child.pid)

def demo_fine():
    print("fine")
"""


def hostile_topic(growth_file: Path) -> str:
    return HOSTILE.replace('"GROWTH_FILE"', repr(str(growth_file)))


def test_hostile_snippets_build_and_are_contained(site):
    growth_file = site.root / "growth.txt"
    site.write_topic("hostile", hostile_topic(growth_file))
    site.write_page(
        "index.md",
        "# H\n\n"
        + "\n\n".join(
            f"!refkit hostile.{name}"
            for name in (
                "demo_fifty_megabytes",
                "demo_bad_bytes_everywhere",
                "demo_repr_html_raises",
                "demo_leaves_a_child_behind",
                "demo_fine",
            )
        )
        + "\n",
    )
    started = time.monotonic()
    done = site.build("--strict")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 120  # the lingering child did not hold the build
    html = site.html()
    assert "Output truncated" in html
    # The capture stops keeping output at its limit, so printing 50 MB (in 1 MB chunks) grows
    # the snippet's process by a few chunks at most, not by 50 MB; the page alone cannot tell.
    growth_kb = int(growth_file.read_text())
    assert growth_kb < 20_000, f"printing 50 MB grew the snippet's process by {growth_kb} kB"
    assert len(html) < 2_000_000  # 50 MB printed, a bounded page
    assert "out \ufffd\ufffd" in html and "err \ufffd(" in html and "native \ufffd" in html
    assert "refkit: _repr_html_ raised ValueError: no html today" in html
    assert "HtmlFails()" in html
    child_pid = int(html.split("child ")[1].split("\n")[0])
    deadline = time.monotonic() + 10
    while pid_alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(child_pid), "the snippet's child outlived it"


def test_the_same_snippet_twice_on_a_page_is_a_warning(site):
    site.write_topic("hostile", hostile_topic(site.root / "growth.txt"))
    site.write_page("index.md", "# H\n\n!refkit hostile.demo_fine\n\n!refkit hostile.demo_fine\n")
    done = site.build()
    assert done.returncode == 0
    assert "index.md:5: snippet hostile.demo_fine is embedded twice on this page" in done.stderr


SLOW = """
import time
TITLE = "Slow"
""" + "".join(
    f"""
def demo_step_{i}():
    time.sleep(0.6)
    print("step {i}")
"""
    for i in range(6)
)


def cache_entries(site) -> list[Path]:
    """The result entries (in their two-hex-digit folders; not the catalog or listing stores)."""
    return [
        p
        for p in (site.root / ".cache" / "refkit").rglob("*.json")
        if len(p.parent.name) == 2 and not p.name.startswith(".tmp-")
    ]


def test_two_builds_at_once_on_one_cache(site):
    site.write_topic("slow", SLOW)
    site.write_page(
        "index.md", "# S\n\n" + "\n\n".join(f"!refkit slow.demo_step_{i}" for i in range(6)) + "\n"
    )
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    builds = [
        subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", f"out{n}"],
            cwd=site.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    for build in builds:
        _, stderr = build.communicate(timeout=300)
        assert build.returncode == 0, stderr
    for n in (1, 2):
        page = (site.root / f"out{n}" / "index.html").read_text()
        assert all(f"step {i}\n" in page for i in range(6))
    entries = cache_entries(site)
    assert len(entries) == 6
    for entry in entries:
        json.loads(entry.read_text())


def test_a_build_killed_midway_leaves_no_broken_entry_and_a_rebuild_heals(site):
    # A kill at a random moment almost never lands inside a write of these small entries, so
    # this checks the rebuild; test_a_writer_killed_mid_entry_leaves_the_old_entry_whole (in
    # test_discovery_and_cache.py) kills a writer inside its write, every time.
    site.write_topic("slow", SLOW)
    site.write_page(
        "index.md", "# S\n\n" + "\n\n".join(f"!refkit slow.demo_step_{i}" for i in range(6)) + "\n"
    )
    (site.root / "mkdocs.yml").write_text(
        (site.root / "mkdocs.yml").read_text().replace('"timeout": 20', '"timeout": 20, "jobs": 1')
    )
    build = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "build"],
        cwd=site.root,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(cache_entries(site)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    build.send_signal(signal.SIGKILL)
    build.wait()
    written = cache_entries(site)
    assert 2 <= len(written) < 6, "the build was meant to die half-way"
    for entry in written:
        json.loads(entry.read_text())  # every entry that exists is whole

    # A corrupted entry (say, from a disk that failed) is recomputed, not served, with a warning.
    written[0].write_text('{"status": "ok", "events": [{"stream": "stdout", "te')
    done = site.build()
    assert done.returncode == 0, done.stderr
    assert f"{written[0]}: unusable cache entry deleted (not JSON" in done.stderr
    page = site.html()
    assert all(f"step {i}\n" in page for i in range(6))
    reused = len(written) - 1  # every whole entry but the corrupted one
    assert f"6 snippets: {reused} from the cache, {6 - reused} run, 0 failed" in done.stderr
