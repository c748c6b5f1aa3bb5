from __future__ import annotations

from django.db.models import Q, QuerySet

from tutorhub.core.permissions import is_admin
from tutorhub.courses.models import (
    Attendance,
    Course,
    Group,
    Lesson,
    LessonResource,
)


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
    """The groups a user teaches, studies in, or (parents) their children study in.

    Filtered by an id subquery rather than joined and made DISTINCT: DISTINCT compared whole rows
    (with the course and teacher a list joins in) to drop the join's duplicates."""
    if is_admin(user):
        return Group.objects.all()
    return Group.objects.filter(pk__in=group_ids_visible(user=user))


def group_ids_visible(*, user) -> QuerySet:
    """Ids of group_list_visible as a subquery (an id may repeat: IN does not mind)."""
    if is_admin(user):
        return Group.objects.values("id")
    children = user.children.all() if getattr(user, "role", None) == "parent" else []
    return Group.objects.filter(Q(teacher=user) | Q(students=user) | Q(students__in=children)).values("id")


def group_ids_taught(*, user) -> QuerySet:
    """Groups whose lessons the user may manage: all for admins, their own groups for teachers."""
    if is_admin(user):
        return Group.objects.values("id")
    return Group.objects.filter(teacher=user).values("id")


def _people_q(user, field: str) -> Q:
    """Records of `field` (a user FK path) the user may see: own, children's, or of groups they teach."""
    return Q(**{field: user}) | Q(**{f"{field}__parents": user})


def lesson_list_visible(*, user) -> QuerySet[Lesson]:
    return Lesson.objects.filter(group__in=group_ids_visible(user=user)).select_related("group")


def attendance_list_visible(*, user) -> QuerySet[Attendance]:
    qs = Attendance.objects.select_related("lesson__group", "student")
    if is_admin(user):
        return qs
    return qs.filter(_people_q(user, "student") | Q(lesson__group__teacher=user)).distinct()


def _streaks(statuses: list[str]) -> tuple[int, int]:
    """(current, longest) runs of attended lessons; absence breaks a run, an excused one is skipped."""
    current = longest = 0
    for status in statuses:
        if status in Attendance.ATTENDED:
            current += 1
            longest = max(longest, current)
        elif status == Attendance.Status.ABSENT:
            current = 0
    return current, longest


def attendance_metrics(user) -> dict[str, int]:
    """The student's attendance figures achievements count (an engagement activity source)."""
    statuses = list(
        Attendance.objects.filter(student=user)
        .order_by("lesson__scheduled_date", "lesson__start_time")
        .values_list("status", flat=True)
    )
    current, longest = _streaks(statuses)
    return {
        "lessons_attended": sum(1 for s in statuses if s in Attendance.ATTENDED),
        "current_attendance_streak": current,
        "longest_attendance_streak": longest,
    }


def attendance_leaderboard_counts(group: Group) -> dict[str, QuerySet]:
    """Lessons attended, counted per student on the group's leaderboard (an engagement activity source)."""
    return {"lessons_completed": Attendance.objects.filter(lesson__group=group, status__in=Attendance.ATTENDED)}


def resource_list_visible(*, user) -> QuerySet[LessonResource]:
    """Lesson files: the group's students and teacher (and admins) only."""
    qs = LessonResource.objects.select_related("lesson__group")
    if is_admin(user):
        return qs
    return qs.filter(Q(lesson__group__teacher=user) | Q(lesson__group__students=user)).distinct()
