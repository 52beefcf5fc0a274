"""``mkdocs serve`` for real: errors never stop the server, and saving a topic heals its page."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import make_site

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8")
    except OSError:
        return None


def wait_for(url: str, text: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    page = None
    while time.monotonic() < deadline:
        page = fetch(url)
        if page is not None and text in page:
            return page
        time.sleep(0.2)
    raise AssertionError(f"{text!r} did not appear at {url} within {seconds} s; last page:\n{page}")


def nav_titles(page: str) -> list[str]:
    """The link texts of the primary navigation (Material) on a built page."""
    nav = page.split('<nav class="md-nav md-nav--primary"', 1)[-1].split("</nav>", 1)[0]
    texts = re.findall(r'<span class="md-ellipsis">(.*?)</span>', nav, re.S)
    return [re.sub(r"<[^>]+>|\s+", " ", text).strip() for text in texts]


class Servers:
    """``mkdocs serve`` processes started by a test; each one's log goes to a file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[str]] = []
        self.log = folder / "serve.log"

    def __call__(self, site, *options: str) -> str:
        """Start serving ``site``; returns its address."""
        port = free_port()
        self.log = self.folder / f"serve-{len(self.processes)}.log"
        with self.log.open("w") as log:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mkdocs", "serve", *options, "-a", f"127.0.0.1:{port}"],
                    cwd=site.root,
                    env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
        return f"http://127.0.0.1:{port}/"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def serve(tmp_path):
    """Start ``mkdocs serve`` for a site once its files are written; stop it afterwards."""
    servers = Servers(tmp_path)
    yield servers
    servers.stop()


@pytest.mark.parametrize("options", [(), ("--dirty",)], ids=["full", "dirty"])
def test_serve_shows_the_error_then_heals_when_the_module_is_saved(tmp_path, serve, options):
    # Material's search keeps the index of pages a dirty rebuild skipped; MkDocs' own does not.
    site = make_site(tmp_path / "served", theme="material")
    topic = site.write_topic(
        "live",
        """
        TITLE = "Live"

        def demo_value():
            raise RuntimeError("not written yet")
        """,
    )
    # Not on the home page: Material's dirty-reload index merge mishandles the root location.
    site.write_page("live.md", "# Live\n\n!refkit live.demo_value\n")
    site.write_page("index.md", "# Other page\n\nUnrelated words: xylophone.\n")
    # Titled by its heading only: a dirty rebuild must still name it in the navigation.
    site.write_page("more.md", "# More notes\n\nWords.\n")
    root = serve(site, *options)
    url = root + "live/"
    page = wait_for(url, "Snippet live.demo_value raised RuntimeError", 120)
    assert "not written yet" in page

    topic.write_text('TITLE = "Live"\n\ndef demo_value():\n    print("healed output 1")\n')
    wait_for(url, "healed output 1", 60)

    # A second save shows the new output, never one from code that was already imported.
    topic.write_text('TITLE = "Live"\n\ndef demo_value():\n    print("healed output 2")\n')
    page = wait_for(url, "healed output 2", 60)
    assert "healed output 1" not in page
    # Undoing the edit brings back a result from the cache: the page must follow it too.
    topic.write_text('TITLE = "Live"\n\ndef demo_value():\n    print("healed output 1")\n')
    page = wait_for(url, "healed output 1", 60)
    assert "healed output 2" not in page and "from the cache" in page

    # Nothing else changes, so nothing rebuilds: a build must not trigger the next one.
    # (The live-reload endpoint answers with the epoch of the latest build.) A save that came
    # while a rebuild ran has one more rebuild queued: let that one finish first.
    deadline = time.monotonic() + 30
    epoch, previous = fetch(root + "livereload/0/0"), None
    while epoch != previous and time.monotonic() < deadline:
        time.sleep(1)
        previous, epoch = epoch, fetch(root + "livereload/0/0")
    time.sleep(3)
    assert epoch is not None and epoch.isdigit() and fetch(root + "livereload/0/0") == epoch

    # A partial (dirty) rebuild keeps the other pages in the search index.
    index = fetch(root + "search/search_index.json")
    assert index is not None and "xylophone" in index and "healed output 1" in index
    # Every page keeps its title in the navigation of a rebuilt page.
    assert nav_titles(page) == ["Other page", "Live", "More notes"]

    # Under --dirty, a save of the module rebuilds the snippet's page ahead of the site (unless
    # a rebuild under way has already read the save).
    log = serve.log_text()
    ahead = re.findall(r"live\.md built in [\d.]+ seconds, ahead of the rest of the site", log)
    assert len(ahead) >= 1 if "--dirty" in options else not ahead, log

    # A saved page rebuilds (all of it, nothing ahead), its navigation still complete.
    site.write_page("more.md", "# More notes\n\nEdited words.\n")
    page = wait_for(root + "more/", "Edited words", 60)
    assert nav_titles(page) == ["Other page", "Live", "More notes"]
    assert len(re.findall("ahead of the rest of the site", serve.log_text())) == len(ahead)
