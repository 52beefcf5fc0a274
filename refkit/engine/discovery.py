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
import functools
import hashlib
from collections.abc import Callable
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


PackageState = tuple[tuple[str, int, int], ...]
"""Every file of a package with its modification time and size."""


def package_state(package_dir: Path) -> PackageState:
    """Every file of the package with its modification time and size: a change detector."""
    state = []
    for path in sorted(package_dir.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        with contextlib.suppress(OSError):
            info = path.stat()
            state.append((str(path), info.st_mtime_ns, info.st_size))
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


def _digest(*parts: str | bytes) -> str:
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
    bound = {a.arg for a in (*function.args.args, *function.args.kwonlyargs)}
    read: set[str] = set()
    attributes: set[str] = set()
    imported: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.Attribute):
            attributes.add(node.attr)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.update(node.module.split("."))
            imported.update(alias.name.split(".")[-1] for alias in node.names)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    builtin = set(dir(builtins))
    names = (read - bound - builtin) | attributes | imported
    return tuple(sorted(name for name in names if not name.startswith("_")))


# Trees are parsed once per file content (see ``_PackageReader.remembered``), so these walks of
# the same nodes are remembered by node: a catalog load asks for them once per importing module.
@functools.lru_cache(maxsize=4096)
def _names_used(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def _names_mentioned(nodes: list[ast.stmt]) -> set[str]:
    """Every name code could use to reach another module's function.

    Plain names, attribute names (``module.demo_x``) and imported names.
    """
    names: set[str] = set()
    for node in (inner for outer in nodes for inner in ast.walk(outer)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name.rsplit(".", 1)[-1])
    return names


@functools.lru_cache(maxsize=1024)
def _context_names(tree: ast.Module) -> frozenset[str]:
    """What a module's code outside its snippet functions mentions (see ``_names_mentioned``)."""
    context = [
        node
        for node in tree.body
        if not (
            isinstance(node, ast.FunctionDef)
            and node.name.startswith(SNIPPET_PREFIX)
            and not node.decorator_list
        )
    ]
    return frozenset(_names_mentioned(context))


def _without_unreached_snippets(source: str, tree: ast.Module, mentioned: set[str]) -> str:
    """A module's source minus the snippet functions that no code in play can reach.

    An importing module depends on a module's helpers and constants, and on the snippets it
    names (``from a import demo_x``, ``a.demo_x``) or that those helpers call, but not on the
    other snippets' bodies: defining a function runs none of its body.
    """
    snippets = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.name.startswith(SNIPPET_PREFIX)
        and not node.decorator_list  # a decorator runs at import: keep it in the hash
    }
    reached = (mentioned | _context_names(tree)) & snippets.keys()
    for name in list(reached):
        reached |= _snippets_called(name, snippets)
    lines = source.splitlines(keepends=True)
    dropped: set[int] = set()
    for name in snippets.keys() - reached:
        node = snippets[name]
        dropped.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return "".join(line for number, line in enumerate(lines, start=1) if number not in dropped)


def _snippets_called(name: str, functions: dict[str, ast.FunctionDef]) -> set[str]:
    """The snippets ``name`` calls, directly or through other snippets."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        for called in _names_used(functions[current]) & functions.keys():
            if called not in seen:
                seen.add(called)
                todo.append(called)
    return seen


def _imported_modules(tree: ast.Module, package: str = "") -> list[tuple[str, ast.stmt]]:
    """Every dotted name an import statement may load, with the statement.

    ``from a import b`` may load the module ``a.b`` as well as ``a``; relative imports are
    resolved against ``package``, the dotted package the importing module belongs to.
    """
    found: list[tuple[str, ast.stmt]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
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


class _PackageReader:
    """Reads and hashes the package's files once per catalog load."""

    def __init__(self, package_dir: Path, memo: dict[tuple[Any, ...], Any] | None = None) -> None:
        self.package_dir = package_dir
        self.package_name = package_dir.name
        self._parsed: dict[Path, tuple[str, list[tuple[str, ast.stmt]], ast.Module | None]] = {}
        self._mentioned: dict[Path, set[str]] = {}
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

    def parsed(self, path: Path) -> tuple[str, list[tuple[str, ast.stmt]], ast.Module | None]:
        """A module's source, its imports and its tree (none when it does not parse), read once."""
        if path not in self._parsed:
            source = path.read_text(encoding="utf-8-sig")  # as Python reads a file with a BOM
            folder = path.parent.relative_to(self.package_dir).parts
            package = ".".join([self.package_name, *folder])

            def parse() -> tuple[list[tuple[str, ast.stmt]], ast.Module | None]:
                try:
                    tree = ast.parse(source)
                except _PARSE_ERRORS:
                    return [], None
                return sorted(_imported_modules(tree, package), key=lambda item: item[0]), tree

            imports, tree = self.remembered(("parse", path, package, source), parse)
            self._parsed[path] = (source, imports, tree)
        return self._parsed[path]

    def closure(self, path: Path, seen: set[Path] | None = None) -> set[Path]:
        """The module and every in-package module it imports, recursively."""
        seen = set() if seen is None else seen
        if path not in seen:
            seen.add(path)
            for name, _ in self.parsed(path)[1]:
                if (dependency := self.module_path(name)) is not None:
                    self.closure(dependency, seen)
        return seen

    def names_mentioned(self, path: Path) -> set[str]:
        """Every name a module mentions (see ``_names_mentioned``), computed once."""
        if path not in self._mentioned:
            source, _, tree = self.parsed(path)
            self._mentioned[path] = self.remembered(
                ("mentioned", path, source),
                lambda: _names_mentioned(tree.body) if tree is not None else set(),
            )
        return self._mentioned[path]

    def module_path(self, dotted: str) -> Path | None:
        """The file of an in-package module name like ``refkit.engine.device``, if any."""
        parts = dotted.split(".")
        if parts[0] != self.package_name:
            return None
        base = self.package_dir.joinpath(*parts[1:])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def transitive_digest(
        self, path: Path, mentioned: set[str], seen: set[Path] | None = None
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
        source, imports, tree = self.parsed(path)
        kept = source if tree is None else _without_unreached_snippets(source, tree, mentioned)
        # What this module mentions anywhere is what it may use of the modules it imports.
        mentioned_here = self.names_mentioned(path)
        parts = [str(path.relative_to(self.package_dir)), kept]
        for name, _ in imports:
            dependency = self.module_path(name)
            if dependency is not None:
                parts.append(self.transitive_digest(dependency, mentioned_here, seen))
        return _digest(*parts)

    def third_party_imports(self, path: Path, seen: set[Path] | None = None) -> set[str]:
        """Import statements of code outside the package, in a module and its in-package imports."""
        seen = set() if seen is None else seen
        if path in seen:
            return set()
        seen.add(path)
        statements: set[str] = set()
        for name, statement in self.parsed(path)[1]:
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
        return _digest(*(f"{p.relative_to(data_dir)}\0".encode() + p.read_bytes() for p in files))


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
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if "TITLE" in names and node.value is not None:
                title = _title(node.value, path)
            if "REFERENCES" in names and node.value is not None:
                references_node = node.value
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


def _read_topic(path: Path, reader: _PackageReader, data_digest: str) -> Topic | None:
    source, _, parsed_tree = reader.parsed(path)
    try:
        tree = parsed_tree or ast.parse(source, filename=str(path))  # parsed again only to fail
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
    mentioned = reader.names_mentioned(path)
    imports_digest = "".join(
        reader.transitive_digest(dep, mentioned)
        for name, _ in reader.parsed(path)[1]
        if (dep := reader.module_path(name)) is not None
    )
    # The module's context: every line outside the snippet functions (helpers, constants...).
    in_snippet: set[int] = set()
    for node in functions.values():
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        in_snippet.update(range(start, (node.end_lineno or node.lineno) + 1))
    context_digest = _digest(
        "".join(line for number, line in enumerate(lines, start=1) if number not in in_snippet)
    )

    def function_source(node: ast.FunctionDef) -> str:
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        return "".join(lines[start - 1 : end])

    def display_source(node: ast.FunctionDef) -> str:
        """The source without its docstring: the page shows the live output instead."""
        text = function_source(node)
        first = node.body[0]
        if len(node.body) > 1 and ast.get_docstring(node) is not None:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            cut_from, cut_to = first.lineno - start, (first.end_lineno or first.lineno) - start + 1
            kept = text.splitlines(keepends=True)
            text = "".join(kept[:cut_from] + kept[cut_to:])
        return text

    preload = tuple(sorted(reader.third_party_imports(path)))
    snippets = []
    for name, node in functions.items():
        called = sorted(_snippets_called(name, functions) - {name})
        fingerprint = _digest(
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
                identifiers=used_identifiers(node),
                summary=docstring.strip().splitlines()[0] if docstring.strip() else "",
                fingerprint=fingerprint,
                preload_imports=preload,
            )
        )
    docstring = ast.get_docstring(tree) or ""
    summary = docstring.strip().splitlines()[0].strip() if docstring.strip() else ""
    return Topic(module, path, title, references, tuple(snippets), preload, summary)


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
            sources = tuple((p, reader.parsed(p)[0]) for p in sorted(reader.closure(path)))
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
