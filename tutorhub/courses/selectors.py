from __future__ import annotations

from django.db.models import Aggregate, Count, OuterRef, Q, QuerySet, Subquery, TextField

from tutorhub.core.permissions import is_admin
from tutorhub.courses.models import (
    Attendance,
    Course,
    Group,
    Lesson,
    LessonResource,
    Schedule,
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


# What GroupSerializer reads of a group's joined course and teacher (course_name, teacher_name):
# the teacher's row is the whole user (password hash, profile fields), the course's its description.
_GROUP_JOINED_COLUMNS = ("course__name", "teacher__first_name", "teacher__last_name")


class _IdsText(Aggregate):
    """The aggregated ids as one comma-separated text (SQLite's group_concat, PostgreSQL's string_agg)."""

    function = "GROUP_CONCAT"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, function="STRING_AGG", template="%(function)s((%(expressions)s)::text, ',')", **extra)


def _student_ids_text() -> Subquery:
    """A group's student ids as one text, a subquery of the group's own row."""
    memberships = Group.students.through.objects.filter(group_id=OuterRef("pk")).order_by()
    return Subquery(memberships.values("group_id").annotate(ids=_IdsText("user_id")).values("ids"))


def group_list_for_api(*, user) -> QuerySet[Group]:
    """group_list_visible with the course's name and the teacher's names joined, and the student
    ids as a subquery of each row (group_student_ids reads them).

    The ids come with the page, not as a query of their own on the membership table: that query
    was built and compiled for every request (~0.5 ms), and before it a prefetch built a User
    instance per member (160 for a page of 10 classes, a fifth of the list's CPU)."""
    own = [field.name for field in Group._meta.concrete_fields]
    return (
        group_list_visible(user=user)
        .select_related("course", "teacher")
        .only(*own, *_GROUP_JOINED_COLUMNS)
        .annotate(student_ids_text=_student_ids_text())
    )


def group_student_ids(group: Group) -> list[int] | None:
    """The group's student ids, ascending, from the text group_list_for_api annotates (parsed once
    per group); None for a group read without it."""
    ids = group.__dict__.get("student_ids")
    if ids is None and "student_ids_text" in group.__dict__:
        text = group.student_ids_text
        # User ids are integers (an AutoField); the database's aggregate gives them in no set order.
        ids = group.student_ids = sorted(map(int, text.split(","))) if text else []
    return ids


def group_ids_visible(*, user) -> QuerySet:
    """Ids of group_list_visible as a subquery (an id may repeat: IN does not mind)."""
    if is_admin(user):
        return Group.objects.values("id")
    visible = Q(teacher=user) | Q(students=user)
    if getattr(user, "role", None) == "parent":
        # Only a parent's filter joins the children: an empty IN for everyone else matched
        # nothing and cost ~0.2 ms to build on every request that scopes to groups.
        visible |= Q(students__in=user.children.all())
    return Group.objects.filter(visible).values("id")


def group_ids_taught(*, user) -> QuerySet:
    """Groups whose lessons the user may manage: all for admins, their own groups for teachers."""
    if is_admin(user):
        return Group.objects.values("id")
    return Group.objects.filter(teacher=user).values("id")


def _people_q(user, field: str) -> Q:
    """Records of `field` (a user FK path) the user may see: own, children's, or of groups they teach."""
    return Q(**{field: user}) | Q(**{f"{field}__parents": user})


def schedule_list_visible(*, user) -> QuerySet[Schedule]:
    """Weekly slots of the groups the user sees, each with its number of lessons."""
    return (
        Schedule.objects.filter(group__in=group_ids_visible(user=user))
        .annotate(lessons_count=Count("lessons"))
        .order_by("group_id", "day_of_week", "start_time")
    )


def lesson_list_visible(*, user, group: Group | None = None) -> QuerySet[Lesson]:
    """Lessons of the groups the user sees (of `group` alone, when given)."""
    lessons = Lesson.objects.filter(group__in=group_ids_visible(user=user)).select_related("group")
    return lessons if group is None else lessons.filter(group=group)


def lesson_get_visible(*, user, lesson_id) -> Lesson | None:
    return lesson_list_visible(user=user).filter(pk=lesson_id).first()


def attendance_status_counts(records: QuerySet[Attendance]) -> dict[str, int]:
    """How many of `records` have each status (every status present, zero when none)."""
    counts = dict(records.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in Attendance.Status.values}


def attendance_list_visible(*, user, student=None) -> QuerySet[Attendance]:
    """Attendance records the user may see (of `student` alone, when given)."""
    qs = Attendance.objects.select_related("lesson__group", "student")
    if student is not None:
        qs = qs.filter(student=student)
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


def resource_list_visible(*, user, lesson: Lesson | None = None) -> QuerySet[LessonResource]:
    """Lesson files: the group's students and teacher (and admins) only (of `lesson` alone, when given)."""
    qs = LessonResource.objects.select_related("lesson__group")
    if lesson is not None:
        qs = qs.filter(lesson=lesson)
    if is_admin(user):
        return qs
    return qs.filter(Q(lesson__group__teacher=user) | Q(lesson__group__students=user)).distinct()
