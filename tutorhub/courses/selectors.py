from __future__ import annotations

from django.db.models import Q, QuerySet

from tutorhub.core.permissions import is_admin
from tutorhub.courses.models import Course, Group


def course_list_visible(*, user) -> QuerySet[Course]:
    """Courses a user may see: all for admins; otherwise owned, taught, or studied in a group."""
    if is_admin(user):
        return Course.objects.all()
    return Course.objects.filter(
        Q(owner=user) | Q(groups__teacher=user) | Q(groups__students=user)
    ).distinct()


def course_ids_visible(*, user) -> QuerySet:
    """Same rule as course_list_visible, as a subquery of ids (cheap to embed in other filters)."""
    if is_admin(user):
        return Course.objects.values("id")
    return Course.objects.filter(
        Q(owner=user) | Q(groups__teacher=user) | Q(groups__students=user)
    ).values("id")


def group_list_visible(*, user) -> QuerySet[Group]:
    if is_admin(user):
        return Group.objects.all()
    children = user.children.all() if getattr(user, "role", None) == "parent" else []
    return Group.objects.filter(
        Q(teacher=user) | Q(students=user) | Q(students__in=children)
    ).distinct()
