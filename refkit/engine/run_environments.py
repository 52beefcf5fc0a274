"""Which environments a snippet runs in, as its topic module declares them.

A topic module names them in one module-level mapping, from a snippet's function name to the
environments it runs in::

    ENVIRONMENTS = {"demo_auto_classes": ("default", "transformers-4.57")}

A snippet it does not name runs in ``default`` only, as every snippet did before environments
existed. The mapping is read from the module's source (:func:`read_declarations`), never by
importing the module: the build process imports no topic (torch, transformers). The
environments themselves (their pins) are the site's settings, see
:mod:`refkit.engine.environments`; a name declared here that the site does not declare is a
problem the page reports.

The default environment always runs and always comes first: its result is the one every page,
the doctests and the drift check of the default environment have always used.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from refkit.engine.discovery import _LITERAL_ERRORS, _PARSE_ERRORS
from refkit.engine.environments import DEFAULT_ENVIRONMENT, FAILED, MISSING, SyncReport

__all__ = [
    "DECLARATION_NAME",
    "Declarations",
    "absence",
    "accept_command",
    "ordered_environments",
    "parse_declarations",
    "read_declarations",
    "remedy",
    "undeclared_reason",
]

DECLARATION_NAME = "ENVIRONMENTS"
"""The module-level name that holds a topic module's declarations."""


@dataclass(frozen=True)
class Declarations:
    """What one topic module declares.

    Attributes:
        environments: Function name -> its environments, ``default`` first.
        problems: ``(line, what is wrong)`` for each part that could not be read (that part is
            ignored: the snippet runs in ``default`` only).
    """

    environments: dict[str, tuple[str, ...]]
    problems: tuple[tuple[int, str], ...] = ()

    def of(self, function: str) -> tuple[str, ...]:
        """The environments of a snippet function: ``("default",)`` unless declared."""
        return self.environments.get(function, (DEFAULT_ENVIRONMENT,))


def ordered_environments(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``default`` first, then the others in declared order, each once.

    Examples:
        >>> ordered_environments(["transformers-4.57", "default", "legacy-tf", "legacy-tf"])
        ('default', 'transformers-4.57', 'legacy-tf')
        >>> ordered_environments(["legacy-tf"])
        ('default', 'legacy-tf')
    """
    return tuple(dict.fromkeys([DEFAULT_ENVIRONMENT, *names]))


def parse_declarations(source: str) -> Declarations:
    """Read the ``ENVIRONMENTS`` mapping of a module's source.

    Only a literal mapping of strings to a string, or to a tuple or list of strings, counts.

    Examples:
        >>> d = parse_declarations('ENVIRONMENTS = {"demo_a": ("legacy-tf",), "demo_b": "x"}')
        >>> d.of("demo_a"), d.of("demo_b"), d.of("demo_c")
        (('default', 'legacy-tf'), ('default', 'x'), ('default',))
        >>> parse_declarations('ENVIRONMENTS = {"demo_a": [1]}').problems
        ((1, "ENVIRONMENTS['demo_a'] must be environment names (strings), not [1]"),)
        >>> parse_declarations("x = (").environments
        {}
        >>> parse_declarations('ENVIRONMENTS = {[1]: "x"}').problems
        ((1, 'ENVIRONMENTS must be a literal mapping'),)
    """
    if DECLARATION_NAME not in source:
        return Declarations({})  # most modules: no parse (a warm build reads every module)
    try:
        tree = ast.parse(source)
    except _PARSE_ERRORS:
        return Declarations({})  # discovery reports a module that does not parse
    found: dict[str, tuple[str, ...]] = {}
    problems: list[tuple[int, str]] = []
    for node in tree.body:
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == DECLARATION_NAME for t in targets):
            value = node.value
        if value is None:
            continue
        try:
            literal = ast.literal_eval(value)
        except _LITERAL_ERRORS:  # {[1]: "x"} raises TypeError, a deep nesting RecursionError
            problems.append((node.lineno, f"{DECLARATION_NAME} must be a literal mapping"))
            continue
        if not isinstance(literal, dict):
            problems.append(
                (
                    node.lineno,
                    f"{DECLARATION_NAME} must be a mapping of snippet function names to "
                    f"environment names, not {type(literal).__name__}",
                )
            )
            continue
        for function, declared in literal.items():
            names = (declared,) if isinstance(declared, str) else declared
            if not isinstance(function, str) or not (
                isinstance(names, (tuple, list)) and all(isinstance(n, str) for n in names)
            ):
                problems.append(
                    (
                        node.lineno,
                        f"{DECLARATION_NAME}[{function!r}] must be environment names (strings), "
                        f"not {names!r}",
                    )
                )
                continue
            found[function] = ordered_environments(list(names))
    return Declarations(found, tuple(problems))


def read_declarations(path: Path) -> Declarations:
    """:func:`parse_declarations` of a topic module's file; one that cannot be read declares nothing.

    Discovery reports a file that cannot be read or parsed. A file is parsed again only when it
    changed (its size or modification time): a save under serve re-reads that module alone.
    """
    try:
        stat = path.stat()
    except OSError:
        return Declarations({})
    return _declarations_of(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _declarations_of(path: Path, mtime_ns: int, size: int) -> Declarations:
    """The declarations of ``path`` as it was at ``mtime_ns`` and ``size`` (the cache key)."""
    try:
        return parse_declarations(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return Declarations({})


def accept_command(snippet_id: str, environment: str = DEFAULT_ENVIRONMENT) -> str:
    """The command that approves a snippet's output in an environment.

    Examples:
        >>> accept_command("t.demo_x"), accept_command("t.demo_x", "legacy-tf")
        ('refkit accept t.demo_x', 'refkit accept t.demo_x --env legacy-tf')
    """
    there = "" if environment == DEFAULT_ENVIRONMENT else f" --env {environment}"
    return f"refkit accept {snippet_id}{there}"


def undeclared_reason(environment: str, declared: Iterable[str]) -> str:
    """What is wrong with a snippet naming ``environment``, which the site does not declare.

    Examples:
        >>> undeclared_reason("tf", [])
        "names environment 'tf', which the site does not declare (declared: none)"
    """
    names = ", ".join(declared) or "none"
    return f"names environment {environment!r}, which the site does not declare (declared: {names})"


def absence(report: SyncReport) -> str:
    """Why a declared environment is not there, and the command that makes it when one can.

    Examples:
        >>> from refkit.engine.environments import Environment
        >>> absence(SyncReport("old", "missing", Environment("old"), reason="it was never synced"))
        'does not exist here (missing: it was never synced); make it with: refkit env sync old'
    """
    text = (
        f"does not exist here ({report.status}: {report.reason})"
        if report.reason
        else ("does not exist here")
    )
    return f"{text}; {remedy(report)}" if remedy(report) else text


def remedy(report: SyncReport) -> str:
    """The command that makes a missing or failed environment (``""`` for one that is skipped).

    A skipped environment (CUDA on a machine without a GPU) stays skipped whatever is run.
    """
    if report.status in {MISSING, FAILED}:
        return f"make it with: refkit env sync {report.name}"
    return ""
