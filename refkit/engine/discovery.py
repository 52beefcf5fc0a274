"""Find topics and snippets by reading source files, never by importing them.

The MkDocs process must not import torch, transformers or the topic modules, so everything the
site needs to know before running anything (snippet ids, their source, the topic's title and
references, and what each snippet depends on) is read from the syntax tree.

A *topic module* is a ``.py`` file directly inside the package folder that defines ``TITLE``.
A *snippet* is a top-level function of a topic module whose name starts with ``demo_``; its id is
``<module>.<function>``.

A topic module whose module-level data discovery cannot use is one error naming its file and
line, in :attr:`Catalog.errors`, and the rest of the site builds: ``TITLE`` must be a non-empty
string literal, ``REFERENCES`` a tuple or list of ``Reference(...)`` calls made of literals whose
fields have the right types and whose address is ``http(s)`` (see
:class:`~refkit.engine.references.Reference`). Whatever a literal is (an unhashable set, a
nesting too deep to evaluate, a file Python itself cannot parse), reading it never raises past
that one file.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from refkit.engine.references import InvalidReference, Reference

__all__ = [
    "SNIPPET_PREFIX",
    "Catalog",
    "Snippet",
    "Topic",
    "TopicSyntaxError",
    "load_catalog",
]

SNIPPET_PREFIX = "demo_"

_T = TypeVar("_T")


class TopicSyntaxError(Exception):
    """A topic module could not be parsed; carries the file and line for the message.

    Attributes:
        path: The file.
        line: 1-based.
        reason: What is wrong.
        shown: How the message names the file: relative to the package's parent folder once
            :func:`load_catalog` has it, since the message reaches pages (a snippet of the topic
            is unavailable) and a page must not show paths of the build machine.
    """

    def __init__(self, path: Path, line: int, message: str, shown: str | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        self.shown = str(path) if shown is None else shown
        super().__init__(f"{self.shown}:{line}: {message}")

    def named_from(self, folder: Path) -> TopicSyntaxError:
        """The same error, its message naming the file relative to ``folder`` when inside it.

        Examples:
            >>> error = TopicSyntaxError(Path("/ci/x1/topics/a.py"), 3, "syntax error")
            >>> str(error.named_from(Path("/ci/x1")))
            'topics/a.py:3: syntax error'
        """
        if not self.path.is_relative_to(folder):
            return self
        shown = self.path.relative_to(folder).as_posix()
        return TopicSyntaxError(self.path, self.line, self.reason, shown)


@dataclass(frozen=True)
class Snippet:
    """One runnable demonstration, as found in the source.

    Attributes:
        id: ``<module>.<function>``, the name a page uses to embed it.
        module: The topic module's name (its file name without ``.py``).
        function: The function's name.
        path: The topic module's file.
        line: The line of the ``def`` (decorators excluded).
        source: The function's source text, decorators included.
        summary: The first line of its docstring, or ``""``.
        fingerprint: A hash of everything its output can depend on in the repository.
        preload_imports: Third-party import statements its topic module needs (directly or
            through in-package modules), which the worker runs once before forking it.
        display_source: ``source`` without the docstring, as a page shows it.
        identifiers: The names of what its code uses from elsewhere (classes, functions,
            modules, attributes), for search: see :func:`used_identifiers`.
    """

    id: str
    module: str
    function: str
    path: Path
    line: int
    source: str
    summary: str
    fingerprint: str
    preload_imports: tuple[str, ...] = ()
    display_source: str = ""
    identifiers: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    """The environments its module's ``ENVIRONMENTS`` names for it, as written (``default`` is
    implied: see :mod:`refkit.engine.run_environments`)."""


@dataclass(frozen=True)
class Topic:
    """A topic module: its title, references and snippets, in source order."""

    module: str
    path: Path
    title: str
    references: tuple[Reference, ...]
    snippets: tuple[Snippet, ...]
    preload_imports: tuple[str, ...] = ()
    """Third-party import statements of the module and of the in-package modules it imports:
    what a worker runs once before forking the topic's snippets."""
    summary: str = ""
    """The first line of the module's docstring: what the topic covers."""
    declaration_problems: tuple[tuple[int, str], ...] = ()
    """``(line, what is wrong)`` for each part of ``ENVIRONMENTS`` that could not be read (that
    part is ignored: those snippets run in ``default`` only)."""


PackageState = tuple[tuple[str, int, int], ...]
"""Every file of a package with its modification time and size."""

PackageScan = list[tuple[tuple[str, ...], os.DirEntry[str]]]
"""Every entry under a package with its path parts below it (see :func:`scan_package`)."""


def package_entries(package_dir: Path) -> list[Path]:
    """Every entry under the package, sorted, without its bytecode folders (``__pycache__``).

    Only those below the package: a package may itself sit inside a folder of that name.
    """
    return [Path(entry.path) for _, entry in scan_package(package_dir)]


def scan_package(package_dir: Path) -> PackageScan:
    """Every entry under the package with its path parts, as :func:`package_entries` lists them.

    One ``os.scandir`` walk: a ``DirEntry`` knows its kind from the folder listing and keeps
    what ``stat`` said, so the callers that ask an entry's kind, size and times ask the system
    once (``Path.rglob`` and ``Path.is_dir`` asked again for every question, every build).
    Folders are entered, not links to them; ``__pycache__`` folders are left out with all
    they hold; a folder that cannot be listed (or no longer exists) is skipped, as
    ``Path.rglob`` skips it. Sorted by path parts, as paths sort.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> for name in ("b.py", "a/x.py", "a-b.py", "__pycache__/b.pyc", "a/__pycache__/x.pyc"):
        ...     (root / name).parent.mkdir(parents=True, exist_ok=True)
        ...     _ = (root / name).write_text("")
        >>> [parts for parts, _ in scan_package(root)]
        [('a',), ('a', 'x.py'), ('a-b.py',), ('b.py',)]
        >>> package_entries(root) == sorted(
        ...     p for p in root.rglob("*") if "__pycache__" not in p.relative_to(root).parts)
        True
        >>> scan_package(root / "gone")
        []
        >>> import shutil; shutil.rmtree(root)
    """
    found: PackageScan = []
    folders: list[tuple[tuple[str, ...], str]] = [((), os.fspath(package_dir))]
    while folders:
        parts, folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:  # unreadable, or gone since it was listed: as if empty
            continue
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            entry_parts = (*parts, entry.name)
            found.append((entry_parts, entry))
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry_parts, entry.path))
    found.sort(key=lambda item: item[0])
    return found


def package_state(package_dir: Path, scanned: PackageScan | None = None) -> PackageState:
    """Every file of the package with its modification time and size: a change detector.

    Args:
        package_dir: The topic package.
        scanned: Its :func:`scan_package`, when the caller has just made it.
    """
    state = []
    for _, entry in scan_package(package_dir) if scanned is None else scanned:
        with contextlib.suppress(OSError):
            info = entry.stat()
            state.append((entry.path, info.st_mtime_ns, info.st_size))
    return tuple(state)


@dataclass
class Catalog:
    """Every topic and snippet of a package folder, plus the problems met reading it."""

    package_dir: Path
    topics: dict[str, Topic] = field(default_factory=dict)
    errors: list[TopicSyntaxError] = field(default_factory=list)
    state: PackageState = ()
    """The package's files as they were just before they were read (see :func:`package_state`)."""

    @property
    def preload_imports(self) -> tuple[str, ...]:
        """Every topic's third-party import statements."""
        return tuple(sorted({s for topic in self.topics.values() for s in topic.preload_imports}))

    @property
    def snippets(self) -> dict[str, Snippet]:
        """All snippets by id, in topic then source order."""
        return {s.id: s for topic in self.topics.values() for s in topic.snippets}


def parts_digest(*parts: str | bytes) -> str:
    """One SHA-256 of ``parts``, each prefixed by its length (so no two lists of parts collide)."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()


# What evaluating a literal can raise besides ValueError (not a literal): TypeError (an unhashable
# set member or dict key), RecursionError and MemoryError (nesting too deep), SyntaxError.
_LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, RecursionError, MemoryError)
# What parsing a file can raise besides SyntaxError: ValueError (a NUL byte, Python < 3.12),
# RecursionError and MemoryError (an expression nested too deep).
_PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)
_REFERENCE_FIELDS = ("url", "title", "good_for", "search_query")


def _literal(node: ast.expr, path: Path, message: str) -> object:
    """The value of a literal expression, or a :class:`TopicSyntaxError` with ``message``."""
    try:
        return ast.literal_eval(node)
    except _LITERAL_ERRORS as exc:
        if isinstance(exc, ValueError):
            detail = ""  # not a literal: the message says it all
        elif isinstance(exc, RecursionError | MemoryError):
            detail = " (nested too deeply to read)"
        else:
            detail = f" ({type(exc).__name__}: {exc})"
        raise TopicSyntaxError(path, node.lineno, message + detail) from None


def _literal_reference(node: ast.expr, path: Path) -> Reference:
    """Build a Reference from a ``Reference(...)`` call made of literals."""
    if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Reference"):
        raise TopicSyntaxError(path, node.lineno, "REFERENCES must hold Reference(...) calls")
    if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
        kw.arg is None for kw in node.keywords
    ):
        raise TopicSyntaxError(path, node.lineno, "Reference(...) arguments must be literals")
    literals = "Reference(...) arguments must be literals"
    args = [_literal(arg, path, literals) for arg in node.args]
    kwargs = {kw.arg: _literal(kw.value, path, literals) for kw in node.keywords if kw.arg}
    try:
        return Reference(*args, **kwargs)  # type: ignore[arg-type]  # Reference checks the types
    except InvalidReference as exc:
        # Point at the argument that holds the bad field: a Reference(...) call spans lines.
        where = dict(zip(_REFERENCE_FIELDS, node.args, strict=False))
        where.update((kw.arg, kw.value) for kw in node.keywords if kw.arg)
        line = where[exc.field].lineno if exc.field in where else node.lineno
        raise TopicSyntaxError(path, line, f"malformed Reference(...): {exc}") from None
    except TypeError as exc:
        raise TopicSyntaxError(path, node.lineno, f"malformed Reference(...): {exc}") from None


def _title(node: ast.expr, path: Path) -> str:
    """The value of ``TITLE = ...``: a non-empty string literal."""
    value = _literal(node, path, "TITLE must be a string literal")
    if not isinstance(value, str) or not value.strip():
        shown = "an empty string" if isinstance(value, str) else type(value).__name__
        raise TopicSyntaxError(path, node.lineno, f"TITLE must be a non-empty string, not {shown}")
    return value


def used_identifiers(function: ast.FunctionDef) -> tuple[str, ...]:
    """What a function's code uses from elsewhere: names it reads but never binds, attributes.

    Builtins and the function's own arguments and locals are left out: a reader searches for
    ``BertTokenizerFast`` or ``word_ids``, not for ``print`` or ``batch``.

    Examples:
        >>> tree = ast.parse(
        ...     "def demo_x(n):\\n"
        ...     "    from torch import nn\\n"
        ...     "    layer = nn.Conv1d(4, 1, kernel_size=1)\\n"
        ...     "    print(layer.weight.shape, helper(n), len(SIZES))\\n"
        ... )
        >>> used_identifiers(tree.body[0])
        ('Conv1d', 'SIZES', 'helper', 'nn', 'shape', 'torch', 'weight')
    """
    return _walk(function).identifiers()


@dataclass
class _Names:
    """What one walk of a syntax tree finds: the names its code reads, binds and imports."""

    loads: set[str] = field(default_factory=set)
    """Plain names read."""
    stores: set[str] = field(default_factory=set)
    """Plain names bound (assigned, deleted)."""
    arguments: set[str] = field(default_factory=set)
    """Names of arguments, of every function and lambda in the tree."""
    attributes: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)
    """The last part of every imported name (``import a.b`` gives ``b``)."""
    modules: set[str] = field(default_factory=set)
    """The parts of the modules of ``from ... import`` statements."""
    imports: list[ast.Import | ast.ImportFrom] = field(default_factory=list)

    def mentioned(self) -> set[str]:
        """Every name code could use to reach another module's function.

        Plain names, attribute names (``module.demo_x``) and imported names.
        """
        return self.loads | self.stores | self.attributes | self.aliases

    def identifiers(self) -> tuple[str, ...]:
        """See :func:`used_identifiers`."""
        bound = self.stores | self.arguments
        names = (self.loads - bound - _BUILTINS) | self.attributes | self.modules | self.aliases
        return tuple(sorted(name for name in names if not name.startswith("_")))


_BUILTINS = frozenset(dir(builtins))


def _walk(root: ast.AST) -> _Names:
    """Every node of ``root`` visited once, for everything discovery reads of names."""
    found = _Names()
    todo = deque([root])
    while todo:
        node = todo.popleft()
        if isinstance(node, ast.Name):
            (found.loads if isinstance(node.ctx, ast.Load) else found.stores).add(node.id)
        elif isinstance(node, ast.Attribute):
            found.attributes.add(node.attr)
        elif isinstance(node, ast.alias):
            found.aliases.add(node.name.rsplit(".", 1)[-1])
        elif isinstance(node, ast.arg):
            found.arguments.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            found.imports.append(node)
            if isinstance(node, ast.ImportFrom) and node.module:
                found.modules.update(node.module.split("."))
        # ast.iter_child_nodes, inlined (a walk is most of a catalog's first load), without the
        # contexts (Load, Store) that every name carries and that hold nothing.
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                todo.extend(item for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST) and not isinstance(value, ast.expr_context):
                todo.append(value)
    return found


def first_line(node: ast.stmt) -> int:
    r"""The first line of a statement, its decorators included (``node.lineno`` is the ``def``).

    Examples:
        >>> first_line(ast.parse("@cache\n@wraps(f)\ndef g():\n    pass\n").body[0])
        1
    """
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])


def _is_plain_snippet(node: ast.stmt) -> bool:
    """A snippet function without decorators: defining it runs none of its code."""
    return (
        isinstance(node, ast.FunctionDef)
        and node.name.startswith(SNIPPET_PREFIX)
        and not node.decorator_list  # a decorator runs at import
    )


@dataclass(frozen=True)
class _Module:
    """One file of the package, and what discovery reads from its syntax tree.

    Attributes:
        source: The file's text.
        tree: Its syntax tree; ``None`` when it does not parse.
        imports: Every dotted name an import statement may load, with the statement, by name.
        mentioned: Every name its code mentions (see :meth:`_Names.mentioned`).
        context: The same, outside its snippet functions without decorators.
        names: For each top-level function, the plain names its code uses or binds.
        identifiers: For each top-level function, see :func:`used_identifiers`.
    """

    source: str
    tree: ast.Module | None = None
    imports: tuple[tuple[str, ast.stmt], ...] = ()
    mentioned: frozenset[str] = frozenset()
    context: frozenset[str] = frozenset()
    names: dict[ast.FunctionDef, frozenset[str]] = field(default_factory=dict)
    identifiers: dict[ast.FunctionDef, tuple[str, ...]] = field(default_factory=dict)


def _read_module(
    source: str,
    package: str,
    walk: Callable[[tuple[Any, ...], ast.stmt], _Names] | None = None,
) -> _Module:
    """Parse a module and walk its tree once; ``package``: the dotted package it belongs to.

    ``walk(key, node)`` walks a top-level statement (by default :func:`_walk`); ``key`` is its
    kind, columns and text, everything the walk's answer depends on, so a caller may answer
    with the walk of the same statement in an earlier version of the file (an edit changes one
    function: the other statements need no new walk).
    """
    try:
        tree = ast.parse(source)
    except _PARSE_ERRORS:
        return _Module(source)
    lines = source.splitlines(keepends=True)
    mentioned: set[str] = set()
    context: set[str] = set()
    statements: list[ast.Import | ast.ImportFrom] = []
    names: dict[ast.FunctionDef, frozenset[str]] = {}
    identifiers: dict[ast.FunctionDef, tuple[str, ...]] = {}
    for node in tree.body:
        if walk is None:
            found = _walk(node)
        else:
            text = "".join(lines[first_line(node) - 1 : node.end_lineno or node.lineno])
            found = walk((type(node), node.col_offset, node.end_col_offset, text), node)
        statements += found.imports
        mentioned |= found.mentioned()
        if not _is_plain_snippet(node):
            context |= found.mentioned()
        if isinstance(node, ast.FunctionDef):
            names[node] = frozenset(found.loads | found.stores)
            identifiers[node] = found.identifiers()
    imports = sorted(_imported_modules(statements, package), key=lambda item: item[0])
    return _Module(
        source,
        tree,
        tuple(imports),
        frozenset(mentioned),
        frozenset(context),
        names,
        identifiers,
    )


def _without_unreached_snippets(module: _Module, mentioned: Set[str]) -> str:
    """A module's source minus the snippet functions that no code in play can reach.

    An importing module depends on a module's helpers and constants, and on the snippets it
    names (``from a import demo_x``, ``a.demo_x``) or that those helpers call, but not on the
    other snippets' bodies: defining a function runs none of its body.
    """
    assert module.tree is not None
    snippets = {
        node.name: node
        for node in module.tree.body
        if _is_plain_snippet(node) and isinstance(node, ast.FunctionDef)
    }
    calls = {name: module.names[node] for name, node in snippets.items()}
    reached = (mentioned | module.context) & snippets.keys()
    for name in list(reached):
        reached |= _snippets_called(name, calls)
    lines = module.source.splitlines(keepends=True)
    dropped: set[int] = set()
    for name in snippets.keys() - reached:
        node = snippets[name]
        dropped.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return "".join(line for number, line in enumerate(lines, start=1) if number not in dropped)


def _snippets_called(name: str, calls: Mapping[str, Set[str]]) -> set[str]:
    """The snippets ``name`` calls, directly or through other snippets.

    Args:
        name: A snippet function's name.
        calls: For each snippet function, the plain names its code uses.
    """
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        for called in calls[current] & calls.keys():
            if called not in seen:
                seen.add(called)
                todo.append(called)
    return seen


def _imported_modules(
    statements: Iterable[ast.Import | ast.ImportFrom], package: str = ""
) -> list[tuple[str, ast.stmt]]:
    """Every dotted name an import statement may load, with the statement.

    ``from a import b`` may load the module ``a.b`` as well as ``a``; relative imports are
    resolved against ``package``, the dotted package the importing module belongs to.
    """
    found: list[tuple[str, ast.stmt]] = []
    for node in statements:
        if isinstance(node, ast.Import):
            found.extend((alias.name, node) for alias in node.names)
            continue
        if node.level:
            parts = package.split(".") if package else []
            base = parts[: len(parts) - (node.level - 1)]
            if not base:
                continue
            module = ".".join([*base, *([node.module] if node.module else [])])
        elif node.module:
            module = node.module
        else:
            continue
        found.append((module, node))
        found.extend((f"{module}.{alias.name}", node) for alias in node.names)
    return found


def module_file(package_dir: Path, dotted: str) -> Path | None:
    """The file of the module ``dotted`` (``refkit.engine.device``) if the package has it.

    The package's import name is its folder's name; a name outside it gives ``None``.

    Examples:
        >>> import refkit
        >>> module_file(Path(refkit.__file__).parent, "refkit.engine.device").name
        'device.py'
        >>> module_file(Path(refkit.__file__).parent, "torch.nn") is None
        True
    """
    parts = dotted.split(".")
    if parts[0] != package_dir.name or "__pycache__" in parts:  # bytecode is not the package
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class _PackageReader:
    """Reads the package's files once per catalog load, and what it can, once per content.

    A load reads every file (:meth:`module`); whatever is computed from files' contents goes
    through :meth:`remembered`, keyed by those contents, so an earlier load's answer is reused
    when they did not change.
    """

    def __init__(self, package_dir: Path, memo: dict[tuple[Any, ...], Any] | None = None) -> None:
        self.package_dir = package_dir
        self.package_name = package_dir.name
        self._sources: dict[Path, str] = {}
        self._paths: dict[str, Path | None] = {}
        self.previous = memo or {}
        """What an earlier load computed, keyed by everything it was computed from."""
        self.used: dict[tuple[Any, ...], Any] = {}
        """The entries of this load: the memo for the next one."""

    def remembered(self, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
        """``compute()``, or what an earlier load computed for the same ``key``."""
        if key in self.used:
            return self.used[key]
        value = self.previous[key] if key in self.previous else compute()
        self.used[key] = value
        return value

    def module(self, path: Path) -> _Module:
        """A module's source and what its tree says, the file read once per load."""
        source = self._sources.get(path)
        if source is None:
            source = path.read_text(encoding="utf-8-sig")  # as Python reads a file with a BOM
            self._sources[path] = source
        folder = path.parent.relative_to(self.package_dir).parts
        package = ".".join([self.package_name, *folder])
        return self.remembered(
            ("module", path, package, source),
            lambda: _read_module(source, package, self._walk),
        )

    def _walk(self, key: tuple[Any, ...], node: ast.stmt) -> _Names:
        """:func:`_walk` of a top-level statement, or an earlier load's walk of the same text."""
        return self.remembered(("walk", *key), lambda: _walk(node))

    def closure(self, path: Path, seen: set[Path] | None = None) -> set[Path]:
        """The module and every in-package module it imports, recursively."""
        seen = set() if seen is None else seen
        if path not in seen:
            seen.add(path)
            for name, _ in self.module(path).imports:
                if (dependency := self.module_path(name)) is not None:
                    self.closure(dependency, seen)
        return seen

    def module_path(self, dotted: str) -> Path | None:
        """The file of an in-package module name like ``refkit.engine.device``, if any.

        Looked up once per name and load: every topic's imports ask again for the same names
        (a reload of a package of a dozen topics asked thousands of times, each a ``stat``).
        """
        if dotted not in self._paths:
            self._paths[dotted] = module_file(self.package_dir, dotted)
        return self._paths[dotted]

    def transitive_digest(
        self, path: Path, mentioned: Set[str], seen: set[Path] | None = None
    ) -> str:
        """Hash of an imported module and of every in-package module it imports, recursively.

        Args:
            path: The imported module.
            mentioned: Names the importing code mentions; of the module's snippet functions,
                only those it can reach this way count (see ``_without_unreached_snippets``).
            seen: Modules already hashed on this path (import cycles).
        """
        seen = set() if seen is None else seen
        if path in seen:
            return ""
        seen.add(path)
        module = self.module(path)
        kept = (
            module.source if module.tree is None else _without_unreached_snippets(module, mentioned)
        )
        # What this module mentions anywhere is what it may use of the modules it imports.
        parts = [str(path.relative_to(self.package_dir)), kept]
        for name, _ in module.imports:
            dependency = self.module_path(name)
            if dependency is not None:
                parts.append(self.transitive_digest(dependency, module.mentioned, seen))
        return parts_digest(*parts)

    def third_party_imports(self, path: Path, seen: set[Path] | None = None) -> set[str]:
        """Import statements of code outside the package, in a module and its in-package imports."""
        seen = set() if seen is None else seen
        if path in seen:
            return set()
        seen.add(path)
        statements: set[str] = set()
        for name, statement in self.module(path).imports:
            dependency = self.module_path(name)
            if dependency is not None:
                statements |= self.third_party_imports(dependency, seen)
            elif name.split(".")[0] != self.package_name and name != "__future__":
                statements.add(ast.unparse(statement))
        return statements

    def data_digest(self) -> str:
        """Hash of every data file shipped in the package's ``data`` folder."""
        data_dir = self.package_dir / "data"
        files = sorted(p for p in data_dir.rglob("*") if p.is_file()) if data_dir.is_dir() else []
        return parts_digest(
            *(f"{p.relative_to(data_dir)}\0".encode() + p.read_bytes() for p in files)
        )


def _module_data(
    tree: ast.Module, path: Path
) -> tuple[str, tuple[Reference, ...], dict[str, ast.FunctionDef]] | None:
    """A topic module's title, references and snippet functions; ``None`` if it has no TITLE."""
    title: str | None = None
    references_node: ast.expr | None = None
    functions: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith(SNIPPET_PREFIX):
            functions[node.name] = node
            continue
        names = _assigned_names(node)
        if "TITLE" in names:
            title = _title(node.value, path)  # type: ignore[attr-defined]  # an assignment
        if "REFERENCES" in names:
            references_node = node.value  # type: ignore[attr-defined]
    if title is None:
        return None  # not a topic module: what else it defines is none of discovery's business
    references: tuple[Reference, ...] = ()
    if references_node is not None:
        if not isinstance(references_node, ast.Tuple | ast.List):
            raise TopicSyntaxError(
                path, references_node.lineno, "REFERENCES must be a tuple of Reference(...) calls"
            )
        references = tuple(_literal_reference(el, path) for el in references_node.elts)
    return title, references, functions


def _assigned_names(node: ast.stmt) -> set[str]:
    """The plain names a top-level assignment with a value binds (none for other statements)."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    else:
        return set()
    return {target.id for target in targets if isinstance(target, ast.Name)}


ENVIRONMENTS_NAME = "ENVIRONMENTS"
"""The module-level mapping from a snippet's function name to the environments it runs in."""


def declared_environments(
    tree: ast.Module,
) -> tuple[dict[str, tuple[str, ...]], tuple[tuple[int, str], ...]]:
    """A module's ``ENVIRONMENTS``: function name -> environment names, and what is wrong.

    Only a literal mapping of strings to a string, or to a tuple or list of strings, counts;
    each part that is not one is a problem ``(line, message)`` and is ignored.

    Examples:
        >>> declared_environments(ast.parse('ENVIRONMENTS = {"demo_a": ("x",), "demo_b": "y"}'))
        ({'demo_a': ('x',), 'demo_b': ('y',)}, ())
        >>> declared_environments(ast.parse('ENVIRONMENTS = {"demo_a": [1]}'))[1]
        ((1, "ENVIRONMENTS['demo_a'] must be environment names (strings), not [1]"),)
        >>> declared_environments(ast.parse('ENVIRONMENTS = {[1]: "x"}'))[1]
        ((1, 'ENVIRONMENTS must be a literal mapping'),)
    """
    found: dict[str, tuple[str, ...]] = {}
    problems: list[tuple[int, str]] = []
    for node in tree.body:
        if ENVIRONMENTS_NAME not in _assigned_names(node):
            continue
        assert isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
        try:
            literal = ast.literal_eval(node.value)
        except _LITERAL_ERRORS:  # {[1]: "x"} raises TypeError, a deep nesting RecursionError
            problems.append((node.lineno, f"{ENVIRONMENTS_NAME} must be a literal mapping"))
            continue
        if not isinstance(literal, dict):
            problems.append(
                (
                    node.lineno,
                    f"{ENVIRONMENTS_NAME} must be a mapping of snippet function names to "
                    f"environment names, not {type(literal).__name__}",
                )
            )
            continue
        for function, declared in literal.items():
            names = (declared,) if isinstance(declared, str) else declared
            if not isinstance(function, str) or not (
                isinstance(names, tuple | list) and all(isinstance(n, str) for n in names)
            ):
                problems.append(
                    (
                        node.lineno,
                        f"{ENVIRONMENTS_NAME}[{function!r}] must be environment names (strings), "
                        f"not {names!r}",
                    )
                )
                continue
            found[function] = tuple(names)
    return found, tuple(problems)


def _read_topic(path: Path, reader: _PackageReader, data_digest: str) -> Topic | None:
    parsed = reader.module(path)
    source = parsed.source
    try:
        tree = parsed.tree or ast.parse(source, filename=str(path))  # parsed again only to fail
    except SyntaxError as exc:
        raise TopicSyntaxError(path, exc.lineno or 1, f"syntax error: {exc.msg}") from exc
    except _PARSE_ERRORS as exc:
        detail = "nested too deeply to parse" if not isinstance(exc, ValueError) else str(exc)
        raise TopicSyntaxError(path, 1, f"syntax error: {detail}") from None
    lines = source.splitlines(keepends=True)

    found = _module_data(tree, path)
    if found is None:
        return None
    title, references, functions = found

    module = path.stem
    # Imported in-package modules change every snippet of the topic; other top-level code
    # (helpers, constants) too. A snippet's own body, and the bodies of other snippets it calls,
    # change only that snippet: editing one demo re-runs only what depends on it, in this topic
    # and in the topics that import this one.
    imports_digest = "".join(
        reader.transitive_digest(dep, parsed.mentioned)
        for name, _ in parsed.imports
        if (dep := reader.module_path(name)) is not None
    )
    # The module's context: every line outside the snippet functions (helpers, constants...).
    in_snippet: set[int] = set()
    for node in functions.values():
        in_snippet.update(range(first_line(node), (node.end_lineno or node.lineno) + 1))
    context_digest = parts_digest(
        "".join(line for number, line in enumerate(lines, start=1) if number not in in_snippet)
    )

    def function_source(node: ast.FunctionDef) -> str:
        return "".join(lines[first_line(node) - 1 : node.end_lineno or node.lineno])

    def display_source(node: ast.FunctionDef) -> str:
        """The source without its docstring: the page shows the live output instead."""
        text = function_source(node)
        first = node.body[0]
        if len(node.body) > 1 and ast.get_docstring(node) is not None:
            start = first_line(node)
            cut_from, cut_to = first.lineno - start, (first.end_lineno or first.lineno) - start + 1
            kept = text.splitlines(keepends=True)
            text = "".join(kept[:cut_from] + kept[cut_to:])
        return text

    preload = tuple(sorted(reader.third_party_imports(path)))
    environments, declaration_problems = declared_environments(tree)
    snippets = []
    calls = {name: parsed.names[node] for name, node in functions.items()}
    for name, node in functions.items():
        called = sorted(_snippets_called(name, calls) - {name})
        fingerprint = parts_digest(
            function_source(node),
            *(function_source(functions[other]) for other in called),
            context_digest,
            imports_digest,
            data_digest,
        )
        docstring = ast.get_docstring(node) or ""
        snippets.append(
            Snippet(
                id=f"{module}.{name}",
                module=module,
                function=name,
                path=path,
                line=node.lineno,
                source=function_source(node),
                display_source=display_source(node),
                identifiers=parsed.identifiers[node],
                summary=docstring.strip().splitlines()[0] if docstring.strip() else "",
                fingerprint=fingerprint,
                preload_imports=preload,
                environments=environments.get(name, ()),
            )
        )
    docstring = ast.get_docstring(tree) or ""
    summary = docstring.strip().splitlines()[0].strip() if docstring.strip() else ""
    return Topic(
        module, path, title, references, tuple(snippets), preload, summary, declaration_problems
    )


def load_catalog(package_dir: Path) -> Catalog:
    """Read every topic module directly inside ``package_dir``.

    A module that cannot be parsed is recorded in ``Catalog.errors`` (with file and line) and
    skipped, so the other topics still build.

    Args:
        package_dir: The folder of the package, e.g. ``<repo>/refkit``.

    Returns:
        The catalog of topics and snippets.

    Examples:
        >>> import refkit, pathlib
        >>> catalog = load_catalog(pathlib.Path(refkit.__file__).parent)
        >>> catalog.topics["train_tokenizer"].module
        'train_tokenizer'
        >>> any("tokenizers" in statement for statement in catalog.preload_imports)
        True
    """
    package_dir = package_dir.resolve()
    # Taken before reading: a file saved while reading then shows up as a change.
    catalog = Catalog(package_dir, state=package_state(package_dir))
    reader = _PackageReader(package_dir, _last_load.get(package_dir))
    data_digest = reader.data_digest()
    for path in sorted(package_dir.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            # A topic is what its own source, the in-package modules it imports and the data
            # make it: when none of them changed, the earlier load's topic is the same.
            sources = tuple((p, reader.module(p).source) for p in sorted(reader.closure(path)))
            found = reader.remembered(
                ("topic", path, data_digest, sources),
                lambda: _read_topic(path, reader, data_digest),  # noqa: B023  # called at once
            )
        except TopicSyntaxError as exc:
            catalog.errors.append(exc.named_from(package_dir.parent))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            # An OSError's own text repeats the file's absolute path.
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            error = TopicSyntaxError(path, 1, f"cannot read the file: {detail}")
            catalog.errors.append(error.named_from(package_dir.parent))
            continue
        if found is not None:
            catalog.topics[found.module] = found
    _last_load[package_dir] = reader.used
    return catalog


# What the last load of each package computed (parses, topics), keyed by what each was computed
# from. ``mkdocs serve`` reloads the catalog on every save, when most modules have not changed;
# parsing and walking them again was most of the reload.
_last_load: dict[Path, dict[tuple[Any, ...], Any]] = {}
