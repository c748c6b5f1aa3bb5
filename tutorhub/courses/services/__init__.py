"""Course, group, schedule, lesson, attendance and resource use cases (canonical API and school dialect)."""

from tutorhub.courses.services.attendance import attendance_bulk_mark
from tutorhub.courses.services.groups import (
    course_create,
    course_delete,
    course_update,
    group_create,
    group_delete,
    group_update,
    lesson_create,
    lesson_delete,
    lesson_update,
    lessons_generate,
    schedule_create,
    schedule_delete,
    schedule_update,
)
from tutorhub.courses.services.resources import lesson_resource_delete, lesson_resource_upload, lessons_remind

__all__ = [
    "attendance_bulk_mark",
    "course_create",
    "course_delete",
    "course_update",
    "group_create",
    "group_delete",
    "group_update",
    "lesson_create",
    "lesson_delete",
    "lesson_resource_delete",
    "lesson_resource_upload",
    "lesson_update",
    "lessons_generate",
    "lessons_remind",
    "schedule_create",
    "schedule_delete",
    "schedule_update",
]
