"""Courses, groups, weekly schedules and the lessons generated from them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from rest_framework.exceptions import ValidationError

from tutorhub.core.exceptions import Conflict
from tutorhub.courses.models import Attendance, Course, Group, Lesson, Schedule
from tutorhub.engagement.services import notification_create


def _apply(instance, data: dict, *, m2m: tuple[str, ...] = ()) -> None:
    for name, value in data.items():
        if name not in m2m:
            setattr(instance, name, value)
    instance.full_clean()
    instance.save()


# --- courses --------------------------------------------------------------------------------


@transaction.atomic
def course_create(*, owner, data: dict) -> Course:
    course = Course(owner=owner)
    _apply(course, data)
    return course


@transaction.atomic
def course_update(*, course: Course, data: dict) -> Course:
    _apply(course, data)
    return course


@transaction.atomic
def course_delete(*, course: Course) -> None:
    course.delete()


# --- groups ---------------------------------------------------------------------------------


def _check_capacity(max_students: int, students) -> None:
    if len(students) > max_students:
        raise ValidationError(
            {"students": [f"The group is full: {len(students)} students for {max_students} places (max_students)."]}
        )


@transaction.atomic
def group_create(*, data: dict) -> Group:
    students = list(data.pop("students", []))
    group = Group()
    _check_capacity(data.get("max_students", 20), students)
    _apply(group, data)
    group.students.set(students)
    return group


@transaction.atomic
def group_update(*, group: Group, data: dict) -> Group:
    group = Group.objects.select_for_update().get(pk=group.pk)
    students = data.pop("students", None)
    dates_changed = any(k in data and data[k] != getattr(group, k) for k in ("start_date", "end_date"))
    max_students = data.get("max_students", group.max_students)
    _check_capacity(max_students, students if students is not None else list(group.students.all()))
    _apply(group, data)
    if students is not None:
        group.students.set(students)
    if dates_changed:
        lessons_generate(group=group)
    return group


@transaction.atomic
def group_delete(*, group: Group) -> None:
    group.delete()


# --- schedules ------------------------------------------------------------------------------


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _check_double_booking(*, group: Group, day_of_week: int, start_time: time, duration_minutes: int, exclude_pk=None) -> None:
    """A group cannot have two overlapping slots, nor its teacher two groups at the same time
    while both groups run (their date ranges overlap)."""
    same_time_slots = Q(group=group)
    if group.teacher_id:
        same_time_slots |= Q(
            group__teacher_id=group.teacher_id,
            group__start_date__lte=group.end_date,
            group__end_date__gte=group.start_date,
        )
    start, end = _minutes(start_time), _minutes(start_time) + duration_minutes
    candidates = Schedule.objects.filter(same_time_slots, day_of_week=day_of_week).exclude(pk=exclude_pk).select_related("group")
    for other in candidates:
        other_start = _minutes(other.start_time)
        if start < other_start + other.duration_minutes and other_start < end:
            who = "This group" if other.group_id == group.pk else f"The teacher (group “{other.group.name}”)"
            raise Conflict(
                f"Double booking: {who} already has a lesson at {other.start_time:%H:%M} "
                f"for {other.duration_minutes} minutes on that day.",
                error_code="DOUBLE_BOOKING",
            )


@transaction.atomic
def schedule_create(*, group: Group, day_of_week: int, start_time: time, duration_minutes: int) -> Schedule:
    group = Group.objects.select_for_update().get(pk=group.pk)
    _check_double_booking(group=group, day_of_week=day_of_week, start_time=start_time, duration_minutes=duration_minutes)
    schedule = Schedule.objects.create(
        group=group, day_of_week=day_of_week, start_time=start_time, duration_minutes=duration_minutes
    )
    lessons_generate(group=group)
    return schedule


@transaction.atomic
def schedule_update(*, schedule: Schedule, data: dict) -> Schedule:
    group = Group.objects.select_for_update().get(pk=data.get("group", schedule.group).pk)
    merged = {
        "day_of_week": data.get("day_of_week", schedule.day_of_week),
        "start_time": data.get("start_time", schedule.start_time),
        "duration_minutes": data.get("duration_minutes", schedule.duration_minutes),
    }
    _check_double_booking(group=group, exclude_pk=schedule.pk, **merged)
    old_group_id = schedule.group_id
    _apply(schedule, {**merged, "group": group})
    lessons_generate(group=group)
    if old_group_id != group.pk:
        lessons_generate(group=Group.objects.get(pk=old_group_id))
    return schedule


@transaction.atomic
def schedule_delete(*, schedule: Schedule) -> None:
    group = schedule.group
    # Lessons that already have attendance survive (their schedule becomes NULL); the rest go.
    schedule.lessons.filter(~Exists(Attendance.objects.filter(lesson=OuterRef("pk")))).exclude(
        status=Lesson.Status.COMPLETED
    ).delete()
    schedule.delete()
    lessons_generate(group=group)


# --- lessons --------------------------------------------------------------------------------


def _dates_for(day_of_week: int, start: date, end: date):
    current = start + timedelta(days=(day_of_week - start.weekday()) % 7)
    while current <= end:
        yield current
        current += timedelta(days=7)


@transaction.atomic
def lessons_generate(*, group: Group) -> dict[str, int]:
    """Make the group's scheduled lessons match its schedules and dates.

    Idempotent: one lesson per (schedule, date) between start_date and end_date; lessons whose
    slot moved get the new time; lessons no longer in the plan are deleted unless they already
    have attendance or are completed (history is kept). Manually added lessons are untouched.
    Returns counts of created/updated/deleted/kept lessons.
    """
    group = Group.objects.select_for_update().get(pk=group.pk)
    schedules = {s.pk: s for s in group.schedules.all()}
    desired = {(pk, d) for pk, s in schedules.items() for d in _dates_for(s.day_of_week, group.start_date, group.end_date)}
    existing = (
        group.lessons.filter(schedule__isnull=False)
        .annotate(has_attendance=Exists(Attendance.objects.filter(lesson=OuterRef("pk"))))
    )
    counts = {"created": 0, "updated": 0, "deleted": 0, "kept": 0}
    seen: set[tuple[int, date]] = set()
    to_delete: list[int] = []
    for lesson in existing:
        key = (lesson.schedule_id, lesson.scheduled_date)
        frozen = lesson.has_attendance or lesson.status == Lesson.Status.COMPLETED
        if key in desired:
            seen.add(key)
            slot = schedules[lesson.schedule_id]
            if not frozen and (lesson.start_time, lesson.duration_minutes) != (slot.start_time, slot.duration_minutes):
                lesson.start_time, lesson.duration_minutes = slot.start_time, slot.duration_minutes
                lesson.save(update_fields=["start_time", "duration_minutes", "updated_at"])
                counts["updated"] += 1
        elif frozen:
            counts["kept"] += 1
        else:
            to_delete.append(lesson.pk)
    if to_delete:
        counts["deleted"] = Lesson.objects.filter(pk__in=to_delete).delete()[1].get("courses.Lesson", 0)
    new = [
        Lesson(
            group=group,
            schedule_id=pk,
            scheduled_date=d,
            start_time=schedules[pk].start_time,
            duration_minutes=schedules[pk].duration_minutes,
        )
        for pk, d in sorted(desired - seen)
    ]
    # ignore_conflicts: the unique (schedule, date) constraint is the last guard against duplicates.
    Lesson.objects.bulk_create(new, ignore_conflicts=True)
    counts["created"] = len(new)
    return counts


@transaction.atomic
def lesson_create(*, group: Group, data: dict) -> Lesson:
    scheduled_date = data["scheduled_date"]
    if not group.start_date <= scheduled_date <= group.end_date:
        raise ValidationError({"scheduled_date": ["The date must be within the group's start and end dates."]})
    lesson = Lesson(group=group)
    _apply(lesson, data)
    return lesson


@transaction.atomic
def lesson_update(*, lesson: Lesson, data: dict) -> Lesson:
    _apply(lesson, data)
    return lesson


@transaction.atomic
def lesson_delete(*, lesson: Lesson) -> None:
    lesson.delete()


def lesson_starts_at(lesson: Lesson) -> datetime:
    from django.utils import timezone

    return timezone.make_aware(datetime.combine(lesson.scheduled_date, lesson.start_time))


def lesson_students_notify(*, lesson: Lesson, kind: str, title: str, data: dict) -> None:
    """Tell every student of the lesson's group about something new for that lesson."""
    message = f"{lesson.group.name}, lesson of {lesson.scheduled_date:%Y-%m-%d}"
    for student in lesson.group.students.all():
        notification_create(user=student, kind=kind, title=title, message=message, data={**data, "lesson_id": lesson.pk})
