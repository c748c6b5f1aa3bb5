"""Every model in the admin has a correctly spelled plural (issue 14: "Quizs", "Scheduler
settingss", "Webhook deliverys", "Goal progress entrys"). Django's default plural only appends
"s", which is wrong after s/x/z/ch/sh and after a consonant + y."""

from __future__ import annotations

import re

from django.contrib import admin

# Endings after which a bare "s" is the wrong plural: bus→buses, box→boxes, quiz→quizzes,
# match→matches, dish→dishes, entry→entries (but day→days).
BAD_DEFAULT = re.compile(r"(s|x|z|ch|sh|[^aeiou]y)$")


def _suspicious(singular: str, plural: str) -> bool:
    return plural == singular + "s" and bool(BAD_DEFAULT.search(singular))


def test_the_check_knows_the_reported_mistakes():
    assert _suspicious("quiz", "quizs") and _suspicious("scheduler settings", "scheduler settingss")
    assert _suspicious("webhook delivery", "webhook deliverys") and _suspicious("goal progress entry", "goal progress entrys")
    assert not _suspicious("course", "courses") and not _suspicious("holiday", "holidays")
    assert not _suspicious("quiz", "quizzes")


def test_every_registered_models_plural_is_spelled_right():
    wrong = [
        f"{model._meta.label}: {model._meta.verbose_name_plural}"
        for model in admin.site._registry
        if _suspicious(str(model._meta.verbose_name), str(model._meta.verbose_name_plural))
    ]
    assert wrong == []
