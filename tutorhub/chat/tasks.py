from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from tutorhub.core.scheduler import periodic


@periodic(every=timedelta(minutes=2))
@task()
def chat_unanswered_mark() -> int:
    """Every 2 minutes: a question whose answer was lost (the server died mid-stream) gets an
    answer marked incomplete, so no turn is left hanging after a restart."""
    from tutorhub.chat.durability import chat_unanswered_mark as mark

    return mark()
