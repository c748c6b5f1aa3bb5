"""Cross-app dependencies stay visible to `lint-imports` (docs/architecture.md): no app imports
another inside a function unless a comment says why, and no app reaches another's models by name
(apps.get_model), which the import graph cannot see. lint-imports checks the direction itself."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tutorhub"


def _sources(package: Path = PACKAGE):
    for path in sorted(package.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text(), filename=str(path)), path.read_text().splitlines()


def _app(path: Path, package: Path) -> str:
    return path.relative_to(package).parts[0].removesuffix(".py")


def _imported_apps(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        if node.level or not node.module:
            return []
        names = [node.module] if node.module != "tutorhub" else [f"tutorhub.{a.name}" for a in node.names]
    else:
        names = [a.name for a in node.names]
    return [n.split(".")[1] for n in names if n.startswith("tutorhub.")]


def _explained(lines: list[str], lineno: int) -> bool:
    """A comment on the import, or above the block of imports it belongs to."""
    if "#" in lines[lineno - 1]:
        return True
    above = lineno - 2
    while above >= 0 and lines[above].strip().startswith(("from ", "import ")):
        above -= 1
    return above >= 0 and lines[above].strip().startswith("#")


def function_level_cross_app_imports(package: Path = PACKAGE) -> list[str]:
    found = []
    for path, tree, lines in _sources(package):
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                others = [app for app in _imported_apps(node) if app != _app(path, package)]
                if others and not _explained(lines, node.lineno):
                    found.append(f"{path.relative_to(package.parent)}:{node.lineno} imports {others[0]} in {function.name}()")
    return found


def test_no_unexplained_cross_app_import_inside_a_function():
    assert function_level_cross_app_imports() == []


def test_the_check_sees_an_unexplained_one(tmp_path):
    app = tmp_path / "tutorhub" / "chat"
    app.mkdir(parents=True)
    (app / "late.py").write_text(
        "def f():\n    from tutorhub.billing.services import quota_check\n\n\n"
        "def g():\n    # why: a cycle at app loading\n    from tutorhub.billing.services import quota_check\n"
    )
    assert function_level_cross_app_imports(tmp_path / "tutorhub") == ["tutorhub/chat/late.py:2 imports billing in f()"]


def test_no_model_is_looked_up_by_app_label():
    lookups = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for path, tree, _ in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_model"
    ]
    assert lookups == []
