"""``mkdocs serve`` for real: errors never stop the server, and saving a topic heals its page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

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


@pytest.fixture
def serve():
    """Start ``mkdocs serve`` for a site once its files are written; stop it afterwards."""
    processes: list[subprocess.Popen[str]] = []

    def start(site, *options: str) -> str:
        port = free_port()
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "mkdocs", "serve", *options, "-a", f"127.0.0.1:{port}"],
                cwd=site.root,
                env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        return f"http://127.0.0.1:{port}/"

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
    # (The live-reload endpoint answers with the epoch of the latest build.)
    epoch = fetch(root + "livereload/0/0")
    time.sleep(3)
    assert epoch is not None and epoch.isdigit() and fetch(root + "livereload/0/0") == epoch

    # A partial (dirty) rebuild keeps the other pages in the search index.
    index = fetch(root + "search/search_index.json")
    assert index is not None and "xylophone" in index and "healed output 1" in index
