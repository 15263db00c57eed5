"""The import graph of eegkit: every import at module top, no cycle, no upward edge.

The graph is read from the source (``ast``), one node per module, one edge per ``import`` of an
eegkit module; :data:`LAYERS` ranks the packages from the bottom up. A module may import from
its own layer or a lower one, never a higher one. Run with ``-s`` to see the graph printed.
Third-party imports of optional extras (``transformers``, ``onnx``...) may stay inside the
function that needs them, so that the core installs without them; eegkit's own imports may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eegkit"

#: Layers from the bottom up; a module belongs to the longest prefix that names it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("eegkit", "eegkit.registry", "eegkit.cache", "eegkit.plugins", "eegkit.utils"),
    # the checkpoint reader names bad files with DataError
    ("eegkit.metrics", "eegkit.data.types", "eegkit.utils.checkpoints"),
    ("eegkit.data", "eegkit.data.preprocess", "eegkit.data.splits", "eegkit.data.samplers",
     "eegkit.data.edf_writer"),
    ("eegkit.data.readers",),
    ("eegkit.data.pipelines",),
    ("eegkit.data.datamodules",),
    ("eegkit.demo", "eegkit.models", "eegkit.diffusion", "eegkit.losses"),
    ("eegkit.reports", "eegkit.interpret"),
    ("eegkit.tasks",),
    ("eegkit.inference", "eegkit.merging"),
    ("eegkit.cli", "eegkit.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{module} is in no layer of LAYERS"
    return rank


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = module if is_package else module.rpartition(".")[0]
    if node.level:
        base = ".".join(base.split(".")[: len(base.split(".")) - node.level + 1])
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    return [target]


def import_graph() -> tuple[dict[str, set[str]], list[str]]:
    """``{module: eegkit modules it imports}`` and the imports that are not at module top."""
    sources = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in sources}
    nested = []
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _imported(node, module, path.name == "__init__.py"):
                if target != "eegkit" and not target.startswith("eegkit."):
                    continue
                if id(node) not in top:
                    nested.append(f"{module}:{node.lineno} imports {target}")
                # ``from eegkit.a import b`` may name a submodule b
                if isinstance(node, ast.ImportFrom):
                    subs = [f"{target}.{a.name}" for a in node.names]
                    hits = [s for s in subs if s in sources]
                    if hits:
                        graph[module].update(hits)
                        if len(hits) == len(subs):
                            continue
                if target in sources and target != module:
                    graph[module].add(target)
    return graph, nested


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.fixture(scope="module")
def graph_and_nested():
    return import_graph()


def test_the_graph_is_read_and_printed(graph_and_nested):
    graph, _ = graph_and_nested
    # a parser that found no edge would pass every check below
    assert "eegkit.data.pipelines.sleep" in graph["eegkit.data.datamodules.sleep"]
    assert "eegkit.tasks.classification" in graph["eegkit.tasks.adace"]
    print("\neegkit import graph (layer: module -> imports):")
    for module in sorted(graph, key=lambda m: (layer_of(m), m)):
        edges = ", ".join(sorted(graph[module])) or "-"
        print(f"  L{layer_of(module)} {module} -> {edges}")


def test_every_eegkit_import_is_at_module_top(graph_and_nested):
    _, nested = graph_and_nested
    assert not nested, "imports inside functions or classes:\n" + "\n".join(nested)


def test_no_import_cycle(graph_and_nested):
    graph, _ = graph_and_nested
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_upward_import(graph_and_nested):
    graph, _ = graph_and_nested
    upward = [f"{m} (L{layer_of(m)}) -> {t} (L{layer_of(t)})"
              for m, targets in graph.items() for t in targets if layer_of(t) > layer_of(m)]
    assert not upward, "imports of a higher layer:\n" + "\n".join(sorted(upward))


def test_the_checks_catch_a_cycle_and_an_upward_edge():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer_of("eegkit.data.readers.edf") < layer_of("eegkit.data.pipelines.events")
    assert layer_of("eegkit.tasks.eegdm_latents") > layer_of("eegkit.models.eegdm_lft")
