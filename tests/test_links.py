"""The reference-link checker, against a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from refkit.engine import links
from refkit.engine.links import (
    LinkCache,
    LinkStatus,
    check_links,
    check_url,
    dead_links,
    exit_code,
    format_report,
)

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)
RETRY_AFTER_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"


@dataclass
class Origin:
    """What the loopback server saw, and a switch for the one path whose answer changes."""

    base: str
    stop: threading.Event
    hits: Counter[str] = field(default_factory=Counter)
    requests: list[tuple[str, str]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    alive: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    # /together?n=N answers once N requests for it are in the server at the same time.
    together: dict[int, threading.Barrier] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.answer(body=False)

    def do_GET(self) -> None:
        self.answer(body=True)

    def send(self, status: int, body: bool, headers: dict[str, str] | None = None) -> None:
        payload = f"status {status}\n".encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def trickle(self, status: int, headers: dict[str, str]) -> None:
        """Headers at once, then a body of one byte every 50 ms, until the test ends."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        for _ in range(1200):  # a minute at most
            if self.server.origin.stop.wait(0.05):
                break
            try:
                self.wfile.write(b"x")
                self.wfile.flush()
            except OSError:  # the client hung up: what it should do
                break

    def answer(self, body: bool) -> None:
        origin = self.server.origin
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        with origin.lock:
            origin.hits[path] += 1
            count = origin.hits[path]
            origin.requests.append((self.command, self.path))
            origin.user_agents.append(self.headers.get("User-Agent", ""))
        if path == "/ok":
            self.send(200, body)
        elif path in ("/moved-301", "/moved-308", "/found-302"):
            self.send(int(path[-3:]), body, {"Location": "/ok"})
        elif path == "/moved-to-404":
            self.send(301, body, {"Location": f"{origin.base}/gone-404"})
        elif path in ("/gone-404", "/gone-410"):
            self.send(int(path[-3:]), body)
        elif path == "/busy-429":
            self.send(429, body, {"Retry-After": "1"}) if count == 1 else self.send(200, body)
        elif path == "/busy-429-date":
            headers = {"Retry-After": RETRY_AFTER_DATE}
            self.send(429, body, headers) if count == 1 else self.send(200, body)
        elif path == "/busy-429-garbage":
            headers = {"Retry-After": "soon"}
            self.send(429, body, headers) if count == 1 else self.send(200, body)
        elif path == "/always-429":
            self.send(429, body)
        elif path == "/hostile-429":
            self.send(429, body, {"Retry-After": "99999"})
        elif path == "/error-500":
            self.send(500, body)
        elif path == "/forbidden":
            self.send(403, body)
        elif path == "/slow":
            origin.stop.wait(int(query["ms"][0]) / 1000)
            self.send(200, body)
        elif path == "/together":
            parties = int(query["n"][0])
            with origin.lock:
                barrier = origin.together.setdefault(parties, threading.Barrier(parties))
            try:
                barrier.wait(timeout=3)  # a client that asks one at a time never gets there
                self.send(200, body)
            except threading.BrokenBarrierError:
                self.send(503, body)
        elif path == "/loop-a":
            self.send(302, body, {"Location": "/loop-b"})
        elif path == "/loop-b":
            self.send(302, body, {"Location": "/loop-a"})
        elif path.startswith("/chain/"):
            left = int(path.rsplit("/", 1)[1])
            self.send(302, body, {"Location": f"/chain/{left - 1}"}) if left else self.send(
                200, body
            )
        elif path == "/head-405":
            self.send(405 if self.command == "HEAD" else 200, body)
        elif path in ("/trickle-301", "/trickle-503"):
            if self.command == "HEAD":
                self.send(405, body)
            else:
                self.trickle(int(path[-3:]), {"Location": "/ok"})
        elif path == "/head-drops":
            if self.command == "GET":  # a HEAD gets no answer at all: the connection just closes
                self.send(200, body)
        elif path == "/cookie-gate":
            if "seen=1" in self.headers.get("Cookie", ""):
                self.send(200, body)
            else:
                self.send(302, body, {"Location": "/cookie-set"})
        elif path == "/cookie-set":
            self.send(302, body, {"Location": "/cookie-gate", "Set-Cookie": "seen=1; Path=/"})
        elif path == "/toggle":
            self.send(200 if origin.alive else 404, body)
        else:
            self.send(404, body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, origin_stop: threading.Event) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        host, port = self.server_address[:2]
        self.origin = Origin(base=f"http://{host!s}:{port}", stop=origin_stop)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out leaves a broken pipe behind; that is the test's point


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must never go through a proxy configured in the environment."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture
def origin() -> Iterator[Origin]:
    stop = threading.Event()
    server = Server(stop)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.origin
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Sleeps(list[float]):
    """A fake ``sleep`` that records the waits asked for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def bounded(check: Callable[[], LinkStatus], seconds: float = 10) -> LinkStatus:
    """``check()`` in a thread that may take ``seconds``; a hang fails the test, not the run."""
    found: list[LinkStatus] = []
    worker = threading.Thread(target=lambda: found.append(check()), daemon=True)
    worker.start()
    worker.join(timeout=seconds)  # if it fails, the thread is left behind, asleep or reading
    assert not worker.is_alive(), f"still checking after {seconds} s"
    return found[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- check_url: one URL, each kind of answer -----------------------------------------------------


def test_ok_is_one_head_request_with_a_browser_user_agent(origin: Origin) -> None:
    status = check_url(origin.url("/ok"), timeout=2, sleep=Sleeps(), now=fixed(T0))
    assert (status.ok, status.status, status.error, status.attempts) == (True, 200, None, 1)
    assert status.final_url is None and not status.permanent_redirect
    assert status.checked_at == "2024-01-01T12:00:00+00:00"
    assert status.dead_since is None and not status.dead
    assert origin.requests == [("HEAD", "/ok")]
    assert origin.user_agents[0].startswith("Mozilla/5.0")


@pytest.mark.parametrize("code", [301, 308])
def test_permanent_redirect_suggests_the_new_url(origin: Origin, code: int) -> None:
    status = check_url(origin.url(f"/moved-{code}"), timeout=2, sleep=Sleeps())
    assert status.ok and status.status == 200
    assert status.permanent_redirect
    assert status.final_url == status.suggested_url == origin.url("/ok")
    report = format_report({"topic": [status]})
    assert "REDIRECT" in report
    assert f"permanently moved: update to {origin.url('/ok')}" in report
    assert exit_code({"topic": [status]}) == 0


def test_redirect_keeps_the_text_fragment_but_never_sends_it(origin: Origin) -> None:
    status = check_url(origin.url("/moved-301#:~:text=Input%20IDs"), timeout=2, sleep=Sleeps())
    assert status.suggested_url == origin.url("/ok#:~:text=Input%20IDs")
    assert [path for _, path in origin.requests] == ["/moved-301", "/ok"]


def test_a_non_ascii_url_is_sent_percent_encoded(origin: Origin) -> None:
    status = check_url(origin.url("/caf\u00e9 x?q=1#:~:text=hello"), timeout=2, sleep=Sleeps())
    assert status.status == 404 and status.url.endswith("/caf\u00e9 x?q=1#:~:text=hello")
    assert origin.requests == [("HEAD", "/caf%C3%A9%20x?q=1"), ("GET", "/caf%C3%A9%20x?q=1")]


def test_temporary_redirect_is_ok_without_a_suggestion(origin: Origin) -> None:
    status = check_url(origin.url("/found-302"), timeout=2, sleep=Sleeps())
    assert status.ok and status.status == 200 and status.final_url == origin.url("/ok")
    assert not status.permanent_redirect and status.suggested_url is None
    report = format_report({"topic": [status]})
    assert f"  OK        {origin.url('/found-302')}" in report
    assert "temporary redirect to" in report and "update to" not in report


@pytest.mark.parametrize("code", [404, 410])
def test_gone_is_dead_at_once_without_retries(origin: Origin, code: int) -> None:
    sleeps = Sleeps()
    status = check_url(
        origin.url(f"/gone-{code}"), retries=3, timeout=2, sleep=sleeps, now=fixed(T0)
    )
    assert (status.ok, status.status, status.error) == (False, code, f"HTTP {code}")
    assert status.attempts == 1 and sleeps == []
    assert status.dead and status.dead_since == "2024-01-01"
    assert exit_code({"topic": [status]}) == 1
    assert "DEAD" in format_report({"topic": [status]})


def test_permanent_redirect_to_a_dead_page_is_dead_with_no_suggestion(origin: Origin) -> None:
    status = check_url(origin.url("/moved-to-404"), timeout=2, sleep=Sleeps())
    assert status.dead and status.status == 404
    assert status.permanent_redirect and status.final_url == origin.url("/gone-404")
    assert status.suggested_url is None
    report = format_report({"topic": [status]})
    assert "update to" not in report and f"permanently moved to {origin.url('/gone-404')}" in report


def test_429_waits_as_long_as_retry_after_says_then_succeeds(origin: Origin) -> None:
    sleeps = Sleeps()
    status = check_url(origin.url("/busy-429"), retries=2, backoff=7, timeout=2, sleep=sleeps)
    assert status.ok and status.status == 200 and status.attempts == 2
    assert sleeps == [1.0]
    assert origin.hits["/busy-429"] == 2


@pytest.mark.parametrize(("max_wait", "expected"), [(120.0, 60.0), (5.0, 5.0)])
def test_429_retry_after_as_an_http_date_is_capped(
    origin: Origin, max_wait: float, expected: float
) -> None:
    sleeps = Sleeps()
    one_minute_before = fixed(datetime(2015, 10, 21, 7, 27, tzinfo=timezone.utc))
    status = check_url(
        origin.url("/busy-429-date"),
        timeout=2,
        max_wait=max_wait,
        sleep=sleeps,
        now=one_minute_before,
    )
    assert status.ok and status.attempts == 2
    assert sleeps == [expected]


def test_429_with_a_retry_after_that_is_not_a_delay_backs_off_instead(origin: Origin) -> None:
    sleeps = Sleeps()
    status = check_url(origin.url("/busy-429-garbage"), backoff=0.5, timeout=2, sleep=sleeps)
    assert status.ok and status.attempts == 2
    assert sleeps == [0.5]


def test_a_hostile_retry_after_cannot_hang_the_run(origin: Origin) -> None:
    """The real clock and ``time.sleep``: nothing in requests or urllib3 may wait 99999 s."""
    started = time.monotonic()
    status = bounded(
        lambda: check_url(origin.url("/hostile-429"), retries=2, max_wait=0.2, timeout=2)
    )
    elapsed = time.monotonic() - started
    assert status.status == 429 and status.blocked and status.attempts == 3
    assert origin.requests == [("HEAD", "/hostile-429")] * 3
    assert 0.4 <= elapsed < 5  # two waits of max_wait, really slept


def test_an_endless_body_is_never_read_on_a_redirect(origin: Origin) -> None:
    status = bounded(lambda: check_url(origin.url("/trickle-301"), timeout=2, sleep=Sleeps()))
    assert status.ok and status.suggested_url == origin.url("/ok")
    assert origin.requests == [("HEAD", "/trickle-301"), ("GET", "/trickle-301"), ("HEAD", "/ok")]


def test_an_endless_body_is_never_read_on_a_retry(origin: Origin) -> None:
    sleeps = Sleeps()
    status = bounded(
        lambda: check_url(origin.url("/trickle-503"), retries=1, timeout=2, sleep=sleeps)
    )
    assert (status.status, status.error, status.attempts) == (503, "HTTP 503", 2)
    assert sleeps == [1.0]
    assert origin.requests == [("HEAD", "/trickle-503")] + [("GET", "/trickle-503")] * 2


def test_429_every_time_is_blocked_not_dead(origin: Origin) -> None:
    sleeps = Sleeps()
    status = check_url(origin.url("/always-429"), retries=2, backoff=0.5, timeout=2, sleep=sleeps)
    assert status.status == 429 and status.attempts == 3 and sleeps == [0.5, 1.0]
    assert status.blocked and not status.dead and status.dead_since is None
    assert exit_code({"t": [status]}) == 0
    assert "BLOCKED" in format_report({"t": [status]})


def test_403_is_blocked_not_dead(origin: Origin) -> None:
    status = check_url(origin.url("/forbidden"), timeout=2, sleep=Sleeps())
    assert status.status == 403 and status.blocked and not status.dead
    assert status.attempts == 1
    # HEAD failed, so GET was tried before concluding.
    assert origin.requests == [("HEAD", "/forbidden"), ("GET", "/forbidden")]


def test_500_is_retried_with_exponential_backoff_then_dead(origin: Origin) -> None:
    sleeps = Sleeps()
    status = check_url(origin.url("/error-500"), retries=2, backoff=0.5, timeout=2, sleep=sleeps)
    assert (status.ok, status.status, status.error) == (False, 500, "HTTP 500")
    assert status.attempts == 3 and sleeps == [0.5, 1.0]
    assert status.dead
    # HEAD answered 500, so GET was tried at once; the GET carries the retries.
    assert origin.requests == [("HEAD", "/error-500")] + [("GET", "/error-500")] * 3


def test_slow_answer_within_the_timeout_is_ok(origin: Origin) -> None:
    status = check_url(origin.url("/slow?ms=300"), timeout=2, sleep=Sleeps())
    assert status.ok and status.attempts == 1


def test_answer_slower_than_the_timeout_is_retried_then_dead(origin: Origin) -> None:
    sleeps = Sleeps()
    started = time.monotonic()
    status = check_url(
        origin.url("/slow?ms=5000"), timeout=0.3, retries=1, backoff=0.25, sleep=sleeps
    )
    elapsed = time.monotonic() - started
    assert (status.ok, status.status, status.error) == (False, None, "timeout after 0.3 s")
    assert status.attempts == 2 and sleeps == [0.25]
    assert status.dead
    assert origin.hits["/slow"] == 2  # no GET after a HEAD that timed out
    assert 0.5 <= elapsed < 2.0


def test_redirect_loop_is_dead_and_not_retried(origin: Origin) -> None:
    sleeps = Sleeps()
    status = check_url(origin.url("/loop-a"), retries=2, timeout=2, sleep=sleeps)
    assert (status.ok, status.error, status.attempts) == (False, "redirect loop", 1)
    assert status.dead and sleeps == []
    assert origin.hits["/loop-a"] + origin.hits["/loop-b"] < 10


def test_redirect_hops_are_capped(origin: Origin) -> None:
    assert check_url(origin.url("/chain/3"), max_redirects=3, timeout=2).ok
    status = check_url(origin.url("/chain/5"), max_redirects=3, timeout=2, sleep=Sleeps())
    assert not status.ok and status.error == "more than 3 redirects"


def test_head_405_falls_back_to_get(origin: Origin) -> None:
    status = check_url(origin.url("/head-405"), timeout=2, sleep=Sleeps())
    assert status.ok and status.status == 200 and status.attempts == 1
    assert origin.requests == [("HEAD", "/head-405"), ("GET", "/head-405")]


def test_head_without_an_answer_is_retried_then_falls_back_to_get(origin: Origin) -> None:
    sleeps = Sleeps()
    status = check_url(origin.url("/head-drops"), retries=1, backoff=0.1, timeout=2, sleep=sleeps)
    assert status.ok and status.status == 200 and status.error is None
    assert status.attempts == 2 and sleeps == [0.1]
    assert origin.requests == [("HEAD", "/head-drops")] * 2 + [("GET", "/head-drops")]


def test_a_cookie_set_on_one_hop_is_sent_on_the_next_but_not_to_the_next_check(
    origin: Origin,
) -> None:
    gate = origin.url("/cookie-gate")
    for _ in range(2):
        status = check_url(gate, timeout=2, sleep=Sleeps())
        assert status.ok and status.final_url == gate and not status.permanent_redirect
    # Each check starts without cookies: it is sent away to get one, then let in.
    one_check = ["/cookie-gate", "/cookie-set", "/cookie-gate"]
    assert [path for _, path in origin.requests] == one_check * 2


def test_connection_refused_is_retried_then_dead() -> None:
    sleeps = Sleeps()
    status = check_url(
        f"http://127.0.0.1:{closed_port()}/x", retries=1, backoff=0.1, timeout=1, sleep=sleeps
    )
    assert (status.ok, status.status, status.error) == (False, None, "connection refused")
    assert status.attempts == 2 and sleeps == [0.1]


def test_an_untrusted_certificate_is_dead_at_once_without_retries(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Server(threading.Event())
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        sleeps = Sleeps()
        url = server.origin.base.replace("http://", "https://") + "/ok"
        status = check_url(url, retries=2, timeout=2, sleep=sleeps)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert status.dead and status.status is None
    assert status.error is not None and status.error.startswith("TLS certificate error: ")
    assert status.attempts == 1 and sleeps == []


def test_a_non_http_url_is_dead_without_a_request() -> None:
    status = check_url("ftp://127.0.0.1/file", sleep=Sleeps())
    assert status.dead and status.error == "not an http(s) URL" and status.attempts == 0


def test_a_url_that_cannot_be_parsed_is_dead_without_a_request() -> None:
    status = check_url("http://[::1/x", sleep=Sleeps())
    assert status.dead and status.error == "invalid URL: Invalid IPv6 URL" and status.attempts == 0


# --- check_links: many URLs, concurrency and the cache -------------------------------------------


def test_each_url_is_checked_once_and_reported_per_topic(origin: Origin) -> None:
    ok, gone = origin.url("/ok"), origin.url("/gone-404")
    results = check_links({"a": [ok, gone], "b": [ok], "c": []}, timeout=2, sleep=Sleeps())
    assert list(results) == ["a", "b", "c"]
    assert [s.url for s in results["a"]] == [ok, gone] and results["b"][0] == results["a"][0]
    assert results["c"] == []
    assert origin.hits["/ok"] == 1
    report = format_report(results)
    assert report.index("a\n") < report.index("b\n") and "\nc\n" not in report
    assert (
        report.splitlines()[-1]
        == "2 links in 2 topics: 1 OK, 0 permanently moved, 0 blocked, 1 dead."
    )
    assert exit_code(results) == 1


def test_links_are_checked_concurrently(origin: Origin) -> None:
    # Six requests that the server answers only when all six are in it at once: checked one
    # after the other, the first would wait in vain and come back 503.
    urls = [origin.url(f"/together?n=6&link={n}") for n in range(6)]
    results = check_links({"six": urls}, workers=6, timeout=5, retries=0, sleep=Sleeps())
    assert [s.status for s in results["six"]] == [200] * 6
    assert origin.hits["/together"] == 6


def test_cached_results_are_reused_within_the_ttl_and_rechecked_after(
    origin: Origin, tmp_path: Path
) -> None:
    path = tmp_path / "links.json"
    urls = {"t": [origin.url("/ok"), origin.url("/gone-404")]}
    first = check_links(urls, cache=LinkCache(path), ttl_seconds=86400, now=fixed(T0))
    hits = sum(origin.hits.values())
    assert hits == 3  # HEAD /ok; HEAD and GET /gone-404

    later = T0 + timedelta(hours=23)
    again = check_links(urls, cache=LinkCache(path), ttl_seconds=86400, now=fixed(later))
    assert sum(origin.hits.values()) == hits  # no request at all
    assert again == first and again["t"][0].checked_at == T0.isoformat()

    next_day = T0 + timedelta(days=1, hours=1)
    rechecked = check_links(urls, cache=LinkCache(path), ttl_seconds=86400, now=fixed(next_day))
    assert sum(origin.hits.values()) == 2 * hits
    assert rechecked["t"][0].checked_at == next_day.isoformat()


def test_cache_file_round_trips_and_leaves_no_temporary_file(
    origin: Origin, tmp_path: Path
) -> None:
    path = tmp_path / "deep" / "links.json"
    results = check_links(
        {"t": [origin.url("/moved-308"), origin.url("/gone-410")]}, cache=LinkCache(path)
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["links.json"]
    stored = LinkCache(path).statuses()
    assert stored == {s.url: s for s in results["t"]}
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == 1


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'{"format": 99, "links": {}}',
        b'{"format": 1, "links": []}',
        b'{"format": 1, "links": {"u": {"url": "u", "ok": "yes"}}}',
        b'{"format": 1, "links": "u"}',
        b'"links"',
        b"null",
        b"[" * 100_000,  # deeper than the JSON decoder's recursion limit
    ],
)
def test_an_unreadable_cache_is_ignored(origin: Origin, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "links.json"
    path.write_bytes(content)
    cache = LinkCache(path)
    assert cache.statuses() == {}
    results = check_links({"t": [origin.url("/ok")]}, cache=cache, ttl_seconds=86400)
    assert results["t"][0].ok and origin.hits["/ok"] == 1
    assert LinkCache(path).get(origin.url("/ok"), 86400) == results["t"][0]  # rewritten, valid


def test_a_bad_entry_does_not_spoil_the_good_ones(tmp_path: Path) -> None:
    good = LinkStatus("https://a.example", True, 200, None, False, None, T0.isoformat())
    path = tmp_path / "links.json"
    data = {"format": 1, "links": {good.url: good.to_json(), "https://b.example": {"ok": 1}}}
    path.write_text(json.dumps(data), encoding="utf-8")
    assert LinkCache(path).statuses() == {good.url: good}


DEAD = LinkStatus(
    "https://a.example", False, 404, None, False, "HTTP 404", T0.isoformat(), "2024-01-01"
)
OTHER = "https://b.example"


@pytest.mark.parametrize(
    "bad",
    [
        "not an object",
        ["a", "list"],
        None,
        {**DEAD.to_json(), "url": OTHER, "status": True},  # bool passes isinstance(x, int)
        {**DEAD.to_json(), "url": OTHER, "attempts": False},
        {**DEAD.to_json(), "url": OTHER, "status": 404.0},
        {**DEAD.to_json(), "url": OTHER, "ok": 0},
        {**DEAD.to_json(), "url": OTHER, "checked_at": "yesterday"},
        {**DEAD.to_json(), "url": OTHER, "dead_since": "<b>long ago</b>"},
        {**DEAD.to_json(), "url": OTHER, "dead_since": 20240101},
        {**DEAD.to_json(), "url": "https://c.example"},  # filed under another URL
    ],
)
def test_an_entry_of_the_wrong_shape_is_treated_as_missing(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "links.json"
    data = {"format": 1, "links": {DEAD.url: DEAD.to_json(), OTHER: bad}}
    path.write_text(json.dumps(data), encoding="utf-8")
    cache = LinkCache(path)
    assert cache.statuses() == {DEAD.url: DEAD}
    assert cache.previous(OTHER) is None and cache.get(OTHER, 1e12, T0) is None
    assert dead_links(path) == {DEAD.url: "2024-01-01"}


def test_dead_since_is_kept_while_dead_and_reset_once_alive(origin: Origin, tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    url = origin.url("/toggle")

    def run(day: int) -> LinkStatus:
        now = fixed(T0 + timedelta(days=day))
        return check_links({"t": [url]}, cache=LinkCache(path), ttl_seconds=3600, now=now)["t"][0]

    assert run(0).dead_since == "2024-01-01"
    assert dead_links(path) == {url: "2024-01-01"}
    hits = origin.hits["/toggle"]
    still = run(2)
    assert origin.hits["/toggle"] > hits  # really checked again
    assert still.dead and still.dead_since == "2024-01-01"
    assert still.checked_at == (T0 + timedelta(days=2)).isoformat()
    assert dead_links(path) == {url: "2024-01-01"}

    origin.alive = True
    assert run(4).dead_since is None and dead_links(path) == {}
    origin.alive = False
    assert run(6).dead_since == "2024-01-07"  # dead again: a new date


def test_dead_links_ignores_ok_and_blocked_links_and_unreadable_files(tmp_path: Path) -> None:
    at = T0.isoformat()
    cache = LinkCache(tmp_path / "links.json")
    cache.put(LinkStatus("https://ok.example", True, 200, None, False, None, at))
    cache.put(LinkStatus("https://no.example", False, 403, None, False, "HTTP 403", at))
    cache.put(
        LinkStatus("https://x.example", False, 404, None, False, "HTTP 404", at, "2023-12-25")
    )
    cache.save()
    assert dead_links(tmp_path / "links.json") == {"https://x.example": "2023-12-25"}
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    assert dead_links(tmp_path / "bad.json") == {}


def test_nothing_is_cached_when_no_site_answers(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    url = f"http://127.0.0.1:{closed_port()}/x"
    results = check_links({"t": [url]}, cache=LinkCache(path), retries=0, timeout=1)
    assert results["t"][0].error == "connection refused"
    assert not path.exists()
    assert "network looks unreachable" in format_report(results)


# --- main: the `refkit links` command ------------------------------------------------------------


def topic_package(root: Path, urls: list[str]) -> Path:
    """A package folder with one topic module whose references are ``urls``."""
    package = root / "fixture_topics"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    references = "".join(f"    Reference({url!r}, 'title', 'good for', None),\n" for url in urls)
    source = (
        "from refkit.engine.references import Reference\n\n"
        'TITLE = "Fixture topic"\n'
        f"REFERENCES = (\n{references})\n"
        'raise RuntimeError("topic modules are read, never imported")\n'
    )
    (package / "linked_topic.py").write_text(source, encoding="utf-8")
    return package


def test_main_exits_zero_when_every_link_is_ok(
    origin: Origin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = topic_package(tmp_path, [origin.url("/ok"), origin.url("/found-302")])
    argv = ["--cache", str(tmp_path / "links.json"), "--retries", "0", "--timeout", "2"]
    assert links.main(argv, package_dir=package) == 0
    out = capsys.readouterr().out
    assert out.startswith("linked_topic\n")
    assert f"OK        {origin.url('/ok')}" in out and "0 dead." in out


def test_main_exits_one_on_a_dead_link(
    origin: Origin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = topic_package(tmp_path, [origin.url("/ok"), origin.url("/gone-404")])
    argv = ["--cache", str(tmp_path / "links.json"), "--retries", "0", "--timeout", "2"]
    assert links.main(argv, package_dir=package) == 1
    out = capsys.readouterr().out
    assert f"DEAD      {origin.url('/gone-404')}" in out and "HTTP 404, dead since" in out
    assert list(dead_links(tmp_path / "links.json")) == [origin.url("/gone-404")]


def test_main_reuses_the_cache_unless_refresh(
    origin: Origin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = topic_package(tmp_path, [origin.url("/ok")])
    argv = ["--cache", str(tmp_path / "links.json"), "--timeout", "2"]
    assert links.main(argv, package_dir=package) == 0
    assert links.main(argv, package_dir=package) == 0
    assert origin.hits["/ok"] == 1
    assert links.main([*argv, "--ttl", "0s"], package_dir=package) == 0
    assert origin.hits["/ok"] == 2
    assert links.main([*argv, "--refresh"], package_dir=package) == 0
    assert origin.hits["/ok"] == 3
    capsys.readouterr()


def test_main_default_cache_is_under_the_working_folder(
    origin: Origin,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    package = topic_package(tmp_path, [origin.url("/ok")])
    monkeypatch.chdir(tmp_path)
    assert links.main(["--timeout", "2"], package_dir=package) == 0
    stored = LinkCache(tmp_path / ".cache/plugin/refkit/links.json").statuses()
    assert list(stored) == [origin.url("/ok")]
    capsys.readouterr()


def test_main_ignores_an_unreadable_cache(
    origin: Origin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = topic_package(tmp_path, [origin.url("/ok")])
    cache = tmp_path / "links.json"
    cache.write_text("\0\0 not a cache", encoding="utf-8")
    assert links.main(["--cache", str(cache), "--timeout", "2"], package_dir=package) == 0
    assert json.loads(cache.read_text(encoding="utf-8"))["links"][origin.url("/ok")]["ok"] is True
    capsys.readouterr()


def test_importing_the_checker_imports_neither_torch_nor_transformers() -> None:
    code = "import sys, refkit.engine.links; print('torch' in sys.modules, 'transformers' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_reading_the_cache_does_not_load_the_http_stack(tmp_path: Path) -> None:
    """A build reads ``dead_links()`` on every run; requests and urllib3 load only to check."""
    cache = LinkCache(tmp_path / "links.json")
    at = "2024-01-01T00:00:00+00:00"
    cache.put(LinkStatus("https://x.example", False, 404, None, False, "HTTP 404", at, at[:10]))
    cache.save()
    code = (
        "import sys, refkit.engine.links as links; print(links.dead_links(sys.argv[1])); "
        "print([m for m in ('requests', 'urllib3', 'http.client') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(cache.path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["{'https://x.example': '2024-01-01'}", "[]"]
