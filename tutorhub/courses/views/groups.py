from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from tutorhub.core.compiled import CompiledQuery
from tutorhub.core.pagination import CompiledListMixin
from tutorhub.core.permissions import IsAdminRole, is_admin
from tutorhub.courses import selectors, services
from tutorhub.courses.models import Course, Group, Lesson, Schedule
from tutorhub.courses.serializers import (
    CourseSerializer,
    GroupSerializer,
    LessonSerializer,
    LessonUpdateSerializer,
    ScheduleSerializer,
)
from tutorhub.courses.views.common import ID_BOUNDS, UUID_RE, require_teaching

# --- courses (canonical API) ----------------------------------------------------------------------


class CourseViewSet(viewsets.ModelViewSet):
    queryset = Course.objects.none()  # for schema generation; get_queryset scopes to the caller
    serializer_class = CourseSerializer
    lookup_value_regex = UUID_RE
    filterset_fields = ["difficulty_level", "subject_area", "is_active"]
    search_fields = ["name", "description", "course_code"]
    ordering_fields = ["name", "created_at", "start_date"]

    def get_queryset(self):
        return selectors.course_list_visible(user=self.request.user)

    def _require_owner(self, course: Course) -> None:
        if not (is_admin(self.request.user) or course.owner_id == self.request.user.pk):
            raise PermissionDenied("Only the course owner or an admin can change this course.")

    def perform_create(self, serializer):
        serializer.instance = services.course_create(owner=self.request.user, data=serializer.validated_data)

    def perform_update(self, serializer):
        self._require_owner(serializer.instance)
        serializer.instance = services.course_update(course=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance):
        self._require_owner(instance)
        services.course_delete(course=instance)


# --- groups and schedules -------------------------------------------------------------------


class GroupFilter(filters.FilterSet):
    teacher = filters.NumberFilter(field_name="teacher_id", **ID_BOUNDS)
    students = filters.NumberFilter(field_name="students__id", distinct=True, **ID_BOUNDS)
    course = filters.UUIDFilter(field_name="course_id")

    class Meta:
        model = Group
        fields = ["teacher", "students", "course", "is_active"]


class GroupViewSet(CompiledListMixin, viewsets.ModelViewSet):
    """Groups: everyone sees the groups they teach, study in, or (parents) their children study in; admins manage."""
    lookup_value_regex = r"\d+"

    queryset = Group.objects.none()  # for schema generation; get_queryset scopes to the caller
    serializer_class = GroupSerializer
    # The plain list (no filter, search or ordering), compiled once per role (a parent's filter adds
    # the children).
    compiled_list = CompiledQuery(
        "groups", lambda user: selectors.group_list_for_api(user=user), user=("is_superuser", "role")
    )
    filterset_class = GroupFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "start_date", "created_at"]

    def get_permissions(self):
        if self.action in {"create", "update", "partial_update", "destroy", "regenerate_lessons"}:
            return [IsAdminRole()]
        return super().get_permissions()

    def compiled_list_values(self) -> dict | None:
        # An admin's list does not depend on who asks (every group): DRF's list, as for any few callers.
        return None if is_admin(self.request.user) else {"user": self.request.user}

    def get_queryset(self):
        return selectors.group_list_for_api(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.group_create(data=dict(serializer.validated_data))

    def perform_update(self, serializer):
        serializer.instance = services.group_update(group=serializer.instance, data=dict(serializer.validated_data))

    def perform_destroy(self, instance):
        services.group_delete(group=instance)

    @extend_schema(request=None, responses={200: {"type": "object", "additionalProperties": {"type": "integer"}}})
    @action(detail=True, methods=["post"], url_path="regenerate-lessons")
    def regenerate_lessons(self, request, pk=None):
        return Response(services.lessons_generate(group=self.get_object()))


class ScheduleViewSet(viewsets.ModelViewSet):
    """Weekly slots. Creating, changing or deleting one regenerates the group's lessons."""
    lookup_value_regex = r"\d+"

    queryset = Schedule.objects.none()  # for schema generation; get_queryset scopes to the caller
    serializer_class = ScheduleSerializer
    filterset_fields = ["group", "day_of_week"]

    def get_permissions(self):
        if self.action in {"create", "update", "partial_update", "destroy"}:
            return [IsAdminRole()]
        return super().get_permissions()

    def get_queryset(self):
        return selectors.schedule_list_visible(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.schedule_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.schedule_update(schedule=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance):
        services.schedule_delete(schedule=instance)


# --- lessons --------------------------------------------------------------------------------


class LessonFilter(filters.FilterSet):
    group__students = filters.NumberFilter(field_name="group__students__id", distinct=True, **ID_BOUNDS)
    scheduled_date__gte = filters.DateFilter(field_name="scheduled_date", lookup_expr="gte")
    scheduled_date__lte = filters.DateFilter(field_name="scheduled_date", lookup_expr="lte")

    class Meta:
        model = Lesson
        fields = ["status", "group", "scheduled_date", "schedule"]


class LessonViewSet(viewsets.ModelViewSet):
    lookup_value_regex = r"\d+"
    queryset = Lesson.objects.none()
    filterset_class = LessonFilter
    search_fields = ["topic", "notes"]
    ordering_fields = ["scheduled_date", "start_time"]

    def get_serializer_class(self):
        return LessonUpdateSerializer if self.action in {"update", "partial_update"} else LessonSerializer

    def get_queryset(self):
        group = None
        if "group_id" in self.kwargs:
            group = get_object_or_404(selectors.group_list_visible(user=self.request.user), pk=self.kwargs["group_id"])
        return selectors.lesson_list_visible(user=self.request.user, group=group)

    def perform_create(self, serializer):
        group = serializer.validated_data.pop("group")  # one the caller can see (the serializer's field)
        require_teaching(self.request.user, group)
        serializer.instance = services.lesson_create(group=group, data=serializer.validated_data)

    def perform_update(self, serializer):
        require_teaching(self.request.user, serializer.instance.group)
        serializer.instance = services.lesson_update(lesson=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance):
        if not is_admin(self.request.user):
            raise PermissionDenied("Only an admin can delete lessons.")
        services.lesson_delete(lesson=instance)
