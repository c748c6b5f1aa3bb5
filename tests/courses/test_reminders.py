from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tutorhub.courses.models import Lesson
from tutorhub.courses.services import lessons_remind
from tutorhub.engagement.models import Notification

pytestmark = pytest.mark.django_db


def test_lesson_reminders_once_within_horizon(school, settings):
    settings.LESSON_REMINDER_HOURS = 24
    now = timezone.make_aware(datetime.datetime(2026, 1, 11, 18, 0))
    soon = Lesson.objects.create(group=school.group, scheduled_date=datetime.date(2026, 1, 12), start_time=datetime.time(17))
    later = Lesson.objects.create(group=school.group, scheduled_date=datetime.date(2026, 1, 12), start_time=datetime.time(19))
    past = Lesson.objects.create(group=school.group, scheduled_date=datetime.date(2026, 1, 11), start_time=datetime.time(9))
    cancelled = Lesson.objects.create(
        group=school.group, scheduled_date=datetime.date(2026, 1, 12), start_time=datetime.time(10), status="cancelled"
    )
    assert lessons_remind(now=now) == 1
    reminded = Notification.objects.filter(kind="lesson_reminder")
    assert {n.user_id for n in reminded} == {school.student.pk, school.classmate.pk, school.teacher.pk}
    assert {n.data["lesson_id"] for n in reminded} == {soon.pk}
    assert lessons_remind(now=now) == 0  # never twice
    assert lessons_remind(now=now + datetime.timedelta(hours=2)) == 1  # "later" enters the window
    for lesson in (past, cancelled):
        lesson.refresh_from_db()
        assert lesson.reminder_sent_at is None
    later.refresh_from_db()
    assert later.reminder_sent_at is not None


def test_scheduler_runs_the_reminder_job(school):
    from tutorhub.core.scheduler import run_due_jobs

    started = run_due_jobs()
    assert "tutorhub.courses.tasks.lesson_reminders_send" in started
    assert "tutorhub.billing.tasks.payments_overdue_mark" in started
    assert "tutorhub.courses.tasks.lesson_reminders_send" not in run_due_jobs()  # not due again yet
