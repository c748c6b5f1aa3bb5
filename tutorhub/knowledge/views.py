from __future__ import annotations

import os

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.ai import usage_scope
from tutorhub.core.compiled import CompiledQuery
from tutorhub.core.files import file_download_schema, serve_private_file, wants_inline
from tutorhub.core.pagination import CompiledListMixin
from tutorhub.core.parsers import JSONParser  # depth-limited (JSON_MAX_DEPTH)
from tutorhub.courses.selectors import course_list_visible
from tutorhub.knowledge import selectors, services
from tutorhub.knowledge.extraction import KINDS
from tutorhub.knowledge.models import Document
from tutorhub.knowledge.retrieval import retrieve
from tutorhub.knowledge.serializers import (
    DocumentContentSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    DocumentUploadUrlSerializer,
    PassageSerializer,
    ProcessingStatusSerializer,
    SearchRequestSerializer,
    SearchResponseSerializer,
    UploadLimitsSerializer,
    UploadResultSerializer,
)

SUPPORTED_URL_TYPES = ["web_page", "pdf_url", "academic_paper"]  # academic papers: by their PDF or HTML URL


def _estimate_seconds(document: Document) -> int:
    """Rough processing time: ~1 s per MB of text-bearing file, OCR and downloads slower."""
    mb = max(1, document.file_size_bytes // (1024 * 1024))
    if document.document_type in ("png", "jpeg"):
        return 5 + 5 * mb
    return 2 + mb + (5 if document.source_url else 0)


def upload_result(document: Document) -> dict:
    document = selectors.document_refreshed(document)
    return {
        "document": document,
        "upload_status": "success",
        "processing_id": document.processing_task_id or str(document.id),
        "estimated_processing_time": _estimate_seconds(document),
    }


def processing_status(document: Document) -> dict:
    meta = document.processing_metadata or {}
    return {
        "document_id": document.id,
        "processing_status": document.processing_status,
        "processing_error": document.processing_error,
        "progress_percentage": document.progress_percentage,
        "extracted_content_available": bool(document.extracted_text),
        "processing_metadata": {
            "pages_processed": meta.get("pages_processed", 0),
            "text_extracted": bool(meta.get("text_extracted")),
            "embeddings_created": bool(meta.get("embeddings_created")),
            "summary_generated": bool(meta.get("summary_generated")),
            **{k: v for k, v in meta.items() if k not in ("pages_processed", "text_extracted", "embeddings_created", "summary_generated")},
        },
    }


class DocumentViewSet(CompiledListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                      viewsets.GenericViewSet):
    """Documents of a course (`courses/<course_id>/documents/`, the canonical API) or all of the caller's
    visible documents (`knowledge/documents/`)."""

    serializer_class = DocumentSerializer
    lookup_url_kwarg = "doc_id"
    # knowledge/documents/ (a course's documents add the course's lookup and filter: DRF's list).
    compiled_list = CompiledQuery(
        "documents", lambda user: selectors.document_list_for_api(user=user, with_content=False),
        user=("is_superuser", "role"),
    )
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @property
    def throttle_scope(self) -> str | None:
        return "uploads" if getattr(self, "action", None) in ("upload", "upload_url") else None

    def get_course(self):
        course_id = self.kwargs.get("course_id")
        if course_id is None:
            return None
        return get_object_or_404(course_list_visible(user=self.request.user), pk=course_id)

    def compiled_list_values(self) -> dict | None:
        return None if self.kwargs.get("course_id") is not None else {"user": self.request.user}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Document.objects.none()
        # Only `content` shows the extracted text and outline.
        return selectors.document_list_for_api(
            user=self.request.user, course=self.get_course(), with_content=self.action == "content"
        )

    def perform_destroy(self, instance: Document) -> None:
        services.document_delete(user=self.request.user, document=instance)

    @extend_schema(request={"multipart/form-data": DocumentUploadSerializer}, responses={201: UploadResultSerializer})
    @action(detail=False, methods=["post"], url_path="upload")
    def upload(self, request, course_id=None):
        course = self.get_course()
        serializer = DocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        document = services.document_upload(
            user=request.user, course=course, file=data["file"], name=data.get("name", ""),
            description=data.get("description", ""), section_id=data.get("section_id"),
        )
        return Response(UploadResultSerializer(upload_result(document)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DocumentUploadUrlSerializer, responses={201: UploadResultSerializer})
    @action(detail=False, methods=["post"], url_path="upload_url")
    def upload_url(self, request, course_id=None):
        course = self.get_course()
        serializer = DocumentUploadUrlSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        document = services.document_upload_url(
            user=request.user, course=course, url=data["url"], name=data.get("name", ""),
            description=data.get("description", ""), section_id=data.get("section_id"),
        )
        return Response(UploadResultSerializer(upload_result(document)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=UploadLimitsSerializer)
    @action(detail=False, methods=["get"], url_path="upload_limits")
    def upload_limits(self, request, course_id=None):
        self.get_course()
        limit = settings.DOCUMENT_UPLOAD_MAX_SIZE
        body = {
            "max_file_size_bytes": limit,
            "max_file_size_mb": limit // (1024 * 1024),
            "allowed_content_types": list(dict.fromkeys(KINDS.values())),
            "supported_url_types": SUPPORTED_URL_TYPES,
        }
        return Response(UploadLimitsSerializer(body).data)

    @extend_schema(responses=ProcessingStatusSerializer)
    @action(detail=True, methods=["get"], url_path="processing_status")
    def processing_status(self, request, doc_id=None, course_id=None):
        return Response(ProcessingStatusSerializer(processing_status(self.get_object())).data)

    @extend_schema(responses=DocumentContentSerializer)
    @action(detail=True, methods=["get"], url_path="content")
    def content(self, request, doc_id=None, course_id=None):
        document = self.get_object()
        body = {
            "document_id": document.id,
            "extracted_text": document.extracted_text,
            "summary": document.summary,
            "topics": document.topics,
            "key_concepts": document.key_concepts,
            "sections": selectors.document_sections(document),
            "embeddings_available": document.embeddings_available,
            "chunk_count": document.chunk_count,
        }
        return Response(DocumentContentSerializer(body).data)

    @file_download_schema()
    @action(detail=True, methods=["get"], url_path="download")
    def download(self, request, doc_id=None, course_id=None):
        """The uploaded (or fetched) file, for whoever may see the document."""
        document = self.get_object()
        return serve_private_file(
            request, document.file, filename=document.original_filename or document.name + os.path.splitext(document.file.name)[1],
            content_type=document.content_type,
            inline=wants_inline(request),
        )

    @extend_schema(request=None, responses={202: ProcessingStatusSerializer})
    @action(detail=True, methods=["post"], url_path="reprocess")
    def reprocess(self, request, doc_id=None, course_id=None):
        document = selectors.document_refreshed(services.document_reprocess(user=request.user, document=self.get_object()))
        return Response(ProcessingStatusSerializer(processing_status(document)).data, status=status.HTTP_202_ACCEPTED)


class KnowledgeSearchView(APIView):
    """Ranked passages with scores and citations, scoped to what the caller may see."""

    @extend_schema(request=SearchRequestSerializer, responses={200: SearchResponseSerializer, 400: OpenApiResponse()})
    def post(self, request):
        serializer = SearchRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with usage_scope(user=request.user, feature="retrieval"):
            passages = retrieve(
                user=request.user, query=data["query"], k=data["k"], course_ids=data.get("course_ids"),
                document_ids=data.get("document_ids"), include_course_context=data["include_course_context"],
                mode=data["mode"],
            )
        return Response(
            {"query": data["query"], "mode": data["mode"], "count": len(passages),
             "results": PassageSerializer(passages, many=True).data}
        )
