from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from tutorhub.courses import selectors, services
from tutorhub.courses.models import Attendance
from tutorhub.courses.serializers import (
    AttendanceBulkMarkSerializer,
    AttendanceBulkResultSerializer,
    AttendanceHistorySerializer,
    AttendanceSerializer,
)
from tutorhub.courses.views.common import require_teaching
from tutorhub.engagement.selectors import student_visible_to


class AttendanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Attendance records the caller may see (own, children's, their groups'; admins all)."""

    queryset = Attendance.objects.none()  # for schema generation; get_queryset scopes to the caller
    serializer_class = AttendanceSerializer
    lookup_value_regex = r"\d+"
    filterset_fields = {"student": ["exact"], "lesson": ["exact"], "lesson__group": ["exact"], "status": ["exact"]}

    def get_queryset(self):
        return selectors.attendance_list_visible(user=self.request.user)

    @extend_schema(request=AttendanceBulkMarkSerializer, responses=AttendanceBulkResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk-mark")
    def bulk_mark(self, request):
        payload = AttendanceBulkMarkSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        lesson = get_object_or_404(
            selectors.lesson_list_visible(user=request.user), pk=payload.validated_data["lesson_id"]
        )
        require_teaching(request.user, lesson.group)
        records = services.attendance_bulk_mark(
            lesson=lesson, marked_by=request.user, entries=payload.validated_data["attendance_data"]
        )
        body = {"lesson_id": lesson.pk, "marked": len(records), "attendance": records}
        return Response(AttendanceBulkResultSerializer(body).data)

    @extend_schema(responses=AttendanceHistorySerializer)
    @action(detail=False, methods=["get"], url_path=r"student/(?P<student_id>\d+)")
    def student_history(self, request, student_id=None):
        student = student_visible_to(viewer=request.user, student_id=int(student_id))
        if student is None:
            raise NotFound()  # the error envelope, like every other unknown object
        qs = self.filter_queryset(selectors.attendance_list_visible(user=request.user, student=student))
        summary = selectors.attendance_status_counts(qs)
        total = sum(summary.values()) - summary["excused"]
        attended = summary["present"] + summary["late"]
        page = self.paginate_queryset(qs)
        return Response(
            {
                "student_id": student.pk,
                "summary": summary,
                "attendance_rate": round(attended / total, 4) if total else None,
                "count": self.paginator.page.paginator.count,
                "next": self.paginator.get_next_link(),
                "previous": self.paginator.get_previous_link(),
                "results": AttendanceSerializer(page, many=True).data,
            }
        )
