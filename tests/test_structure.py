"""The shape of the code: no import cycles (function-level and type-checking imports included), a harness folder
grouped by subject, and function-level imports only where they defer a heavy dependency and say so.

The import graph is read from the source (``ast``), with the ``package-dir`` mapping of ``pyproject.toml``, so it
sees every import the interpreter might execute, not only those a test happens to run.
"""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
FLAT_LIMIT = 12  # modules directly in benchmark/: the CLI, the runner, the registry, errors, atomic writes, ...


def _modules() -> dict[str, Path]:
    """avbench module name → source file, following the package-dir mapping (plugins' example excluded)."""
    found: dict[str, Path] = {}
    for package, folder in MAPPING.items():
        base = ROOT / folder
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if "example_plugin" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([package, *parts])
            if folder == "benchmark" and parts and f"avbench.{parts[0]}" in MAPPING:
                continue  # a folder mapped to its own package
            found[name] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path) -> list[tuple[ast.stmt, str, bool]]:
    """(statement, imported avbench module, inside a function) for every import of an avbench module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(child) for child in ast.walk(node) if child is not node)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        for target in targets:
            resolved = _resolve(target) if target.startswith("avbench") else None
            if resolved and resolved != name:
                found.append((node, resolved, id(node) in in_function))
    return found


def _graph() -> dict[str, set[str]]:
    return {name: {target for _, target, _ in _imports(name, path)} for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_the_reader_sees_the_whole_tree() -> None:
    assert {"avbench.cli", "avbench.runner", "avbench.models.base", "avbench.corruptions"} <= set(MODULES)
    assert any(target == "avbench.tasks" for _, target, _ in _imports("avbench.models.base", MODULES["avbench.models.base"]))


def test_no_import_cycle_counting_every_import() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_harness_folder_is_grouped_by_subject() -> None:
    flat = sorted(p.name for p in (ROOT / "benchmark").glob("*.py"))
    assert len(flat) <= FLAT_LIMIT, flat
    for room in ("data", "scoring", "rundir", "execution", "output", "tasks", "corpora", "speed"):
        assert (ROOT / "benchmark" / room / "__init__.py").is_file(), room


def test_function_level_imports_only_defer_a_heavy_dependency_and_say_so() -> None:
    """An import inside a function is allowed only to defer a heavy (or optional) dependency, and its line says
    which: ``# deferred: torch``."""
    undeclared = []
    for name, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    text = " ".join(lines[node.lineno - 1: node.end_lineno or node.lineno])
                    if "# deferred:" not in text:
                        undeclared.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not undeclared, "function-level imports without '# deferred: <why>': " + ", ".join(undeclared)


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """Every command pays for ``import avbench.cli``; torch, scipy, matplotlib and pydantic are imported only by the
    commands that need them (deferred imports above), so ``avbench --help`` or a bad option answers at once."""
    import subprocess
    import sys

    probe = ("import sys, avbench.cli; print(' '.join(m for m in ('torch', 'scipy', 'matplotlib', 'pydantic', "
             "'transformers') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
