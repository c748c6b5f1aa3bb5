from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from tutorhub.core.scheduler import periodic
from tutorhub.courses import services


@periodic(every=timedelta(minutes=15))
@task()
def lesson_reminders_send() -> int:
    """Every 15 minutes: remind students and teachers of lessons starting within LESSON_REMINDER_HOURS."""
    return services.lessons_remind()
