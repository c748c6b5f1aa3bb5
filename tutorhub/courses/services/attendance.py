from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from rest_framework.exceptions import ValidationError

from tutorhub.courses.models import Attendance, Lesson
from tutorhub.engagement.models import CoinTransaction
from tutorhub.engagement.services import achievements_evaluate, coins_award, notification_create


def _attendance_coins_reconcile(*, record: Attendance, reason: str) -> None:
    """Make the student's attendance coins for this lesson match its current status.

    Each change is its own ledger row (key "attendance:<lesson>:<student>:<n>"), so re-marking
    present → absent → present never double-awards, and a correction takes the coins back (as
    far as the balance allows; coins already spent stay spent). Callers hold the lesson row lock.
    """
    prefix = f"attendance:{record.lesson_id}:{record.student_id}"
    entries = CoinTransaction.objects.filter(user_id=record.student_id, idempotency_key__startswith=f"{prefix}:")
    held, count = entries.aggregate(total=Sum("amount"))["total"] or 0, entries.count()
    target = settings.COINS_PER_ATTENDANCE if record.status in Attendance.ATTENDED else 0
    delta = target - held
    if delta < 0:
        delta = -min(-delta, record.student.coins)
    if delta:
        coins_award(
            user=record.student,
            amount=delta,
            reason=reason if delta > 0 else f"Attendance corrected: {reason[len('Attended '):]}",
            idempotency_key=f"{prefix}:{count + 1}",
            notify=False,
        )


@transaction.atomic
def attendance_bulk_mark(*, lesson: Lesson, marked_by, entries: list[dict]) -> list[Attendance]:
    """Mark (or re-mark) attendance for several students of the lesson's group, all or nothing.

    entries: [{"student": user id, "status": ..., "notes": ...}]. Every student must belong to the
    group and appear once; otherwise nothing is written (400). Marking completes the lesson,
    awards the attendance coins once per lesson and student, notifies the students (and parents
    of absent ones) and re-evaluates achievements.
    """
    lesson = Lesson.objects.select_for_update().select_related("group").get(pk=lesson.pk)
    if lesson.status == Lesson.Status.CANCELLED:
        raise ValidationError({"lesson_id": ["The lesson is cancelled."]})
    ids = [e["student"] for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValidationError({"attendance_data": [f"Students listed more than once: {duplicates}."]})
    # One query for all of them; an id of no user at all gets the same answer as another
    # group's student, so the list cannot be used to probe which user ids exist.
    members = {student.pk: student for student in lesson.group.students.filter(pk__in=ids)}
    foreign = sorted(set(ids) - set(members))
    if foreign:
        raise ValidationError({"attendance_data": [f"Students not in this lesson's group: {foreign}."]})

    existing = {a.student_id: a for a in Attendance.objects.filter(lesson=lesson, student_id__in=ids)}
    records: list[Attendance] = []
    for entry in entries:
        record = existing.get(entry["student"]) or Attendance(lesson=lesson)
        record.student = members[entry["student"]]  # the loaded user: no query per record later
        record.status, record.notes, record.marked_by = entry["status"], entry.get("notes", ""), marked_by
        record.save()
        records.append(record)
    if lesson.status != Lesson.Status.COMPLETED:
        lesson.status = Lesson.Status.COMPLETED
        lesson.save(update_fields=["status", "updated_at"])

    when = f"{lesson.group.name}, {lesson.scheduled_date:%Y-%m-%d} {lesson.start_time:%H:%M}"
    for record in records:
        student = record.student
        _attendance_coins_reconcile(record=record, reason=f"Attended {when}")
        data = {"lesson_id": lesson.pk, "group_id": lesson.group_id, "status": record.status}
        title = f"Attendance: {record.get_status_display().lower()}"
        notification_create(user=student, kind="attendance_marked", title=title, message=when, data=data)
        if record.status == Attendance.Status.ABSENT:
            for parent in student.parents.all():
                notification_create(
                    user=parent,
                    kind="attendance_marked",
                    title=f"{student.get_full_name() or student.username} was absent",
                    message=when,
                    data={**data, "student_id": student.pk},
                )
        achievements_evaluate(user=student)
    return records
