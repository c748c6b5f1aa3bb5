"""A test-only urlconf whose views fail in the ways real code can, to pin the error envelope."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.core.exceptions import Conflict, ServiceError, ServiceUnavailable


class Boom(APIView):
    permission_classes = [AllowAny]

    def get(self, request, kind: str):
        if kind == "crash":
            raise RuntimeError("secret internals: password=hunter2")
        if kind == "django-validation":
            raise DjangoValidationError({"title": ["Too long."]})
        if kind == "service":
            raise ServiceError("Quiz has no questions.", error_code="QUIZ_EMPTY")
        if kind == "conflict":
            raise Conflict("Already submitted.")
        if kind == "unavailable":
            raise ServiceUnavailable()
        return Response({"ok": True})


def plain_crash(request):
    raise RuntimeError("secret internals in a plain Django view")


handler404 = "tutorhub.core.exceptions.handler404"
handler500 = "tutorhub.core.exceptions.handler500"

urlpatterns = [
    path("boom/<str:kind>/", Boom.as_view()),
    path("plain-crash/", plain_crash),
    path("", include("tutorhub.accounts.urls")),
]
