"""Background jobs of accounts: mail goes out from the worker, never inside a request."""

from __future__ import annotations

from django_tasks import task

from tutorhub.accounts import services


@task()
def password_reset_email_send(user_id: int) -> bool:
    return services.user_password_reset_email_send(user_id=user_id)


@task()
def registration_attempt_email_send(user_id: int) -> bool:
    return services.user_registration_attempt_email_send(user_id=user_id)
