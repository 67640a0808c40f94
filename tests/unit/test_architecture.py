"""The shape of the code: layers (pyproject's import-linter contracts) and no import circles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contract", "schemas", "monitoring", "streams", "sinks", "producers", "dongbo")


def test_import_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency: pip install -e '.[dev]'"
    run = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_circles_between_modules() -> None:
    # Counted with imports inside functions and under TYPE_CHECKING: a circle hidden there is
    # still a circle for whoever reads the code.
    graph = grimp.build_graph(*PACKAGES)
    # A package's __init__ re-exporting its modules is not a circle of design.
    for module in list(graph.modules):
        for imported in list(graph.find_modules_directly_imported_by(module)):
            if module.startswith(imported + ".") and graph.find_children(imported):
                graph.remove_import(importer=module, imported=imported)
    assert _cycles(graph) == []


def test_the_project_explains_itself() -> None:
    # The rules the code applies are written in docs/; nothing points to a document that is not
    # in the repository.
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    offenders = []
    for name in tracked.stdout.splitlines():
        path = ROOT / name
        if name == "tests/unit/test_architecture.py":
            continue  # this test names them
        if path.suffix not in {".py", ".md", ".yaml", ".yml", ".avsc", ".toml"} or not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if "DOMAIN.md" in text or "DESIGN.md" in text:
            offenders.append(name)
    assert offenders == [], "cite docs/domain-rules.md or docs/architecture.md instead"
    assert (ROOT / "docs" / "domain-rules.md").exists() and (ROOT / "docs" / "architecture.md").exists()
