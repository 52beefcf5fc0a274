"""The ``refkit`` command: check, accept, list and run snippets; check reference links.

- ``refkit check [ID ...]`` runs snippets (all by default) and exits non-zero on drift from the
  approved output, on an error, or on a snippet that was never approved;
- ``refkit accept [ID ...]`` records the current outputs as approved;
- ``refkit list`` lists snippets with their pages and status, without running anything;
- ``refkit run ID`` runs one snippet and prints its output;
- ``refkit links`` checks every reference URL (see :mod:`refkit.engine.links`).

Paths default to the layout of a refkit repository and are relative to the current folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from refkit.engine.cache import ResultCache, cache_key
from refkit.engine.config import ENVIRONMENT_VARIABLES
from refkit.engine.directive import find_directives
from refkit.engine.discovery import Catalog, Snippet, load_catalog
from refkit.engine.drift import canonical_text, compare, read_approved, write_approved
from refkit.engine.results import SnippetResult
from refkit.engine.runner import SnippetRunner

__all__ = ["main"]


def _add_common(parser: argparse.ArgumentParser) -> None:
    # Defaults come from the same REFKIT_* variables as the plugin's options, so `refkit check`
    # looks at what `mkdocs build` uses. String defaults go through `type` like typed arguments.
    def add(flag: str, option: str, kind: type, default: str, text: str) -> None:
        variable = ENVIRONMENT_VARIABLES[option]
        from_environment = os.environ.get(variable)

        def convert(raw: str) -> object:
            try:
                return kind(raw)
            except ValueError:
                origin = f" (set by {variable})" if raw == from_environment else ""
                raise argparse.ArgumentTypeError(
                    f"invalid {kind.__name__} value: {raw!r}{origin}"
                ) from None

        value = from_environment or default
        parser.add_argument(flag, type=convert, default=value, help=f"{text} (default: {value})")

    add("--package-dir", "package_dir", Path, "refkit", "topic modules")
    parser.add_argument("--docs-dir", type=Path, default=Path("docs"), help="the site's pages")
    add("--approved-dir", "approved_dir", Path, "approved", "approved outputs")
    add("--cache-dir", "cache_dir", Path, ".cache/plugin/refkit", "cached results")
    add("--timeout", "timeout", float, "120", "seconds per snippet")
    add("--device", "device", str, "auto", "auto, cpu or cuda")
    add("--jobs", "jobs", int, "2", "snippets run at the same time")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refkit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run snippets; fail on drift, error or no approval")
    check.add_argument("ids", nargs="*", help="snippet ids (default: all)")
    check.add_argument("--cached", action="store_true", help="reuse cached results when current")
    accept = commands.add_parser("accept", help="record current outputs as approved")
    accept.add_argument("ids", nargs="*", help="snippet ids (default: all)")
    commands.add_parser("list", help="snippets, their pages and status")
    run = commands.add_parser("run", help="run one snippet and print its output")
    run.add_argument("id")
    for sub in (check, accept, commands.choices["list"], run):
        _add_common(sub)
    commands.add_parser("links", help="check every reference URL", add_help=False)
    return parser


def _select(catalog: Catalog, ids: Iterable[str]) -> list[Snippet]:
    snippets = catalog.snippets
    wanted = list(ids)
    unknown = [sid for sid in wanted if sid not in snippets]
    if unknown:
        raise SystemExit(f"refkit: unknown snippet id(s): {', '.join(unknown)}")
    return [snippets[sid] for sid in wanted] if wanted else list(snippets.values())


def _pages_by_snippet(docs_dir: Path) -> dict[str, list[str]]:
    pages: dict[str, list[str]] = {}
    for page in sorted(docs_dir.rglob("*.md")) if docs_dir.is_dir() else []:
        directives, _ = find_directives(page.read_text(encoding="utf-8"))
        for directive in directives:
            location = f"{page.relative_to(docs_dir).as_posix()}:{directive.line}"
            pages.setdefault(directive.snippet_id, []).append(location)
    return pages


def _runner(args: argparse.Namespace, catalog: Catalog, execute: str) -> SnippetRunner:
    return SnippetRunner(
        catalog.package_dir,
        cache=ResultCache(args.cache_dir),
        execute=execute,
        timeout=args.timeout,
        device=args.device.lower(),
        jobs=args.jobs,
    )


def _load(args: argparse.Namespace) -> Catalog:
    catalog = load_catalog(args.package_dir)
    for problem in catalog.errors:
        print(
            f"refkit: {problem.path}:{problem.line}: topic module skipped: {problem}",
            file=sys.stderr,
        )
    return catalog


def _describe_failure(result: SnippetResult | None) -> str:
    if result is None:
        return "not run"
    error = result.error
    return f"{result.status}: {error.type}: {error.message}" if error else result.status


def _run_snippets(
    args: argparse.Namespace, catalog: Catalog, snippets: list[Snippet], execute: str
) -> dict[str, SnippetResult | None]:
    runner = _runner(args, catalog, execute)
    try:
        results, _ = runner.results(snippets, read_state=catalog.state)
    finally:
        runner.close()
    return results


def _check(args: argparse.Namespace) -> int:
    catalog = _load(args)
    snippets = _select(catalog, args.ids)
    results = _run_snippets(args, catalog, snippets, "auto" if args.cached else "always")
    failed = 0
    for snippet in snippets:
        result = results.get(snippet.id)
        if result is None or not result.ok:
            print(f"ERROR   {snippet.id}: {_describe_failure(result)}")
            if result is not None and result.error and result.error.traceback:
                print(result.error.traceback.rstrip())
            failed += 1
            continue
        approved = read_approved(args.approved_dir, result)
        if approved is None:
            print(f"NEW     {snippet.id}: never approved (refkit accept {snippet.id})")
            failed += 1
            continue
        drift = compare(snippet.id, approved[0], canonical_text(result), approved[1])
        if drift is not None:
            print(f"DRIFT   {snippet.id}\n{drift.diff}")
            failed += 1
        else:
            print(f"OK      {snippet.id}")
    print(f"{len(snippets) - failed} passed, {failed} failed")
    if catalog.errors:
        print(f"{len(catalog.errors)} topic module(s) could not be read (see above)")
    return 1 if failed or catalog.errors else 0


def _accept(args: argparse.Namespace) -> int:
    catalog = _load(args)
    snippets = _select(catalog, args.ids)
    results = _run_snippets(args, catalog, snippets, "auto")
    failed = 0
    for snippet in snippets:
        result = results.get(snippet.id)
        if result is None or not result.ok:
            print(f"refused {snippet.id}: {_describe_failure(result)}", file=sys.stderr)
            failed += 1
            continue
        path = write_approved(args.approved_dir, result)
        print(f"approved {snippet.id} -> {path}")
    return 1 if failed else 0


def _status(args: argparse.Namespace, snippet: Snippet, result: SnippetResult | None) -> str:
    """approved, drift or new for a cached result; "not run" when nothing current is cached."""
    if result is None:
        return "not run"
    approved = read_approved(args.approved_dir, result)
    if approved is None:
        return "new"
    if compare(snippet.id, approved[0], canonical_text(result), approved[1]) is not None:
        return "drift"
    return "approved"


def _list(args: argparse.Namespace) -> int:
    catalog = _load(args)
    pages = _pages_by_snippet(args.docs_dir)
    cache = ResultCache(args.cache_dir)
    environment = _runner(args, catalog, "never").environment_key()
    for snippet in catalog.snippets.values():
        status = _status(args, snippet, cache.get(cache_key(snippet, environment)))
        where = ", ".join(pages.get(snippet.id, [])) or "(on no page)"
        print(f"{snippet.id:<58} {status:<9} {where}")
    return 0


def _run(args: argparse.Namespace) -> int:
    catalog = _load(args)
    [snippet] = _select(catalog, [args.id])
    result = _run_snippets(args, catalog, [snippet], "always")[snippet.id]
    if result is None:
        return 1
    sys.stdout.write(canonical_text(result))
    if not result.ok:
        error = result.error
        print(
            (error.traceback or f"{error.type}: {error.message}") if error else result.status,
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``refkit`` console command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["links"]:
        from refkit.engine.links import main as check_links

        return check_links(argv[1:])
    args = _parser().parse_args(argv)
    handlers = {"check": _check, "accept": _accept, "list": _list, "run": _run}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
