from __future__ import annotations

from django.urls import path

from tutorhub.knowledge import views

_list = views.DocumentViewSet.as_view({"get": "list"})
_detail = views.DocumentViewSet.as_view({"get": "retrieve", "delete": "destroy"})


def _action(name: str, method: str):
    return views.DocumentViewSet.as_view({method: name})


urlpatterns = []
for prefix, label in (("courses/<uuid:course_id>/documents/", "course-document"), ("knowledge/documents/", "document")):
    urlpatterns += [
        path(prefix, _list, name=f"{label}-list"),
        path(f"{prefix}upload/", _action("upload", "post"), name=f"{label}-upload"),
        path(f"{prefix}upload_url/", _action("upload_url", "post"), name=f"{label}-upload-url"),
        path(f"{prefix}upload_limits/", _action("upload_limits", "get"), name=f"{label}-upload-limits"),
        path(f"{prefix}<uuid:doc_id>/", _detail, name=f"{label}-detail"),
        path(f"{prefix}<uuid:doc_id>/processing_status/", _action("processing_status", "get"), name=f"{label}-processing-status"),
        path(f"{prefix}<uuid:doc_id>/content/", _action("content", "get"), name=f"{label}-content"),
        path(f"{prefix}<uuid:doc_id>/download/", _action("download", "get"), name=f"{label}-download"),
        path(f"{prefix}<uuid:doc_id>/reprocess/", _action("reprocess", "post"), name=f"{label}-reprocess"),
    ]
urlpatterns.append(path("knowledge/search/", views.KnowledgeSearchView.as_view(), name="knowledge-search"))
