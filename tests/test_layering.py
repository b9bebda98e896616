"""The floors of gdl, enforced from the source (ARCHITECTURE.md draws them).

Every module under ``gdl/`` is parsed with :mod:`ast`. Every import it can make is resolved to an absolute module
name and checked: module-level imports, imports inside functions (lazy), imports under ``if TYPE_CHECKING:``,
``importlib.import_module(...)`` / ``__import__(...)`` calls (string literals, or f-strings whose fixed prefix ends
at a package dot), and the ``_LAZY_EXPORTS`` table (``{"submodule": ("name", ...)}``) that a lazy package
``__init__`` resolves in its module ``__getattr__`` (PEP 562). Relative imports are resolved against the importing module's package.

The rules (``FLOORS`` below is the table the messages quote):

* ``gdl.core`` imports nothing else in gdl.
* Foundation ``gdl.symmetries``, ``gdl.meshes``, ``gdl.testing``: core and each other (without cycles).
* Domains ``gdl.grids``, ``gdl.groups``, ``gdl.graphs``, ``gdl.geodesics``, ``gdl.gauges``: core and the foundation,
  plus ``gdl.groups`` → ``gdl.grids`` (p4 = Z² ⋊ C4).
* ``gdl.datasets``: core, foundation, domains (never experiments, train or the CLI).
* ``gdl.experiments``: core, foundation, domains, datasets, train.
* ``gdl.train``: core only (it knows no domain).
* ``gdl.cli`` and ``gdl.__main__``: anything. ``gdl/__init__.py`` imports nothing (``import gdl`` stays light).
* e3nn only inside ``gdl.groups``; geoopt only inside ``gdl.geodesics``; torch_geometric never in ``gdl.core`` (nor
  in ``gdl.train``, which knows no domain).
* No import cycle between files (module-level imports), none through lazy imports either, none between packages.
* A gdl import must name a module that exists, and a dynamic import must be one the checker can follow.

The checker takes any ``gdl`` directory, so the self-tests run it on synthetic trees with one planted violation
each: the real-tree test cannot pass because the checker went blind.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

GDL_ROOT = Path(__file__).resolve().parents[1] / "gdl"

CORE = "gdl.core"
FOUNDATION = frozenset({"gdl.symmetries", "gdl.meshes", "gdl.testing", "gdl.representations"})
DOMAINS = frozenset({"gdl.grids", "gdl.groups", "gdl.graphs", "gdl.geodesics", "gdl.gauges"})
DATASETS, EXPERIMENTS, TRAIN = "gdl.datasets", "gdl.experiments", "gdl.train"
TOP = frozenset({"gdl.cli", "gdl.__main__"})
EVERYTHING = frozenset({CORE, DATASETS, EXPERIMENTS, TRAIN}) | FOUNDATION | DOMAINS | TOP


def _names(units) -> str:
    return ", ".join(sorted(units))


# unit → (the units it may import besides itself, the rule in words)
FLOORS: dict[str, tuple[frozenset[str], str]] = {
    "gdl": (frozenset(), "gdl/__init__.py imports no gdl package (import gdl stays light)"),
    CORE: (frozenset(), "gdl.core imports nothing else in gdl"),
    **{
        unit: (frozenset({CORE}) | FOUNDATION, f"foundation {unit} may import only gdl.core and the foundation ({_names(FOUNDATION)})")
        for unit in FOUNDATION
    },
    **{
        unit: (frozenset({CORE}) | FOUNDATION, f"domain {unit} may import only gdl.core and the foundation ({_names(FOUNDATION)})")
        for unit in DOMAINS - {"gdl.groups"}
    },
    "gdl.groups": (
        frozenset({CORE, "gdl.grids"}) | FOUNDATION,
        f"domain gdl.groups may import only gdl.core, the foundation ({_names(FOUNDATION)}) and gdl.grids (p4 = Z² ⋊ C4)",
    ),
    DATASETS: (
        frozenset({CORE}) | FOUNDATION | DOMAINS,
        "gdl.datasets may import only gdl.core, the foundation and the domains (never experiments, train or the CLI)",
    ),
    EXPERIMENTS: (
        frozenset({CORE, DATASETS, TRAIN}) | FOUNDATION | DOMAINS,
        "gdl.experiments may import core, the foundation, the domains, gdl.datasets and gdl.train (not the CLI)",
    ),
    TRAIN: (frozenset({CORE}), "gdl.train may import only gdl.core (it knows no domain)"),
    "gdl.cli": (EVERYTHING, "the CLI sits at the top"),
    "gdl.__main__": (EVERYTHING, "gdl.__main__ sits at the top"),
}

# third-party package → (the units allowed to import it, the rule). None: allowed everywhere except `NEVER_IN`.
ONLY_INSIDE: dict[str, tuple[frozenset[str], str]] = {
    "e3nn": (frozenset({"gdl.groups"}), "e3nn is imported only inside gdl.groups"),
    "geoopt": (frozenset({"gdl.geodesics"}), "geoopt is imported only inside gdl.geodesics"),
}
NEVER_IN: dict[str, tuple[frozenset[str], str]] = {
    "torch_geometric": (frozenset({CORE, TRAIN}), "torch_geometric is never imported in gdl.core or gdl.train"),
}
# (file relative to gdl/'s parent, third-party package) → why this file must import it. Keep empty if possible.
THIRD_PARTY_EXCEPTIONS: dict[tuple[str, str], str] = {}

DYNAMIC_IMPORTERS = {"import_module", "__import__"}
LAZY_TABLE = "_LAZY_EXPORTS"
LAZY_HELPER = "_lazy_exports"  # gdl._lazy_exports(__name__, _LAZY_EXPORTS) -> (__getattr__, __dir__)


@dataclass(frozen=True)
class Import:
    """One import a module can make: where it is written and what it resolves to."""

    path: str  # the file, relative to gdl/'s parent: "gdl/graphs/egnn.py"
    line: int
    importer: str  # the importing module: "gdl.graphs.egnn"
    target: str  # the absolute module imported: "gdl.symmetries.permutations", "torch_geometric.utils"
    text: str  # the statement as written
    lazy: bool  # runs later than module import: in a function body, or through a lazy-export table
    type_only: bool = False  # under `if TYPE_CHECKING:` (never runs; counts for the floors, not for cycles)

    def where(self) -> str:
        kind = "type-checking" if self.type_only else "lazy" if self.lazy else "module-level"
        return f"{self.path}:{self.line}: `{self.text}` ({kind} import of {self.target})"


@dataclass(frozen=True)
class Problem:
    """An import the checker cannot follow (it is a violation too: the rules must see every import)."""

    path: str
    line: int
    text: str
    why: str


def unit_of(module: str) -> str:
    """The floor unit a module belongs to: ``gdl.graphs.egnn`` → ``gdl.graphs``; ``gdl`` → ``gdl``."""
    parts = module.split(".")
    return ".".join(parts[:2])


def module_names(root: Path) -> dict[str, Path]:
    """Every module under the ``gdl`` directory ``root``, by dotted name (packages by their ``__init__.py``)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _segment(source: str, node: ast.AST) -> str:
    text = " ".join((ast.get_source_segment(source, node) or "").split())
    return text if len(text) <= 140 else text[:137] + "..."


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, path: str, source: str, modules: set[str]):
        self.module, self.path, self.source, self.modules = module, path, source, modules
        self.package = module if is_package else module.rpartition(".")[0]
        self.function_depth = 0
        self.type_checking = 0
        self.imports: list[Import] = []
        self.problems: list[Problem] = []

    # -- where we are ---------------------------------------------------------------------------------------------
    def _nested(self, node):
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _nested

    def visit_If(self, node: ast.If):
        if _is_type_checking(node.test):
            self.visit(node.test)
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    # -- resolution -----------------------------------------------------------------------------------------------
    def _absolute(self, name: str | None, level: int) -> str | None:
        if level == 0:
            return name
        base = self.package.split(".")
        if level - 1 >= len(base):
            return None
        base = base[: len(base) - (level - 1)]
        return ".".join(base + ([name] if name else []))

    def _add(self, node: ast.AST, target: str, text: str | None = None, lazy: bool | None = None):
        self.imports.append(
            Import(
                self.path, node.lineno, self.module, target, text or _segment(self.source, node),
                self.function_depth > 0 if lazy is None else lazy, self.type_checking > 0,
            )
        )

    def _from(self, node: ast.AST, base: str, names: list[str], text: str | None = None, lazy: bool | None = None):
        targets = {f"{base}.{name}" if name != "*" and f"{base}.{name}" in self.modules else base: None for name in names}
        for target in targets:
            self._add(node, target, text, lazy)

    def _problem(self, node: ast.AST, why: str):
        self.problems.append(Problem(self.path, node.lineno, _segment(self.source, node), why))

    # -- the imports ----------------------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom):
        base = self._absolute(node.module, node.level)
        if base is None:
            self._problem(node, "relative import beyond the top-level package")
            return
        self._from(node, base, [alias.name for alias in node.names])

    def _static_module(self, node: ast.expr) -> str | None:
        """A literal module name, or the package named by an f-string's fixed prefix ending at a dot."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            prefix = ""
            for part in node.values:
                if isinstance(part, ast.Constant):
                    prefix += part.value
                elif isinstance(part.value, ast.Name) and part.value.id == "__name__" and part.format_spec is None:
                    prefix += self.module
                elif isinstance(part.value, ast.Name) and part.value.id == "__package__" and part.format_spec is None:
                    prefix += self.package
                else:
                    break
            else:
                return prefix
            if prefix.endswith("."):  # f".{x}" → the package itself; f"gdl.experiments.{x}" → gdl.experiments
                return prefix if set(prefix) == {"."} else prefix[:-1]
        return None

    def visit_Call(self, node: ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name == LAZY_HELPER and not (len(node.args) >= 2 and isinstance(node.args[1], ast.Name)
                                         and node.args[1].id == LAZY_TABLE):
            self._problem(node, f"{LAZY_HELPER}() takes the package's module-level {LAZY_TABLE} table by that name")
        if name in DYNAMIC_IMPORTERS and node.args:
            module = self._static_module(node.args[0])
            if module is None:
                self._problem(node, f"{name}() of a name the layering test cannot resolve: use a literal module "
                                    "name, or an f-string whose fixed prefix ends at a package dot")
            else:
                level = len(module) - len(module.lstrip("."))
                resolved = self._absolute(module.lstrip(".") or None, level) if level else module
                if resolved is None:
                    self._problem(node, "relative import beyond the top-level package")
                else:
                    self._add(node, resolved)
        self.generic_visit(node)

    def _lazy_table(self, node: ast.Assign | ast.AnnAssign):
        table = node.value
        if not isinstance(table, ast.Dict):
            self._problem(node, f"{LAZY_TABLE} must be a dict literal {{'submodule': ('name', ...)}}")
            return
        for key, value in zip(table.keys, table.values):
            module = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
            names = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
            if (module is None or not all(part.isidentifier() for part in module.split(".")) or names is None
                    or not all(isinstance(n, ast.Constant) and isinstance(n.value, str) for n in names)):
                self._problem(key or node, f"{LAZY_TABLE} entries must be literals 'submodule': ('name', ...), "
                                           "the submodule named relative to this package")
                continue
            text = f"{LAZY_TABLE}[{module!r}] → from .{module} import " + ", ".join(n.value for n in names)
            self._from(key, f"{self.package}.{module}", [n.value for n in names], text=text, lazy=True)

    def visit_Assign(self, node: ast.Assign):
        if self.function_depth == 0 and any(isinstance(t, ast.Name) and t.id == LAZY_TABLE for t in node.targets):
            self._lazy_table(node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign):
        if self.function_depth == 0 and isinstance(node.target, ast.Name) and node.target.id == LAZY_TABLE:
            self._lazy_table(node)
        self.generic_visit(node)


def scan(root: Path = GDL_ROOT) -> tuple[list[Import], list[Problem], dict[str, Path]]:
    """Every import under the ``gdl`` directory ``root``, the ones the checker could not follow, and the modules."""
    modules = module_names(root)
    imports, problems = [], []
    for module, path in modules.items():
        source = path.read_text(encoding="utf-8")
        relative = path.relative_to(root.parent).as_posix()
        collector = _Collector(module, path.name == "__init__.py", relative, source, set(modules))
        collector.visit(ast.parse(source, filename=relative))
        imports += collector.imports
        problems += collector.problems
    return imports, problems, modules


# -- the rules ------------------------------------------------------------------------------------------------------
def floor_violations(imports: list[Import], modules: dict[str, Path]) -> list[str]:
    """Imports of gdl modules that break the floors, or that name no module."""
    found = []
    for imp in imports:
        if imp.target.split(".")[0] != "gdl":
            continue
        source, target = unit_of(imp.importer), unit_of(imp.target)
        if imp.target not in modules:
            found.append(f"{imp.where()}: no module {imp.target} exists under gdl/ [rule: gdl imports name real modules]")
        if source not in FLOORS:
            found.append(f"{imp.where()}: package {source} has no floor: add it to FLOORS in tests/test_layering.py "
                         "and to ARCHITECTURE.md [rule: every package has a floor]")
            continue
        if target == source or imp.target == "gdl":
            continue  # inside the unit, or the root package (already imported as everyone's parent)
        allowed, rule = FLOORS[source]
        if target not in allowed:
            found.append(f"{imp.where()}: {source} → {target} [rule: {rule}]")
    return found


def third_party_violations(imports: list[Import]) -> list[str]:
    found = []
    for imp in imports:
        top, source = imp.target.split(".")[0], unit_of(imp.importer)
        if (imp.path, top) in THIRD_PARTY_EXCEPTIONS:
            continue
        if top in ONLY_INSIDE and source not in ONLY_INSIDE[top][0]:
            found.append(f"{imp.where()}: {top} imported in {source} [rule: {ONLY_INSIDE[top][1]}]")
        if top in NEVER_IN and source in NEVER_IN[top][0]:
            found.append(f"{imp.where()}: {top} imported in {source} [rule: {NEVER_IN[top][1]}]")
    return found


def problem_violations(problems: list[Problem]) -> list[str]:
    return [f"{p.path}:{p.line}: `{p.text}`: {p.why} [rule: every import is one the layering test can follow]"
            for p in problems]


def _module_edges(imports: list[Import], modules: dict[str, Path], lazy: bool) -> dict[str, dict[str, Import]]:
    """File graph: importer → {imported module: the first import making the edge}.

    Importing ``gdl.a.b`` also runs ``gdl/a/__init__.py`` unless that package is the importer or one of its parents
    (then it is already in ``sys.modules``), so those implicit edges are added with the same import as witness.
    """
    edges: dict[str, dict[str, Import]] = {module: {} for module in modules}
    for imp in imports:
        if imp.type_only or (imp.lazy and not lazy) or imp.target.split(".")[0] != "gdl" or imp.target not in modules:
            continue
        parts = imp.target.split(".")
        for depth in range(2, len(parts) + 1):
            module = ".".join(parts[:depth])
            is_ancestor = imp.importer == module or imp.importer.startswith(module + ".")
            if module == imp.target and module == imp.importer:
                continue  # a module importing itself (f".{x}" in an __init__) adds nothing
            if module != imp.target and is_ancestor:
                continue
            edges[imp.importer].setdefault(module, imp)
    return edges


def _strongly_connected(graph: dict[str, dict]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one node (or a self-loop)."""
    index, low, stack, on_stack, components, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, {}):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, {}):
                components.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return components


def _a_cycle(graph: dict[str, dict], component: list[str]) -> list[str]:
    """One simple cycle through the component's first node (breadth-first, so a shortest one)."""
    members, start = set(component), component[0]
    previous, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for node in frontier:
            for succ in sorted(graph.get(node, {})):
                if succ == start:
                    path = [node]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if succ in members and succ not in previous:
                    previous[succ] = node
                    nxt.append(succ)
        frontier = nxt
    return [start, start]


def cycle_violations(imports: list[Import], modules: dict[str, Path]) -> list[str]:
    """Cycles between files (module-level, then through lazy imports too) and between packages."""
    found = []
    eager = _module_edges(imports, modules, lazy=False)
    eager_cyclic = set()
    for kind, graph in (("module-level", eager), ("through lazy imports", _module_edges(imports, modules, lazy=True))):
        for component in _strongly_connected(graph):
            if kind != "module-level" and set(component) <= eager_cyclic:
                continue
            eager_cyclic.update(component if kind == "module-level" else ())
            cycle = _a_cycle(graph, component)
            steps = " → ".join(graph[a][b].where() for a, b in zip(cycle, cycle[1:]))
            found.append(f"import cycle {kind} between {' → '.join(cycle)}: {steps} [rule: no import cycle between files]")
    units: dict[str, dict[str, Import]] = {}
    for imp in imports:
        if imp.type_only or imp.target.split(".")[0] != "gdl" or imp.target not in modules:
            continue
        source, target = unit_of(imp.importer), unit_of(imp.target)
        if source != target and "gdl" not in (source, target):
            units.setdefault(source, {}).setdefault(target, imp)
    for component in _strongly_connected(units):
        cycle = _a_cycle(units, component)
        steps = " → ".join(units[a][b].where() for a, b in zip(cycle, cycle[1:]))
        found.append(f"package cycle between {' → '.join(cycle)}: {steps} [rule: no import cycle between packages]")
    return found


def all_violations(root: Path = GDL_ROOT) -> list[str]:
    imports, problems, modules = scan(root)
    return (problem_violations(problems) + floor_violations(imports, modules) + third_party_violations(imports)
            + cycle_violations(imports, modules))


def _report(violations: list[str]) -> str:
    return f"{len(violations)} layering violation(s) (see ARCHITECTURE.md):\n  " + "\n  ".join(violations)


# -- the real tree --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_tree():
    return scan(GDL_ROOT)


def test_the_scan_sees_the_whole_tree(real_tree):
    imports, _, modules = real_tree
    assert len(modules) == len(list(GDL_ROOT.rglob("*.py")))
    importers = {imp.importer for imp in imports}
    for module in ("gdl.core.module", "gdl.graphs", "gdl.groups.gconv", "gdl.experiments.base"):
        assert module in importers, f"the scan found no import in {module}"
    assert any(imp.lazy for imp in imports), "the scan found no lazy (function-level) import at all"
    assert any(imp.target.startswith("e3nn") and unit_of(imp.importer) == "gdl.groups" for imp in imports)
    assert any(imp.target.startswith("geoopt") and unit_of(imp.importer) == "gdl.geodesics" for imp in imports)
    assert set(FLOORS) >= {unit_of(module) for module in modules}, "a package has no floor in FLOORS"


def test_no_import_the_checker_cannot_follow(real_tree):
    _, problems, _ = real_tree
    violations = problem_violations(problems)
    assert not violations, _report(violations)


def test_floors(real_tree):
    imports, _, modules = real_tree
    violations = floor_violations(imports, modules)
    assert not violations, _report(violations)


def test_heavy_packages_stay_in_their_domain(real_tree):
    imports, _, _ = real_tree
    violations = third_party_violations(imports)
    assert not violations, _report(violations)


def test_no_import_cycles(real_tree):
    imports, _, modules = real_tree
    violations = cycle_violations(imports, modules)
    assert not violations, _report(violations)


# -- the checker on synthetic trees: each planted violation is reported, with its file, line, import and rule ----
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    base = {
        "gdl/__init__.py": '"""gdl."""\n',
        "gdl/core/__init__.py": "from .module import Module\n",
        "gdl/core/module.py": "import torch\n\n\nclass Module:\n    pass\n",
        "gdl/symmetries/__init__.py": "from gdl.core import Module\n",
        "gdl/meshes/__init__.py": "from gdl.symmetries import Module\n",
        "gdl/testing/__init__.py": "",
        "gdl/grids/__init__.py": "from .conv import Conv\n",
        "gdl/grids/conv.py": "from ..core import Module\n\n\nclass Conv(Module):\n    pass\n",
        "gdl/groups/__init__.py": "from gdl.grids.conv import Conv\n",
        "gdl/groups/e3.py": "import e3nn\n",
        "gdl/graphs/__init__.py": "from . import layers\n",
        "gdl/graphs/layers.py": "import torch_geometric\nfrom gdl.symmetries import Module\n",
        "gdl/geodesics/__init__.py": "import geoopt\n",
        "gdl/gauges/__init__.py": "",
        "gdl/datasets/__init__.py": "import importlib\n\n_LAZY_EXPORTS = {'mnist': ('load_mnist',)}\n\n\n"
                                    "def __getattr__(name):\n    return importlib.import_module(f'.{name}', __name__)\n",
        "gdl/datasets/mnist.py": "def load_mnist():\n    from gdl.graphs.layers import torch_geometric\n",
        "gdl/experiments/__init__.py": "import importlib\n\n\ndef load(name):\n"
                                       "    return importlib.import_module(f'gdl.experiments.{name}')\n",
        "gdl/experiments/shift.py": "from gdl.datasets import load_mnist\nfrom gdl.train import fit\n",
        "gdl/train/__init__.py": "from gdl.core import Module\n\n\ndef fit():\n    pass\n",
        "gdl/cli.py": "from gdl.experiments import load\n",
    }
    for name, text in {**base, **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "gdl"


def test_checker_passes_a_clean_tree(tmp_path):
    violations = all_violations(_tree(tmp_path, {}))
    assert not violations, _report(violations)


PLANTED = {
    "domain imports a domain": (
        {"gdl/graphs/layers.py": "import torch_geometric\n\nfrom gdl.geodesics import dist\n"},
        "gdl/graphs/layers.py:3", "from gdl.geodesics import dist", "domain gdl.graphs may import only"),
    "lazy import of datasets from a domain": (
        {"gdl/gauges/gem.py": "import torch\n\n\ndef example():\n    from gdl.datasets.mnist import load_mnist\n"},
        "gdl/gauges/gem.py:5", "from gdl.datasets.mnist import load_mnist", "(lazy import"),
    "relative import climbing into datasets": (
        {"gdl/grids/pool.py": "from ..datasets import mnist\n"},
        "gdl/grids/pool.py:1", "from ..datasets import mnist", "gdl.grids → gdl.datasets"),
    "import_module string": (
        {"gdl/groups/gconv.py": "import importlib\n\n\ndef f():\n    return importlib.import_module('gdl.experiments')\n"},
        "gdl/groups/gconv.py:5", "importlib.import_module('gdl.experiments')", "gdl.groups → gdl.experiments"),
    "core imports a domain under TYPE_CHECKING": (
        {"gdl/core/module.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from gdl.graphs import layers\n"},
        "gdl/core/module.py:4", "from gdl.graphs import layers", "gdl.core imports nothing else in gdl"),
    "a cycle through a lazy-export table": (
        {"gdl/meshes/__init__.py": "_LAZY_EXPORTS = {\n    'mesh': ('Mesh',),\n}\n",
         "gdl/meshes/mesh.py": "from gdl.meshes import wrap_angle\n"},
        "gdl/meshes/__init__.py:2", "_LAZY_EXPORTS['mesh'] → from .mesh import Mesh", "import cycle through lazy imports"),
    "a lazy-export table the checker cannot read": (
        {"gdl/meshes/__init__.py": "_LAZY_EXPORTS = {\n    '..gauges': ('GEM',),\n}\n"},
        "gdl/meshes/__init__.py:2", "'..gauges'", "entries must be literals"),
    "datasets imports experiments": (
        {"gdl/datasets/mnist.py": "from gdl.experiments import shift\n"},
        "gdl/datasets/mnist.py:1", "from gdl.experiments import shift", "gdl.datasets may import only"),
    "train imports a domain": (
        {"gdl/train/__init__.py": "def fit():\n    import gdl.graphs\n"},
        "gdl/train/__init__.py:2", "import gdl.graphs", "gdl.train may import only gdl.core"),
    "grids imports groups": (
        {"gdl/grids/conv.py": "from gdl.groups import e3\n"},
        "gdl/grids/conv.py:1", "from gdl.groups import e3", "domain gdl.grids may import only"),
    "e3nn outside groups": (
        {"gdl/graphs/egnn.py": "def f():\n    from e3nn import o3\n"},
        "gdl/graphs/egnn.py:2", "from e3nn import o3", "e3nn is imported only inside gdl.groups"),
    "geoopt in experiments": (
        {"gdl/experiments/poincare.py": "import geoopt.manifolds\n"},
        "gdl/experiments/poincare.py:1", "import geoopt.manifolds", "geoopt is imported only inside gdl.geodesics"),
    "torch_geometric in core, lazily": (
        {"gdl/core/field.py": "def transform(data):\n    from torch_geometric.data import Data\n"},
        "gdl/core/field.py:2", "from torch_geometric.data import Data", "torch_geometric is never imported in gdl.core"),
    "module-level cycle between two files": (
        {"gdl/symmetries/a.py": "from .b import y\n\nx = 1\n", "gdl/symmetries/b.py": "from gdl.symmetries.a import x\n"},
        "gdl/symmetries/a.py:1", "from .b import y", "import cycle module-level"),
    "cycle through a lazy import": (
        {"gdl/testing/a.py": "from .b import y\n", "gdl/testing/b.py": "def f():\n    from gdl.testing import a\n"},
        "gdl/testing/b.py:2", "from gdl.testing import a", "import cycle through lazy imports"),
    "a module importing its own package's __init__": (
        {"gdl/grids/__init__.py": "from .conv import Conv\n", "gdl/grids/conv.py": "from gdl.grids import Conv\n"},
        "gdl/grids/conv.py:1", "from gdl.grids import Conv", "import cycle module-level"),
    "package cycle in the foundation": (
        {"gdl/symmetries/field.py": "def f():\n    from gdl.meshes import Mesh\n"},
        "gdl/symmetries/field.py:2", "from gdl.meshes import Mesh", "package cycle between"),
    "a lazy-export helper given a table the checker cannot see": (
        {"gdl/grids/__init__.py": "from gdl import _lazy_exports\n\n"
                                  "__getattr__, __dir__ = _lazy_exports(__name__, {'conv': ('Conv',)})\n"},
        "gdl/grids/__init__.py:3", "_lazy_exports(__name__, {'conv'", "takes the package's module-level _LAZY_EXPORTS"),
    "an unresolvable dynamic import": (
        {"gdl/graphs/layers.py": "import importlib\n\nNAME = 'gdl.datasets'\nmod = importlib.import_module(NAME)\n"},
        "gdl/graphs/layers.py:4", "importlib.import_module(NAME)", "cannot resolve"),
    "a package without a floor": (
        {"gdl/plugins/__init__.py": "from gdl.core import Module\n"},
        "gdl/plugins/__init__.py:1", "from gdl.core import Module", "has no floor"),
    "an import of a module that does not exist": (
        {"gdl/gauges/gem.py": "from gdl.datasets.wordnet import Hierarchy\n"},
        "gdl/gauges/gem.py:1", "no module gdl.datasets.wordnet exists", "gdl imports name real modules"),
}


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_checker_reports_a_planted_violation(tmp_path, case):
    files, location, statement, rule = PLANTED[case]
    violations = all_violations(_tree(tmp_path, files))
    hits = [v for v in violations if f"{location}: " in v and statement in v and rule in v]
    assert hits, f"planted {case!r} at {location} not reported with {statement!r} and {rule!r}; got:\n" + _report(violations)


# -- import weight: what `import gdl.x` really loads ----------------------------------------------------------------
HEAVY = ("e3nn", "geoopt", "scipy", "torch_geometric")
IMPORT_WEIGHT = {
    ("gdl",): ("torch", "gdl.core", "gdl.graphs", "gdl.datasets"),
    ("gdl.core",): HEAVY,
    ("gdl.symmetries", "gdl.meshes", "gdl.testing"): ("e3nn", "geoopt"),
    ("gdl.grids",): ("e3nn", "geoopt", "torch_geometric"),
    ("gdl.groups",): HEAVY,  # the e3nn layers are lazy re-exports: G-CNN users do not pay for e3nn
    ("gdl.graphs",): ("e3nn", "geoopt"),
    ("gdl.geodesics",): HEAVY,  # lazy re-exports: geoopt loads with the first manifold name used
    ("gdl.gauges",): ("e3nn", "geoopt"),
    ("gdl.datasets",): HEAVY,
    ("gdl.train",): HEAVY,
}
_LOADED = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_after(*modules: str, code: str = _LOADED) -> set[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, *modules], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _present(loaded: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in loaded)


@pytest.mark.parametrize("modules", sorted(IMPORT_WEIGHT), ids=lambda m: "+".join(m))
def test_import_weight(modules):
    loaded = _loaded_after(*modules)
    heavy = [package for package in IMPORT_WEIGHT[modules] if _present(loaded, package)]
    assert not heavy, f"`import {', '.join(modules)}` loads {heavy}; keep those imports lazy (see ARCHITECTURE.md)"


def test_dataset_loaders_resolve_lazily_without_heavy_packages():
    """``gdl.datasets`` names resolve on first use; loaders import their heavy packages only when called."""
    use = ("import gdl.datasets as d; d.load_mnist; d.char_chunks; d.NBody; d.balanced_tree(2, 2); d.Hierarchy; "
           "d.load_karate_club; d.stochastic_block_graph; d.load_qm9; d.tetris_pieces; ")
    loaded = _loaded_after("gdl.datasets", code=_LOADED.replace("print(", use + "print("))
    assert {f"gdl.datasets.{m}" for m in ("mnist", "text", "nbody", "wordnet", "graphs", "synthetic_graphs", "qm9")} <= loaded
    heavy = [package for package in HEAVY if _present(loaded, package)]
    assert not heavy, f"looking up the loaders of gdl.datasets (and building a balanced tree) loads {heavy}"


# -- public names -----------------------------------------------------------------------------------------------------
PACKAGES = sorted(
    ".".join(path.parent.relative_to(GDL_ROOT.parent).parts) for path in GDL_ROOT.glob("*/__init__.py")
)
FIXTURES = ("random_graph", "smooth_disc_images", "table_kernel_basis", "example_mesh_data")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves(package):
    module = importlib.import_module(package)
    public = module.__all__
    assert len(public) == len(set(public)), f"{package}.__all__ repeats {sorted({n for n in public if public.count(n) > 1})}"
    missing = [name for name in public if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names {missing}, which `from {package} import ...` cannot import"
    unlisted = [name for name in public if name not in dir(module)]
    assert not unlisted, f"dir({package}) does not list {unlisted}"
    namespace: dict = {}
    exec(f"from {package} import *", namespace)  # the star import resolves lazy names too
    assert set(public) <= set(namespace), f"`from {package} import *` misses {sorted(set(public) - set(namespace))}"


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "gdl.testing"])
def test_fixtures_are_not_public_api(package):
    module = importlib.import_module(package)
    leaked = [name for name in FIXTURES if name in module.__all__ or name in vars(module)]
    assert not leaked, f"{package} exports the test fixtures {leaked}: they live in gdl.testing.fixtures only"


def test_fixtures_live_in_gdl_testing():
    fixtures = importlib.import_module("gdl.testing.fixtures")
    missing = [name for name in FIXTURES if name not in fixtures.__all__ or not callable(getattr(fixtures, name, None))]
    assert not missing, f"gdl.testing.fixtures lacks {missing}"
