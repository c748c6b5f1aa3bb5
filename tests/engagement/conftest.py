import pytest  # noqa: E402

from tests.courses.fixtures import School, run_on_commit, school  # noqa: F401 - shared fixtures
from tests.engagement.fakes import FakeMessagingServer  # noqa: E402


@pytest.fixture
def messaging(settings):
    """Telegram and SMS channels pointed at one loopback fake; email goes to Django's locmem outbox."""
    server = FakeMessagingServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NOTIFICATION_RETRY_SECONDS = 0
    settings.NOTIFICATION_CHANNELS = {
        "email": {"BACKEND": "tutorhub.engagement.delivery.EmailChannel", "OPTIONS": {}},
        "telegram": {
            "BACKEND": "tutorhub.engagement.delivery.TelegramChannel",
            "OPTIONS": {"token": "123:ABC", "api_base": f"{server.base_url}/telegram", "timeout": 2},
        },
        "sms": {
            "BACKEND": "tutorhub.engagement.delivery.SmsChannel",
            "OPTIONS": {"url": f"{server.base_url}/sms/send", "api_key": "sms-key", "sender": "TutorHub", "timeout": 2},
        },
    }
    yield server
    server.stop()
