"""Views and consumers only translate HTTP and WebSocket frames: reads go through an app's
`selectors`, writes through its `services`; background tasks live in the apps' `tasks.py`.

The check reads each view and consumer module's syntax tree and fails on a call that reaches the
ORM. The rule is kept simple on purpose, so a reader can tell at a glance why a line fails:

- `<anything>.objects` is a model manager. Allowed only as `Model.objects.none()`, the empty
  queryset a `queryset = ...` class attribute or a schema-generation branch gives DRF and
  drf-spectacular so they can tell which model a view serves; it runs no query.
- Queryset-building and writing methods (`filter`, `select_related`, `annotate`, `aggregate`,
  `create`, `save`, `refresh_from_db`, ...) are ORM calls whatever the receiver is, except on
  `super()` (DRF's own mixins, which call the view's `perform_*` hooks and so the services).
- `.values("field", ...)` with arguments is a queryset's; `.values()` without is a dict's.
- `.get(pk=...)` with keyword arguments only is a queryset's; `.get(key)` is a dict's.
- `.count()`, `.exists()`, `.first()`, `.last()`, `.all()` and `.delete()` with no arguments are
  ORM calls; with arguments they are the `str`/`list`/cache methods of the same name
  (`cache.delete(key)`, `text.count("x")`), which are fine.
- `get_object_or_404(queryset, ...)` is how a view turns a selector's queryset into a 404. Given a
  model class instead (a name the module imports from a `models` module or `get_user_model()`), it
  is a query the view wrote itself, and is flagged.
- A DRF view class that mixes in the create/update/destroy mixins defines the matching
  `perform_*` hook, so the write goes to a service rather than to `serializer.save()` or
  `instance.delete()` inside DRF.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tutorhub"

QUERY_METHODS = {
    "filter", "exclude", "select_related", "prefetch_related", "annotate", "aggregate", "alias",
    "values_list", "order_by", "distinct", "only", "defer", "extra", "raw", "in_bulk",
    "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update", "save",
    "refresh_from_db", "select_for_update",
}
# Ambiguous names: ORM calls only when called with no arguments (see the module docstring).
NO_ARGUMENT_METHODS = {"count", "exists", "first", "last", "all", "delete"}
# And the other way round: `dict.values()` takes none, `queryset.values("field")` names fields.
ARGUMENT_METHODS = {"values"}
# `queryset.get(pk=1)` looks up by keyword; `dict.get(key)` never takes one.
KEYWORD_ONLY_METHODS = {"get"}
WRITE_HOOKS = {
    "CreateModelMixin": {"perform_create"},
    "UpdateModelMixin": {"perform_update"},
    "DestroyModelMixin": {"perform_destroy"},
    "ModelViewSet": {"perform_create", "perform_update", "perform_destroy"},
}


def view_modules() -> list[Path]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if "migrations" in rel.parts:
            continue
        if path.name in {"views.py", "consumers.py"} or path.name.endswith("_views.py") or "views" in rel.parts[:-1]:
            found.add(path)
        # The dialect aliases and the web app's JSON routes are views under other names.
        if rel.parts[0] == "compat" and path.name not in {"__init__.py", "apps.py", "urls.py"}:
            found.add(path)
    found.add(PACKAGE / "web" / "api.py")
    return sorted(found)


def _is_super_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _base_name(base: ast.expr) -> str:
    return base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")


def _model_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "models":
            names |= {alias.asname or alias.name for alias in node.names}
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if getattr(node.value.func, "id", "") == "get_user_model":
                names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


def orm_calls(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    # Model.objects.none() is allowed (see the module docstring): note its `.objects` first.
    empty_managers = {
        id(node.func.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "none"
    }
    models = _model_names(tree)
    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call) and getattr(node.func, "id", "") == "get_object_or_404"
            and node.args and getattr(node.args[0], "id", None) in models
        ):
            found.add((node.lineno, f"get_object_or_404({node.args[0].id})"))
        if isinstance(node, ast.Attribute) and node.attr == "objects" and id(node) not in empty_managers:
            found.add((node.lineno, ".objects"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not _is_super_call(node.func.value):
            name = node.func.attr
            has_arguments = bool(node.args or node.keywords)
            if (
                name in QUERY_METHODS
                or (name in NO_ARGUMENT_METHODS and not has_arguments)
                or (name in ARGUMENT_METHODS and has_arguments)
                or (name in KEYWORD_ONLY_METHODS and node.keywords and not node.args)
            ):
                found.add((node.lineno, f".{name}()"))
    return sorted(found)


def missing_write_hooks(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    found = []
    for cls in classes.values():
        needed: set[str] = set()
        defined: set[str] = set()
        pending = [cls]
        while pending:  # the class and the classes it inherits from in the same module
            current = pending.pop()
            defined |= {n.name for n in current.body if isinstance(n, ast.FunctionDef)}
            for base in current.bases:
                name = _base_name(base)
                needed |= WRITE_HOOKS.get(name, set())
                if name in classes and classes[name] is not current:
                    pending.append(classes[name])
        found += [(cls.lineno, f"{cls.name} lacks {hook}") for hook in sorted(needed - defined)]
    return found


def _label(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


@pytest.mark.parametrize("path", view_modules(), ids=_label)
def test_views_and_consumers_do_not_touch_the_orm(path):
    source = path.read_text()
    problems = orm_calls(source) + missing_write_hooks(source)
    assert not problems, f"{_label(path)}: move these into the app's selectors/services: {problems}"


def test_the_rule_catches_what_it_should():
    # The check itself must not be vacuous: each kind of ORM use is reported, the allowed forms are not.
    bad = """
class V(CreateModelMixin, GenericViewSet):
    queryset = Thing.objects.none()
    def get(self, request):
        Thing.objects.get(pk=1)
        request.user.notes.filter(x=1)
        self.get_queryset().get(pk=2)
        request.data.get("x")
        obj.save()
        obj.delete()
        request.user.refresh_from_db()
        qs.count()
        cache.delete("k")
        "abc".count("a")
        get_object_or_404(Thing, pk=1)
        get_object_or_404(selectors.thing_list(user=request.user), pk=1)
        return super().create(request)
"""
    calls = orm_calls("from app.models import Thing\n" + bad)
    assert sorted({line for line, _ in calls}) == [6, 7, 8, 10, 11, 12, 13, 16]
    assert missing_write_hooks(bad) == [(2, "V lacks perform_create")]
    assert view_modules(), "no view modules found: the check would pass vacuously"


def _is_task_decorator(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return getattr(target, "id", getattr(target, "attr", "")) == "task"


def test_background_tasks_are_defined_in_tasks_modules():
    # A task takes ids and calls one service; keeping every task in its app's tasks.py lets the
    # worker's task paths be read off one module per app.
    misplaced = [
        f"{_label(path)}:{node.lineno} {node.name}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "tasks.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and any(_is_task_decorator(d) for d in node.decorator_list)
    ]
    assert not misplaced, misplaced
