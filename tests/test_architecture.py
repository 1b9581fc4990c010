"""The shape of the code: import rules (import-linter), no import cycles, and a true map.

- ``.importlinter`` holds the contracts: ``deejai_model`` never imports beets, and each stage
  of the library imports only the stages below it (the plugin likewise).
- No two modules import each other, directly or through others, lazy imports inside
  functions included (grimp's graph, the one import-linter reads).
- Public functions with four or more parameters take all but the first three (at most) by
  keyword, as librosa's do.
- ``docs/architecture.md`` names every module of ``deejai_model`` and ``beetsplug/deejai``, and
  names none that is gone.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("deejai_model", "beetsplug.deejai", "benchmarks")


def _import_graph():
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (test extra)")
    if str(ROOT) not in sys.path:  # benchmarks/ is a folder of scripts, found from the root
        sys.path.insert(0, str(ROOT))
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def import_cycles(graph) -> list[list[str]]:
    """Strongly connected sets of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others():
    graph = _import_graph()
    cycles = import_cycles(graph)
    described = []
    for cycle in cycles:
        chain = graph.find_shortest_chain(importer=cycle[0], imported=cycle[-1])
        back = graph.find_shortest_chain(importer=cycle[-1], imported=cycle[0])
        described.append(" -> ".join(chain or ()) + " | " + " -> ".join(back or ()))
    assert not cycles, "import cycles:\n" + "\n".join(described)


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    """The check above can fail: two generated modules that import each other are a cycle."""
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (test extra)")
    package = tmp_path / "circle_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from circle_pkg import b\n")
    (package / "b.py").write_text("from circle_pkg import a\n")
    (package / "c.py").write_text("from circle_pkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("circle_pkg", cache_dir=None)
    assert import_cycles(graph) == [["circle_pkg.a", "circle_pkg.b"]]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]' installs it)")
    done = subprocess.run(
        [str(lint), "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _modules(folder: Path) -> set[str]:
    """Module files below ``folder`` as repo-relative paths (an ``__init__.py`` only when it
    defines something: a package that merely names its modules is not a module of its own)."""
    return {
        p.relative_to(ROOT).as_posix()
        for p in folder.rglob("*.py")
        if "__pycache__" not in p.parts
        and (p.name != "__init__.py" or re.search(r"^(def|class) ", p.read_text(), re.M))
    }


def test_the_architecture_map_names_every_module_and_no_ghost():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:deejai_model|beetsplug/deejai)/[\w/]+\.py)`", text))
    modules = _modules(ROOT / "deejai_model") | _modules(ROOT / "beetsplug" / "deejai")
    assert not modules - named, f"modules the map does not name: {sorted(modules - named)}"
    assert not named - modules, f"the map names modules that are gone: {sorted(named - modules)}"


def _crowded_signatures(path: Path) -> list[str]:
    """Public functions and methods of ``path`` with four or more parameters, more than three
    of them positional (``self``/``cls`` not counted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        members = [(node, "")]
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            members = [(member, node.name + ".") for member in node.body]
        for function, owner in members:
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if function.name.startswith("_") and function.name != "__init__":
                continue
            args = function.args
            positional = [
                a.arg for a in args.posonlyargs + args.args if a.arg not in ("self", "cls")
            ]
            if len(positional) + len(args.kwonlyargs) >= 4 and len(positional) > 3:
                where = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path
                found.append(f"{where}:{function.lineno} {owner}{function.name}")
    return found


def test_long_signatures_take_keywords():
    """As librosa's do: past the first few, parameters are keyword-only."""
    crowded = [
        entry
        for folder in (ROOT / "deejai_model", ROOT / "beetsplug" / "deejai")
        for path in sorted(folder.rglob("*.py"))
        for entry in _crowded_signatures(path)
    ]
    assert not crowded, "four or more positional parameters:\n" + "\n".join(crowded)


def test_the_signature_check_sees_a_crowded_one(tmp_path):
    module = tmp_path / "crowded.py"
    module.write_text(
        "def fine(a, b, c, *, d): ...\n"
        "def crowded(a, b, c, d): ...\n"
        "class Public:\n    def method(self, a, b, c, d=1): ...\n"
        "class _Private:\n    def method(self, a, b, c, d=1): ...\n"
    )
    found = [entry.split(" ")[1] for entry in _crowded_signatures(module)]
    assert found == ["crowded", "Public.method"]
