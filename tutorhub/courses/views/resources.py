from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from tutorhub.core.files import file_download_schema, serve_private_file, wants_inline
from tutorhub.core.uploads import refuse_oversized_body
from tutorhub.courses import selectors, services
from tutorhub.courses.models import LessonResource
from tutorhub.courses.serializers import LessonResourceSerializer, LessonResourceUploadSerializer
from tutorhub.courses.views.common import require_teaching


class LessonResourceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    queryset = LessonResource.objects.none()  # for schema generation; get_queryset scopes to the caller
    serializer_class = LessonResourceSerializer
    lookup_value_regex = r"\d+"
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["lesson", "resource_type"]

    def get_queryset(self):
        lesson = None
        if "lesson_id" in self.kwargs:
            lesson = get_object_or_404(selectors.lesson_list_visible(user=self.request.user), pk=self.kwargs["lesson_id"])
        return selectors.resource_list_visible(user=self.request.user, lesson=lesson)

    def get_throttles(self):
        self.throttle_scope = "uploads" if self.action == "create" else None
        return super().get_throttles()

    @extend_schema(request={"multipart/form-data": LessonResourceUploadSerializer}, responses={201: LessonResourceSerializer})
    def create(self, request):
        refuse_oversized_body(request, settings.LESSON_RESOURCE_MAX_BYTES)  # before parsing
        payload = LessonResourceUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        lesson = selectors.lesson_get_visible(user=request.user, lesson_id=data["lesson"])
        if lesson is None:
            raise ValidationError({"lesson": ["Unknown lesson."]})
        require_teaching(request.user, lesson.group)
        resource = services.lesson_resource_upload(
            lesson=lesson, uploaded_by=request.user, upload=data["file"], title=data["title"], description=data["description"]
        )
        return Response(LessonResourceSerializer(resource).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        require_teaching(self.request.user, instance.lesson.group)
        services.lesson_resource_delete(resource=instance)

    @file_download_schema()
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        resource = self.get_object()
        return serve_private_file(
            request, resource.file, filename=resource.original_filename, content_type=resource.content_type,
            inline=wants_inline(request),
        )
