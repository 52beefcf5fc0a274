#!/usr/bin/env python3
"""A campaign of hostile input against refkit: real builds of a fixture site, each case checked.

Usage (from the repository, with the virtual environment active)::

    python scripts/hostile_campaign.py            # every case, MkDocs
    python scripts/hostile_campaign.py --zensical # the page cases under Zensical too
    python scripts/hostile_campaign.py -k memory  # the cases whose name holds "memory"

Every page case is a topic module and a page of one fixture site, built once with
``on_error: warn`` so that one build covers them all; each case then checks its own page and the
build log. The other cases need a build, a command or a cache of their own. A case passes when
nothing crashed, nothing ran that should not, nothing raw (markup, control characters) got
through, every bound held, and every problem was reported with its file and line.

Exit status: 0 when every case holds, 1 when one does not. ``tests/test_hostile_campaign.py``
runs it in the real-process tier.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PAGE_LIMIT = 1_000_000  # bytes of HTML one hostile page may grow to (max_output is 200,000)
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass
class Built:
    """One build of the fixture site: its folder, exit code and log."""

    root: Path
    returncode: int
    log: str
    site: str = "site"

    def page(self, name: str) -> str:
        """The HTML of the page built from ``docs/<name>.md`` (``""`` when missing)."""
        path = self.root / self.site / name / "index.html"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


Check = Callable[[Built], list[str]]


@dataclass
class PageCase:
    """A topic module and a page that embeds it, with what must hold of the result."""

    name: str
    topic: str
    page: str
    check: Check
    hosts: tuple[str, ...] = ("mkdocs", "zensical")


def _clean(page: str, built: Built) -> list[str]:
    """What every hostile page must satisfy: bounded, no raw control characters, no markup."""
    problems = []
    if not page:
        problems.append("the page was not built")
    if len(page.encode()) > PAGE_LIMIT:
        problems.append(f"the page is {len(page.encode()):,} bytes")
    if RAW_CONTROL.search(page):
        problems.append("a raw control character reached the page")
    if "<script>alert" in page:
        problems.append("raw markup from a snippet reached the page")
    if "\x1b" in built.log:
        problems.append("a raw escape character reached the build log")
    if "Traceback (most recent call last)" in built.log.split("refkit:")[0]:
        problems.append("the build itself printed a traceback")
    return problems


def expect(
    *needles: str, absent: tuple[str, ...] = (), log: tuple[str, ...] = ()
) -> Callable[[str], Check]:
    """A check: the page is clean, holds ``needles``, lacks ``absent``; the log holds ``log``."""

    def for_page(name: str) -> Check:
        def check(built: Built) -> list[str]:
            page = built.page(name)
            problems = _clean(page, built)
            problems += [f"the page lacks {n!r}" for n in needles if n not in page]
            problems += [f"the page shows {a!r}" for a in absent if a in page]
            problems += [f"the log lacks {n!r}" for n in log if n not in built.log]
            return problems

        return check

    return for_page


def _case(
    name: str, body: str, check: Callable[[str], Check], page_extra: str = "", **kw: object
) -> PageCase:
    topic = f'"""Case {name}."""\nTITLE = "{name}"\n\n' + textwrap.dedent(body)
    page = f"---\ntopic: {name}\n---\n# {name}\n\n!refkit {name}.demo_case\n{page_extra}"
    return PageCase(name, topic, page, check(name), **kw)  # type: ignore[arg-type]


PAGE_CASES = [
    _case(
        "huge_return",
        "def demo_case():\n    return list(range(3_000_000))\n",
        expect("cut", "999"),
    ),
    _case(
        "huge_html_return",
        "class T:\n    def _repr_html_(self):\n        return '<table>' + '<tr><td>x</td></tr>' * 500_000 + '</table>'\n\n\ndef demo_case():\n    return T()\n",
        expect(),
    ),
    _case(
        "huge_exception",
        'def demo_case():\n    raise ValueError("boom " * 1_000_000)\n',
        expect("raised ValueError", "cut", log=("huge_exception.demo_case",)),
    ),
    _case(
        "huge_warning_and_log",
        'import logging, warnings\n\n\ndef demo_case():\n    warnings.warn("w" * 3_000_000)\n    logging.getLogger("x").warning("l" * 3_000_000)\n    print("after")\n',
        expect("after"),
    ),
    _case(
        "control_characters",
        'def demo_case():\n    print("nul\\x00 esc\\x1b[31m red c1\\x9b del\\x7f bell\\x07 end")\n',
        expect("\\x1b", "\\x00", "\\x9b", "end"),
    ),
    _case(
        "escape_in_exception",
        'def demo_case():\n    raise RuntimeError("\\x1b[2J\\x1b]0;owned\\x07 cleared your terminal")\n',
        expect("raised RuntimeError", log=("escape_in_exception.demo_case",)),
    ),
    _case(
        "markup_in_output",
        'def demo_case():\n    print("<script>alert(1)</script> </s> <pad>")\n    return "<img src=x onerror=alert(1)>"\n',
        expect("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;/s&gt;", "&lt;img src=x"),
    ),
    _case(
        "title_markup",
        'def demo_case():\n    print("titled")\n',
        expect("&lt;b onmouseover=alert(1)&gt;", absent=("<b onmouseover",)),
        page_extra='\n!refkit title_markup.demo_case title="<b onmouseover=alert(1)>hi</b>"\n',
    ),
    _case(
        "in_html_comment",
        'import pathlib\n\n\ndef demo_case():\n    print("visible")\n\n\ndef demo_hidden():\n    pathlib.Path("HIDDEN_RAN").write_text("ran")\n    print("hidden " + "output")\n',
        expect("visible", absent=("hidden output",)),
        page_extra="\n<!--\n!refkit in_html_comment.demo_hidden\n-->\n",
    ),
    _case(
        "in_blockquote",
        'def demo_case():\n    print("outside")\n\n\ndef demo_quoted():\n    print("quoted " + "output")\n',
        expect("quoted output", "<blockquote>"),
        page_extra="\n> A quote:\n>\n> !refkit in_blockquote.demo_quoted\n",
    ),
    _case(
        "near_miss",
        'def demo_case():\n    print("ok")\n',
        expect(log=("near_miss.md:8", "did you mean")),
        page_extra="\n!refkitt near_miss.demo_case\n",
    ),
    _case(
        "orphan_process",
        'import subprocess\n\n\ndef demo_case():\n    subprocess.Popen(["sleep", "307"], start_new_session=True)\n    print("started")\n',
        expect("started"),
    ),
    _case(
        "closed_stdout",
        'import os\n\n\ndef demo_case():\n    print("before", flush=True)\n    os.close(1)\n    os.close(2)\n    return 42\n',
        expect("42"),
    ),
    _case(
        "repr_raises",
        "class R:\n    def __repr__(self):\n        raise SystemExit(3)\n\n\ndef demo_case():\n    return R()\n",
        expect("repr"),
    ),
    _case(
        "memory_hog",
        'def demo_case():\n    kept = []\n    for _ in range(200):\n        kept.append(bytearray(10 * 1024 * 1024))\n    print("surv" + "ived")\n',
        expect("MemoryLimitExceeded", absent=("survived",), log=("memory_hog.demo_case",)),
        hosts=("mkdocs",),
    ),
]

BAD_TOPICS = {
    "bad_url": 'from refkit.engine.references import Reference\nTITLE = "u"\nREFERENCES = (\n    Reference("javascript:alert(1)", "t", "g"),\n)\n\n\ndef demo_case():\n    print(1)\n',
    "bad_literal": 'TITLE = "l"\nREFERENCES = ({1, [2]},)\n\n\ndef demo_case():\n    print(1)\n',
    "bad_title": "TITLE = 5\n\n\ndef demo_case():\n    print(1)\n",
    "bad_fields": 'from refkit.engine.references import Reference\nTITLE = "f"\nREFERENCES = (Reference(url=1, title=2, good_for=3),)\n\n\ndef demo_case():\n    print(1)\n',
}


def write_site(root: Path, cases: list[PageCase], options: dict[str, object]) -> None:
    """The fixture site: one topic and one page per case, and the bad topics."""
    (root / "topics").mkdir(parents=True)
    (root / "topics" / "__init__.py").write_text("")
    (root / "docs").mkdir()
    nav = []
    for case in cases:
        (root / "topics" / f"{case.name}.py").write_text(case.topic)
        (root / "docs" / f"{case.name}.md").write_text(case.page)
        nav.append(f"{case.name}.md")
    for name, source in BAD_TOPICS.items():
        (root / "topics" / f"{name}.py").write_text(source)
    (root / "docs" / "index.md").write_text(
        "# Campaign\n\n" + "".join(f"- [{n}]({n})\n" for n in nav)
    )
    config = {
        "site_name": "campaign",
        "plugins": [{"refkit": {"package_dir": "topics", "timeout": 30, **options}}],
        "markdown_extensions": ["admonition", "pymdownx.details", "pymdownx.superfences", "refkit"],
    }
    (root / "mkdocs.yml").write_text(json.dumps(config, indent=1))  # JSON is YAML


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("REFKIT_")}
    return subprocess.run(
        command,
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        errors="replace",
    )


def sleepers() -> set[int]:
    """The pids of ``sleep 307`` processes: the orphan case's marker."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if status.read_bytes().split(b"\0")[:2] == [b"sleep", b"307"]:
                found.add(int(status.parent.name))
        except OSError:
            continue
    return found


@dataclass
class Report:
    """The verdicts, case by case."""

    failures: dict[str, list[str]] = field(default_factory=dict)
    passed: list[str] = field(default_factory=list)

    def record(self, name: str, problems: list[str]) -> None:
        if problems:
            self.failures[name] = problems
        else:
            self.passed.append(name)
        verdict = "FAIL" if problems else "ok  "
        print(f"{verdict} {name}" + "".join(f"\n       - {p}" for p in problems), flush=True)


COMMENTED_OUT = "a directive in an HTML comment never runs"
NO_ORPHANS = "no process a snippet started outlives the build"
DISK_INPUT = "files read back from disk (cache, link report, approved) are validated"
SHADOWING_PACKAGE = (
    "a package folder named like a standard-library module is refused with a message"
)


def page_case_names(host: str, selected: list[PageCase]) -> list[str]:
    """The names :func:`page_cases` reports for ``host``, in order."""
    cases = [c.name for c in selected if host in c.hosts]
    if not cases:
        return []
    return [
        f"{host}: the build finishes",
        *(f"{host}: {name}" for name in cases),
        f"{host}: {COMMENTED_OUT}",
        f"{host}: {NO_ORPHANS}",
        *(f"{host}: malformed topic {name} is a per-file error" for name in BAD_TOPICS),
    ]


def command_case_name(args: list[str], status: int) -> str:
    return f"refkit {' '.join(args)}: exits {status}, its output escaped, no crash"


def case_names(k: str = "", zensical: bool = False) -> list[str]:
    """Every case a run of the campaign reports, in order, for its options ``-k``, ``--zensical``.

    Examples:
        >>> case_names()[:2]
        ['mkdocs: the build finishes', 'mkdocs: huge_return']
        >>> case_names(k="memory")[:2]
        ['mkdocs: the build finishes', 'mkdocs: memory_hog']
    """
    selected = [c for c in PAGE_CASES if k in c.name]
    names = page_case_names("mkdocs", selected)
    if zensical:
        names += page_case_names("zensical", selected)
    if not k:
        names += [command_case_name(args, status) for args, status, _ in COMMAND_CASES]
        names += [DISK_INPUT, SHADOWING_PACKAGE]
    return names


def page_cases(work: Path, report: Report, host: str, selected: list[PageCase]) -> None:
    cases = [c for c in selected if host in c.hosts]
    if not cases:
        return
    root = work / f"site-{host}"
    write_site(root, cases, {"on_error": "warn", "memory_limit": 300})
    before = sleepers()
    if host == "mkdocs":
        done = run([sys.executable, "-m", "mkdocs", "build"], root)
    else:
        done = run([sys.executable, "-m", "zensical", "build", "--clean"], root)
    built = Built(root, done.returncode, done.stdout + done.stderr)
    report.record(
        f"{host}: the build finishes", [] if done.returncode == 0 else [built.log[-2000:]]
    )
    for case in cases:
        report.record(f"{host}: {case.name}", case.check(built))
    report.record(
        f"{host}: {COMMENTED_OUT}",
        ["the commented-out snippet ran"]
        if (root / "topics" / "HIDDEN_RAN").exists() or (root / "HIDDEN_RAN").exists()
        else [],
    )
    time.sleep(0.5)
    left = sleepers() - before
    report.record(
        f"{host}: {NO_ORPHANS}",
        [f"pids {sorted(left)}"] if left else [],
    )
    for pid in left:
        os.kill(pid, 9)
    for name in BAD_TOPICS:
        report.record(
            f"{host}: malformed topic {name} is a per-file error",
            [] if f"{name}.py:" in built.log else [f"no message naming topics/{name}.py:<line>"],
        )


# The commands run on the command site: (arguments, exit status, what the output must hold).
# The raising snippet's topic is in the package but on no page (a build would stop at it).
COMMAND_CASES = (
    (
        ["list"],
        0,
        ("control_characters.demo_case ", "escape_in_exception.demo_case ", "(on no page)"),
    ),
    (["check", "control_characters.demo_case"], 1, ("never approved", "0 passed, 1 failed")),
    (["run", "control_characters.demo_case"], 0, ("nul\\x00 esc\\x1b[31m red c1\\x9b del\\x7f",)),
    (
        ["run", "escape_in_exception.demo_case"],
        1,
        (
            'escape_in_exception.py", line 5, in demo_case',
            "RuntimeError: \\x1b[2J\\x1b]0;owned\\x07 cleared your terminal",
        ),
    ),
)


def command_problems(
    done: subprocess.CompletedProcess[str], status: int, needles: tuple[str, ...]
) -> list[str]:
    """What a command must satisfy: its status and output, nothing raw, no failure of its own.

    A snippet's traceback is its output; a traceback through refkit's own code is a crash.
    """
    out = done.stdout + done.stderr
    problems = [f"exit {done.returncode}, not {status}"] if done.returncode != status else []
    problems += [f"the output lacks {n!r}" for n in needles if n not in out]
    if RAW_CONTROL.search(out):
        problems.append("a raw control character in the output")
    if "refkit/engine/" in out or "unknown snippet id" in out:
        problems.append(f"refkit itself failed: {out[-800:]}")
    return problems


def command_cases(work: Path, report: Report) -> None:
    root = work / "site-commands"
    cases = [c for c in PAGE_CASES if c.name in {"control_characters", "markup_in_output"}]
    write_site(root, cases, {})
    [raising] = [c for c in PAGE_CASES if c.name == "escape_in_exception"]
    (root / "topics" / f"{raising.name}.py").write_text(raising.topic)
    refkit = [sys.executable, "-m", "refkit.engine.cli"]
    for args, status, needles in COMMAND_CASES:
        done = run([*refkit, *args], root)
        report.record(command_case_name(args, status), command_problems(done, status, needles))

    # What is read back from disk is input too: a tampered cache heals, with a warning.
    site_build = [sys.executable, "-m", "mkdocs", "build"]
    first = run(site_build, root)
    # Result entries only: <key[:2]>/<key>.json (the cache folder holds other files too).
    entries = sorted(
        p for p in (root / ".refkit-cache").glob("??/*.json") if p.stem[:2] == p.parent.name
    )
    problems = (
        []
        if first.returncode == 0 and entries
        else [f"no cache after a build: {first.stderr[-500:]}"]
    )
    if entries:
        data = json.loads(entries[0].read_text())
        data["return_text"], data["environment"] = 123, {"device": 5}
        entries[0].write_text(json.dumps(data))
        if len(entries) > 1:
            other = json.loads(entries[1].read_text())
            other["status"] = "error"
            entries[1].write_text(json.dumps(other))
        second = run(site_build, root)
        if second.returncode != 0:
            problems.append(f"a tampered cache broke the build: {second.stderr[-800:]}")
        if "unusable cache entry" not in second.stderr:
            problems.append("no warning about the tampered entries")
        third = run(site_build, root)
        if "unusable cache entry" in third.stderr or third.returncode != 0:
            problems.append("the cache did not heal")
    (root / ".refkit-cache" / "links.json").write_text('{"format": 1, "links": {"x": [[[[')
    broken = run(site_build, root)
    if broken.returncode != 0:
        problems.append(f"a broken link report broke the build: {broken.stderr[-500:]}")
    (root / "approved" / "control_characters").mkdir(parents=True, exist_ok=True)
    (root / "approved" / "control_characters" / "demo_case.txt").write_bytes(b"\xff\xfe\x00garbage")
    garbage = run(site_build, root)
    if garbage.returncode != 0 or "Traceback" in garbage.stderr:
        problems.append(f"an approved file of garbage broke the build: {garbage.stderr[-500:]}")
    report.record(DISK_INPUT, problems)

    shadow = work / "site-shadow"
    write_site(shadow, cases[:1], {"package_dir": "json"})
    (shadow / "topics").rename(shadow / "json")
    done = run(site_build, shadow)
    report.record(
        SHADOWING_PACKAGE,
        []
        if done.returncode != 0 and "json" in done.stderr and "Traceback" not in done.stderr
        else [done.stderr[-800:]],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-k", default="", help="only the cases whose name contains this")
    parser.add_argument(
        "--zensical", action="store_true", help="also build the page cases with Zensical"
    )
    args = parser.parse_args(argv)
    selected = [c for c in PAGE_CASES if args.k in c.name]
    report = Report()
    with tempfile.TemporaryDirectory(prefix="refkit-campaign-") as folder:
        work = Path(folder)
        page_cases(work, report, "mkdocs", selected)
        if args.zensical:
            page_cases(work, report, "zensical", selected)
        if not args.k:
            command_cases(work, report)
    # A case that was never reported (its code skipped, renamed or gone) fails too.
    for name in case_names(args.k, args.zensical):
        if name not in report.passed and name not in report.failures:
            report.record(name, ["never reported"])
    print(f"{len(report.passed)} passed, {len(report.failures)} failed")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
