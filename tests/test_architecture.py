"""The code's structure: no import circles, imports at the top, small modules.

import-linter (``lint-imports``, run by ``make lint``) checks the layer order of
``pyproject.toml`` over ``scs_nb/``. It cannot see ``widgets/``, ``kernels/`` and
``templates/``, which install into ``scs_nb`` from folders of their own, so the
module graph here is built from the source of all four folders, counting imports
inside functions as import-linter does.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "scs_nb": ROOT / "scs_nb",
    "scs_nb.widgets": ROOT / "widgets",
    "scs_nb.kernels": ROOT / "kernels",
    "scs_nb.templates": ROOT / "templates",
}

#: modules allowed over MAX_LINES because they are one concept each, and why
LONG_MODULES: dict = {}
MAX_LINES = 650  # "about 600", counted as ruff formats the code

pytestmark = pytest.mark.skipif(
    not (ROOT / "scs_nb").is_dir(), reason="needs the source tree, not an installed wheel"
)


def _modules() -> dict:
    """module name -> (path, is_package)."""
    out = {}
    for pkg, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if pkg == "scs_nb" and parts[0] in ("widgets", "kernels", "templates"):
                continue
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            out[".".join([pkg, *parts])] = (path, is_pkg)
    return out


MODULES = _modules()


def _imports(name):
    """(target module, line, inside a function?) of each scs_nb import of ``name``."""
    path, is_pkg = MODULES[name]
    tree = ast.parse(path.read_text())
    local = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for sub in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: None if is_pkg else -1]
                base = base[: len(base) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target, node.lineno, id(node) in local


def _graph() -> dict:
    return {m: {t for t, _, _ in _imports(m)} for m in MODULES}


def _cycles(graph) -> list:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    assert _cycles(_graph()) == []


def test_no_function_local_imports_of_scs_nb():
    """Imports of scs_nb modules stand at the top of a module: one inside a function
    hides a circle. (Heavy third-party imports may stay local, with a reason.)"""
    local = [
        f"{MODULES[m][0].relative_to(ROOT)}:{line} imports {t}"
        for m in MODULES
        for t, line, inside in _imports(m)
        if inside
    ]
    assert local == []


def test_nothing_below_imports_what_users_touch():
    """The library never imports the simulator, widgets, kernels or the CLI, nor the
    top package (whose __init__ imports everything)."""
    top = ("scs_nb.sim", "scs_nb.widgets", "scs_nb.kernels", "scs_nb.cli")
    bad = []
    for m in MODULES:
        if m.startswith(top) or m in ("scs_nb", "scs_nb.compat"):
            continue
        for t, line, _ in _imports(m):
            if t == "scs_nb" or t.startswith(top):
                bad.append(f"{m}:{line} imports {t}")
    assert bad == []


def test_modules_are_small():
    long = {
        str(p.relative_to(ROOT)): n
        for m, (p, _) in MODULES.items()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert set(long) <= set(LONG_MODULES), long


def test_comments_say_why_not_which_issue():
    """A comment or docstring that says "issue N" tells a reader nothing about the code."""
    pat = re.compile(r"\bissues? \d+\b", re.IGNORECASE)
    hits = [
        f"{p.relative_to(ROOT)}:{i}"
        for p, _ in MODULES.values()
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pat.search(line) and "github.com" not in line and "#" in line
    ]
    assert hits == []
