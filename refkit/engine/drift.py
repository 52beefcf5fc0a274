"""Approved outputs versus live outputs: how refkit notices that a page stopped being true.

Every snippet's approved output is a text file in the repository,
``approved/<module>/<function>.txt``, written by ``refkit accept``. Where CUDA prints something
different from the CPU, ``<function>.cuda.txt`` next to it is the approved output for CUDA runs.
A declared environment (see :mod:`refkit.engine.environments`) has its own,
``<function>@<environment>.txt``, with the stamp of the run it came from in
``<function>@<environment>.stamp``: where the environment is missing, a page shows that
recorded output (:func:`read_recorded`).

Why ``@`` and a separate file rather than folding ``.cuda.txt`` in: the default environment's
device is the machine's (``device: auto``), not part of a declaration, so ``.cuda.txt`` stays its
device variant; a declared environment has one device, so it needs no variant, and ``@`` (which
neither a function nor an environment name can hold) keeps an environment named ``cuda`` apart
from the device variant.

The text is the snippet's output as a reader sees it: standard output as printed; every line of
other streams prefixed with its stream (``[stderr]``, ``[warning]``, ``[log]``);
then the returned value prefixed with ``[returned]``.

Comparison is tolerant in documented ways only:

- numbers with a decimal point may differ by one unit in the last place the approved output
  printed (``0.5645`` accepts ``0.5646``, not ``0.5650``), or by a relative 1e-6; integers and
  everything else must match exactly;
- memory addresses (``0x7f...``), durations (``1.23 s``, ``45 ms``), and temporary paths
  (``/tmp/...``) are normalised before comparing.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from refkit.engine.atomic import write_atomic
from refkit.engine.environments import DEFAULT_ENVIRONMENT
from refkit.engine.results import DISPLAY, SnippetResult

__all__ = [
    "Drift",
    "Recorded",
    "approved_path",
    "canonical_text",
    "compare",
    "device_class",
    "normalise",
    "read_approved",
    "read_recorded",
    "shown_path",
    "write_approved",
]

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_NORMALISATIONS = (
    (re.compile(r"0x[0-9a-fA-F]{6,}"), "0x<address>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|µs|us|ns|s|sec|seconds)\b"), "<duration>"),
    (re.compile(r"(?:/private)?/(?:tmp|var/folders)/[^\s'\"():,]+"), "<tmp-path>"),
)


def device_class(result: SnippetResult) -> str:
    """``cuda`` or ``cpu``: which approved file applies to a result.

    Examples:
        >>> from refkit.engine.results import OK, RunEnvironment
        >>> env = RunEnvironment("3.11", "2.13", "5.24", "0.23", "cuda (NVIDIA A100)")
        >>> device_class(SnippetResult("m.f", OK, environment=env))
        'cuda'
    """
    device = result.environment.device if result.environment else "cpu"
    return "cuda" if device.startswith("cuda") else "cpu"


def canonical_text(result: SnippetResult) -> str:
    """The approved-output text of a result.

    Examples:
        >>> from refkit.engine.results import OK, OutputEvent
        >>> events = (OutputEvent("stdout", "ids: [1, 2]\\n"), OutputEvent("warning", "w1\\nw2\\n"))
        >>> print(canonical_text(SnippetResult("m.f", OK, events, return_text="3")), end="")
        ids: [1, 2]
        [warning] w1
        [warning] w2
        [returned] 3
    """
    parts: list[str] = []
    for event in result.events:
        if event.stream == "stdout":
            parts.append(event.text)
        elif event.stream == DISPLAY:
            # A picture is approved by what it shows, not by its bytes; that text is what
            # show() prints outside refkit, so it reads here as it would there.
            if parts and not parts[-1].endswith("\n"):
                parts.append("\n")
            parts.append(event.text.rstrip("\n") + "\n")
        else:
            parts.extend(f"[{event.stream}] {line}\n" for line in event.text.splitlines())
    text = "".join(parts)
    if text and not text.endswith("\n"):
        text += "\n"
    if result.return_html is not None:
        text += f"[returned html] {result.return_html}\n"
    elif result.return_text is not None:
        text += f"[returned] {result.return_text}\n"
    return text


def normalise(text: str) -> str:
    """Apply the documented normalisations (addresses, durations, temporary paths).

    Examples:
        >>> normalise("<obj at 0x7f3a2b1c0d90> took 1.25 s in /tmp/refkit-tok-abc/x.json")
        '<obj at 0x<address>> took <duration> in <tmp-path>'
    """
    for pattern, replacement in _NORMALISATIONS:
        text = pattern.sub(replacement, text)
    return text


def _numbers_match(approved: str, live: str) -> bool:
    if "." not in approved or "." not in live:
        return approved == live
    a, b = float(approved), float(live)
    mantissa = re.split(r"[eE]", approved, maxsplit=1)[0]
    decimals = len(mantissa.partition(".")[2])
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=10**-decimals * 1.000001)


def _lines_match(approved: str, live: str) -> bool:
    if _NUMBER.sub("#", approved) != _NUMBER.sub("#", live):
        return False
    return all(
        _numbers_match(a, b)
        for a, b in zip(_NUMBER.findall(approved), _NUMBER.findall(live), strict=True)
    )


def shown_path(path: Path, project_dir: Path | None = None) -> str:
    """How pages and messages name an approved file: never by a path of the build machine.

    Relative to the project when the file is inside it; otherwise (or when the project is not
    known) its last three parts, ``<approved folder>/<module>/<file>``, which is what the
    repository holds whatever machine built it.

    Examples:
        >>> shown_path(Path("/home/ci/clone-x1/approved/m/f.txt"), Path("/home/ci/clone-x1"))
        'approved/m/f.txt'
        >>> shown_path(Path("/home/ci/clone-x1/approved/m/f.txt"))
        'approved/m/f.txt'
        >>> shown_path(Path("approved/m/f.txt"))
        'approved/m/f.txt'
    """
    if not path.is_absolute():
        return path.as_posix()
    if project_dir is not None and path.is_relative_to(project_dir):
        return path.relative_to(project_dir).as_posix()
    return Path(*path.parts[-3:]).as_posix()


@dataclass(frozen=True)
class Drift:
    """A live output that no longer matches its approved output.

    Attributes:
        snippet_id: The snippet.
        approved_file: The approved file, as read.
        diff: Unified diff from the approved output to the live one; its header names the
            approved file as :attr:`shown_file` does.
        shown_file: How a page names the approved file (see :func:`shown_path`); derived from
            ``approved_file`` when not given.
    """

    snippet_id: str
    approved_file: Path
    diff: str
    shown_file: str = ""

    def __post_init__(self) -> None:
        if not self.shown_file:
            object.__setattr__(self, "shown_file", shown_path(self.approved_file))


def compare(
    snippet_id: str,
    approved: str,
    live: str,
    approved_file: Path,
    *,
    project_dir: Path | None = None,
) -> Drift | None:
    """Compare a live output with the approved one; ``None`` when they agree.

    Args:
        snippet_id: The snippet.
        approved: The approved text.
        live: The live text (see :func:`canonical_text`).
        approved_file: The file ``approved`` came from.
        project_dir: The project's folder, so the diff and the page name ``approved_file``
            relative to it (see :func:`shown_path`).

    Examples:
        >>> compare("m.f", "loss 0.5645\\n", "loss 0.5646\\n", Path("a.txt")) is None
        True
        >>> print(compare("m.f", "loss 0.5645\\nids [1, 2]\\n", "loss 0.5650\\nids [1, 2]\\n", Path("a.txt")).diff)
        --- a.txt (approved)
        +++ m.f (live)
        @@ -1,2 +1,2 @@
        -loss 0.5645
        +loss 0.5650
         ids [1, 2]
    """
    if approved == live:  # the usual case, and the same text always agrees with itself
        return None
    old_lines = normalise(approved).splitlines()
    new_lines = normalise(live).splitlines()
    if len(old_lines) == len(new_lines) and all(
        _lines_match(a, b) for a, b in zip(old_lines, new_lines, strict=True)
    ):
        return None
    shown = shown_path(approved_file, project_dir)
    diff = difflib.unified_diff(
        approved.splitlines(),
        live.splitlines(),
        fromfile=f"{shown} (approved)",
        tofile=f"{snippet_id} (live)",
        lineterm="",
    )
    return Drift(snippet_id, approved_file, "\n".join(diff), shown)


def approved_path(
    approved_dir: Path,
    snippet_id: str,
    device: str = "cpu",
    environment: str = DEFAULT_ENVIRONMENT,
) -> Path:
    """The approved-output file for a snippet on a device class, in an environment.

    The CUDA file is used only where it exists; otherwise CUDA runs are held to the common one.
    A declared environment has one file, whatever the device.

    Examples:
        >>> approved_path(Path("approved"), "conv1d_head.demo_x").as_posix()
        'approved/conv1d_head/demo_x.txt'
        >>> approved_path(Path("approved"), "m.demo_x", "cuda", "legacy-tf").as_posix()
        'approved/m/demo_x@legacy-tf.txt'
    """
    module, _, function = snippet_id.partition(".")
    if environment != DEFAULT_ENVIRONMENT:
        return approved_dir / module / f"{function}@{environment}.txt"
    common = approved_dir / module / f"{function}.txt"
    if device == "cuda":
        specific = approved_dir / module / f"{function}.cuda.txt"
        if specific.exists():
            return specific
    return common


def read_approved(
    approved_dir: Path, result: SnippetResult, environment: str = DEFAULT_ENVIRONMENT
) -> tuple[str, Path] | None:
    """The approved text for a result and the file it came from, or ``None`` if never approved."""
    path = approved_path(approved_dir, result.snippet_id, device_class(result), environment)
    try:
        return path.read_text(encoding="utf-8"), path
    except (OSError, UnicodeDecodeError):
        return None


def write_approved(
    approved_dir: Path,
    result: SnippetResult,
    environment: str = DEFAULT_ENVIRONMENT,
    versions: Mapping[str, str] | None = None,
) -> Path:
    """Record a result's output as approved, atomically; returns the file written.

    A CUDA result that differs from the common approved output gets its own ``.cuda.txt``. In a
    declared environment, the stamp of the run is written beside the text (``.stamp``), for a
    build where that environment is missing to show with the recorded output; ``versions``
    (TensorFlow, Keras, ...) are named in it after the run's own record.
    """
    device = device_class(result)
    text = canonical_text(result)
    if environment != DEFAULT_ENVIRONMENT:
        path = approved_path(approved_dir, result.snippet_id, device, environment)
        where = result.environment.describe() if result.environment else "unknown environment"
        where = " · ".join([where, *(f"{name} {v}" for name, v in (versions or {}).items())])
        stamp = f"{where} · run {result.finished_at}" if result.finished_at else where
        write_atomic(path.with_suffix(".stamp"), stamp + "\n")
        write_atomic(path, text)
        return path
    module, _, function = result.snippet_id.partition(".")
    path = approved_dir / module / f"{function}.txt"
    if device == "cuda" and path.exists():
        common = path.read_text(encoding="utf-8")
        if compare(result.snippet_id, common, text, path) is not None:
            path = path.with_name(f"{function}.cuda.txt")
    write_atomic(path, text)
    return path


@dataclass(frozen=True)
class Recorded:
    """The approved output of a snippet in an environment this build cannot run it in.

    Attributes:
        text: The approved text (:func:`canonical_text` of the run that was recorded).
        path: Its file.
        stamp: Where and when it ran (``.stamp`` beside it), or ``""`` when not recorded.
    """

    text: str
    path: Path
    stamp: str = ""


def read_recorded(approved_dir: Path, snippet_id: str, environment: str) -> Recorded | None:
    """The recorded output of a snippet in a declared environment, or ``None`` if there is none.

    Examples:
        >>> import tempfile
        >>> from refkit.engine.results import OK, RunEnvironment, SnippetResult
        >>> folder = Path(tempfile.mkdtemp())
        >>> env = RunEnvironment("3.11.7", "2.13.0", "4.57.6", "0.22.2", "cpu")
        >>> ran = SnippetResult("m.demo_x", OK, return_text="1", environment=env,
        ...                     finished_at="2026-12-01T15:00:00Z")
        >>> write_approved(folder, ran, "old").name
        'demo_x@old.txt'
        >>> recorded = read_recorded(folder, "m.demo_x", "old")
        >>> recorded.text, recorded.stamp
        ('[returned] 1\\n', 'cpu · Python 3.11.7 · torch 2.13.0 · transformers 4.57.6 · tokenizers 0.22.2 · run 2026-12-01T15:00:00Z')
        >>> read_recorded(folder, "m.demo_x", "other") is None
        True
    """
    path = approved_path(approved_dir, snippet_id, environment=environment)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        stamp = path.with_suffix(".stamp").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        stamp = ""
    return Recorded(text, path, stamp)
