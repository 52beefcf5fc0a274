"""A snippet as a script that runs on its own: its imports and the package helpers it uses, inlined.

A page shows a demonstration's function; pasted alone it would fail on the names it takes from
its module (``F``, ``nn``, ``seed_everything``, a tokenizer built by a helper). For the
downloads (a notebook cell, a ``.py`` file) refkit builds the whole program instead, read from
the package's source, never imported:

- every module-level name the function uses is followed, transitively: a helper function or
  class, a constant, an import. Definitions from the package itself (``from refkit.x import y``)
  are copied in from their module, in the order they depend on each other; other imports
  (torch, transformers, the standard library) stay imports, one per name used;
- module-level statements that are not definitions (a logger set up, an environment variable
  set) run on import, so the state they make is part of what the snippet ran with: they are
  copied too, for every module something was taken from;
- names used only in annotations are not followed (every module of the package starts with
  ``from __future__ import annotations``, and the copy does too), nor what sits under
  ``if TYPE_CHECKING:``.

A name defined differently in two modules that the script needs both of would make the copy
ambiguous: :class:`StandaloneError` names both places.
"""

from __future__ import annotations

import ast
import builtins
import functools
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

from refkit.engine.discovery import first_line, module_file

__all__ = ["StandaloneError", "standalone_program", "standalone_source"]

_BUILTINS = frozenset(dir(builtins))


class StandaloneError(ValueError):
    """A snippet whose standalone copy cannot be made; the message names the file and line."""


@dataclass
class _Definition:
    """A top-level statement of a module: what it binds, and the names it uses."""

    module: str
    node: ast.stmt
    text: str
    binds: tuple[str, ...]
    uses: frozenset[str]
    # `from pkg.x import y [as z]` inside the statement (a function's lazy import): (z, pkg.x, y).
    # Its lines are left out of ``text``; the copy defines ``y`` (and ``z``) before it instead.
    package_imports: tuple[tuple[str, str, str], ...] = ()


@dataclass
class _Module:
    name: str
    path: Path
    definitions: list[_Definition] = field(default_factory=list)
    # name -> (module the package import comes from, the name there), for `from pkg.x import y`
    package_imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    # name -> the import statement that binds it, for every other import
    imports: dict[str, str] = field(default_factory=dict)
    effects: list[_Definition] = field(default_factory=list)

    def binding(self, name: str) -> _Definition | None:
        for definition in self.definitions:
            if name in definition.binds:
                return definition
        return None


def _names_used(node: ast.AST) -> frozenset[str]:
    """Names a statement reads, annotations left out (they are never evaluated here)."""
    used: set[str] = set()

    def visit(item: ast.AST) -> None:
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load):
            used.add(item.id)
        for name, child in ast.iter_fields(item):
            if name in ("annotation", "returns"):
                continue
            for value in child if isinstance(child, list) else [child]:
                if isinstance(value, ast.AST):
                    visit(value)

    visit(node)
    return frozenset(used)


def _bound_names(node: ast.stmt) -> tuple[str, ...]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (node.name,)
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
        targets = [node.target]
    names: list[str] = []
    for target in targets:
        names.extend(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return tuple(names)


def _is_type_checking(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _statement_text(
    lines: list[str], node: ast.stmt, leave_out: AbstractSet[int] = frozenset()
) -> str:
    start = first_line(node)
    kept = [
        line
        for number, line in enumerate(lines[start - 1 : node.end_lineno], start=start)
        if number not in leave_out
    ]
    return "".join(kept).rstrip() + "\n"


class _Reader:
    """The package's modules, read from source on first use."""

    def __init__(self, package_dir: Path) -> None:
        self.package_dir = package_dir
        self.package = package_dir.name
        self.modules: dict[str, _Module] = {}

    def module(self, name: str) -> _Module:
        if name in self.modules:
            return self.modules[name]
        path = module_file(self.package_dir, name)
        if path is None:
            raise StandaloneError(f"{name}: no such module in {self.package_dir}")
        module = self.modules[name] = _parsed_module(
            self.package, name, path, path.read_text(encoding="utf-8")
        )
        return module


# A build makes the copies of every demonstration of every page, and they share their modules:
# each module is read once per content, not once per copy (which cost seconds a build). What a
# _Module holds is never changed after it is made.
@functools.lru_cache(maxsize=256)
def _parsed_module(package: str, name: str, path: Path, source: str) -> _Module:
    lines = source.splitlines(keepends=True)
    module = _Module(name, path)
    for node in ast.parse(source, filename=str(path)).body:
        _read_statement(package, module, lines, node)
    return module


def _read_statement(  # noqa: PLR0912 - one branch per kind of top-level statement
    package: str, module: _Module, lines: list[str], node: ast.stmt
) -> None:
    where = f"{module.path}:{node.lineno}"
    if isinstance(node, ast.ImportFrom):
        source = node.module or ""
        if node.level:
            source = ".".join(module.name.split(".")[: -node.level] + ([source] if source else []))
        if source == "__future__":
            return
        for alias in node.names:
            local = alias.asname or alias.name
            if alias.name == "*":
                raise StandaloneError(f"{where}: `from {source} import *` cannot be inlined")
            if source.split(".")[0] == package:
                module.package_imports[local] = (source, alias.name)
            else:
                as_part = f" as {alias.asname}" if alias.asname else ""
                module.imports[local] = f"from {source} import {alias.name}{as_part}"
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == package:
                raise StandaloneError(
                    f"{where}: `import {alias.name}` cannot be inlined; import names from it"
                )
            local = alias.asname or alias.name.split(".")[0]
            as_part = f" as {alias.asname}" if alias.asname else ""
            module.imports[local] = f"import {alias.name}{as_part}"
    elif _is_type_checking(node):
        return
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return  # a docstring
    else:
        binds = _bound_names(node)
        if binds == ("__all__",):
            return
        nested = [
            inner
            for inner in ast.walk(node)
            if isinstance(inner, ast.ImportFrom)
            and inner is not node
            and (inner.module or "").split(".")[0] == package
            and not inner.level
        ]
        leave_out = {
            n
            for inner in nested
            for n in range(inner.lineno, (inner.end_lineno or inner.lineno) + 1)
        }
        definition = _Definition(
            module.name,
            node,
            _statement_text(lines, node, leave_out),
            binds,
            _names_used(node),
            tuple(
                (alias.asname or alias.name, inner.module or "", alias.name)
                for inner in nested
                for alias in inner.names
            ),
        )
        (module.definitions if binds else module.effects).append(definition)


def standalone_source(package_dir: Path, module: str, function: str) -> str:
    """The source of a script that defines ``function`` of ``module`` and all it needs.

    The script does not call the function: its caller adds the call (a notebook cell ends with
    it, a ``.py`` file under ``if __name__ == "__main__":``).

    Args:
        package_dir: The package's folder; its name is the package's import name.
        module: The topic module, without the package (``conv1d_head``).
        function: The snippet's function (``demo_kernel_size_one_is_a_linear_layer``).

    Raises:
        StandaloneError: A name that two modules define differently, a star import, a function
            the module lacks.

    Examples:
        >>> import refkit, pathlib
        >>> code = standalone_source(pathlib.Path(refkit.__file__).parent, "loss_selection", "demo_cross_entropy_inputs")
        >>> "import torch" in code and "def seed_everything" in code and "refkit" not in code.split("def ")[0]
        True
    """
    return standalone_program(package_dir, [(module, function)])


def standalone_program(package_dir: Path, functions: Sequence[tuple[str, str]]) -> str:
    """One script that defines every ``(module, function)`` given, sharing what they need.

    The functions come last, in the order given; see :func:`standalone_source`.
    """
    reader = _Reader(package_dir)
    roots: list[_Definition] = []
    for module, function in functions:
        top = reader.module(f"{reader.package}.{module}")
        root = top.binding(function)
        if root is None or not isinstance(root.node, ast.FunctionDef):
            raise StandaloneError(f"{top.path}: no function {function!r}")
        roots.append(root)

    imports: dict[str, None] = {}  # import statements, in the order first needed
    chosen: dict[tuple[str, str], _Definition] = {}  # (module, name) -> definition
    defined_by: dict[str, tuple[str, _Definition]] = {}  # name -> (module, definition)
    order: list[_Definition | str] = []  # definitions, and the text of `alias = name` lines
    modules_used: dict[str, None] = {}

    def need(module_name: str, name: str, wanted_at: str) -> None:
        if (module_name, name) in chosen:
            return
        source = reader.module(module_name)
        if name in source.package_imports:
            origin, original = source.package_imports[name]
            need(origin, original, wanted_at)
            if original != name and (module_name, name) not in chosen:
                order.append(f"{name} = {original}\n")  # right after what it names
            if (origin, original) in chosen:
                chosen[(module_name, name)] = chosen[(origin, original)]
            return
        if name in source.imports:
            imports.setdefault(source.imports[name])
            return
        definition = source.binding(name)
        if definition is None:
            return  # a builtin, a local name, or one only an annotation uses
        other = defined_by.get(name)
        if other is not None and other[1] is not definition:
            raise StandaloneError(
                f"{wanted_at}: {name!r} is defined in both {other[0]} and {module_name}; "
                "the standalone copy can hold only one"
            )
        for bound in definition.binds:
            chosen[(module_name, bound)] = definition
            defined_by[bound] = (module_name, definition)
        modules_used.setdefault(module_name)
        where = f"{source.path}:{definition.node.lineno}"
        for local, origin, original in definition.package_imports:
            need(origin, original, where)
            if local != original:
                order.append(f"{local} = {original}\n")
        for used in sorted(definition.uses - _BUILTINS):
            need(module_name, used, where)
        order.append(definition)  # after what it uses: dependencies come first

    for (_, function), root in zip(functions, roots, strict=True):
        need(root.module, function, f"{reader.module(root.module).path}:{root.node.lineno}")
    effects = [effect for name in modules_used for effect in reader.module(name).effects]
    for effect in effects:
        for used in sorted(effect.uses - _BUILTINS):
            need(effect.module, used, f"{reader.module(effect.module).path}:{effect.node.lineno}")
    ordered = [d for d in order if not any(d is root for root in roots)] + effects + roots
    parts = ["from __future__ import annotations\n\n"]
    parts += [f"{statement}\n" for statement in sorted(imports, key=_import_order)]
    texts = (d if isinstance(d, str) else d.text for d in ordered)
    return "".join(parts) + "\n\n" + _join(texts)


def _import_order(statement: str) -> tuple[int, str]:
    return (0 if statement.startswith("import ") else 1, statement)


def _join(texts: Iterable[str]) -> str:
    """Statements with two blank lines between them, as a module is laid out."""
    return "\n\n".join(text.strip("\n") + "\n" for text in texts)
