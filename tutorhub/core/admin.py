from __future__ import annotations

from django.contrib import admin

from tutorhub.core.models import ChannelLayerMessage, ScheduledJobRun, WorkerHeartbeat


@admin.register(ScheduledJobRun)
class ScheduledJobRunAdmin(admin.ModelAdmin):
    list_display = ["name", "last_run_at"]
    search_fields = ["name"]
    ordering = ["name"]


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by running processes: an operator looks at them, never edits them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(_ReadOnlyAdmin):
    list_display = ["worker_id", "hostname", "pid", "started_at", "heartbeat_at", "current_task_id"]
    ordering = ["-heartbeat_at"]


@admin.register(ChannelLayerMessage)
class ChannelLayerMessageAdmin(_ReadOnlyAdmin):
    list_display = ["id", "created_at", "origin", "group"]
    list_filter = ["group"]
    ordering = ["-id"]
