"""Guards on the package layout: imports point down the layers, never up, and never in a circle.

The layers, lowest first (see docs/architecture.md); a module may import from its own layer's
packages and from lower layers only. Imports inside functions count too (a lazy import is still a
dependency); imports only for type checking do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    ("kb.errors", "kb.files", "kb.types", "kb.settings", "kb.text"),
    ("kb.db",),
    ("ingest", "kb.embedding", "kb.judge", "kb.reader"),
    ("kb.index",),
    ("kb.retrieval",),
    ("kb.access", "kb.answering", "kb.activity"),
    ("kb.sync", "kb.tuning"),
    ("kb.knowledge_base",),
    ("kb.cli",),
    ("ui",),
]
# ingest is a leaf: of kb it may use only the shared foundation
INGEST_MAY_USE = ("kb.errors", "kb.files", "kb.types", "kb.text")


def _package(module: str) -> str:
    for layer in LAYERS:
        for package in layer:
            if module == package or module.startswith(package + "."):
                return package
    raise AssertionError(f"module {module} belongs to no layer: add it to tests/test_layout.py LAYERS")


def _layer(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("kb", "ingest", "ui"):
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for n in ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if m.split(".")[0] in ("kb", "ingest", "ui")}


def test_imports_never_point_up_a_layer():
    modules = _modules()
    wrong = set()
    for name, path in modules.items():
        if name == "kb":
            continue  # the lazy facade names its exports by string
        own = _layer(_package(name))
        for target in _imports(path):
            if target not in modules and target.rsplit(".", 1)[0] in modules:
                target = target.rsplit(".", 1)[0]  # "from kb.x import name": the module is kb.x
            if target not in modules or target == "kb":
                continue
            if _layer(_package(target)) > own:
                wrong.add(f"{name} imports {target}")
    assert not wrong, "imports from a higher layer:\n" + "\n".join(sorted(wrong))


def test_ingest_uses_only_the_foundation_of_kb():
    modules = _modules()
    wrong = {f"{name} imports {target}" for name, path in modules.items() if name.startswith("ingest")
             for target in _imports(path) if target.startswith("kb")
             and not any(target == p or target.startswith(p + ".") for p in INGEST_MAY_USE)}
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles_between_modules():
    modules = _modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for target in _imports(path):
            if target not in modules and target.rsplit(".", 1)[0] in modules:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name and target != "kb" and not name.startswith(target + "."):
                graph[name].add(target)
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend(stack[stack.index(nxt):] + [node, nxt] if nxt in stack else [node, nxt])
                return True
            if nxt not in state and visit(nxt, stack + [nxt]):
                return True
        state[node] = 2
        return False

    for name in sorted(graph):
        if name not in state and visit(name, [name]):
            break
    assert not cycle, "import cycle: " + " -> ".join(cycle)
