from django.contrib import admin

from tutorhub.knowledge.models import Chunk, Document


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ["position", "page", "section", "token_count", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "course", "document_type", "processing_status", "progress_percentage", "created_at"]
    list_filter = ["processing_status", "document_type"]
    search_fields = ["name", "owner__username", "source_url"]
    raw_id_fields = ["owner", "course"]
    readonly_fields = ["content_hash", "processing_metadata", "processing_task_id", "outline"]
    inlines = [ChunkInline]


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ["document", "position", "page", "section", "token_count"]
    search_fields = ["text", "section"]
    raw_id_fields = ["document"]
