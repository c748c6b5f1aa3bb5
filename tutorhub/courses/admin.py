from django.contrib import admin

from tutorhub.courses.models import (
    Attendance,
    Course,
    Group,
    Lesson,
    LessonResource,
    Schedule,
)


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["name", "course_code", "owner", "subject_area", "is_active", "created_at"]
    list_filter = ["is_active", "difficulty_level", "subject_area"]
    search_fields = ["name", "course_code", "description"]
    raw_id_fields = ["owner"]


class ScheduleInline(admin.TabularInline):
    model = Schedule
    extra = 0


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["name", "course", "teacher", "start_date", "end_date", "max_students", "is_active"]
    list_filter = ["is_active", "course"]
    search_fields = ["name"]
    raw_id_fields = ["teacher"]
    filter_horizontal = ["students"]
    inlines = [ScheduleInline]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["group", "day_of_week", "start_time", "duration_minutes"]
    list_filter = ["day_of_week"]
    raw_id_fields = ["group"]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ["group", "scheduled_date", "start_time", "duration_minutes", "status", "topic"]
    list_filter = ["status"]
    date_hierarchy = "scheduled_date"
    raw_id_fields = ["group", "schedule"]


@admin.register(Attendance)
class AttendanceAdmin(admin.ModelAdmin):
    list_display = ["lesson", "student", "status", "marked_by", "updated_at"]
    list_filter = ["status"]
    raw_id_fields = ["lesson", "student", "marked_by"]


@admin.register(LessonResource)
class LessonResourceAdmin(admin.ModelAdmin):
    list_display = ["title", "lesson", "resource_type", "content_type", "file_size_bytes", "created_at"]
    list_filter = ["resource_type"]
    raw_id_fields = ["lesson", "uploaded_by"]
