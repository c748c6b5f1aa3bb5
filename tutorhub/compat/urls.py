"""Aliases for the seed documents' paths that the canonical /api/v1/ API does not use.

Each domain keeps its aliases in its own module here; the views are the domain's own, and
an alias only adapts the response shape (bare lists, `sender`, `message` keys ...)."""

from django.urls import include, path

urlpatterns = [
    path("", include("tutorhub.compat.accounts")),
    path("", include("tutorhub.compat.chat")),
    path("", include("tutorhub.compat.knowledge")),
    path("", include("tutorhub.compat.assessments")),
    path("", include("tutorhub.compat.homework")),
    path("", include("tutorhub.compat.learning")),
]
