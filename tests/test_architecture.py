"""The shape the packages keep: no import cycles, no module too long to read without a reason."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rtsp_common", "rtsp_server", "rtsp_client", "analysis", "workbench")
LONG_MODULE_LINES = 500
# What a long module's docstring says about itself, e.g. "longer than 500 lines because ...".
LONG_REASON = re.compile(r"longer than \d+ lines because", re.IGNORECASE)


def import_cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = [stack.pop()]
            while group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return cycles


def test_import_cycles_are_found():
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c", "d"):
        graph.add_module(module)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a")
    graph.add_import(importer="a", imported="a.b")
    graph.add_import(importer="d", imported="a")
    assert import_cycles(graph, set(graph.modules)) == [["a", "a.b", "a.c"]]


def test_no_import_cycle_between_project_modules():
    graph = grimp.build_graph(*PACKAGES)
    modules = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    assert import_cycles(graph, modules) == []


def long_modules_without_a_reason(root: Path) -> list[str]:
    """Modules under ``root`` over LONG_MODULE_LINES whose docstring does not say why."""
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > LONG_MODULE_LINES:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if not LONG_REASON.search(docstring):
                found.append(str(path.relative_to(root.parent)))
    return found


def test_a_long_module_is_found_unless_it_says_why(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    body = "x = 1\n" * (LONG_MODULE_LINES + 1)
    (package / "short.py").write_text('"""Short."""\n')
    (package / "long.py").write_text('"""Long."""\n' + body)
    (package / "explained.py").write_text(
        '"""Long.\n\nLonger than 500 lines because it is a table."""\n' + body
    )
    assert long_modules_without_a_reason(package) == ["package/long.py"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_over_500_lines_without_a_reason_at_its_top(package: str):
    # Split it, or say at its top why it is "longer than N lines because ...".
    assert long_modules_without_a_reason(ROOT / package) == []
