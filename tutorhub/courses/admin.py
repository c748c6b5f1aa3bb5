from django.contrib import admin

from tutorhub.courses.models import Course, Group


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["name", "course_code", "owner", "subject_area", "is_active", "created_at"]
    list_filter = ["is_active", "difficulty_level", "subject_area"]
    search_fields = ["name", "course_code", "description"]
    raw_id_fields = ["owner"]


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["name", "course", "teacher", "start_date", "end_date", "max_students", "is_active"]
    list_filter = ["is_active", "course"]
    search_fields = ["name"]
    raw_id_fields = ["teacher"]
    filter_horizontal = ["students"]
