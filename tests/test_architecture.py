"""The house keeps its shape: lower parts never import higher ones and no modules import
each other in a circle. docs/architecture.md draws the same picture; this test keeps the
picture true.

Layers, bottom to top (a part may import its own modules and any part below it):

    firmware  <  badgecore  <  companion | gateway | hardware  <  inbox  <  badgekit

Imports inside functions count too: a deferred import that only dodges a cycle is still
a cycle a newcomer must understand.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

LAYER = {"firmware": 0, "badgecore": 1, "companion": 2, "gateway": 2, "hardware": 2,
         "inbox": 3, "badgekit": 4}

def _modules() -> dict[str, Path]:
    mods = {}
    for part in LAYER:
        for f in (REPO / part).rglob("*.py"):
            parts = f.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = f
    return mods


MODULES = _modules()


def _imported_names(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of everything `module` imports, at any depth of the file."""
    out = []
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[:len(package) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}; a module's own ancestor packages are left
    out (Python has them initialised before the module itself runs)."""
    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for mod, path in MODULES.items():
        ancestors = {".".join(mod.split(".")[:i]) for i in range(1, mod.count(".") + 1)}
        for line, name in _imported_names(mod, path):
            target = _resolve(name)
            if target and target != mod and target not in ancestors:
                graph[mod].setdefault(target, line)
    return graph


GRAPH = _graph()


def _part_edges() -> set[tuple[str, str]]:
    return {(a.split(".")[0], b.split(".")[0]) for a, ts in GRAPH.items() for b in ts
            if a.split(".")[0] != b.split(".")[0]}


def _cycles() -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in MODULES:
        if root in index:
            continue
        work = [(root, iter(GRAPH.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(GRAPH.get(w, ()))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(comp)
    return found


def test_no_part_imports_a_part_above_or_beside_it():
    wrong = []
    for mod, targets in GRAPH.items():
        part = mod.split(".")[0]
        for target, line in targets.items():
            other = target.split(".")[0]
            if other != part and LAYER[other] >= LAYER[part]:
                wrong.append(f"{MODULES[mod].relative_to(REPO)}:{line} imports {target} "
                             f"({other} is not below {part})")
    assert not wrong, "imports that run up or sideways:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    found = _cycles()
    assert not found, "modules importing each other in a circle:\n" + "\n".join(
        " <-> ".join(sorted(c)) for c in found)


def test_firmware_imports_only_firmware_and_micropython():
    allowed_top = {"firmware", "micropython", "machine", "esp32", "network", "bluetooth",
                   "uasyncio", "asyncio", "time", "os", "struct", "sys", "gc", "binascii",
                   "hashlib", "json", "errno", "select", "io", "collections", "random",
                   "array", "math", "uctypes", "cryptolib", "vfs",
                   "termios"}  # termios: the unix port's serial link
    odd = []
    for mod, path in MODULES.items():
        if not mod.startswith("firmware"):
            continue
        for line, name in _imported_names(mod, path):
            if name and name.split(".")[0] not in allowed_top:
                odd.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert not odd, "\n".join(odd)


def _drawn_edges() -> set[tuple[str, str]]:
    text = (REPO / "docs" / "architecture.md").read_text()
    block = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no mermaid picture"
    return set(re.findall(r"^\s*(\w+)\s*-->\s*(\w+)\s*$", block.group(1), re.M))


def test_the_picture_in_docs_matches_the_imports():
    drawn, real = _drawn_edges(), _part_edges()
    assert drawn == real, (f"docs/architecture.md draws {sorted(drawn - real)} that no code "
                           f"imports and misses {sorted(real - drawn)}")


@pytest.mark.parametrize("part", sorted(LAYER))
def test_every_part_is_in_the_picture(part):
    assert any(part in edge for edge in _drawn_edges())
