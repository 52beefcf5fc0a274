"""Check every reference link: concurrently, politely, with a cache on disk.

This is what ``refkit links`` runs. It never runs during a build, which works offline: the build
only reads the cache this module writes (see :func:`dead_links`), so the HTTP stack (requests,
urllib3) is imported only when links are actually checked.

How one URL is checked (:func:`check_url`), through a ``requests`` session whose adapter retries
with urllib3's ``Retry``:

- A ``HEAD`` request first; a ``GET`` (whose body is never read) when ``HEAD`` answers an error
  status or a broken response, since many servers handle ``HEAD`` badly.
- Redirects are followed one hop at a time, so every hop is seen: a ``301`` or ``308`` means the
  reference should be updated, a loop or too many hops is an error.
- Timeouts, connection errors, ``429``, ``500``, ``502``, ``503`` and ``504`` are retried with
  exponential backoff; a ``Retry-After`` header (seconds or HTTP date) sets the wait instead, up
  to a maximum. ``404`` and ``410`` are dead at once.

A link is *OK* when the last answer is ``2xx``; *blocked* when the site refuses automated
checks (``401``, ``403``, ``429`` after every retry, LinkedIn's ``999``), which says nothing
about the link; *dead* otherwise. Only dead links fail the run and get a ``dead_since`` date,
which is kept across re-checks while the link stays dead.

Results are cached in one JSON file with a time-to-live, so repeated runs do not hit the sites
again. When no site answered at all (the network is down), results are not cached: an offline
run must not mark every page's links dead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, asdict, dataclass, fields, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from refkit.engine.atomic import write_atomic

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    import requests
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

__all__ = [
    "BLOCKED_STATUSES",
    "DEFAULT_CACHE_PATH",
    "USER_AGENT",
    "LinkCache",
    "LinkStatus",
    "check_links",
    "check_url",
    "dead_links",
    "exit_code",
    "format_report",
    "main",
    "parse_duration",
]

_log = logging.getLogger(__name__)

DEFAULT_CACHE_PATH = Path(".cache/plugin/refkit/links.json")
"""Where ``refkit links`` keeps results, relative to the working folder (the site's root)."""

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
"""Browser-like, because many sites answer unknown clients with ``403``."""

BLOCKED_STATUSES = frozenset({401, 403, 429, 999})
"""Final statuses that mean "the site refuses the checker", not "the link is gone"."""

_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_STATUSES = frozenset({301, 308})
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CACHE_FORMAT = 1
_VISITS_BEFORE_LOOP = 2  # one revisit is allowed: A -> B (sets a cookie) -> A is a real pattern


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class LinkStatus:
    """What checking one URL found.

    Attributes:
        url: The URL as the reference gives it.
        ok: The last answer was ``2xx``.
        status: The last HTTP status, or ``None`` when no answer came (timeout, refused...).
        final_url: Where redirects ended, or ``None`` when there was no redirect. The original
            fragment (e.g. a ``#:~:text=`` text fragment) is carried over, as browsers do.
        permanent_redirect: A ``301`` or ``308`` was seen: the reference should say
            ``final_url`` instead.
        error: Why the link is not OK (``"HTTP 404"``, ``"timeout after 5 s"``,
            ``"redirect loop"``...), or ``None``.
        checked_at: When it was checked: ISO date-time, UTC.
        dead_since: ISO date (``YYYY-MM-DD``) on which it was first found dead, kept while it
            stays dead; ``None`` unless dead.
        attempts: How many tries it took: one, plus every retry of every request made for it.
    """

    url: str
    ok: bool
    status: int | None
    final_url: str | None
    permanent_redirect: bool
    error: str | None
    checked_at: str
    dead_since: str | None = None
    attempts: int = 1

    @property
    def blocked(self) -> bool:
        """The site refused the checker (see :data:`BLOCKED_STATUSES`); the link may be fine."""
        return not self.ok and self.status in BLOCKED_STATUSES

    @property
    def dead(self) -> bool:
        """Not OK, and not merely blocked: the reference needs fixing."""
        return not self.ok and not self.blocked

    @property
    def suggested_url(self) -> str | None:
        """The URL the reference should use instead: set for a permanent redirect to an OK page."""
        return self.final_url if self.ok and self.permanent_redirect else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinkStatus:
        """Rebuild from :meth:`to_json` output, checking what it is given (it comes from disk).

        Raises:
            KeyError: A field is missing.
            TypeError: ``data`` is not a mapping, or a field has the wrong type.
            ValueError: ``checked_at`` or ``dead_since`` is not an ISO date-time or date.

        Examples:
            >>> LinkStatus.from_json({"url": "u", "ok": False, "status": True, "final_url": None,
            ...     "permanent_redirect": False, "error": None, "checked_at": "2024-05-01"})
            Traceback (most recent call last):
            ...
            TypeError: status: True
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"not an object: {data!r}")
        values = {
            f.name: data[f.name] for f in fields(cls) if f.name in data or f.default is MISSING
        }
        for name, value in values.items():
            expected = _FIELD_TYPES[name]
            # isinstance(True, int) holds, but a JSON true is neither a status nor a count.
            is_bool_for_int = isinstance(value, bool) and bool not in expected
            if not isinstance(value, expected) or is_bool_for_int:
                raise TypeError(f"{name}: {value!r}")
        status = cls(**values)
        datetime.fromisoformat(status.checked_at)
        if status.dead_since is not None:
            date.fromisoformat(status.dead_since)  # the build prints it on pages
        return status


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "url": (str,),
    "ok": (bool,),
    "status": (int, type(None)),
    "final_url": (str, type(None)),
    "permanent_redirect": (bool,),
    "error": (str, type(None)),
    "checked_at": (str,),
    "dead_since": (str, type(None)),
    "attempts": (int,),
}


class LinkCache:
    """Results of earlier checks, in one JSON file keyed by URL.

    The file is read once, when the cache is made; a file that cannot be read or parsed is
    treated as empty (and an entry that cannot be parsed as missing), never as an error. Writes
    go to a temporary file in the same folder that is then renamed over the old one, so a reader
    never sees half a file.

    Args:
        path: The JSON file; it and its folder are created on the first :meth:`save`.

    Examples:
        >>> import tempfile
        >>> cache = LinkCache(Path(tempfile.mkdtemp()) / "links.json")
        >>> status = LinkStatus("https://a.example", True, 200, None, False, None,
        ...                     "2024-05-01T12:00:00+00:00")
        >>> cache.put(status)
        >>> day = datetime(2024, 5, 1, 18, tzinfo=timezone.utc)
        >>> cache.get("https://a.example", 86400, day) == status
        True
        >>> cache.get("https://a.example", 3600, day) is None  # older than an hour
        True
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries = self._load()

    def _load(self) -> dict[str, LinkStatus]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # RecursionError: absurdly nested JSON
            return {}
        if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
            return {}
        links = data.get("links")
        if not isinstance(links, dict):
            return {}
        entries: dict[str, LinkStatus] = {}
        for url, entry in links.items():
            try:
                status = LinkStatus.from_json(entry)
            except (KeyError, TypeError, ValueError):
                continue
            if status.url == url:
                entries[url] = status
        return entries

    def get(self, url: str, ttl_seconds: float, now: datetime | None = None) -> LinkStatus | None:
        """The entry for ``url`` if it was checked less than ``ttl_seconds`` before ``now``.

        Args:
            url: The URL.
            ttl_seconds: How old an entry may be; ``0`` makes every entry stale.
            now: The current time (aware); the real clock when ``None``.

        Returns:
            The fresh entry, or ``None`` when missing, stale, or dated in the future.
        """
        entry = self.previous(url)
        if entry is None:
            return None
        checked = _parse_time(entry.checked_at)
        if checked is None:
            return None
        age = (now or _utc_now()) - checked
        return entry if timedelta(0) <= age < timedelta(seconds=ttl_seconds) else None

    def previous(self, url: str) -> LinkStatus | None:
        """The entry for ``url`` whatever its age (to carry ``dead_since`` over), or ``None``."""
        with self._lock:
            return self._entries.get(url)

    def put(self, status: LinkStatus) -> None:
        """Record a result in memory; :meth:`save` writes it."""
        with self._lock:
            self._entries[status.url] = status

    def statuses(self) -> dict[str, LinkStatus]:
        """Every entry, by URL."""
        with self._lock:
            return dict(self._entries)

    def save(self) -> None:
        """Write every entry to the file atomically.

        Raises:
            OSError: The folder or file cannot be written.
        """
        with self._lock:
            links = {url: status.to_json() for url, status in sorted(self._entries.items())}
        payload = json.dumps(
            {"format": _CACHE_FORMAT, "links": links}, ensure_ascii=False, indent=1
        )
        write_atomic(self.path, payload)


def _strip_fragment(url: str) -> str:
    return urllib.parse.urldefrag(url).url


def _parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date.

    Examples:
        >>> now = datetime(2015, 10, 21, 7, 27, tzinfo=timezone.utc)
        >>> _parse_retry_after("120", now), _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now)
        (120.0, 60.0)
        >>> _parse_retry_after("soon", now) is None, _parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now)
        (True, 0.0)
    """
    import email.utils

    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - now).total_seconds())


def _session(
    *,
    retries: int,
    backoff: float,
    max_wait: float,
    sleep: Callable[[float], object],
    now: Callable[[], datetime],
    waits: list[float],
) -> requests.Session:
    """A session for one URL, whose adapter retries as :func:`check_url` documents.

    The ``Retry`` class is made here rather than at module level for two reasons: urllib3 is
    imported only when links are checked, and each URL's class carries that URL's ``sleep``,
    clock and tally of ``waits`` (``Retry.new()``, called on every retry, copies its
    constructor arguments and nothing else).
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util import Retry

    class PacedRetry(Retry):
        def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
            # A HEAD answering an error is asked again as a GET at once, and the GET carries the
            # retries; only a 429, which the GET would get too, is worth waiting for on HEAD.
            if method.upper() == "HEAD" and status_code != 429:
                return False
            return super().is_retry(method, status_code, has_retry_after)

        def get_backoff_time(self) -> float:
            # urllib3 makes the first retry at once; here the first wait is the backoff factor.
            return min(self.backoff_max, self.backoff_factor * 2.0 ** max(0, len(self.history) - 1))

        def increment(
            self,
            method: str | None = None,
            url: str | None = None,
            response: BaseHTTPResponse | None = None,
            error: Exception | None = None,
            _pool: ConnectionPool | None = None,
            _stacktrace: TracebackType | None = None,
        ) -> Self:
            # Before retrying an answer urllib3 reads its body, to reuse the connection; an
            # endless body would keep it reading, and only the status and headers matter.
            if response is not None:
                response.close()
            return super().increment(method, url, response, error, _pool, _stacktrace)

        def sleep(self, response: BaseHTTPResponse | None = None) -> None:
            # Our own Retry-After reading: with the injected clock, and garbage means "back off"
            # (urllib3 raises InvalidHeader). And our own cap: urllib3 caps Retry-After only at
            # retry_after_max, six hours by default, so `Retry-After: 99999` would hang the run.
            header = response.headers.get("Retry-After") if response is not None else None
            asked = _parse_retry_after(header, now())
            wait = min(self.backoff_max, self.get_backoff_time() if asked is None else asked)
            waits.append(wait)
            sleep(wait)

    retry = PacedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,  # e.g. a TLS certificate error: asking again will not change the answer
        allowed_methods=frozenset({"HEAD", "GET"}),
        status_forcelist=_RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_max=max_wait,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer after the retries is the result, not an error
    )
    session = requests.Session()
    session.headers.update(_HEADERS)
    # Closed as soon as it arrives, body unread: otherwise, with allow_redirects=False, requests
    # reads a redirect's whole body (to reuse the connection), however long a hostile site makes it.
    session.hooks["response"].append(lambda response, *args, **kwargs: response.close())
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _NoAnswer(Exception):
    """A request that got no HTTP answer, even after the retries."""

    def __init__(self, message: str, *, broken: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.broken = broken  # something came back, unreadable: worth a GET after a HEAD


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps, outermost first.

    requests wraps urllib3's ``MaxRetryError`` (in its ``args``), whose ``reason`` is urllib3's
    error, which wraps the socket's (as its ``__cause__`` or in its ``args``).
    """
    seen: set[int] = set()
    queue = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = (getattr(current, "reason", None), *current.args, current.__cause__)
        queue.extend(inner for inner in wrapped if isinstance(inner, BaseException))


def _no_answer(exc: BaseException, timeout: float) -> _NoAnswer:  # noqa: PLR0911 - one per kind
    """Name a failure after its deepest recognisable cause."""
    import http.client
    import socket
    import ssl

    import urllib3.exceptions

    causes = list(_causes(exc))
    for cause in reversed(causes):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _NoAnswer(f"TLS certificate error: {cause.verify_message}")
        if isinstance(cause, socket.gaierror):
            return _NoAnswer(f"host not found ({cause.strerror})")
        if isinstance(cause, ConnectionRefusedError):
            return _NoAnswer("connection refused")
        # urllib3's NewConnectionError is a ConnectTimeoutError, whatever stopped the connection.
        if isinstance(cause, TimeoutError | urllib3.exceptions.ReadTimeoutError) or (
            isinstance(cause, urllib3.exceptions.ConnectTimeoutError)
            and not isinstance(cause, urllib3.exceptions.NewConnectionError)
        ):
            return _NoAnswer(f"timeout after {timeout:g} s")
        if isinstance(cause, http.client.HTTPException | ConnectionError):
            return _NoAnswer(f"broken response ({type(cause).__name__}: {cause})", broken=True)
        if isinstance(cause, ValueError):
            return _NoAnswer(f"invalid URL: {cause}")
    return _NoAnswer(f"connection error: {causes[-1]}")


def _send(session: requests.Session, method: str, url: str, timeout: float) -> requests.Response:
    """One request, retried by the session's adapter; closed with its body unread."""
    import urllib3.exceptions

    try:
        with session.request(
            method, url, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            return response
    except (OSError, ValueError, urllib3.exceptions.HTTPError) as exc:  # requests' are OSErrors
        raise _no_answer(exc, timeout) from exc


def _head_then_get(session: requests.Session, url: str, timeout: float) -> requests.Response:
    """HEAD; GET instead when HEAD answers an error (429 aside) or a broken response."""
    try:
        response = _send(session, "HEAD", url, timeout)
    except _NoAnswer as failure:
        if not failure.broken:
            raise
    else:
        if response.status_code < 400 or response.status_code == 429:
            return response
    return _send(session, "GET", url, timeout)


@dataclass(frozen=True)
class _Outcome:
    status: int | None
    final_url: str | None
    permanent: bool
    error: str | None


def _follow(  # noqa: PLR0911 - one return per way a redirect chain can end
    session: requests.Session, url: str, timeout: float, max_redirects: int
) -> _Outcome:
    """Requests along the redirect chain, one hop at a time, until a final answer or an error.

    By hand rather than by requests, to stop at the first loop and to try GET on every hop.
    """
    current = url
    fragment = urllib.parse.urldefrag(url).fragment
    visits = Counter({_strip_fragment(url): 1})
    permanent = False
    hops = 0
    while True:
        final_url = current if hops else None
        try:
            response = _head_then_get(session, current, timeout)
        except _NoAnswer as failure:
            return _Outcome(None, final_url, permanent, failure.message)
        status = response.status_code
        location = session.get_redirect_target(response)  # decodes a UTF-8 Location too
        if status in _REDIRECT_STATUSES and location:
            target = urllib.parse.urljoin(current, location.strip())
            if urllib.parse.urlsplit(target).scheme not in ("http", "https"):
                return _Outcome(status, target, permanent, f"redirect to a non-HTTP URL: {target}")
            if fragment and not urllib.parse.urldefrag(target).fragment:
                target = f"{target}#{fragment}"
            permanent = permanent or status in _PERMANENT_STATUSES
            hops += 1
            visits[_strip_fragment(target)] += 1
            if visits[_strip_fragment(target)] > _VISITS_BEFORE_LOOP:
                return _Outcome(status, target, permanent, "redirect loop")
            if hops > max_redirects:
                return _Outcome(status, target, permanent, f"more than {max_redirects} redirects")
            current = target
            continue
        if 200 <= status < 300:
            return _Outcome(status, final_url, permanent, None)
        if status in _REDIRECT_STATUSES:
            return _Outcome(status, final_url, permanent, f"HTTP {status} without a Location")
        return _Outcome(status, final_url, permanent, f"HTTP {status}")


def check_url(
    url: str,
    *,
    timeout: float = 10.0,
    retries: int = 2,
    backoff: float = 1.0,
    max_redirects: int = 10,
    max_wait: float = 60.0,
    previous: LinkStatus | None = None,
    sleep: Callable[[float], object] = time.sleep,
    now: Callable[[], datetime] = _utc_now,
) -> LinkStatus:
    """Check one URL over the network.

    Args:
        url: The URL; its fragment is kept in the result but never sent.
        timeout: Seconds to wait for a connection or an answer, per request.
        retries: How many times each request is tried again after a retryable failure
            (timeout, connection error, ``429``, ``500``, ``502``, ``503``, ``504``).
        backoff: The wait before the first retry, doubled for each later one.
        max_redirects: How many redirect hops to follow.
        max_wait: The longest wait between tries, whatever ``Retry-After`` asks for.
        previous: An earlier result for this URL: its ``dead_since`` is kept if still dead.
        sleep: Waits between tries (injectable for tests).
        now: The current time, aware (injectable for tests).

    Returns:
        What was found. Never raises for network problems: they are the result.
    """
    try:
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError as exc:  # e.g. "http://[::1/": urllib.parse refuses it outright
        refused: str | None = f"invalid URL: {exc}"
    else:
        refused = None if scheme in ("http", "https") else "not an http(s) URL"
    if refused:
        return LinkStatus(
            url, False, None, None, False, refused,
            now().isoformat(timespec="seconds"), _dead_since(previous, now()), 0,
        )  # fmt: skip
    waits: list[float] = []
    # A session per URL, not one per run shared by the worker threads: requests does not promise
    # that a Session is thread-safe; each URL gets a fresh cookie jar (a site may set a cookie on
    # one hop and need it on the next, but one check must not change another's); and the Retry
    # mounted on it carries this URL's sleep, clock and tally. The cost, a new connection per
    # URL, is small next to the sites' own latency in a run made once a day.
    with _session(
        retries=retries, backoff=backoff, max_wait=max_wait, sleep=sleep, now=now, waits=waits
    ) as session:
        outcome = _follow(session, url, timeout, max_redirects)
    moment = now()
    status = LinkStatus(
        url=url,
        ok=outcome.error is None,
        status=outcome.status,
        final_url=outcome.final_url,
        permanent_redirect=outcome.permanent,
        error=outcome.error,
        checked_at=moment.isoformat(timespec="seconds"),
        attempts=1 + len(waits),
    )
    if status.dead:
        status = replace(status, dead_since=_dead_since(previous, moment))
    return status


def _dead_since(previous: LinkStatus | None, moment: datetime) -> str:
    if previous is not None and previous.dead and previous.dead_since:
        return previous.dead_since
    return moment.date().isoformat()


def _no_answer_at_all(statuses: Iterable[LinkStatus]) -> bool:
    """Nothing answered, though something was tried: the network is probably down."""
    tried = [s for s in statuses if s.attempts > 0]
    return bool(tried) and all(s.status is None for s in tried)


def check_links(
    urls_by_topic: Mapping[str, Iterable[str]],
    *,
    cache: LinkCache | None = None,
    ttl_seconds: float = 86400.0,
    workers: int = 8,
    timeout: float = 10.0,
    retries: int = 2,
    backoff: float = 1.0,
    max_redirects: int = 10,
    max_wait: float = 60.0,
    sleep: Callable[[float], object] = time.sleep,
    now: Callable[[], datetime] = _utc_now,
) -> dict[str, list[LinkStatus]]:
    """Check the URLs of every topic, each distinct URL once, several at a time.

    Results in the cache younger than ``ttl_seconds`` are reused without any request; the rest
    are checked and written back to the cache (unless nothing answered at all, see the module
    docs). Other arguments are passed to :func:`check_url`.

    Args:
        urls_by_topic: URLs by topic name, in the order to report them.
        cache: Where to reuse and store results; ``None`` for none.
        ttl_seconds: How long a cached result stays valid; ``0`` re-checks everything.
        workers: How many URLs are checked at the same time.
        timeout: See :func:`check_url`.
        retries: See :func:`check_url`.
        backoff: See :func:`check_url`.
        max_redirects: See :func:`check_url`.
        max_wait: See :func:`check_url`.
        sleep: See :func:`check_url`.
        now: See :func:`check_url`.

    Returns:
        For each topic, one result per URL, in the given order.
    """
    topics = {topic: list(urls) for topic, urls in urls_by_topic.items()}
    unique = list(dict.fromkeys(url for urls in topics.values() for url in urls))
    found: dict[str, LinkStatus] = {}
    to_check: list[str] = []
    for url in unique:
        fresh = cache.get(url, ttl_seconds, now()) if cache is not None else None
        if fresh is not None:
            found[url] = fresh
        else:
            to_check.append(url)

    def check(url: str) -> LinkStatus:
        return check_url(
            url,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_redirects=max_redirects,
            max_wait=max_wait,
            previous=cache.previous(url) if cache is not None else None,
            sleep=sleep,
            now=now,
        )

    checked: list[LinkStatus] = []
    try:
        if to_check:
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(to_check)))) as pool:
                for status in pool.map(check, to_check):
                    checked.append(status)
                    found[status.url] = status
    finally:
        if cache is not None and checked and not _no_answer_at_all(checked):
            for status in checked:
                cache.put(status)
            try:
                cache.save()
            except OSError as exc:
                _log.warning("could not write the link cache %s: %s", cache.path, exc)
    return {topic: [found[url] for url in urls] for topic, urls in topics.items()}


def _label(status: LinkStatus) -> str:
    if status.dead:
        return "DEAD"
    if status.blocked:
        return "BLOCKED"
    return "REDIRECT" if status.suggested_url else "OK"


def _details(status: LinkStatus) -> list[str]:
    lines: list[str] = []
    if status.suggested_url:
        lines.append(f"permanently moved: update to {status.suggested_url}")
    elif status.final_url and status.ok:
        lines.append(f"temporary redirect to {status.final_url}")
    elif status.final_url:
        kind = "permanently moved" if status.permanent_redirect else "redirected"
        lines.append(f"{kind} to {status.final_url}")
    if status.blocked:
        lines.append(
            f"{status.error}: the site refuses automated checks; open it in a browser to be sure"
        )
    elif status.error:
        since = f", dead since {status.dead_since}" if status.dead_since else ""
        lines.append(f"{status.error}{since}")
    if status.attempts > 1:
        lines.append(f"after {status.attempts} attempts")
    return lines


def format_report(results: Mapping[str, list[LinkStatus]]) -> str:
    """A plain-text report: per topic, each URL with its verdict and details; then a summary.

    Verdicts: ``OK``, ``REDIRECT`` (moved permanently: the reference should be updated),
    ``BLOCKED`` (the site refuses automated checks) and ``DEAD``. Topics without links are left
    out; the summary counts distinct URLs.

    Examples:
        >>> at = "2024-05-01T12:00:00+00:00"
        >>> print(format_report({"topic_a": [
        ...     LinkStatus("https://a.example", True, 200, None, False, None, at),
        ...     LinkStatus("http://b.example", True, 200, "https://b.example/", True, None, at),
        ...     LinkStatus("https://c.example", False, 404, None, False, "HTTP 404", at, "2024-04-30"),
        ... ]}))
        topic_a
          OK        https://a.example
          REDIRECT  http://b.example
                    permanently moved: update to https://b.example/
          DEAD      https://c.example
                    HTTP 404, dead since 2024-04-30
        <BLANKLINE>
        3 links in 1 topic: 1 OK, 1 permanently moved, 0 blocked, 1 dead.
    """
    lines: list[str] = []
    unique: dict[str, LinkStatus] = {}
    topics_with_links = 0
    for topic, statuses in results.items():
        if not statuses:
            continue
        topics_with_links += 1
        lines.append(topic)
        for status in statuses:
            unique[status.url] = status
            lines.append(f"  {_label(status):<9} {status.url}")
            lines.extend(f"            {detail}" for detail in _details(status))
        lines.append("")
    labels = [_label(s) for s in unique.values()]
    links = "link" if len(unique) == 1 else "links"
    topics = "topic" if topics_with_links == 1 else "topics"
    lines.append(
        f"{len(unique)} {links} in {topics_with_links} {topics}: {labels.count('OK')} OK, "
        f"{labels.count('REDIRECT')} permanently moved, {labels.count('BLOCKED')} blocked, "
        f"{labels.count('DEAD')} dead."
    )
    if _no_answer_at_all(unique.values()):
        lines.append("No site answered: the network looks unreachable. Results were not cached.")
    return "\n".join(lines)


def exit_code(results: Mapping[str, list[LinkStatus]]) -> int:
    """``1`` when any link is dead, else ``0`` (blocked and redirected links do not fail).

    Examples:
        >>> at = "2024-05-01T12:00:00+00:00"
        >>> exit_code({"t": [LinkStatus("https://a.example", True, 200, None, False, None, at)]})
        0
        >>> exit_code({"t": [LinkStatus("https://a.example", False, 410, None, False, "HTTP 410", at)]})
        1
    """
    return int(any(status.dead for statuses in results.values() for status in statuses))


def dead_links(cache_path: Path | str) -> dict[str, str]:
    """The links the cache records as dead, with the date each was first found dead.

    For marking pages during a build: reads the file only, never the network; a missing or
    unreadable cache gives ``{}``.

    Args:
        cache_path: The cache file ``refkit links`` writes.

    Returns:
        ``dead_since`` dates (``YYYY-MM-DD``) by URL.

    Examples:
        >>> dead_links("/nonexistent/links.json")
        {}
    """
    return {
        url: status.dead_since
        for url, status in LinkCache(cache_path).statuses().items()
        if status.dead and status.dead_since
    }


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90``, ``90s``, ``15m``, ``12h`` or ``1d``.

    Raises:
        ValueError: Not a duration.

    Examples:
        >>> parse_duration("1d"), parse_duration("12h"), parse_duration("90")
        (86400.0, 43200.0, 90.0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (try 30s, 15m, 12h or 1d)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refkit links",
        description="Check every reference link of the topics; exit 1 when one is dead.",
    )
    parser.add_argument(
        "--ttl", type=_duration, default=86400.0, metavar="DURATION",
        help="reuse results younger than this, e.g. 30m, 12h, 1d (default: 1d)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=8, help="URLs checked at once (default: 8)")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per request (default: 10)"
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="retries after a transient failure (default: 2)"
    )
    parser.add_argument(
        "--cache", type=Path, default=None,
        help=f"the results file (default: links.json in $REFKIT_CACHE_DIR, else {DEFAULT_CACHE_PATH}:"
        " where the build looks for it)",
    )  # fmt: skip
    parser.add_argument(
        "--package-dir", type=Path, default=None,
        help="the topic modules (default: ./refkit when it exists, else the installed package)",
    )  # fmt: skip
    parser.add_argument(
        "--refresh", action="store_true", help="check every link again, whatever the cache says"
    )
    return parser


def main(argv: list[str] | None = None, *, package_dir: Path | None = None) -> int:
    """Run ``refkit links``: check the references of every topic and print the report.

    References are read statically (topic modules are never imported).

    Args:
        argv: The options after ``refkit links``; ``sys.argv[1:]`` when ``None``.
        package_dir: The topic package folder; the installed ``refkit`` package when ``None``.

    Returns:
        The exit code: ``1`` when a link is dead, else ``0``.
    """
    from refkit.engine.discovery import load_catalog

    args = _parser().parse_args(argv)
    if package_dir is None:
        local = Path("refkit")
        package_dir = args.package_dir or (
            local if local.is_dir() else Path(__file__).parent.parent
        )
    cache_path = args.cache
    if cache_path is None:
        folder = os.environ.get("REFKIT_CACHE_DIR", "").strip()
        cache_path = Path(folder) / "links.json" if folder else DEFAULT_CACHE_PATH
    catalog = load_catalog(package_dir)
    for error in catalog.errors:
        print(f"refkit links: skipped {error}", file=sys.stderr)
    urls_by_topic = {
        module: [reference.url for reference in topic.references]
        for module, topic in catalog.topics.items()
    }
    if not any(urls_by_topic.values()):
        print("No references found.")
        return 0
    results = check_links(
        urls_by_topic,
        cache=LinkCache(cache_path),
        ttl_seconds=0.0 if args.refresh else args.ttl,
        workers=args.workers,
        timeout=args.timeout,
        retries=args.retries,
    )
    print(format_report(results))
    return exit_code(results)
