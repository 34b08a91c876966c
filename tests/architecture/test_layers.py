"""The package's import structure: layers only import downwards, and no module imports itself back.

Layers, lowest first: what a layer may import is itself and everything below it. Imports inside
functions count too (they are the lazy ones that hide loops); imports for type annotations only
(``if TYPE_CHECKING:``) do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sentiloc

ROOT = Path(sentiloc.__file__).parent
#: Lowest first; packages on one line are one layer and must not import each other.
LAYERS = [
    ["core"],
    ["data"],
    ["models"],
    ["losses", "postprocess"],
    ["evaluation"],
    ["engine"],
    ["tasks"],
    ["features", "viz"],
    ["apps"],
    ["studies"],
    ["cli"],
]
LEVEL = {package: i for i, packages in enumerate(LAYERS) for package in packages}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }


def imports_of(path: Path) -> set[str]:
    """``sentiloc.*`` modules a file imports, anywhere in it but under ``if TYPE_CHECKING:``."""
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sentiloc"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("sentiloc"))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_package_has_a_layer() -> None:
    packages = {package(m) for m in graph()} - {None, "__main__"}
    assert packages <= set(LEVEL), f"add {sorted(packages - set(LEVEL))} to LAYERS"


def test_no_layer_imports_a_higher_or_sibling_one() -> None:
    wrong = []
    for module, targets in graph().items():
        source = package(module)
        if source in (None, "__main__", "cli"):
            continue
        for target in targets:
            other = package(target)
            if other is not None and other != source and LEVEL[other] >= LEVEL[source]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_models_never_import_losses_and_data_never_imports_models() -> None:
    g = graph()
    assert not [(m, t) for m, ts in g.items() for t in ts if package(m) == "models" and package(t) == "losses"]
    assert not [(m, t) for m, ts in g.items() for t in ts if package(m) == "data" and package(t) == "models"]


def test_no_import_cycles() -> None:
    """No strongly connected component of more than one module (Tarjan's algorithm)."""
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            # a package __init__ importing its own submodules is not a cycle of behaviour
            members = {m for m in component if not any(o.startswith(m + ".") for o in component)}
            if len(members) > 1:
                cycles.append(sorted(component))

    for v in g:
        if v not in index:
            visit(v)
    assert not cycles, cycles
