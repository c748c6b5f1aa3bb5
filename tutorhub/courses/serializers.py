from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from tutorhub.core.serializers import BuiltFieldsCacheMixin, OrderedDatesMixin, ScopedPrimaryKeyRelatedField
from tutorhub.courses.models import (
    Attendance,
    Course,
    Group,
    Lesson,
    LessonResource,
    Schedule,
)
from tutorhub.courses.selectors import group_list_visible, group_student_ids

User = get_user_model()
MAX_ID = 2**63 - 1  # larger ids would overflow the database integer: a 400, not a 500


class UserBriefSerializer(serializers.ModelSerializer):
    full_name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "full_name"]

    def get_full_name(self, obj) -> str:
        return obj.get_full_name()


class CourseSerializer(OrderedDatesMixin, serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Course
        fields = [
            "id", "owner", "name", "description", "university", "course_code", "semester", "academic_year",
            "credits", "language", "subject_area", "difficulty_level", "color", "icon", "start_date", "end_date",
            "exam_date", "is_active", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "owner", "created_at", "updated_at"]
        extra_kwargs = {"credits": {"min_value": 0, "max_value": 60}}



class StudentIdsField(serializers.ManyRelatedField):
    """A group's students as ids: those selectors.group_list_for_api reads with the group (no User
    instances), else the group's students read as usual."""

    def get_attribute(self, instance):
        ids = group_student_ids(instance)
        return ids if ids is not None else super().get_attribute(instance)

    def to_representation(self, iterable):
        return [getattr(student, "pk", student) for student in iterable]


class GroupSerializer(OrderedDatesMixin, BuiltFieldsCacheMixin, serializers.ModelSerializer):
    course = serializers.PrimaryKeyRelatedField(queryset=Course.objects.all())
    teacher = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(role="teacher"), allow_null=True, required=False)
    students = StudentIdsField(
        child_relation=serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(role="student")), required=False
    )
    student_count = serializers.SerializerMethodField()
    course_name = serializers.CharField(source="course.name", read_only=True)
    teacher_name = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = [
            "id", "name", "course", "course_name", "teacher", "teacher_name", "students", "student_count",
            "start_date", "end_date", "max_students", "description", "is_active", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "max_students": {
                "min_value": 1, "max_value": 1000, "error_messages": {"min_value": "A group needs at least one place."}
            }
        }

    def get_student_count(self, obj) -> int:
        ids = group_student_ids(obj)
        return len(ids if ids is not None else obj.students.all())

    def get_teacher_name(self, obj) -> str:
        return obj.teacher.get_full_name() if obj.teacher else ""


class ScheduleSerializer(serializers.ModelSerializer):
    day_of_week = serializers.IntegerField(min_value=0, max_value=6, help_text="0=Monday … 6=Sunday")
    duration_minutes = serializers.IntegerField(min_value=5, max_value=600, default=90)
    lessons_count = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = ["id", "group", "day_of_week", "start_time", "duration_minutes", "lessons_count", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_lessons_count(self, obj) -> int:
        return getattr(obj, "lessons_count", 0)


class LessonSerializer(serializers.ModelSerializer):
    group = ScopedPrimaryKeyRelatedField(selector=group_list_visible, model=Group)
    group_name = serializers.CharField(source="group.name", read_only=True)

    class Meta:
        model = Lesson
        fields = [
            "id", "group", "group_name", "schedule", "scheduled_date", "start_time", "duration_minutes", "topic",
            "notes", "status", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "schedule", "created_at", "updated_at"]
        extra_kwargs = {"duration_minutes": {"min_value": 5, "max_value": 600}}


class LessonUpdateSerializer(LessonSerializer):
    group = serializers.PrimaryKeyRelatedField(read_only=True)


class AttendanceSerializer(serializers.ModelSerializer):
    student_name = serializers.CharField(source="student.get_full_name", read_only=True)
    lesson_date = serializers.DateField(source="lesson.scheduled_date", read_only=True)
    group = serializers.IntegerField(source="lesson.group_id", read_only=True)

    class Meta:
        model = Attendance
        fields = ["id", "lesson", "lesson_date", "group", "student", "student_name", "status", "notes", "marked_by", "updated_at"]
        read_only_fields = fields


class AttendanceEntrySerializer(serializers.Serializer):
    # An id, checked against the lesson's group by the service (in one query for the whole list).
    student = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    status = serializers.ChoiceField(choices=Attendance.Status.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class AttendanceBulkMarkSerializer(serializers.Serializer):
    lesson_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    attendance_data = AttendanceEntrySerializer(many=True, allow_empty=False)


class AttendanceBulkResultSerializer(serializers.Serializer):
    lesson_id = serializers.IntegerField()
    marked = serializers.IntegerField()
    attendance = AttendanceSerializer(many=True)


class AttendanceHistorySerializer(serializers.Serializer):
    student_id = serializers.IntegerField()
    summary = serializers.DictField(child=serializers.IntegerField())
    attendance_rate = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = AttendanceSerializer(many=True)


class LessonResourceSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = LessonResource
        fields = [
            "id", "lesson", "title", "description", "resource_type", "original_filename", "content_type",
            "file_size_bytes", "uploaded_by", "knowledge_document_id", "download_url", "created_at",
        ]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        return f"/api/v1/resources/{obj.pk}/download/"


class LessonResourceUploadSerializer(serializers.Serializer):
    lesson = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    file = serializers.FileField()
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
