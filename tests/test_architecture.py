"""The layout a newcomer relies on: which package may import which, no import cycles, and
functions short enough to read at once (or saying why not)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY

PACKAGES = ("infra", "components", "offline_preview", "platformctl", "platform_common", "policies")
# What each package may import of the others. The program (infra, components) imports no
# tool; the offline engine previews any project, so it knows nothing of this one.
ALLOWED = {
    "platform_common": set(),
    "components": {"platform_common"},
    "infra": {"components", "platform_common"},
    "offline_preview": {"platform_common"},
    "policies": {"platform_common"},
    "platformctl": {"infra", "components", "offline_preview", "policies", "platform_common"},
}
LONG_FUNCTION_LINES = 80
LONG_REASON = "# long:"


def modules(root: Path = REPOSITORY) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(tree: ast.Module, known: dict[str, Path]) -> Iterator[str]:
    """The project modules a module imports when it runs (``TYPE_CHECKING`` blocks aside),
    at any depth: a lazy import is still a dependency."""
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                for a in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                yield name


def import_graph(root: Path = REPOSITORY) -> dict[str, set[str]]:
    known = modules(root)
    return {
        module: set(imported(ast.parse(path.read_text()), known)) - {module}
        for module, path in known.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_package_imports_one_it_must_not():
    wrong = [
        f"{module} imports {other}"
        for module, imports in import_graph().items()
        for other in imports
        if (package := module.split(".")[0]) != (target := other.split(".")[0])
        and target not in ALLOWED[package]
    ]
    assert wrong == []


def _in_review(module: str) -> bool:
    return module == "platformctl.review" or module.startswith("platformctl.review.")


def test_the_ai_review_stands_apart_from_the_release_driver():
    review = {m: i for m, i in import_graph().items() if _in_review(m)}
    assert len(review) > 5, "platformctl.review not found"
    wrong = [
        f"{module} imports {other}"
        for module, imports in review.items()
        for other in imports
        if other.startswith("platformctl.")
        and not _in_review(other)
        and other != "platformctl.changes"
    ]
    assert wrong == []


def test_no_modules_import_each_other():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_lazy_import_cycle(tmp_path):
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "a.py").write_text("import infra.b\n")
    (tmp_path / "infra" / "b.py").write_text("def f():\n    from infra.a import x\n")
    (tmp_path / "infra" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import infra.a\n"
    )
    for package in PACKAGES[1:]:
        (tmp_path / package).mkdir()
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["infra.a", "infra.b"]]
    assert graph["infra.c"] == set()


def long_functions(root: Path = REPOSITORY) -> list[str]:
    """Functions over the limit with no ``# long:`` line just above them saying why."""
    found = []
    for path in sorted(modules(root).values()):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            above = lines[first - 2].strip() if first > 1 else ""
            if length > LONG_FUNCTION_LINES and not above.startswith(LONG_REASON):
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length})")
    return found


def test_every_function_reads_in_one_sitting_or_says_why_not():
    assert long_functions() == []


@pytest.mark.parametrize("reason", ["", "# long: one table of checks, read top to bottom\n"])
def test_a_long_function_is_found_unless_a_reason_precedes_it(tmp_path, reason):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(LONG_FUNCTION_LINES))
    (tmp_path / "infra" / "big.py").write_text(f"{reason}def big():\n{body}")
    expected = [] if reason else ["infra/big.py:1 big (81)"]
    assert long_functions(tmp_path) == expected
