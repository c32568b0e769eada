"""What a function of a hand-in can reach, read from the hand-in's source on the trusted side; nothing is run.

A grader asks `HandinSource.reach("ops", "square")` and gets every qualified name that function can refer
to: `torch.square`, `torch.nn.functional.gelu`, or `?.square` for an attribute of a value whose origin the check
cannot name (a method of a tensor argument). It walks everything a call can run: the function, the hand-in's own
helpers, classes, decorators and default arguments it reaches, the values behind aliases (`from torch import square
as s`, `_s = torch.square`, `getattr(torch, "square")`), what code stores into containers it reads, what is passed to
the hand-in's own functions, and the hand-in's other modules it imports, transitively. It does not follow the
order code runs in: every binding of a name counts, so it may report a name the function never uses at run time,
never the other way round.

Where it cannot follow the code (eval, exec, getattr with a computed name, a change to an imported module, a
private API, a thread started on import ...) it says where and why, so a grader can answer "could not verify"
instead of granting a point. Module-level code runs on import, before the function: it is read for those places
too, and its names are reported apart (`Reach.on_import`), since a module's own tests may use anything.

It knows Python, not any chapter: which names are forbidden is the grader's business.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import importlib.machinery
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Literal

UNKNOWN_ROOT = "?"
# A hand-in's own modules are small; anything far larger is not read (and so not verified).
MAX_SOURCE_BYTES = 2_000_000
# The grading kit itself: a hand-in has no business with it.
KIT_PACKAGE = "coursekit"

# Builtins that turn strings or scopes into objects, or change objects by name.
_DYNAMIC_BUILTINS = {
    "eval": "uses eval",
    "exec": "uses exec",
    "compile": "uses compile",
    "__import__": "uses __import__",
    "__build_class__": "uses __build_class__",
    "globals": "uses globals()",
    "locals": "uses locals()",
    "vars": "uses vars()",
    "getattr": "uses getattr with a computed name",
    "setattr": "uses setattr",
    "delattr": "uses delattr",
}
# Modules that reach objects by name, rebuild objects from bytes, or run code the check cannot read.
_DYNAMIC_MODULES = frozenset(
    {
        "importlib",
        "ctypes",
        "cffi",
        "gc",
        "inspect",
        "marshal",
        "pickle",
        "shelve",
        "copyreg",
        "dill",
        "cloudpickle",
        "joblib",
        "types",
        "code",
        "codeop",
        "runpy",
        "imp",
        "pkgutil",
        "pydoc",
        "zipimport",
        "subprocess",
        KIT_PACKAGE,
    }
)
_DYNAMIC_NAMES = frozenset(
    {
        ("sys", "modules"),
        ("sys", "path"),
        ("sys", "meta_path"),
        ("sys", "path_hooks"),
        ("sys", "path_importer_cache"),
        ("sys", "settrace"),
        ("sys", "setprofile"),
        ("sys", "exc_info"),
        ("sys", "exception"),
        ("operator", "attrgetter"),
        ("operator", "methodcaller"),
        ("typing", "get_type_hints"),
        ("typing", "ForwardRef"),
        ("string", "Formatter"),
        ("unittest", "mock"),
        ("mock",),
        ("numpy", "load"),
        ("os", "system"),
        ("os", "popen"),
        ("os", "fork"),
        ("os", "forkpty"),
    }
)
_DYNAMIC_PREFIXES = (("os", "exec"), ("os", "spawn"), ("os", "posix_spawn"))
# Started on import, these run code alongside the function later, where the check does not look.
_CONCURRENT_NAMES = frozenset(
    {
        ("threading",),
        ("concurrent",),
        ("multiprocessing",),
        ("asyncio",),
        ("signal",),
        ("sched",),
        ("weakref", "finalize"),
        ("atexit",),
    }
)
# Frame attributes lead to any module's globals without naming them.
_FRAME_ATTRIBUTES = frozenset(
    {"f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame", "gi_frame", "cr_frame", "ag_frame"}
)
_HARMLESS_DUNDERS = frozenset(
    {"__name__", "__doc__", "__init__", "__file__", "__all__", "__version__", "__qualname__", "__debug__"}
)
# Methods Python calls by itself at times the check cannot follow.
_IMPLICIT_METHODS = frozenset({"__del__"})
_BUILTIN_NAMES = frozenset(dir(builtins))
# Values passed on through this many calls still reach the parameter that receives them.
_FLOW_ROUNDS = 20
_CELL_HEADER = re.compile(r"^# %% code cell (\d+)")


@dataclasses.dataclass(frozen=True)
class Reference:
    """A name the code can refer to: "torch.square", or "?.square" for an attribute of a value of unknown origin."""

    name: str
    module: str
    line: int

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.name.split("."))


@dataclasses.dataclass(frozen=True)
class Unverifiable:
    """A place the check cannot follow; `reason` completes "<module>.py line <line> ..."."""

    module: str
    line: int
    reason: str


@dataclasses.dataclass(frozen=True)
class Reach:
    """What a function can refer to, what its modules' import-time code refers to, and where the check cannot tell."""

    references: tuple[Reference, ...]
    on_import: tuple[Reference, ...]
    unverifiable: tuple[Unverifiable, ...]


# --- values and bindings ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _External:
    """Something outside the hand-in (a module, a builtin, or an attribute of one): `path` is its qualified name."""

    path: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _Sibling:
    """One of the hand-in's own modules."""

    module: str


@dataclasses.dataclass(frozen=True)
class _Code:
    """A function, lambda or class the hand-in defines, and the scope it is defined in (both compared by identity)."""

    node: ast.AST
    scope: _Scope


@dataclasses.dataclass(frozen=True)
class _Instance:
    """An instance of a class the hand-in defines (`self` in its methods, or what calling the class made)."""

    cls: _Code


@dataclasses.dataclass(frozen=True)
class _Opaque:
    """A value whose origin is unknown (an argument, a call's result), with the attributes taken of it."""

    attrs: tuple[str, ...] = ()


_Value = _External | _Sibling | _Code | _Instance | _Opaque


@dataclasses.dataclass(eq=False)
class _Binding:
    """One way a name gets a value.

    import: `path` names the module or the name imported from it; def: `node` is the function or class; value:
    `node` is an expression evaluated in `scope`; opaque: the value is unknown, but `node` (if any) runs to make it;
    param: an argument, `node` its default (evaluated in `scope`); self: the first argument of a method; flow:
    what call sites pass to the parameter (`values`).
    """

    kind: Literal["import", "def", "value", "opaque", "param", "self", "flow"]
    scope: _Scope
    node: ast.AST | None = None
    path: tuple[str, ...] = ()
    level: int = 0
    values: tuple[_Value, ...] = ()
    # For a flow: the module and line of the call that passed the values.
    origin: tuple[str, int] = ("", 0)
    # The scope whose name (or whose name's object, for a store) this binding gives a value; set when recorded.
    owner: _Scope | None = None


ScopeKind = Literal["module", "class", "function", "comprehension"]


class _Scope:
    def __init__(self, module: _Module, node: ast.AST, parent: _Scope | None, kind: ScopeKind) -> None:
        self.module = module
        self.node = node
        self.parent = parent
        self.kind = kind
        self.bindings: dict[str, list[_Binding]] = {}
        # What code stores into the object a name holds: d[k] = v, d.x = v, d.append(v).
        self.contents: dict[str, list[_Binding]] = {}
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()
        self.stars: list[tuple[str, ...]] = []
        self.params: list[str] = []

    def add(self, name: str, binding: _Binding) -> None:
        binding.owner = self
        self.bindings.setdefault(name, []).append(binding)

    def store(self, name: str, binding: _Binding) -> None:
        binding.owner = self
        self.contents.setdefault(name, []).append(binding)


class _Module:
    def __init__(self, name: str, tree: ast.Module) -> None:
        self.name = name
        self.tree = tree
        self.scope = _Scope(self, tree, None, "module")
        self.scopes: dict[int, _Scope] = {id(tree): self.scope}
        # Code handed where the check cannot track it (the hand-in's own decorators, stores into arguments):
        # every walk of this module walks it.
        self.escaped: list[_Code] = []
        # Names outside the hand-in stored the same way: every walk of this module reports them.
        self.escaped_names: list[tuple[tuple[str, ...], int]] = []
        # Stores whose target the check cannot name (f()[k] = v): the values escape.
        self.loose_stores: list[_Binding] = []
        self.problems: list[Unverifiable] = []


# --- building the scopes ----------------------------------------------------------------------------------

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPE_NODES = (*_DEFINITIONS, ast.Lambda, *_COMPREHENSIONS)
_Comprehension = ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _own_declarations(body: list[ast.stmt]) -> tuple[set[str], set[str]]:
    """The global and nonlocal declarations of a function body (not of the functions nested in it)."""
    declared_global: set[str] = set()
    declared_nonlocal: set[str] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            declared_nonlocal.update(node.names)
        elif not isinstance(node, _SCOPE_NODES):
            stack.extend(ast.iter_child_nodes(node))
    return declared_global, declared_nonlocal


class _Binder:
    """Records every binding of every scope of one module."""

    def __init__(self, module: _Module) -> None:
        self.module = module
        self.stores: list[tuple[_Scope, str, _Binding]] = []

    def build(self) -> None:
        self.statements(self.module.tree.body, self.module.scope)
        # Stores are attached to the scope that owns the name, once every scope's names are known.
        for scope, name, binding in self.stores:
            owner = _owner(name, scope)
            if owner is None:
                self.module.loose_stores.append(binding)
            elif not all(b.kind == "import" for b in owner.bindings[name]):
                # Calls on an imported module (torch.where(...)) fill nothing; stores into one are reported.
                owner.store(name, binding)

    def bind(self, scope: _Scope, name: str, binding: _Binding) -> None:
        target = scope
        if name in scope.declared_global:
            target = self.module.scope
        elif name in scope.declared_nonlocal:
            parent = scope.parent
            while parent is not None and parent.kind not in ("function", "module"):
                parent = parent.parent
            target = parent or self.module.scope
        target.add(name, binding)

    def store(self, scope: _Scope, target: ast.AST, value: ast.AST) -> None:
        root = _root_name(target)
        binding = _Binding("opaque", scope, value)
        if root is None:
            self.module.loose_stores.append(binding)
        else:
            self.stores.append((scope, root, binding))

    def target(self, scope: _Scope, target: ast.AST, value: ast.AST | None, *, exact: bool) -> None:
        """Bind the names of an assignment target; `exact`: the target receives `value` itself."""
        if isinstance(target, ast.Name):
            kind: Literal["value", "opaque"] = "value" if exact and value is not None else "opaque"
            self.bind(scope, target.id, _Binding(kind, scope, value))
        elif isinstance(target, ast.Tuple | ast.List):
            paired = (
                exact
                and isinstance(value, ast.Tuple | ast.List)
                and len(value.elts) == len(target.elts)
                and not any(isinstance(e, ast.Starred) for e in (*value.elts, *target.elts))
            )
            if paired:
                assert isinstance(value, ast.Tuple | ast.List)
                for element, element_value in zip(target.elts, value.elts, strict=True):
                    self.target(scope, element, element_value, exact=True)
            else:
                for element in target.elts:
                    self.target(scope, element, value, exact=False)
        elif isinstance(target, ast.Starred):
            self.target(scope, target.value, value, exact=False)
        elif isinstance(target, ast.Attribute | ast.Subscript):
            if value is not None:
                self.store(scope, target, value)
            self.expression(target, scope)

    def statements(self, body: Iterable[ast.stmt], scope: _Scope) -> None:
        for statement in body:
            self.statement(statement, scope)

    def statement(self, node: ast.stmt, scope: _Scope) -> None:
        if isinstance(node, _DEFINITIONS):
            self.definition(node, scope)
        elif isinstance(node, ast.Assign):
            self.expression(node.value, scope)
            for target in node.targets:
                self.target(scope, target, node.value, exact=True)
        elif isinstance(node, ast.AnnAssign):
            self.expression(node.annotation, scope)
            if node.value is not None:
                self.expression(node.value, scope)
                self.target(scope, node.target, node.value, exact=True)
        elif isinstance(node, ast.AugAssign):
            self.expression(node.value, scope)
            self.target(scope, node.target, node.value, exact=False)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.expression(node.iter, scope)
            self.target(scope, node.target, node.iter, exact=False)
            self.statements([*node.body, *node.orelse], scope)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                self.expression(item.context_expr, scope)
                if item.optional_vars is not None:
                    self.target(scope, item.optional_vars, item.context_expr, exact=False)
            self.statements(node.body, scope)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                path = tuple(alias.name.split("."))
                name, bound = (alias.asname, path) if alias.asname else (path[0], path[:1])
                self.bind(scope, name, _Binding("import", scope, node, path=bound))
        elif isinstance(node, ast.ImportFrom):
            base = tuple(node.module.split(".")) if node.module else ()
            for alias in node.names:
                if alias.name == "*":
                    scope.stars.append(base if not node.level else ("<relative>",))
                else:
                    binding = _Binding("import", scope, node, path=(*base, alias.name), level=node.level)
                    self.bind(scope, alias.asname or alias.name, binding)
        elif isinstance(node, ast.Try | ast.TryStar):
            self.statements(node.body, scope)
            for handler in node.handlers:
                if handler.type is not None:
                    self.expression(handler.type, scope)
                if handler.name is not None:
                    self.bind(scope, handler.name, _Binding("opaque", scope, None))
                self.statements(handler.body, scope)
            self.statements([*node.orelse, *node.finalbody], scope)
        elif isinstance(node, ast.Match):
            self.expression(node.subject, scope)
            for case in node.cases:
                self.pattern(case.pattern, node.subject, scope)
                if case.guard is not None:
                    self.expression(case.guard, scope)
                self.statements(case.body, scope)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self.statement(child, scope)
                else:
                    self.expression(child, scope)

    def pattern(self, pattern: ast.pattern, subject: ast.expr, scope: _Scope) -> None:
        if isinstance(pattern, ast.MatchClass):
            self.expression(pattern.cls, scope)
            for attribute, inner in zip(pattern.kwd_attrs, pattern.kwd_patterns, strict=True):
                # `case object(square=s)` binds s to subject.square.
                taken = ast.copy_location(ast.Attribute(value=subject, attr=attribute, ctx=ast.Load()), inner)
                self.pattern(inner, taken, scope)
            for inner in pattern.patterns:
                self.pattern(inner, subject, scope)
            return
        if isinstance(pattern, ast.MatchAs) and pattern.name is not None:
            kind: Literal["value", "opaque"] = "value" if pattern.pattern is None else "opaque"
            self.bind(scope, pattern.name, _Binding(kind, scope, subject))
        elif isinstance(pattern, ast.MatchStar) and pattern.name is not None:
            self.bind(scope, pattern.name, _Binding("opaque", scope, subject))
        elif isinstance(pattern, ast.MatchMapping) and pattern.rest is not None:
            self.bind(scope, pattern.rest, _Binding("opaque", scope, subject))
        for child in ast.iter_child_nodes(pattern):
            if isinstance(child, ast.pattern):
                self.pattern(child, subject, scope)
            else:
                self.expression(child, scope)

    def definition(self, node: _Definition, scope: _Scope) -> None:
        for expression in _header(node):
            self.expression(expression, scope)
        if isinstance(node, ast.ClassDef):
            self.statements(node.body, self.child(node, scope, "class"))
        else:
            child = self.child(node, scope, "function")
            child.declared_global, child.declared_nonlocal = _own_declarations(node.body)
            self.parameters(node.args, scope, child, method=scope.kind == "class" and not _is_static(node))
            self.statements(node.body, child)
        self.bind(scope, node.name, _Binding("def", scope, node))

    def parameters(self, args: ast.arguments, outer: _Scope, scope: _Scope, *, method: bool) -> None:
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        named = [*zip(positional, defaults, strict=True), *zip(args.kwonlyargs, args.kw_defaults, strict=True)]
        for index, (arg, default) in enumerate(named):
            if method and index == 0:
                scope.add(arg.arg, _Binding("self", scope))
            else:
                scope.add(arg.arg, _Binding("param", outer, default))
            scope.params.append(arg.arg)
        for rest in (args.vararg, args.kwarg):
            if rest is not None:
                scope.add(rest.arg, _Binding("param", outer))
                scope.params.append(rest.arg)

    def child(self, node: ast.AST, scope: _Scope, kind: ScopeKind) -> _Scope:
        child = _Scope(self.module, node, scope, kind)
        self.module.scopes[id(node)] = child
        return child

    def expression(self, node: ast.AST, scope: _Scope) -> None:
        """Scopes and bindings inside an expression: lambdas, comprehensions, walruses, calls that fill containers."""
        stack: list[ast.AST] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, ast.Lambda):
                for default in _defaults(current.args):
                    self.expression(default, scope)
                child = self.child(current, scope, "function")
                self.parameters(current.args, scope, child, method=False)
                self.expression(current.body, child)
                continue
            if isinstance(current, _COMPREHENSIONS):
                self.comprehension(current, scope)
                continue
            if isinstance(current, ast.NamedExpr):
                target = scope
                while target.kind == "comprehension" and target.parent is not None:
                    target = target.parent  # a walrus in a comprehension binds in the enclosing function
                self.bind(target, current.target.id, _Binding("value", scope, current.value))
            elif isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
                # d.append(v), d.update(k=v), d.setdefault(k, v): v may come back out of d.
                for argument in (*current.args, *(keyword.value for keyword in current.keywords)):
                    self.store(scope, current.func, argument)
            stack.extend(ast.iter_child_nodes(current))

    def comprehension(self, node: _Comprehension, scope: _Scope) -> None:
        self.expression(node.generators[0].iter, scope)
        child = self.child(node, scope, "comprehension")
        for index, generator in enumerate(node.generators):
            if index:
                self.expression(generator.iter, child)
            self.target(child, generator.target, generator.iter, exact=False)
            for condition in generator.ifs:
                self.expression(condition, child)
        for part in [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]:
            self.expression(part, child)


def _defaults(args: ast.arguments) -> list[ast.expr]:
    return [*args.defaults, *(d for d in args.kw_defaults if d is not None)]


def _header(node: _Definition) -> list[ast.expr]:
    """What runs where a definition stands: decorators, bases, defaults, annotations."""
    found = list(node.decorator_list)
    if isinstance(node, ast.ClassDef):
        return found + list(node.bases) + [keyword.value for keyword in node.keywords]
    args = node.args
    found += _defaults(args)
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
        if arg is not None and arg.annotation is not None:
            found.append(arg.annotation)
    if node.returns is not None:
        found.append(node.returns)
    return found


def _is_static(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


def _root_name(node: ast.AST) -> str | None:
    """The name an attribute or subscript chain starts from (`d` in d["k"].x), if it starts from a name."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _owner(name: str, scope: _Scope) -> _Scope | None:
    """The innermost scope that binds `name` as a load in `scope` sees it; None: only builtins or star imports."""
    current: _Scope | None = scope
    first = True
    while current is not None:
        if current.kind == "module":
            return current if name in current.bindings else None
        if name in current.declared_global:
            module = current.module.scope
            return module if name in module.bindings else None
        # A class body's names are not visible in the functions nested in it.
        if (first or current.kind != "class") and name in current.bindings and name not in current.declared_nonlocal:
            return current
        first = False
        current = current.parent
    return None


def _within(scope: _Scope | None, outer: _Scope) -> bool:
    while scope is not None:
        if scope is outer:
            return True
        scope = scope.parent
    return False


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not _is_dunder(name)


@functools.cache
def _installed(top: str) -> bool:
    """Whether a top-level module exists on the trusted side (standard library, built in, or installed)."""
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return True
    try:
        return importlib.machinery.PathFinder.find_spec(top) is not None
    except (ImportError, ValueError, OSError):
        return False


def _is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":`, whose body does not run when the module is imported."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare) or len(node.test.ops) != 1:
        return False
    sides = [node.test.left, node.test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return isinstance(node.test.ops[0], ast.Eq) and has_name and has_main


def _constant_getattr(node: ast.AST) -> tuple[ast.Name, ast.expr, str] | None:
    """(getattr's name node, the object, the attribute) for `getattr(obj, "name"[, default])`."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) in (2, 3)
        and not node.keywords
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
        and not any(isinstance(a, ast.Starred) for a in node.args)
    ):
        return node.func, node.args[0], node.args[1].value
    return None


def dynamic_reason(path: tuple[str, ...]) -> str | None:
    """Why referring to this name outside the hand-in leaves the check unable to follow the code, or None."""
    if not path:
        return None
    if path[0] == "builtins":
        return _DYNAMIC_BUILTINS.get(path[1]) if len(path) > 1 else None
    name = ".".join(path)
    if path[0] == KIT_PACKAGE:
        return f"uses {name}, part of the grading kit"
    if path[0] in _DYNAMIC_MODULES or any(path[: len(entry)] == entry for entry in _DYNAMIC_NAMES):
        return f"uses {name}"
    if len(path) > 1 and any(path[0] == module and path[1].startswith(prefix) for module, prefix in _DYNAMIC_PREFIXES):
        return f"uses {name}"
    for index, part in enumerate(path):
        if _is_private(part):
            private = ".".join(path[: index + 1])
            return f"uses {private}, a private part of {path[0]}" if index else f"imports {private}, a private module"
    return None


# --- the hand-in's source ---------------------------------------------------------------------------------


class HandinSource:
    """The hand-in's modules as the trusted side holds them (module name -> source text), and what they reach."""

    def __init__(self, sources: Mapping[str, str | None]) -> None:
        # None: a module too large to read.
        self.sources = dict(sources)
        self._modules: dict[str, _Module | Unverifiable] | None = None
        self._reaches: dict[tuple[str, str], Reach] = {}

    @classmethod
    def read(cls, directory: Path) -> HandinSource:
        """Every top-level `*.py` regular file of the folder, read without following links."""
        sources: dict[str, str | None] = {}
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                stem = entry.name.removesuffix(".py")
                if entry.name == stem or not stem.isidentifier() or not entry.is_file(follow_symlinks=False):
                    continue
                descriptor = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(descriptor, "rb") as file:
                    data = file.read(MAX_SOURCE_BYTES + 1)
                sources[stem] = None if len(data) > MAX_SOURCE_BYTES else data.decode("utf-8-sig", errors="replace")
        return cls(sources)

    def where(self, module: str, line: int) -> str:
        """ "ops.py line 12", with the notebook's code cell when the module was made from a notebook."""
        text = f"{module}.py" + (f" line {line}" if line else "")
        source = self.sources.get(module)
        if source and line:
            for previous in reversed(source.splitlines()[:line]):
                match = _CELL_HEADER.match(previous)
                if match:
                    return f"{text} (code cell {match.group(1)})"
        return text

    def reach(self, module: str, function: str) -> Reach:
        """What `function` of `module` can refer to when it is called, or where the check cannot tell."""
        key = (module, function)
        if key not in self._reaches:
            try:
                self._reaches[key] = self._compute_reach(module, function)
            except (RecursionError, MemoryError):
                self._reaches[key] = Reach((), (), (Unverifiable(module, 0, "is nested too deeply to read"),))
        return self._reaches[key]

    # -- internals

    def modules(self) -> dict[str, _Module | Unverifiable]:
        """Every module parsed, its bindings recorded, and then what call sites pass to its functions."""
        if self._modules is None:
            self._modules = {}
            for name, source in self.sources.items():
                if source is None:
                    self._modules[name] = Unverifiable(name, 0, f"is larger than {MAX_SOURCE_BYTES // 1000} kB")
                    continue
                try:
                    module = _Module(name, ast.parse(source, filename=f"{name}.py"))
                    _Binder(module).build()
                    self._modules[name] = module
                except SyntaxError as error:
                    self._modules[name] = Unverifiable(name, error.lineno or 0, f"does not parse: {error.msg}")
                except (RecursionError, MemoryError, ValueError):
                    self._modules[name] = Unverifiable(name, 0, "is nested too deeply to read")
            _Flows(self, [m for m in self._modules.values() if isinstance(m, _Module)]).run()
        return self._modules

    def module(self, name: str) -> _Module | Unverifiable:
        return self.modules().get(name) or Unverifiable(name, 0, "is not in the hand-in")

    def import_target(self, binding: _Binding) -> tuple[str, tuple[str, ...]] | _Value:
        """A hand-in module and the names taken from it, or what else an import binds."""
        path = binding.path
        if binding.level:
            return _Opaque()  # a relative import, reported where it stands
        if path and isinstance(self.modules().get(path[0]), _Module):
            return path[0], path[1:]
        return _External(path)

    def _compute_reach(self, module: str, function: str) -> Reach:
        parsed = self.module(module)
        if isinstance(parsed, Unverifiable):
            return Reach((), (), (parsed,))
        walk = _Walker(self)
        if function not in parsed.scope.bindings:
            walk.flag(module, 0, f"does not define {function} where the check can see it")
        walk.enter_name(function, parsed.scope)
        walk.run()
        # Module-level code runs on import, before the function: it may change what any name means.
        init = _Walker(self, on_import=True)
        for name in sorted(walk.modules_seen | {module}):
            init.enter_module(name)
        init.run()
        # The function's own places first, then what its modules do on import.
        ordered = {
            (u.module, u.line, u.reason): u
            for group in (walk.unverifiable, init.unverifiable)
            for u in sorted(group, key=lambda u: (u.module != module, u.module, u.line, u.reason))
        }
        return Reach(walk.sorted_references(), init.sorted_references(), tuple(ordered.values()))


# --- resolving values -------------------------------------------------------------------------------------


class _Resolver:
    """Values of expressions, following bindings; `visit(binding)` hears of every binding it follows.

    `allow_flow(binding)`: whether what call sites passed to a parameter counts where the walk now is (None: always).
    """

    def __init__(
        self,
        handin: HandinSource,
        visit: Callable[[_Binding], None] | None = None,
        allow_flow: Callable[[_Binding], bool] | None = None,
        context: Callable[[], int] = lambda: 0,
    ) -> None:
        self.handin = handin
        self.visit = visit
        self.allow_flow = allow_flow
        self.context = context
        self._active: set[tuple[int, int, int]] = set()
        self._memo: dict[tuple[int, int, int], list[_Value]] = {}

    def name(self, name: str, scope: _Scope) -> list[_Value]:
        values: list[_Value] = []
        owner = _owner(name, scope)
        while owner is not None and owner.kind == "class":
            # A class body sees its own names, and its enclosing scopes' where its own are not bound yet.
            values += self.bindings(owner.bindings[name])
            owner = _owner(name, owner.parent) if owner.parent is not None else None
        if owner is not None:
            values += self.bindings(owner.bindings[name])
            if owner.kind != "module":
                return _unique(values)
        # A module-level binding may not have run (it sits in an if, or runs later): builtins and star imports too.
        module = scope.module
        for base in module.scope.stars:
            values += self.star(module, base, name)
        if name in _BUILTIN_NAMES:
            values.append(_External(("builtins", name)))
        return _unique(values or [_Opaque()])

    def star(self, module: _Module, base: tuple[str, ...], name: str) -> list[_Value]:
        target = self.handin.modules().get(base[0]) if len(base) == 1 else None
        if isinstance(target, _Module):
            if target is not module and name in target.scope.bindings:
                return self.bindings(target.scope.bindings[name])
            return []
        return [_External((*base, name))] if base and base[0] != "<relative>" else [_Opaque()]

    def bindings(self, bindings: list[_Binding]) -> list[_Value]:
        values: list[_Value] = []
        for binding in bindings:
            if binding.kind == "flow" and self.allow_flow is not None and not self.allow_flow(binding):
                continue
            if self.visit is not None:
                self.visit(binding)
            values += self.binding(binding)
        return values

    def binding(self, binding: _Binding) -> list[_Value]:
        if binding.kind == "import":
            target = self.handin.import_target(binding)
            if isinstance(target, tuple):
                module, names = target
                return self.attribute([_Sibling(module)], names)
            return [target]
        if binding.kind == "def":
            assert binding.node is not None
            return [_Code(binding.node, binding.scope)]
        if binding.kind == "flow":
            return list(binding.values)
        if binding.kind == "self":
            cls = binding.scope.parent
            if cls is not None and cls.kind == "class" and cls.parent is not None:
                return [_Instance(_Code(cls.node, cls.parent))]
            return [_Opaque()]
        if binding.kind == "value" and binding.node is not None:
            return self.expression(binding.node, binding.scope)
        if binding.kind == "param" and binding.node is not None:
            return [_Opaque(), *self.expression(binding.node, binding.scope)]
        return [_Opaque()]

    def expression(self, node: ast.AST, scope: _Scope) -> list[_Value]:
        key = (id(node), id(scope), self.context())
        if key in self._memo:
            return self._memo[key]
        if key in self._active:
            return [_Opaque()]  # a cycle: its attributes are still reported, under "?"
        self._active.add(key)
        try:
            values = _unique(self._expression(node, scope))
        finally:
            self._active.discard(key)
        self._memo[key] = values
        return values

    def _expression(self, node: ast.AST, scope: _Scope) -> list[_Value]:
        if isinstance(node, ast.Name):
            return self.name(node.id, scope)
        if isinstance(node, ast.Attribute):
            return self.attribute(self.expression(node.value, scope), (node.attr,))
        constant = _constant_getattr(node)
        if constant is not None and self.may_be_builtin(constant[0], scope):
            return self.attribute(self.expression(constant[1], scope), (constant[2],))
        if isinstance(node, ast.Lambda):
            return [_Code(node, scope)]
        if isinstance(node, ast.NamedExpr):
            return self.expression(node.value, scope)
        if isinstance(node, ast.IfExp):
            return self.expression(node.body, scope) + self.expression(node.orelse, scope)
        if isinstance(node, ast.BoolOp):
            return [value for part in node.values for value in self.expression(part, scope)]
        if isinstance(node, ast.Call):
            values: list[_Value] = []
            for value in self.expression(node.func, scope):
                if isinstance(value, _Code) and isinstance(value.node, ast.ClassDef):
                    values.append(_Instance(value))
                    body = value.scope.module.scopes.get(id(value.node))
                    if value.node.keywords or (body is not None and "__new__" in body.bindings):
                        values.append(_Opaque())  # a metaclass or __new__ may make something else
                else:
                    values.append(_Opaque())
            return values
        return [_Opaque()]

    def attribute(self, values: list[_Value], attrs: tuple[str, ...]) -> list[_Value]:
        if not attrs:
            return values
        result: list[_Value] = []
        for value in values:
            if isinstance(value, _External):
                result.append(_External((*value.path, *attrs)))
            elif isinstance(value, _Opaque):
                result.append(_Opaque((*value.attrs, *attrs)))
            elif isinstance(value, _Sibling):
                module = self.handin.modules().get(value.module)
                if isinstance(module, _Module):
                    result += self.attribute(self.bindings(module.scope.bindings.get(attrs[0], [])), attrs[1:])
            elif isinstance(value, _Instance | _Code):
                cls = value.cls if isinstance(value, _Instance) else value
                body = cls.scope.module.scopes.get(id(cls.node)) if isinstance(cls.node, ast.ClassDef) else None
                if body is not None and attrs[0] in body.bindings:
                    result += self.attribute(self.bindings(body.bindings[attrs[0]]), attrs[1:])
                elif body is not None:
                    result.append(_Opaque(attrs))  # from a base class, or set on the instance
                # Attributes set on the hand-in's functions are stores the walk reads where they happen.
        return result

    def may_be_builtin(self, node: ast.Name, scope: _Scope) -> bool:
        """Whether this name can be the builtin of that name (no function or class binds it)."""
        owner = _owner(node.id, scope)
        return owner is None or owner.kind == "module"


def _unique(values: list[_Value]) -> list[_Value]:
    return list(dict.fromkeys(values))


# --- what call sites pass to the hand-in's own functions ----------------------------------------------------


class _Flows:
    """Binds each parameter of the hand-in's functions to the names and functions passed to it at any call site.

    `register(torch.square)` at one place, `_REGISTRY.append(fn)` inside register, `_REGISTRY[0](x)` in square:
    `fn` then holds torch.square, and square refers to it. Only values the check can name travel (not tensors or results).
    Values passed on through several calls need several rounds, until nothing new arrives. Code stored where the
    check cannot name the container (an argument's, a call result's) escapes: every walk of its module walks it.
    """

    def __init__(self, handin: HandinSource, modules: list[_Module]) -> None:
        self.handin = handin
        self.modules = modules
        self.resolver = _Resolver(handin)
        self.seen: dict[tuple[int, str], set[_Value]] = {}
        self.changed = False
        self.origin = ("", 0)

    def run(self) -> None:
        for _ in range(_FLOW_ROUNDS):
            self.resolver = _Resolver(self.handin)  # what a parameter holds may have grown since the last round
            self.changed = False
            for module in self.modules:
                scopes = list(module.scopes.values())
                for scope in scopes:
                    if isinstance(scope.node, _DEFINITIONS) and scope.parent is not None:
                        self.decorators(scope.node, scope.parent)
                for scope in scopes:
                    for call in _calls_in(scope):
                        self.call(call, scope)
            if not self.changed:
                break
        else:
            for module in self.modules:
                module.problems.append(
                    Unverifiable(module.name, 0, "passes functions on through more calls than the check follows")
                )
        self.resolver = _Resolver(self.handin)
        for module in self.modules:
            for scope in module.scopes.values():
                for name, stored in scope.contents.items():
                    if name in scope.params:
                        self.escape(stored)
            self.escape(module.loose_stores)

    def escape(self, stored: list[_Binding]) -> None:
        for binding in stored:
            if binding.node is not None:
                for value in self.resolver.expression(binding.node, binding.scope):
                    if isinstance(value, _Code):
                        _escape(value)
                    elif isinstance(value, _External):
                        line = getattr(binding.node, "lineno", 0)
                        binding.scope.module.escaped_names.append((value.path, line))

    def decorators(self, node: _Definition, scope: _Scope) -> None:
        decorated = _Code(node, scope)
        self.origin = (scope.module.name, node.lineno)
        for decorator in node.decorator_list:
            factory = decorator.func if isinstance(decorator, ast.Call) else None
            if factory is not None and any(isinstance(v, _Code) for v in self.resolver.expression(factory, scope)):
                _escape(decorated)  # what a decorator factory of the hand-in's made cannot be named
            for value in self.resolver.expression(decorator, scope):
                if isinstance(value, _Code):
                    self.bind_arguments(value, [[decorated]], {})

    def call(self, call: ast.Call, scope: _Scope) -> None:
        callees = [v for v in self.resolver.expression(call.func, scope) if isinstance(v, _Code)]
        if not callees:
            return
        positional = [self.named(argument, scope) for argument in call.args]
        keywords = {keyword.arg: self.named(keyword.value, scope) for keyword in call.keywords}
        starred = any(isinstance(a, ast.Starred) for a in call.args)
        self.origin = (scope.module.name, call.lineno)
        for callee in callees:
            self.bind_arguments(callee, positional, keywords, starred=starred)

    def named(self, node: ast.AST, scope: _Scope) -> list[_Value]:
        if isinstance(node, ast.Starred):
            node = node.value
        return [value for value in self.resolver.expression(node, scope) if not isinstance(value, _Opaque)]

    def bind_arguments(
        self,
        callee: _Code,
        positional: list[list[_Value]],
        keywords: dict[str | None, list[_Value]],
        *,
        starred: bool = False,
    ) -> None:
        node = callee.node
        scopes = callee.scope.module.scopes
        if isinstance(node, ast.ClassDef):
            body = scopes.get(id(node))
            for binding in body.bindings.get("__init__", []) if body is not None else []:
                if binding.kind == "def" and binding.node is not None:
                    self.bind_arguments(_Code(binding.node, binding.scope), positional, keywords, starred=starred)
            return
        target = scopes.get(id(node))
        if target is None or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return
        args = node.args
        everything = [value for values in (*positional, *keywords.values()) for value in values]
        method = any(b.kind == "self" for bs in target.bindings.values() for b in bs)
        if starred or None in keywords or method:
            # f(*a), f(**d), or a method (called bound or not): any parameter may receive any of it.
            for name in target.params:
                self.flow(target, name, everything)
            return
        names = [arg.arg for arg in (*args.posonlyargs, *args.args)]
        for index, values in enumerate(positional):
            if index < len(names):
                self.flow(target, names[index], values)
            elif args.vararg is not None:
                self.flow(target, args.vararg.arg, values)
        for keyword, values in keywords.items():
            if keyword in target.params:
                self.flow(target, keyword, values)
            elif args.kwarg is not None:
                self.flow(target, args.kwarg.arg, values)

    def flow(self, scope: _Scope, name: str, values: list[_Value]) -> None:
        known = self.seen.setdefault((id(scope), name), set())
        new = [value for value in values if value not in known]
        if new:
            known.update(new)
            scope.add(name, _Binding("flow", scope, values=tuple(new), origin=self.origin))
            self.changed = True


def _escape(code: _Code) -> None:
    escaped = code.scope.module.escaped
    if not any(other.node is code.node for other in escaped):
        escaped.append(code)


def _calls_in(scope: _Scope) -> Iterator[ast.Call]:
    """The calls written in a scope's own code (not in the scopes nested in it)."""
    node = scope.node
    stack: list[ast.AST]
    if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        stack = list(node.body)
    elif isinstance(node, ast.Lambda):
        stack = [node.body]
    elif isinstance(node, _COMPREHENSIONS):
        generators = node.generators
        stack = [*(g.target for g in generators), *(c for g in generators for c in g.ifs)]
        stack += [g.iter for g in generators[1:]]
        stack += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    else:
        return
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            yield current
        if isinstance(current, _DEFINITIONS):
            stack.extend(_header(current))  # its body is its own scope
        elif isinstance(current, ast.Lambda):
            stack.extend(_defaults(current.args))
        elif isinstance(current, _COMPREHENSIONS):
            stack.append(current.generators[0].iter)
        else:
            stack.extend(ast.iter_child_nodes(current))


# --- walking what runs ------------------------------------------------------------------------------------


class _Walker:
    """Walks the code a call (or, `on_import`, an import) can run, unit by unit, and records what it refers to."""

    def __init__(self, handin: HandinSource, *, on_import: bool = False) -> None:
        self.handin = handin
        self.on_import = on_import
        self.references: dict[tuple[str, str, int], Reference] = {}
        self.unverifiable: list[Unverifiable] = []
        self.modules_seen: set[str] = set()
        self._queue: list[tuple[str, ast.AST, _Scope, _Scope | None]] = []
        self._done: set[tuple[str, int, int, int]] = set()
        # Which scope's name the value the current unit computes is stored under (None: a function or module runs).
        self._context: _Scope | None = None
        self.resolver = _Resolver(handin, visit=self.follow, allow_flow=self.allows, context=lambda: id(self._context))

    def sorted_references(self) -> tuple[Reference, ...]:
        return tuple(sorted(self.references.values(), key=lambda r: (r.module, r.line, r.name)))

    def flag(self, module: str, line: int, reason: str) -> None:
        self.unverifiable.append(Unverifiable(module, line, reason))

    # -- the work list

    def run(self) -> None:
        while self._queue:
            kind, node, scope, self._context = self._queue.pop()
            if kind == "module":
                self.statements(scope.module.tree.body, scope, top=True)
            elif kind == "expr":
                self.visit(node, scope)
            else:
                self.definition(node, scope)

    def push(self, kind: str, node: ast.AST, scope: _Scope, context: _Scope | None = None) -> None:
        key = (kind, id(node), id(scope), id(context))
        if key not in self._done:
            self._done.add(key)
            self._queue.append((kind, node, scope, context))

    def allows(self, flow: _Binding) -> bool:
        """Whether what call sites passed to a parameter counts here.

        Where the function runs because something called it, the arguments of that call are in the walk already,
        at the call. What other calls passed counts only for a value stored beyond the call (a global, a module's
        container): then any call may have put it there, at import or in an earlier call of the session.
        """
        context = self._context
        return context is not None and not _within(context, flow.scope)

    def enter_name(self, name: str, scope: _Scope) -> None:
        for binding in scope.bindings.get(name, []):
            self.follow(binding)
        for stored in scope.contents.get(name, []):
            self.follow(stored)

    def enter_module(self, name: str) -> None:
        parsed = self.handin.module(name)
        if isinstance(parsed, Unverifiable):
            self.unverifiable.append(parsed)
            return
        self.see_module(parsed)
        self.push("module", parsed.tree, parsed.scope)

    def see_module(self, module: _Module) -> None:
        if module.name not in self.modules_seen:
            self.modules_seen.add(module.name)
            self.unverifiable += module.problems
            for escaped in module.escaped:
                self.reached(escaped)
            for path, line in module.escaped_names:
                self.refer(path, module.scope, line)

    def follow(self, binding: _Binding) -> None:
        """A binding the walk relies on: what runs to make its value runs too."""
        self.see_module(binding.scope.module)
        if binding.kind == "def" and binding.node is not None:
            self.push("def", binding.node, binding.scope)
        elif binding.kind in ("value", "opaque", "param") and binding.node is not None:
            self.push("expr", binding.node, binding.scope, binding.owner)
        elif binding.kind == "import":
            target = self.handin.import_target(binding)
            line = getattr(binding.node, "lineno", 0)
            if isinstance(target, tuple):
                parsed = self.handin.module(target[0])
                if isinstance(parsed, _Module) and not self.on_import:
                    self.see_module(parsed)
                elif isinstance(parsed, _Module):
                    self.enter_module(target[0])
            elif isinstance(target, _External):
                self.refer(target.path, binding.scope, line)
        elif binding.kind == "flow":
            module, line = binding.origin
            origin = self.handin.module(module)
            for value in binding.values:
                self.reached(value)
                if isinstance(value, _External) and isinstance(origin, _Module):
                    self.refer(value.path, origin.scope, line)

    def reached(self, value: _Value) -> None:
        if isinstance(value, _Code):
            self.push("def", value.node, value.scope)
        elif isinstance(value, _Instance):
            self.push("def", value.cls.node, value.cls.scope)
        elif isinstance(value, _Sibling):
            parsed = self.handin.module(value.module)
            if isinstance(parsed, _Module):
                self.see_module(parsed)

    # -- units

    def definition(self, node: ast.AST, scope: _Scope) -> None:
        """A function or class the walk reached: all of it, every method included (any of them may be called)."""
        if isinstance(node, ast.Lambda):
            self.visit(node, scope)
            return
        assert isinstance(node, _DEFINITIONS)
        for expression in _header(node):
            self.visit(expression, scope)
        own = scope.module.scopes[id(node)]
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                if isinstance(statement, _DEFINITIONS):
                    self.push("def", statement, own)
        elif node.name in _IMPLICIT_METHODS and scope.kind == "class":
            self.flag(scope.module.name, node.lineno, f"defines {node.name}, which Python calls at times of its own")
        self.statements(node.body, own)

    def statements(self, body: list[ast.stmt], scope: _Scope, *, top: bool = False) -> None:
        for statement in body:
            if top and _is_main_guard(statement):
                assert isinstance(statement, ast.If)
                self.statements(statement.orelse, scope, top=True)
            else:
                self.visit(statement, scope)

    # -- nodes

    def visit(self, node: ast.AST, scope: _Scope) -> None:
        handler = getattr(self, f"visit_{type(node).__name__}", None)
        if handler is not None:
            handler(node, scope)
        else:
            for child in ast.iter_child_nodes(node):
                self.visit(child, scope)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: _Scope) -> None:
        for expression in _header(node):
            self.visit(expression, scope)
        # Its body runs when something calls it; the walk gets there through a name that reaches it.

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef, scope: _Scope) -> None:
        if self.on_import:
            self.push("def", node, scope)  # on import, the whole class: its methods may run on import too
            return
        for expression in _header(node):
            self.visit(expression, scope)
        self.statements(node.body, scope.module.scopes[id(node)])

    def visit_Lambda(self, node: ast.Lambda, scope: _Scope) -> None:
        for default in _defaults(node.args):
            self.visit(default, scope)
        self.visit(node.body, scope.module.scopes[id(node)])

    def visit_scoped_comprehension(self, node: _Comprehension, scope: _Scope) -> None:
        own = scope.module.scopes[id(node)]
        for index, generator in enumerate(node.generators):
            self.visit(generator.iter, scope if index == 0 else own)
            self.visit(generator.target, own)
            for condition in generator.ifs:
                self.visit(condition, own)
        for part in [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]:
            self.visit(part, own)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_scoped_comprehension

    def visit_Import(self, node: ast.Import, scope: _Scope) -> None:
        for alias in node.names:
            self.imported(tuple(alias.name.split(".")), node, scope)

    def visit_ImportFrom(self, node: ast.ImportFrom, scope: _Scope) -> None:
        if node.level:
            self.flag(scope.module.name, node.lineno, "uses a relative import")
            return
        base = tuple((node.module or "").split("."))
        self.imported(base, node, scope)
        if base[0] not in self.handin.sources:
            for alias in node.names:
                if alias.name != "*":
                    self.refer((*base, alias.name), scope, node.lineno)

    def imported(self, path: tuple[str, ...], node: ast.stmt, scope: _Scope) -> None:
        """An import statement that runs: a module of the hand-in runs its own module-level code."""
        if path[0] in self.handin.sources:
            if self.on_import:
                self.enter_module(path[0])
            else:
                parsed = self.handin.module(path[0])
                if isinstance(parsed, _Module):
                    self.see_module(parsed)
        elif not _installed(path[0]):
            self.flag(
                scope.module.name, node.lineno, f"imports {path[0]}, which is neither in the hand-in nor installed"
            )
        elif _is_private(path[0]) or path[0] == KIT_PACKAGE:
            self.refer(path, scope, node.lineno)
        # Importing an installed module does nothing the check must see; using it is what the walk follows.

    def visit_Name(self, node: ast.Name, scope: _Scope) -> None:
        if isinstance(node.ctx, ast.Load):
            self.load(node.id, scope, node.lineno)

    def load(self, name: str, scope: _Scope, line: int) -> None:
        if _is_dunder(name) and name not in _HARMLESS_DUNDERS and name not in _DYNAMIC_BUILTINS:
            self.flag(scope.module.name, line, f"uses {name}")
        owner = _owner(name, scope)
        if owner is not None:
            for stored in owner.contents.get(name, []):
                self.follow(stored)
        for value in self.resolver.name(name, scope):
            self.reached(value)
            self.record(value, scope, line)

    def visit_Attribute(self, node: ast.Attribute, scope: _Scope) -> None:
        self.chain(node, scope)

    def visit_Subscript(self, node: ast.Subscript, scope: _Scope) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.store(node, scope)
        self.visit(node.value, scope)
        self.visit(node.slice, scope)

    def visit_Call(self, node: ast.Call, scope: _Scope) -> None:
        constant = _constant_getattr(node)
        if constant is not None and self.resolver.may_be_builtin(constant[0], scope):
            if _owner("getattr", scope) is not None:
                self.flag(scope.module.name, node.lineno, "rebinds getattr")
            self.chain(node, scope)
            for extra in node.args[2:]:
                self.visit(extra, scope)
            return
        for child in ast.iter_child_nodes(node):
            self.visit(child, scope)

    def chain(self, node: ast.AST, scope: _Scope) -> None:
        """An attribute chain (a.b.c, getattr(a, "b").c): record the whole name, walk what it starts from."""
        attrs: list[str] = []
        current = node
        while True:
            constant = _constant_getattr(current)
            if isinstance(current, ast.Attribute):
                attrs.append(current.attr)
                current = current.value
            elif constant is not None and self.resolver.may_be_builtin(constant[0], scope):
                attrs.append(constant[2])
                current = constant[1]
            else:
                break
        line = getattr(node, "lineno", 0)
        for attr in attrs:
            if (_is_dunder(attr) and attr not in _HARMLESS_DUNDERS) or attr in _FRAME_ATTRIBUTES:
                self.flag(scope.module.name, line, f"uses {attr}")
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
            self.store(node, scope)
        self.visit(current, scope)
        for value in self.resolver.attribute(self.resolver.expression(current, scope), tuple(reversed(attrs))):
            self.reached(value)
            self.record(value, scope, line)

    def store(self, node: ast.Attribute | ast.Subscript, scope: _Scope) -> None:
        """A store into an imported module (torch.exp = ..., PROBES[k] = ...) changes code the check cannot see."""
        for value in self.resolver.expression(node.value, scope):
            if isinstance(value, _External | _Sibling):
                container = ".".join(value.path) if isinstance(value, _External) else value.module
                owner = value.path[0] if isinstance(value, _External) else f"{value.module}.py"
                what = f"{container}.{node.attr}" if isinstance(node, ast.Attribute) else f"an item of {container}"
                self.flag(scope.module.name, node.lineno, f"changes {what}, which belongs to {owner}")
                return

    # -- what a name refers to

    def record(self, value: _Value, scope: _Scope, line: int) -> None:
        if isinstance(value, _External):
            self.refer(value.path, scope, line)
        elif isinstance(value, _Opaque) and value.attrs:
            self.add_reference(".".join((UNKNOWN_ROOT, *value.attrs)), scope, line)

    def refer(self, path: tuple[str, ...], scope: _Scope, line: int) -> None:
        reason = dynamic_reason(path)
        concurrent = any(len(path) > 1 and path[: len(entry)] == entry for entry in _CONCURRENT_NAMES)
        if reason is None and self.on_import and concurrent:
            reason = f"uses {'.'.join(path)} on import, which can run code alongside the function later"
        if reason is not None:
            self.flag(scope.module.name, line, reason)
        self.add_reference(".".join(path), scope, line)

    def add_reference(self, name: str, scope: _Scope, line: int) -> None:
        module = scope.module.name
        self.references.setdefault((name, module, line), Reference(name, module, line))
