from __future__ import annotations

from django.contrib import admin

from tutorhub.core.models import ScheduledJobRun


@admin.register(ScheduledJobRun)
class ScheduledJobRunAdmin(admin.ModelAdmin):
    list_display = ["name", "last_run_at"]
    search_fields = ["name"]
    ordering = ["name"]
