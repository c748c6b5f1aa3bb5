"""tutorhub.ai reports usage through the recorder an app registers (billing, in this project)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tutorhub.ai import UsageRecorder, llm, usage_recorder_register, usage_scope
from tutorhub.ai import base as ai_base
from tutorhub.billing.services import AiUsageRecorder

MESSAGES = [{"role": "user", "content": "What is photosynthesis?"}]


class ListRecorder(UsageRecorder):
    def __init__(self):
        self.records, self.releases = [], []

    def record(self, *, user, feature, completion):
        self.records.append((user, feature, completion.total_tokens))

    def release(self, *, user):
        self.releases.append(user)


@pytest.fixture
def registered():
    """Put back whatever recorder was registered (billing's) after the test."""
    previous = ai_base._recorder
    yield
    usage_recorder_register(previous)


def test_billing_registers_its_ledger_when_the_app_loads():
    assert isinstance(ai_base._recorder, AiUsageRecorder)


def test_attributed_calls_reach_the_registered_recorder(registered, user):
    recorder = ListRecorder()
    usage_recorder_register(recorder)
    with usage_scope(user=user, feature="probe"):
        completion = llm["default"].complete(MESSAGES)
    assert recorder.records == [(user, "probe", completion.total_tokens)] and completion.total_tokens > 0


def test_attributed_usage_without_a_recorder_is_a_configuration_error(registered, user):
    usage_recorder_register(None)
    with usage_scope(user=user, feature="probe"), pytest.raises(ImproperlyConfigured, match="usage recorder"):
        llm["default"].complete(MESSAGES)
