"""Errors reach the operator: every `except Exception` (or `BaseException`, or a bare `except:`)
in tutorhub/ logs, re-raises, or says on its `except` line why swallowing is right.

The rule is deliberately mechanical: a handler passes when its body contains a `raise`, or a
call of a logger method (`logger.exception(...)`, `log.warning(...)`, `logging.error(...)`, ...),
or when its `except` line carries a comment with words in it (a bare `# noqa: BLE001` is not a
reason).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import tutorhub

ROOT = Path(tutorhub.__file__).parent
BROAD = {"Exception", "BaseException"}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
NOQA = re.compile(r"noqa(:\s*[A-Z]+[0-9]+(,\s*[A-Z]+[0-9]+)*)?", re.I)


def _is_broad(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in BROAD for n in names)


def _logs_or_raises(handler: ast.ExceptHandler) -> bool:
    for node in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS:
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if "log" in name.lower():
                return True
    return False


def _reasons(source: str) -> dict[int, str]:
    """Line number -> comment text with noqa markers removed."""
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = NOQA.sub("", tok.string.lstrip("#")).strip(" -:")
    return comments


def silent_broad_excepts(source: str, filename: str = "<src>") -> list[str]:
    tree = ast.parse(source, filename)
    comments = _reasons(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and _is_broad(node) and not _logs_or_raises(node):
            if not re.search(r"[A-Za-z]{3,}", comments.get(node.lineno, "")):
                found.append(f"{filename}:{node.lineno}")
    return found


def test_no_broad_except_swallows_silently():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        offenders += silent_broad_excepts(path.read_text(), str(path.relative_to(ROOT.parent)))
    assert not offenders, "broad except without a log line, a raise or a reason: " + ", ".join(offenders)


def test_the_rule_itself():
    silent = "try:\n    f()\nexcept Exception:\n    pass\n"
    noqa_only = "try:\n    f()\nexcept Exception:  # noqa: BLE001\n    return None\n"
    bare = "try:\n    f()\nexcept:\n    x = 1\n"
    in_tuple = "try:\n    f()\nexcept (ValueError, Exception):\n    x = 1\n"
    for src in (silent, noqa_only, bare, in_tuple):
        assert silent_broad_excepts(src) == ["<src>:3"], src
    reasoned = "try:\n    f()\nexcept Exception:  # noqa: BLE001 - a finalizer must not raise\n    pass\n"
    logged = "try:\n    f()\nexcept Exception:\n    logger.warning('x failed', exc_info=True)\n"
    logged_attr = "try:\n    f()\nexcept Exception:\n    self.log.exception('x')\n"
    reraised = "try:\n    f()\nexcept Exception as exc:\n    raise Other() from exc\n"
    narrow = "try:\n    f()\nexcept ValueError:\n    pass\n"
    for src in (reasoned, logged, logged_attr, reraised, narrow):
        assert silent_broad_excepts(src) == [], src
