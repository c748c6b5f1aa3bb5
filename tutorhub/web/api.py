"""The web-chat dialect's JSON routes behind the chat page: create, rename, delete and load a session;
and the passage behind a citation, for the chat page's source panel.

DRF views so they share the error envelope and authentication of the API; a browser using
its session cookie must send the CSRF token (DRF's SessionAuthentication enforces it)."""

from __future__ import annotations

from uuid import UUID

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.chat.selectors import chat_session_get
from tutorhub.chat.services import chat_session_create, chat_session_delete, chat_session_rename
from tutorhub.web.selectors import chat_history, passage_get
from tutorhub.web.serializers import (
    CitedPassageSerializer,
    LoadSessionResponseSerializer,
    SessionCreatedSerializer,
    SessionCreateSerializer,
    SessionRenameSerializer,
    SuccessSerializer,
)

TAGS = ["web"]


class SessionCreateView(APIView):
    @extend_schema(tags=TAGS, request=SessionCreateSerializer, responses={201: SessionCreatedSerializer})
    def post(self, request: Request) -> Response:
        serializer = SessionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = chat_session_create(user=request.user, **serializer.validated_data)
        return Response({"success": True, "session_id": session.pk, "session_title": session.title}, status=201)


class SessionRenameView(APIView):
    @extend_schema(tags=TAGS, request=SessionRenameSerializer, responses={200: SuccessSerializer})
    def post(self, request: Request, session_id: UUID) -> Response:
        session = chat_session_get(user=request.user, session_id=session_id)
        serializer = SessionRenameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        chat_session_rename(session=session, title=serializer.validated_data["title"])
        return Response({"success": True})


class SessionDeleteView(APIView):
    @extend_schema(tags=TAGS, request=None, responses={200: SuccessSerializer})
    def delete(self, request: Request, session_id: UUID) -> Response:
        chat_session_delete(session=chat_session_get(user=request.user, session_id=session_id))
        return Response({"success": True})


class SessionLoadView(APIView):
    @extend_schema(tags=TAGS, responses={200: LoadSessionResponseSerializer})
    def get(self, request: Request, session_id: UUID) -> Response:
        session = chat_session_get(user=request.user, session_id=session_id)
        return Response(
            {"session_id": session.pk, "session_title": session.title, "chats": chat_history(session=session)}
        )



class PassageView(APIView):
    """A cited passage with its document's name, page and section, for whoever may see the
    document (404 otherwise: a chunk id reveals nothing)."""

    @extend_schema(tags=TAGS, responses={200: CitedPassageSerializer})
    def get(self, request: Request, chunk_id: int) -> Response:
        chunk = passage_get(user=request.user, chunk_id=chunk_id)
        document = chunk.document
        return Response(
            CitedPassageSerializer(
                {
                    "chunk_id": chunk.pk,
                    "text": chunk.text,
                    "page": chunk.page,
                    "section": chunk.section or "",
                    "heading_path": chunk.heading_path,
                    "document_id": document.pk,
                    "document_name": document.name,
                    "document_url": reverse("web:document", args=[document.pk]),
                }
            ).data
        )
