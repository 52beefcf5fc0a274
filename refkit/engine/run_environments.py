"""Which environments a snippet runs in, and how refkit speaks of environments.

A topic module names them in one module-level mapping, from a snippet's function name to the
environments it runs in::

    ENVIRONMENTS = {"demo_auto_classes": ("default", "transformers-4.57")}

A snippet it does not name runs in ``default`` only, as every snippet did before environments
existed. Discovery reads the mapping with the rest of the module's data, from its source, never
by importing it (the build process imports no topic: torch, transformers), and keeps it on each
:class:`~refkit.engine.discovery.Snippet`; a part it cannot read is a problem at its line. The
environments themselves (their pins) are the site's settings, see
:mod:`refkit.engine.environments`; a name declared here that the site does not declare is a
problem the page reports.

The default environment always runs and always comes first (:func:`snippet_environments`):
its result is the one every page, the doctests and the drift check of the default environment
have always used. The messages every front door shows about environments are made here, once.
"""

from __future__ import annotations

from collections.abc import Iterable

from refkit.engine.discovery import Snippet
from refkit.engine.environments import DEFAULT_ENVIRONMENT, FAILED, MISSING, SyncReport

__all__ = [
    "absence",
    "accept_command",
    "ordered_environments",
    "remedy",
    "snippet_environments",
    "sync_command",
    "undeclared_reason",
]


def ordered_environments(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``default`` first, then the others in declared order, each once.

    Examples:
        >>> ordered_environments(["transformers-4.57", "default", "legacy-tf", "legacy-tf"])
        ('default', 'transformers-4.57', 'legacy-tf')
        >>> ordered_environments(["legacy-tf"])
        ('default', 'legacy-tf')
    """
    return tuple(dict.fromkeys([DEFAULT_ENVIRONMENT, *names]))


def snippet_environments(snippet: Snippet) -> tuple[str, ...]:
    """The environments a snippet runs in: ``default`` first, then those its module declares.

    Examples:
        >>> from pathlib import Path
        >>> s = Snippet("m.demo_x", "m", "demo_x", Path("m.py"), 1, "", "", "fp", environments=("tf",))
        >>> snippet_environments(s)
        ('default', 'tf')
    """
    return ordered_environments(snippet.environments)


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
    fix = remedy(report)
    return f"{text}; {fix}" if fix else text


def remedy(report: SyncReport) -> str:
    """How to make a missing or failed environment, said the same way everywhere (``""``: no way).

    Examples:
        >>> from refkit.engine.environments import Environment
        >>> remedy(SyncReport("old", "missing", Environment("old")))
        'make it with: refkit env sync old'
    """
    command = sync_command(report)
    return f"make it with: {command}" if command else ""


def sync_command(report: SyncReport) -> str:
    """The command that makes a missing or failed environment (``""`` for one that is skipped).

    A skipped environment (CUDA on a machine without a GPU) stays skipped whatever is run.

    Examples:
        >>> from refkit.engine.environments import Environment
        >>> sync_command(SyncReport("tf", "missing", Environment("tf")))
        'refkit env sync tf'
        >>> sync_command(SyncReport("gpu", "skipped", Environment("gpu", device="cuda")))
        ''
    """
    if report.status in {MISSING, FAILED}:
        return f"refkit env sync {report.name}"
    return ""
