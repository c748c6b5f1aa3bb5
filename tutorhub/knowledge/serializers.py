from __future__ import annotations

from rest_framework import serializers

from tutorhub.core.files import private_file_url
from tutorhub.core.serializers import BuiltFieldsCacheMixin, ScopedPrimaryKeyRelatedField
from tutorhub.courses.models import Course
from tutorhub.courses.selectors import course_list_visible
from tutorhub.knowledge.models import Document
from tutorhub.knowledge.selectors import document_list_visible


def _source_url_field() -> serializers.CharField:
    # "" for uploads: declared a plain string, since "" is not a valid "uri" (the model's URLField).
    return serializers.CharField(read_only=True, help_text="The URL a web document was fetched from; empty for uploads")


class DocumentSerializer(BuiltFieldsCacheMixin, serializers.ModelSerializer):
    source_url = _source_url_field()
    chunk_count = serializers.IntegerField(read_only=True, default=0)
    download_url = serializers.SerializerMethodField(help_text="The stored file (null for pasted text)")

    class Meta:
        model = Document
        fields = [
            "id", "name", "description", "document_type", "content_type", "original_filename", "source_url",
            "file_size_bytes", "content_hash", "course", "section_id", "owner", "processing_status",
            "progress_percentage", "processing_error", "page_count", "chunk_count", "embeddings_available",
            "summary", "topics", "key_concepts", "download_url", "created_at", "updated_at", "processed_at",
        ]
        read_only_fields = fields

    def get_download_url(self, obj) -> str | None:
        return private_file_url("document-download", doc_id=obj.pk) if obj.file else None


class DocumentBriefSerializer(serializers.ModelSerializer):
    source_url = _source_url_field()

    class Meta:
        model = Document
        fields = ["id", "name", "document_type", "file_size_bytes", "processing_status", "progress_percentage", "source_url", "created_at"]
        read_only_fields = fields


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    section_id = serializers.UUIDField(required=False, allow_null=True)


class DocumentUploadUrlSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    section_id = serializers.UUIDField(required=False, allow_null=True)


class UploadResultSerializer(serializers.Serializer):
    document = DocumentBriefSerializer()
    upload_status = serializers.CharField()
    processing_id = serializers.CharField()
    estimated_processing_time = serializers.IntegerField(help_text="Rough estimate in seconds.")


class ProcessingStatusSerializer(serializers.Serializer):
    document_id = serializers.UUIDField()
    processing_status = serializers.CharField()
    processing_error = serializers.CharField(allow_null=True)
    progress_percentage = serializers.IntegerField()
    extracted_content_available = serializers.BooleanField()
    processing_metadata = serializers.DictField()


class SectionSerializer(serializers.Serializer):
    title = serializers.CharField(allow_null=True)
    level = serializers.IntegerField(allow_null=True, help_text="Heading level, 1 = top; null for a page without a heading.")
    page = serializers.IntegerField(allow_null=True)
    content = serializers.CharField(allow_blank=True)


class DocumentContentSerializer(serializers.Serializer):
    document_id = serializers.UUIDField()
    extracted_text = serializers.CharField()
    summary = serializers.CharField()
    topics = serializers.ListField(child=serializers.CharField())
    key_concepts = serializers.ListField(child=serializers.CharField())
    sections = SectionSerializer(many=True)
    embeddings_available = serializers.BooleanField()
    chunk_count = serializers.IntegerField()


class UploadLimitsSerializer(serializers.Serializer):
    max_file_size_bytes = serializers.IntegerField()
    max_file_size_mb = serializers.IntegerField()
    allowed_content_types = serializers.ListField(child=serializers.CharField())
    supported_url_types = serializers.ListField(child=serializers.CharField())


class SearchRequestSerializer(serializers.Serializer):
    query = serializers.CharField(max_length=2000)
    k = serializers.IntegerField(min_value=1, max_value=50, default=5)
    mode = serializers.ChoiceField(choices=["hybrid", "lexical", "dense"], default="hybrid")
    course_ids = ScopedPrimaryKeyRelatedField(
        selector=course_list_visible, model=Course, as_pk=True, many=True, required=False, max_length=100
    )
    document_ids = ScopedPrimaryKeyRelatedField(
        selector=document_list_visible, model=Document, as_pk=True, many=True, required=False, max_length=500
    )
    include_course_context = serializers.BooleanField(default=True)


class CitationSerializer(serializers.Serializer):
    document_id = serializers.CharField()
    document_title = serializers.CharField()
    page = serializers.IntegerField(allow_null=True)
    section = serializers.CharField(allow_null=True)
    chunk_id = serializers.IntegerField()
    score = serializers.FloatField()


class PassageSerializer(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    document_id = serializers.CharField()
    document_title = serializers.CharField()
    course_id = serializers.CharField(allow_null=True)
    text = serializers.CharField()
    score = serializers.FloatField()
    page = serializers.IntegerField(allow_null=True)
    section = serializers.CharField(allow_null=True)
    ranks = serializers.DictField(child=serializers.IntegerField())
    citation = CitationSerializer(source="*")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["citation"] = instance.citation()
        return data


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    mode = serializers.CharField()
    count = serializers.IntegerField()
    results = PassageSerializer(many=True)


class ResourceAddSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=255)
    content = serializers.CharField(max_length=5_000_000)
    course = serializers.UUIDField(required=False, allow_null=True)
