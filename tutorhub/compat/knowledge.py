"""The chatbot dialect: `POST /api/resources/add/` (title + content) → {"message": "Resource ingested and indexed."}."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.core.exceptions import ServiceError
from tutorhub.courses.selectors import course_list_visible
from tutorhub.knowledge.models import Document
from tutorhub.knowledge.selectors import document_chunk_count
from tutorhub.knowledge.serializers import ResourceAddSerializer
from tutorhub.knowledge.services import resource_add


class ResourceAddView(APIView):
    throttle_scope = "uploads"

    @extend_schema(
        request=ResourceAddSerializer,
        responses={201: inline_serializer("ResourceAdded", {
            "message": serializers.CharField(), "document_id": serializers.UUIDField(),
            "processing_status": serializers.CharField(), "chunk_count": serializers.IntegerField(),
        })},
    )
    def post(self, request):
        serializer = ResourceAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        course = get_object_or_404(course_list_visible(user=request.user), pk=data["course"]) if data.get("course") else None
        document = resource_add(user=request.user, title=data["title"], content=data["content"], course=course)
        if document.processing_status == Document.Status.FAILED:
            raise ServiceError(document.processing_error or "The resource could not be indexed.", error_code="PROCESSING_FAILED", status_code=422)
        return Response(
            {
                "message": "Resource ingested and indexed.",
                "document_id": str(document.id),
                "processing_status": document.processing_status,
                "chunk_count": document_chunk_count(document=document),
            },
            status=status.HTTP_201_CREATED,
        )


urlpatterns = [path("api/resources/add/", ResourceAddView.as_view(), name="compat-resource-add")]
