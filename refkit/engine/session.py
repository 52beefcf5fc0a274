"""One build, from settings to outcome, for every front door.

A :class:`BuildSession` is what the MkDocs plugin, the Markdown extension (Zensical) and the
``refkit`` command drive. It reads the topic catalog, finds the directives of the pages it is
given, decides what runs, runs it in the worker (through :class:`~refkit.engine.runner.SnippetRunner`),
compares live outputs with approved ones, and answers with values: results, statistics, drifts,
the environments outputs came from, and problems that name a file and line. It imports no host;
how a problem is reported (a MkDocs warning, an exception under Zensical, a line on stderr) is
the front door's business.

Results are kept per snippet together with the fingerprint of the code that produced them, so a
session that lives across rebuilds (``mkdocs serve``, ``zensical serve``) re-runs exactly the
snippets whose code changed.

Environments (issue 9): a snippet that its topic module declares for other environments than
``default`` (:mod:`refkit.engine.run_environments`) also runs in each of them that is synced, in
a worker of its own started with that environment's Python. ``default`` is one environment among
the others: runners, runs in flight, results and drifts are all kept per environment, and
:meth:`BuildSession.result` and :meth:`BuildSession.drift` take one (``default`` unless named).
For an environment that is not there, the page shows its recorded (approved) output and
:meth:`BuildSession.take_notes` says, once a build, how to get live outputs. A site that
declares no environment runs exactly as before.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from refkit.engine.cache import EnvironmentKey, ResultCache, cache_key
from refkit.engine.catalog_store import stored_catalog
from refkit.engine.device import gpu_visible
from refkit.engine.directive import Directive, DirectiveError, find_directives
from refkit.engine.discovery import (
    Catalog,
    PackageState,
    Snippet,
    Topic,
    load_catalog,
    package_state,
)
from refkit.engine.drift import (
    Drift,
    Recorded,
    canonical_text,
    compare,
    read_approved,
    read_recorded,
)
from refkit.engine.environments import (
    DEFAULT_ENVIRONMENT,
    FAILED,
    STAMP_PACKAGES,
    Environment,
    SyncReport,
    check,
    default_cache_root,
    installed_versions,
    running_torch_version,
    running_versions,
)
from refkit.engine.frontmatter import split_front_matter
from refkit.engine.listings import STORE_NAME as LISTING_STORE
from refkit.engine.listings import KeptListings, read_listings, write_listings
from refkit.engine.render import listing_code
from refkit.engine.results import ERROR, RunEnvironment, SnippetResult
from refkit.engine.run_environments import snippet_environments, sync_command
from refkit.engine.runner import PendingRun, Progress, RunStats, SnippetRunner
from refkit.engine.settings import Settings, SettingsError
from refkit.engine.worker_process import WorkerError, package_name_problem

# What a stamp adds to a run's own record (which names torch, transformers and tokenizers).
EXTRA_STAMP_PACKAGES = tuple(
    name for name in STAMP_PACKAGES if name not in {f.name for f in fields(RunEnvironment)}
)

if TYPE_CHECKING:
    from refkit.engine.assemble import Block
    from refkit.engine.downloads import DownloadLinks

__all__ = [
    "BuildMode",
    "BuildSession",
    "PagePlan",
    "PageSource",
    "Problem",
    "SessionError",
    "SnippetStatus",
]


BuildMode = Literal["build", "serve"]
SnippetStatus = Literal["approved", "drift", "new", "failed", "not run"]


class SessionError(RuntimeError):
    """The build cannot start (bad settings, no package folder, CUDA asked for without a GPU).

    The message says what to change.
    """


@dataclass(frozen=True)
class Problem:
    """Something the author should fix, and where.

    Attributes:
        where: ``page.md:12``, ``refkit/topic.py:3``, or ``""`` when nowhere in particular.
        message: What is wrong, in one sentence (more lines may follow: a diff, frames).
        fatal: Whether it stops a one-off build (a snippet that raised, with ``on_error: fail``).

    Examples:
        >>> str(Problem("index.md:3", "unknown snippet id 'x.demo'"))
        "index.md:3: unknown snippet id 'x.demo'"
    """

    where: str
    message: str
    fatal: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass(frozen=True)
class PageSource:
    """A page as it is on disk.

    Attributes:
        path: Relative to the docs folder, with ``/`` (``topics/conv1d_head.md``).
        text: The whole file, front matter included.
    """

    path: str
    text: str


@dataclass(frozen=True)
class PagePlan:
    """What one page embeds, found by reading it.

    Attributes:
        path: As in :class:`PageSource`.
        directives: The directives, with line numbers counted from the top of the file.
        errors: Malformed directive lines.
        topic: The ``topic`` of its front matter, or ``""``.
        body: The page without its front matter, as a host hands it to Markdown.
        body_line: The file line on which ``body`` starts (1 without front matter).
    """

    path: str
    directives: tuple[Directive, ...]
    errors: tuple[DirectiveError, ...]
    topic: str
    body: str
    body_line: int


def plan_page(page: PageSource) -> PagePlan:
    """Read a page's directives and front matter.

    Examples:
        >>> plan = plan_page(PageSource("a.md", "---\\ntopic: t\\n---\\nHi\\n!refkit t.demo_x\\n"))
        >>> plan.topic, plan.directives[0].snippet_id, plan.directives[0].line, plan.body_line
        ('t', 't.demo_x', 5, 4)
    """
    meta, body, body_line = split_front_matter(page.text)
    directives, errors = find_directives(body)
    shift = body_line - 1
    return PagePlan(
        path=page.path,
        directives=tuple(_shifted(d, shift) for d in directives),
        errors=tuple(DirectiveError(e.line + shift, e.text, e.reason) for e in errors),
        topic=str(meta.get("topic") or ""),
        body=body,
        body_line=body_line,
    )


def _environment_folders(declared: Iterable[Environment], root: Path | None) -> tuple[object, ...]:
    """What each declared environment's folder holds: names and change times, no Python started."""
    base = root if root is not None else default_cache_root()
    seen: list[object] = []
    for env in declared:
        try:
            entries = tuple(
                sorted(
                    (entry.name, entry.stat().st_mtime_ns) for entry in (base / env.name).iterdir()
                )
            )
        except OSError:
            entries = ()
        seen.append((env, entries))
    return tuple(seen)


def _read_text(path: Path) -> str:
    """A page's text, or ``""`` when it cannot be read (the host reports that page itself)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _shifted(directive: Directive, lines: int) -> Directive:
    return replace(directive, line=directive.line + lines)


@dataclass
class _Known:
    """A result and the fingerprint of the code it came from."""

    fingerprint: str
    result: SnippetResult | None


@dataclass
class BuildSession:
    """The state of builds with one set of settings; see the module docstring.

    Args:
        settings: The resolved options.
        mode: ``build`` (a one-off build: ``on_error: fail`` stops it) or ``serve``.

    Raises:
        SessionError: When the settings cannot work on this machine.
    """

    settings: Settings
    mode: BuildMode = "build"
    catalog: Catalog = field(init=False)
    pages: dict[str, PagePlan] = field(default_factory=dict, init=False)
    stats: RunStats = field(default_factory=RunStats, init=False)
    dead_links: dict[str, str] = field(default_factory=dict, init=False)
    nav_order: tuple[str, ...] = field(default=(), init=False)
    """The site's pages in its navigation's order, as the host knows them."""
    _known: dict[tuple[str, str], _Known] = field(default_factory=dict, init=False)
    """(snippet id, environment) -> its result and the code it came from."""
    _drifts: dict[tuple[str, str], Drift | None] = field(default_factory=dict, init=False)
    _cache_warnings: list[Problem] = field(default_factory=list, init=False)
    _runners: dict[str, SnippetRunner] = field(default_factory=dict, init=False)
    """Environment -> the runner of its worker."""
    _pending: dict[str, PendingRun] = field(default_factory=dict, init=False)
    """Environment -> the run its worker owes (one at a time per worker)."""
    _queue: dict[str, list[Snippet]] = field(default_factory=dict, init=False)
    """Other environments waiting for a worker slot (see :meth:`start`), with their runs."""
    _changed: set[str] = field(default_factory=set, init=False)
    _ahead: bool = field(default=False, init=False)
    _embedded: set[str] = field(default_factory=set, init=False)
    collected: bool = field(default=False, init=False)
    """Whether :meth:`collect` has waited for this build's snippets."""
    _environment: EnvironmentKey | None = field(default=None, init=False)
    _places: tuple[tuple[PagePlan, ...], dict[str, list[str]]] = field(
        default_factory=lambda: ((), {}), init=False
    )
    """The plans :meth:`snippet_pages` last worked from, and what it found in them."""
    _pruned: tuple[PackageState, EnvironmentKey, Path] | None = field(default=None, init=False)
    """What the last :meth:`prune_cache` decided from: the catalog, the environment, the folder."""
    _blocks: dict[str, dict[str, Block]] = field(default_factory=dict, init=False)
    """Page -> placeholder token -> what stands for it, between :meth:`assemble` and :meth:`fill`."""
    _reports: dict[str, SyncReport] | None = field(default=None, init=False)
    """Declared environment -> what :func:`~refkit.engine.environments.check` found, per build."""
    _checked: tuple[object, dict[str, SyncReport]] | None = field(default=None, init=False)
    """The last check of the environments, and what it depended on then (torch, the folders)."""
    _keys: dict[str, EnvironmentKey] = field(default_factory=dict, init=False)
    """Declared environment -> the environment part of its cache keys, per build."""
    _running_stamp: dict[str, str] | None = field(default=None, init=False)
    """The stamp packages installed where refkit runs (:meth:`stamp_versions`), per build."""
    _notes: list[str] = field(default_factory=list, init=False)
    _noted: set[str] = field(default_factory=set, init=False)
    _listings: tuple[Path, KeptListings] | None = field(default=None, init=False)
    """The source listings' kept markup, and the store it was read from (once per store)."""

    def __post_init__(self) -> None:
        self._check_settings(self.settings)
        package = self.settings.package_path
        # A one-off build or command takes the catalog an earlier process stored, when it was
        # read from the same files; serve reads them, as its reloads reuse what that read found.
        if self.mode == "build":
            self.catalog = stored_catalog(package, self.settings.cache_path)
        else:
            self.catalog = load_catalog(package)
        self._load_dead_links()

    @staticmethod
    def _check_settings(settings: Settings, checked: Settings | None = None) -> None:
        """Raise :class:`SessionError` if ``settings`` cannot work; ``checked`` passed before."""
        package = settings.package_path
        if not package.is_dir():
            raise SessionError(
                f"refkit: package_dir {settings.package_dir!r} is not a folder next to the "
                f"site's configuration ({package}); set `package_dir` to the folder of your "
                "topic modules."
            )
        if checked is not None and (package, settings.device) == (
            checked.package_path,
            checked.device,
        ):
            # The folder's name and this machine's GPU are what the checks below read, and a
            # rebuild (mkdocs serve re-reads the settings every time) changes neither: they
            # passed when the session opened. The name's check asks the import system.
            return
        problem = package_name_problem(package)
        if problem is not None:
            raise SessionError(f"refkit: {problem}")
        if settings.device == "cuda" and not gpu_visible():
            # Said once here, rather than by every snippet that asks torch for the device.
            raise SessionError(
                "refkit: device is 'cuda' (REFKIT_DEVICE or the site's configuration) but this "
                "machine shows no NVIDIA GPU; use device 'auto' (CUDA when there is one) or 'cpu'."
            )

    @classmethod
    def open(cls, settings: Settings, mode: BuildMode = "build") -> BuildSession:
        """A session, with bad settings turned into a :class:`SessionError`."""
        try:
            return cls(settings, mode)
        except SettingsError as exc:
            raise SessionError(f"refkit: {exc}") from exc

    @classmethod
    def reopen(
        cls, session: BuildSession | None, settings: Settings, mode: BuildMode = "build"
    ) -> BuildSession:
        """``session`` with new settings (see :meth:`reconfigure`), or a new one if it is ``None``."""
        if session is None:
            return cls.open(settings, mode)
        session.reconfigure(settings)
        return session

    def _load_dead_links(self) -> None:
        # What `refkit links` last found; a build never goes online. The link checker (http,
        # ssl: a noticeable share of import time) loads only when there is a report to read.
        report = self.settings.cache_path / "links.json"
        self.dead_links = {}
        if report.exists():
            from refkit.engine.links import dead_links

            self.dead_links = dead_links(report)

    # -- settings and catalog ---------------------------------------------------------------

    def reconfigure(self, settings: Settings) -> None:
        """Use new settings (a ``mkdocs serve`` rebuild re-reads them); keep the worker if it fits."""
        self._check_settings(settings, checked=self.settings)
        if not settings.same_runs(self.settings):
            self.close()
            self._known.clear()  # every environment's results were made by those runs
            self._drifts.clear()
        self.settings = settings
        self._forget_environments()
        self._load_dead_links()

    def _forget_environments(self) -> None:
        """Read the environments anew: their versions, keys and whether they are there."""
        self._environment = None
        self._reports = None  # an environment synced meanwhile runs in the next build
        self._keys.clear()
        self._running_stamp = None

    def environment(self) -> EnvironmentKey:
        """The environment part of this build's cache keys, read once per build.

        Read anew once a build is over (:meth:`end_build`), the settings were read again
        (:meth:`reconfigure`) or the catalog changed (:meth:`refresh`): a library upgraded while
        ``mkdocs serve`` runs changes the next build's keys.
        """
        if self._environment is None:
            self._environment = EnvironmentKey.current(self.settings.device)
        return self._environment

    def refresh(self) -> set[str]:
        """Read the catalog again if a file of the package changed.

        Returns:
            The ids of snippets whose code changed, appeared or went (empty when nothing did).
        """
        if package_state(self.settings.package_path) == self.catalog.state:
            return set()
        self._environment = None
        before = {sid: s.fingerprint for sid, s in self.catalog.snippets.items()}
        self.catalog = load_catalog(self.settings.package_path)
        after = {sid: s.fingerprint for sid, s in self.catalog.snippets.items()}
        return {sid for sid in before.keys() | after.keys() if before.get(sid) != after.get(sid)}

    def begin_build(self, *, keep_pages: bool = False) -> set[str]:
        """Start a new build: re-read the catalog, forget drifts and what the last build owed.

        After :meth:`start_ahead`, the build it began goes on instead (its runs and stats kept).

        Args:
            keep_pages: Keep the pages planned for the last build (the host knows they have not
                changed) instead of forgetting them for :meth:`plan` to read anew.

        Returns:
            The ids of snippets whose code changed since the last :meth:`end_build` (see
            :meth:`refresh`): what the pages of this build must show anew.
        """
        self._changed |= self.refresh()
        self._embedded.update(self.snippet_pages())
        if not keep_pages:
            self.pages.clear()
        self._drifts.clear()
        self._noted.clear()
        self._blocks.clear()
        self.collected = False
        if self._ahead:
            self._ahead = False
            return set(self._changed)
        self.stats = RunStats()
        # A run still in flight (started ahead of this build) is kept: its results are what
        # this build waits for.
        in_flight = {
            (snippet.id, name)
            for name, run in self._pending.items()
            for snippet, _ in run.requests.values()
        }
        # Failures and missing outputs are tried again on every build, as the cache never
        # keeps them; with execute "always", everything is.
        self._known = {
            place: known
            for place, known in self._known.items()
            if (known.result is None and place in in_flight)
            or (known.result is not None and known.result.ok and self.settings.execute != "always")
        }
        # Queued runs are of this build's snippets as they were: the new build queues its own.
        self._queue.clear()
        return set(self._changed)

    def start_ahead(self) -> set[str]:
        """Begin the next build now: run the snippets that changed and that pages embed.

        For a host's file watcher, as soon as a topic module has been saved: the snippets run
        while the host notices the change and prepares its rebuild, whose :meth:`begin_build`
        then carries on with them.

        Returns:
            The ids of the snippets that changed (see :meth:`begin_build`).
        """
        changed = self.begin_build(keep_pages=True)  # the host's rebuild plans them, or keeps them
        self._ahead = True
        # Never wait here (a host's watcher calls this, and must not stand still): with a run in
        # flight, the next one would have to wait for it, so the rebuild starts these instead.
        if not self._pending:
            self.start(sid for sid in changed if sid in self._embedded)
        return changed

    def begin_pages(self, pages: Iterable[PageSource] | None = None) -> set[str]:
        """Begin a build of a site's pages and start every snippet they embed, without waiting.

        Args:
            pages: Every page of the site; ``None``: the pages of the last build, which the host
                knows have not changed (they are not read again).

        Returns:
            The pages that embed a snippet whose code changed (see :meth:`begin_build`): what a
            host must build again even though their text did not change.

        Raises:
            WorkerError: The worker could not be started.
        """
        changed = self.begin_build(keep_pages=pages is None)
        if pages is not None:
            self.plan(pages)
        self.start()
        return self.pages_embedding(changed)

    def end_build(self) -> None:
        """The host has written every page: what changed is shown, nothing is owed."""
        self._forget_environments()
        self._changed.clear()
        self._embedded = set(self.snippet_pages())

    def catalog_problems(self) -> list[Problem]:
        """Topic modules that could not be read, or whose ``ENVIRONMENTS`` could not, with file:line.

        A declaration that cannot be read is ignored (its snippets run in ``default`` only).
        """
        problems = [
            Problem(f"{error.shown}:{error.line}", f"topic module skipped: {error.reason}")
            for error in self.catalog.errors
        ]
        base = self.catalog.package_dir.parent  # resolved, as the topics' paths are
        for topic in self.catalog.topics.values():
            path = topic.path
            shown = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
            for line, message in topic.declaration_problems:
                problems.append(Problem(f"{shown}:{line}", f"{message}; it is ignored"))
        return problems

    # -- pages ----------------------------------------------------------------------------

    def plan(self, pages: Iterable[PageSource]) -> list[PagePlan]:
        """Read the directives of pages, for :meth:`start` to run ahead of their conversion."""
        plans = [plan_page(page) for page in pages]
        self.pages.update((plan.path, plan) for plan in plans)
        return plans

    def page_lines(self, path: str, markdown: str, text: Callable[[], str]) -> tuple[PagePlan, int]:
        """A page's plan, and the file line on which ``markdown`` starts (for messages).

        Args:
            path: The page, as in :class:`PageSource`.
            markdown: What the host hands to Markdown: the page without its front matter, or
                text another plugin changed.
            text: Reads the whole file; called only when the plan made by :meth:`plan` does not
                tell (no plan, or ``markdown`` is not the plan's body).
        """
        plan = self.pages.get(path)
        raw = None
        if plan is None:
            raw = text()
            plan = plan_page(PageSource(path, raw))
        if markdown == plan.body:
            return plan, plan.body_line
        raw = text() if raw is None else raw
        # Lines are counted from the top of the file, front matter included.
        return plan, raw.count("\n") - markdown.count("\n") + 1 if raw.endswith(markdown) else 1

    def assemble(
        self,
        path: str,
        markdown: str,
        text: Callable[[], str],
        topic: str | None = None,
        downloads: DownloadLinks | None = None,
    ) -> tuple[str, list[Problem]]:
        """A page's Markdown with its directives replaced, and a placeholder where output goes.

        For a host that converts every page before it needs any output (MkDocs): :meth:`fill`
        puts the outputs in place in the converted page. A host that waits for a page's
        snippets before converting it (Zensical) calls :func:`~refkit.engine.assemble.assemble_page`
        itself.

        Args:
            path: The page, as in :class:`PageSource`.
            markdown: What the host hands to Markdown (see :meth:`page_lines`).
            text: Reads the whole file, when the plan does not tell where ``markdown`` starts.
            topic: The ``topic`` of the front matter as the host read it (else the plan's).
            downloads: What a topic page links under its title (see
                :mod:`refkit.engine.downloads`), or ``None``.

        Returns:
            The Markdown, and the problems found (see
            :func:`~refkit.engine.assemble.assemble_page`).
        """
        # The page assembler builds on this module (it takes a session), so it is imported here.
        from refkit.engine.assemble import assemble_page, placeholder_token

        plan, first_line = self.page_lines(path, markdown, text)
        blocks = self._blocks[path] = {}

        def placeholder(block: Block) -> str:
            token = placeholder_token(path, len(blocks))
            blocks[token] = block
            return token

        topic = str(topic or plan.topic or "")
        return assemble_page(
            self,
            path,
            markdown,
            first_line=first_line,
            topic=topic,
            placeholder=placeholder,
            downloads=downloads,
        )

    def fill(self, path: str, html: str) -> tuple[str, list[Problem]]:
        """The converted page ``html`` with outputs in place of :meth:`assemble`'s placeholders.

        Call it once the page's snippets have results (:meth:`collect`), once per page.

        Returns:
            The HTML and the problems its outputs show.
        """
        from refkit.engine.assemble import fill_placeholders

        blocks = self._blocks.pop(path, None)
        if not blocks:
            return html, []
        return fill_placeholders(html, blocks, self)

    def has_placeholders(self, path: str) -> bool:
        """Whether :meth:`assemble` left placeholders in the page ``path`` for :meth:`fill`."""
        return bool(self._blocks.get(path))

    def page_for_body(self, body: str) -> PagePlan | None:
        """The planned page whose body (front matter removed) is ``body``.

        A host that hands only a page's text to Markdown (Zensical) says nothing of which file it
        came from; the text itself tells, since pages were planned from the files.
        """
        wanted = body.strip()
        for plan in self.pages.values():
            if plan.body.strip() == wanted:
                return plan
        return None

    def snippet_pages(self) -> dict[str, list[str]]:
        """Snippet id -> the ``page:line`` places that embed it (not to be modified).

        Worked out once per set of planned pages: a build asks several times.
        """
        plans = tuple(self.pages.values())
        # Plans are immutable, and the tuple compares them by identity first: a cheap check.
        if plans != self._places[0]:
            places: dict[str, list[str]] = {}
            for plan in plans:
                for directive in plan.directives:
                    if directive.kind == "snippet":
                        places.setdefault(directive.snippet_id, []).append(
                            f"{plan.path}:{directive.line}"
                        )
            self._places = (plans, places)
        return self._places[1]

    def pages_embedding(self, snippet_ids: Iterable[str]) -> set[str]:
        """The planned pages that embed any of ``snippet_ids``."""
        places = self.snippet_pages()
        return {place.rsplit(":", 1)[0] for sid in snippet_ids for place in places.get(sid, ())}

    def topic_pages(self) -> list[tuple[Topic, str | None]]:
        """Every topic with the planned page whose front matter names it (``None``: no page).

        In the order of the site's navigation, then pages outside it, then topics without a
        page, each by name.
        """
        pages = {plan.topic: plan.path for plan in self.pages.values() if plan.topic}
        order = {path: number for number, path in enumerate(self.nav_order)}

        def place(topic: Topic) -> tuple[int, str]:
            page = pages.get(topic.module)
            if page is None:
                return (len(order) + 1, topic.module)
            return (order.get(page, len(order)), page)

        topics = sorted(self.catalog.topics.values(), key=place)
        return [(topic, pages.get(topic.module)) for topic in topics]

    # -- running ----------------------------------------------------------------------------

    def _current(self, snippet: Snippet, environment: str = DEFAULT_ENVIRONMENT) -> bool:
        known = self._known.get((snippet.id, environment))
        return known is not None and known.fingerprint == snippet.fingerprint

    def _runner(self, environment: str = DEFAULT_ENVIRONMENT) -> SnippetRunner:
        """The runner of ``environment``'s worker, made when first asked for.

        The default environment's worker runs ``jobs`` snippets at a time with this Python;
        another's runs one at a time with that environment's Python (the environments share
        ``jobs`` between them: see :meth:`start`), and is made anew once it was synced again.
        """
        report = None
        if environment != DEFAULT_ENVIRONMENT:
            report = self.environment_reports()[environment]
        runner = self._runners.get(environment)
        made = runner.environment if runner is not None else None
        if (
            runner is not None
            and report is not None
            and (
                made is None
                or (made.key, made.path, dict(made.resolved))
                != (report.key, report.path, dict(report.resolved))
            )
        ):
            runner.close()  # synced again since its worker started
            runner = None
        if runner is None:
            s = self.settings
            runner = self._runners[environment] = SnippetRunner(
                s.package_path,
                cache=None,
                execute=s.execute,
                timeout=s.timeout,
                device=s.device if report is None else report.environment.device,
                jobs=s.jobs if report is None else 1,
                max_output=s.max_output,
                memory_limit=s.memory_limit,
                environment=report,
            )
        runner.execute = self.settings.execute
        runner.cache = ResultCache(self.settings.cache_path)
        return runner

    def environment_key(self, environment: str = DEFAULT_ENVIRONMENT) -> EnvironmentKey | None:
        """The environment part of the cache keys in ``environment``, read once per build.

        ``None`` for an environment that is not there. A declared environment's key comes from
        its lock (see :meth:`~refkit.engine.cache.EnvironmentKey.of_environment`).
        """
        if environment == DEFAULT_ENVIRONMENT:
            return self.environment()
        if environment not in self._keys:
            report = self.environment_reports().get(environment)
            if report is None or not report.ok:
                return None
            self._keys[environment] = EnvironmentKey.of_environment(report)
        return self._keys[environment]

    def start(
        self,
        snippet_ids: Iterable[str] | None = None,
        environments: Collection[str] | None = None,
    ) -> None:
        """Start the snippets that planned pages embed (or ``snippet_ids``), without waiting.

        Snippets with a current result are skipped; unknown ids are left for the pages to report.
        Each runs in every environment its module declares that is synced (``default`` always),
        the other environments' runs sent first. Those workers share ``jobs`` between them: at
        most ``jobs`` of them run at once, each one snippet at a time, beside the default
        environment's worker. The rest wait in a queue that :meth:`wait` works through, so a
        site with many environments (each importing TensorFlow, say) does not start them all
        at once.

        Args:
            snippet_ids: The snippets to start (default: those the planned pages embed).
            environments: Start them only in these of their environments (``default`` among
                them or not); ``None``: in every one they declare.

        Raises:
            WorkerError: The default environment's worker could not be started.
        """
        ids = snippet_ids if snippet_ids is not None else self.snippet_pages()
        snippets = self.catalog.snippets
        places: dict[str, list[Snippet]] = {}
        for snippet in (snippets[i] for i in dict.fromkeys(ids) if i in snippets):
            for name in self.environments_of(snippet.id):
                if environments is None or name in environments:
                    places.setdefault(name, []).append(snippet)
        default = places.pop(DEFAULT_ENVIRONMENT, [])
        reports = self.environment_reports() if places else {}
        for name, wanted in places.items():
            report = reports.get(name)
            if report is None or not report.ok:
                continue  # the page shows what was recorded there
            if name in self._pending or len(self._others_running()) < self._slots:
                self._launch(name, wanted)
            else:
                queued = self._queue.setdefault(name, [])
                queued += [s for s in wanted if s not in queued]
        if default:
            self._launch(DEFAULT_ENVIRONMENT, default)

    @property
    def _slots(self) -> int:
        return max(1, self.settings.jobs)

    def _others_running(self) -> list[str]:
        return [name for name in self._pending if name != DEFAULT_ENVIRONMENT]

    def _launch(self, environment: str, snippets: list[Snippet]) -> None:
        """Start ``snippets`` in ``environment``, those not current nor already running there."""
        running = self._pending.get(environment)
        owed = running.requests.values() if running is not None else ()
        in_flight = {(snippet.id, snippet.fingerprint) for snippet, _ in owed}
        todo = [
            s
            for s in snippets
            if not self._current(s, environment) and (s.id, s.fingerprint) not in in_flight
        ]
        if not todo:
            return
        if running is not None:
            # One run at a time per worker: its answers then all belong to that run.
            self._cache_warnings += self._wait_in(environment, None)
        runner = self._runner(environment)
        try:
            pending = runner.start(
                todo, read_state=self.catalog.state, environment=self.environment_key(environment)
            )
        except WorkerError as exc:
            if environment == DEFAULT_ENVIRONMENT:
                raise
            # An environment whose worker cannot start is missing, not a broken build.
            runner.close()
            report = self.environment_reports()[environment]
            self.environment_reports()[environment] = replace(
                report, status=FAILED, reason=str(exc)
            )
            self._keys.pop(environment, None)  # not there: no key (see environment_key)
            return
        self._cache_warnings.extend(
            Problem(str(path), f"unusable cache entry deleted ({why}); the snippet runs again")
            for path, why in pending.cache_warnings
        )
        for snippet in todo:
            self._known[(snippet.id, environment)] = _Known(
                snippet.fingerprint, pending.results.get(snippet.id)
            )
        self._absorb_stats(pending.stats)
        if pending.requests:
            self._pending[environment] = pending

    def wait(
        self, snippet_ids: Collection[str] | None = None, progress: Progress | None = None
    ) -> list[Problem]:
        """Wait until ``snippet_ids`` (by default, everything started) have results.

        Returns:
            What went wrong keeping results (the cache could not be written), once each.
        """
        problems, self._cache_warnings = self._cache_warnings, []
        # The other environments' workers answer meanwhile: their runs were sent first.
        while True:
            for name in self._others_running():
                problems += self._wait_in(name, snippet_ids)
            self._start_queued()
            needed = [
                name
                for name, snippets in self._queue.items()
                if snippet_ids is None or any(s.id in snippet_ids for s in snippets)
            ]
            if not needed and not (snippet_ids is None and self._others_running()):
                break
            if needed and len(self._others_running()) >= self._slots:
                # Every slot is taken by runs not asked for now: finish one to free its slot.
                problems += self._wait_in(self._others_running()[0], None)
                self._start_queued()
        if DEFAULT_ENVIRONMENT in self._pending:
            problems += self._wait_in(DEFAULT_ENVIRONMENT, snippet_ids, progress)
        # Queued environments started meanwhile may have met unusable cache entries.
        problems, self._cache_warnings = problems + self._cache_warnings, []
        return problems

    def _start_queued(self) -> None:
        """Start queued environments while worker slots are free."""
        while self._queue and len(self._others_running()) < self._slots:
            name = next(iter(self._queue))
            self._launch(name, self._queue.pop(name))

    def _wait_in(
        self, environment: str, until: Collection[str] | None, progress: Progress | None = None
    ) -> list[Problem]:
        """Wait for ``environment``'s run of ``until`` (``None``: all it owes)."""
        pending = self._pending[environment]
        before = replace(pending.stats, executed_ids=list(pending.stats.executed_ids))
        errors_before = len(pending.cache_errors)
        self._runners[environment].finish(pending, progress=progress, until=until)
        for snippet_id, result in pending.results.items():
            known = self._known.get((snippet_id, environment))
            # The fingerprint stays the one the snippet was started with: a result of code that
            # changed since is not current.
            if known is not None and known.result is not result:
                known.result = result
                self._drifts.pop((snippet_id, environment), None)
        self._absorb_stats(pending.stats, before)
        if not pending.requests:
            del self._pending[environment]
        return [
            Problem("", f"cannot write the result cache ({error}); results are not kept")
            for error in pending.cache_errors[errors_before:]
        ]

    def collect(self, progress: Progress | None = None) -> list[Problem]:
        """Wait for everything this build started, the first time a host asks in the build.

        For a host that fills its pages once every snippet has run (MkDocs), from whichever page
        comes first: later calls in the same build return at once, with no problems.
        :attr:`collected` says whether it has waited.

        Returns:
            What :meth:`wait` returns.
        """
        if self.collected:
            return []
        self.collected = True
        return self.wait(progress=progress)

    def _absorb_stats(self, stats: RunStats, before: RunStats | None = None) -> None:
        base = before or RunStats()
        self.stats.from_cache += stats.from_cache - base.from_cache
        self.stats.executed += stats.executed - base.executed
        self.stats.failed += stats.failed - base.failed
        self.stats.not_run += stats.not_run - base.not_run
        self.stats.executed_ids.extend(stats.executed_ids[len(base.executed_ids) :])

    def run(
        self,
        snippet_ids: Iterable[str],
        progress: Progress | None = None,
        environments: Collection[str] | None = None,
    ) -> tuple[dict[str, SnippetResult | None], list[Problem]]:
        """Start and wait for ``snippet_ids``; their results and the problems met keeping them.

        The results are the default environment's; :meth:`result` answers for the others.
        ``environments`` limits where they run, as for :meth:`start`.
        """
        ids = list(dict.fromkeys(snippet_ids))
        self.start(ids, environments)
        problems = self.wait(progress=progress)
        return {i: self.result(i) for i in ids}, problems

    def result(
        self, snippet_id: str, environment: str = DEFAULT_ENVIRONMENT
    ) -> SnippetResult | None:
        """A snippet's current result in an environment (``None``: not run there, or not yet)."""
        snippet = self.catalog.snippets.get(snippet_id)
        known = self._known.get((snippet_id, environment))
        if snippet is None or known is None or known.fingerprint != snippet.fingerprint:
            return None
        return known.result

    def prune_cache(self) -> list[Problem]:
        """Delete the cache entries no build will read again (see :mod:`refkit.engine.cache`).

        For the front doors to call once a build is over. It decides from the catalog alone, so
        it is right after a build of some pages too; it does nothing while a topic module fails
        to parse, whose snippets' entries are still wanted. A ``serve`` session, which the host
        asks after every rebuild, prunes again only once the catalog or the environment
        changed: with neither changed, a pruning decides what the last one did (it deletes only
        entries unused for a day or more, which the next build sees to). Entries of declared
        environments count as another environment's: each hit keeps one, and one unused for
        30 days goes. The source listings' kept markup (:meth:`kept_listings`) keeps only the
        code of the catalog's snippets, and is stored if it changed.

        Returns:
            What went wrong (the cache folder cannot be listed), once each.
        """
        if self.catalog.errors:
            return []
        if self._listings is not None:  # the listings' markup, pruned the same way
            store, kept = self._listings
            kept.keep_only(listing_code(snippet) for snippet in self.catalog.snippets.values())
            write_listings(kept, store)
        environment = self.environment()
        pruned = (self.catalog.state, environment, self.settings.cache_path)
        if self.mode == "serve" and pruned == self._pruned:
            return []
        keep = [cache_key(snippet, environment) for snippet in self.catalog.snippets.values()]
        try:
            ResultCache(self.settings.cache_path).prune(keep, environment)
        except OSError as exc:
            return [Problem("", f"cannot prune the result cache ({exc.strerror or exc})")]
        self._pruned = pruned
        return []

    def kept_listings(self) -> KeptListings:
        """The source listings' markup kept in the cache folder, read once (see :meth:`prune_cache`)."""
        store = self.settings.cache_path / LISTING_STORE
        if self._listings is None or self._listings[0] != store:
            self._listings = (store, read_listings(store))
        return self._listings[1]

    def cached_result(
        self, snippet: Snippet, environment: str = DEFAULT_ENVIRONMENT
    ) -> SnippetResult | None:
        """The cached result of a snippet's current code, without running anything.

        In a declared environment, the one its worker cached under its lock (``None`` when the
        environment is not there).
        """
        environment_key = self.environment_key(environment)
        if environment_key is None:
            return None
        return ResultCache(self.settings.cache_path).get(cache_key(snippet, environment_key))

    # -- verdicts -------------------------------------------------------------------------

    def drift(self, snippet_id: str, environment: str = DEFAULT_ENVIRONMENT) -> Drift | None:
        """How a snippet's live output in an environment differs from the one approved there."""
        place = (snippet_id, environment)
        if place not in self._drifts:
            result = self.result(snippet_id, environment)
            self._drifts[place] = None if result is None else self.drift_of(result, environment)
        return self._drifts[place]

    def drift_of(
        self, result: SnippetResult, environment: str = DEFAULT_ENVIRONMENT
    ) -> Drift | None:
        """The drift of any result from its approved output (``None``: agrees, or never approved).

        Args:
            result: A result.
            environment: The environment it ran in, whose approved output it is held to.
        """
        if not result.ok:
            return None
        approved = read_approved(self.settings.approved_path, result, environment)
        if approved is None:
            return None
        return compare(
            result.snippet_id,
            approved[0],
            canonical_text(result),
            approved[1],
            project_dir=self.settings.project_dir,
        )

    def status(
        self, result: SnippetResult | None, environment: str = DEFAULT_ENVIRONMENT
    ) -> SnippetStatus:
        """``approved``, ``drift``, ``new`` (never approved), ``failed`` or ``not run``.

        Args:
            result: A result, or ``None`` for none.
            environment: The environment it ran in, whose approved output it is held to.
        """
        if result is None:
            return "not run"
        if not result.ok:
            return "failed"
        if read_approved(self.settings.approved_path, result, environment) is None:
            return "new"
        return "drift" if self.drift_of(result, environment) is not None else "approved"

    def failure_problem(self, snippet: Snippet, result: SnippetResult, where: str) -> Problem:
        """The problem a failed snippet is: fatal when it raised in a one-off ``fail`` build.

        Only an exception is the snippet's own verdict on its code. A timeout or a killed process
        says as much about the machine, so its page gets a panel and the build goes on (with a
        warning, which ``--strict`` still fails on).
        """
        error = result.error
        detail = f"{error.type}: {error.message}" if error else result.status
        frames = error.last_frames() if error else ""
        message = (
            f"snippet {snippet.id} ({snippet.path.name}:{snippet.line}) {result.status}: "
            f"{detail}" + (f"\n{frames}" if frames else "")
        )
        fatal = result.status == ERROR and self.mode == "build" and self.settings.on_error == "fail"
        return Problem(where, message, fatal=fatal)

    def unknown_snippet_reason(self, snippet_id: str) -> str:
        """Why an id names no snippet: a topic that failed to parse, or a likely typo."""
        module = snippet_id.split(".", 1)[0]
        for error in self.catalog.errors:
            if Path(error.path).stem == module:
                return (
                    f"snippet {snippet_id} is unavailable: its topic module failed to parse "
                    f"({error})"
                )
        close = difflib.get_close_matches(snippet_id, list(self.catalog.snippets), n=3, cutoff=0.5)
        hint = f"; closest known: {', '.join(close)}" if close else ""
        return f"unknown snippet id {snippet_id!r}{hint}"

    def environments(self) -> list[tuple[RunEnvironment, int]]:
        """The environments current outputs came from, most outputs first."""
        counts = Counter(
            known.result.environment
            for known in self._known.values()
            if known.result is not None and known.result.environment is not None
        )
        return sorted(counts.items(), key=lambda item: -item[1])

    def summary(self) -> str:
        """One line on what the last build did."""
        s = self.stats
        return (
            f"{s.from_cache + s.executed + s.not_run} snippets: {s.from_cache} from the cache, "
            f"{s.executed} run, {s.failed} failed, {s.not_run} not run"
        )

    def run_ahead(self, docs_dir: Path | None = None) -> None:
        """Start the worker on the imports of the snippets the cache lacks, before pages are read.

        A host spends its first second loading configuration and collecting files; a cold build
        spends seconds importing torch and transformers in the worker. Overlapping the two is
        free when something must run, and skipped when nothing must (a warm build starts no
        worker). Only the imports of the missing snippets are loaded, so an edit of a torch-only
        snippet does not wait for transformers. What must run is the runner's decision
        (:meth:`~refkit.engine.runner.SnippetRunner.warm_up_for`).

        Args:
            docs_dir: The pages' folder: only snippets whose id its Markdown mentions count. A
                snippet on no page never runs, so without this it would start the worker in
                every warm build (a mention in prose only costs a warm-up).
        """
        stale = [s for s in self.catalog.snippets.values() if not self._current(s)]
        if stale and docs_dir is not None:
            text = "\n".join(_read_text(page) for page in sorted(docs_dir.rglob("*.md")))
            stale = [snippet for snippet in stale if snippet.id in text]
        self._runner().warm_up_for(stale, self.environment())

    def warm_up(self) -> None:
        """Start the worker now and import what snippets need, so the next edit runs at once."""
        self._runner().warm_up(self.catalog.preload_imports)

    def close(self) -> None:
        """Stop the workers and forget what they owed."""
        self._pending.clear()
        self._queue.clear()
        for runner in self._runners.values():
            runner.close()
        self._runners.clear()

    # -- environments -----------------------------------------------------------------------

    def environment_reports(self) -> dict[str, SyncReport]:
        """Declared environment -> whether it is there (:func:`~refkit.engine.environments.check`).

        Checked once per build, and not at all without any declared.
        """
        if self._reports is None and not self.settings.environments:
            self._reports = {}
        if self._reports is None:
            declared = self.settings.environments
            folder = self.settings.environments_path
            # Checking reads every environment's lock and stats its interpreter (about 2 ms
            # each): a rebuild under serve reuses the last check while no environment's folder
            # changed (a sync renames a new venv into place, so its folder's listing changes)
            # and the torch that CPU environments are pinned to is the same.
            seen = (running_torch_version(), _environment_folders(declared, folder))
            if self._checked is not None and self._checked[0] == seen:
                checked = self._checked[1]
            else:
                checked = {r.name: r for r in check(declared, cache_root=folder)}
                self._checked = (seen, checked)
            self._reports = dict(checked)  # a worker that fails marks its copy only
        return self._reports

    def stamp_versions(self, environment: str) -> dict[str, str]:
        """What a stamp in ``environment`` names besides the run's own record: TensorFlow, Keras.

        A run's record (:class:`~refkit.engine.results.RunEnvironment`) names torch,
        transformers and tokenizers; the other packages of
        :data:`~refkit.engine.environments.STAMP_PACKAGES` are added where installed, read from
        the synced environment (or, for ``default``, from where refkit runs).
        """
        report = self.environment_reports().get(environment)
        if report is not None:
            return installed_versions(report, EXTRA_STAMP_PACKAGES)
        if self._running_stamp is None:
            # Read once a build: asking the metadata for a package that is not installed (no
            # TensorFlow here) searches every folder of sys.path, for every stamp of every page.
            self._running_stamp = running_versions(EXTRA_STAMP_PACKAGES)
        return dict(self._running_stamp)

    def environments_of(self, snippet_id: str) -> tuple[str, ...]:
        """The environments a snippet runs in, ``default`` first.

        As its topic module declares them (:mod:`refkit.engine.run_environments`), names the
        site does not declare included: the page reports those.
        """
        snippet = self.catalog.snippets.get(snippet_id)
        return (DEFAULT_ENVIRONMENT,) if snippet is None else snippet_environments(snippet)

    def recorded(self, snippet_id: str, environment: str) -> Recorded | None:
        """The approved output of a snippet in an environment, shown where it cannot run."""
        return read_recorded(self.settings.approved_path, snippet_id, environment)

    def note_missing(self, environment: str) -> None:
        """Say once a build that ``environment`` is not run, and how to get live outputs.

        An information, never a warning: a missing environment does not fail a build (see
        ``live_only`` for one that should). The line goes to :meth:`take_notes`, for a host
        to log as information (each host has its own logger).
        """
        if environment in self._noted:
            return
        self._noted.add(environment)
        report = self.environment_reports().get(environment)
        why = f"{report.status}: {report.reason}" if report is not None else "not declared"
        command = sync_command(report) if report is not None else ""
        note = (
            f"refkit: environment {environment!r} is not run in this build ({why}); its snippets "
            "show their recorded outputs." + (f" For live outputs: {command}" if command else "")
        )
        self._notes.append(note)

    def take_notes(self) -> list[str]:
        """The information lines of this build so far (each once), for a host to log."""
        notes, self._notes = self._notes, []
        return notes
