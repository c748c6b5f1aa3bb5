"""WebSocket authentication: a JWT access token (or a seed-003 API token) from the `token`
query parameter or the Authorization header; otherwise the session cookie's user.

Cookie-authenticated sockets are only trusted from this site's own origin (or an origin in
CORS_ALLOWED_ORIGINS): a browser sends cookies on a cross-site WebSocket handshake, so without
this check any page could talk to the tutor as the visitor (cross-site WebSocket hijacking).
Token-authenticated sockets need no such check: another site cannot know the token."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from tutorhub.core.db import call_reconnecting


def _token_from_scope(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.decode("latin-1").split()
            if len(parts) == 2 and parts[0].lower() in {"bearer", "jwt", "token"}:
                return parts[1]
    return None


@database_sync_to_async
def user_for_token(raw: str):
    # The first handshake after the database restarted would meet a dead kept connection.
    return call_reconnecting(_user_for_token, raw)


def _user_for_token(raw: str):
    from rest_framework.authtoken.models import Token
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

    auth = JWTAuthentication()
    try:
        user = auth.get_user(auth.get_validated_token(raw))
        return user if user.is_active else AnonymousUser()
    except (InvalidToken, TokenError, AuthenticationFailed):
        pass
    token = Token.objects.select_related("user").filter(key=raw).first()
    if token and token.user.is_active:
        return token.user
    return AnonymousUser()


def _origin_trusted(scope) -> bool:
    headers = dict(scope.get("headers", []))
    origin = headers.get(b"origin", b"").decode("latin-1")
    if not origin:
        return True  # not a browser: nothing can ride on its cookies
    host = headers.get(b"host", b"").decode("latin-1")
    scheme_less = origin.split("://", 1)[-1]
    return scheme_less == host or origin in settings.CORS_ALLOWED_ORIGINS


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        raw = _token_from_scope(scope)
        if raw:
            scope = dict(scope, user=await user_for_token(raw))
        elif not _origin_trusted(scope):
            scope = dict(scope, user=AnonymousUser())
        return await super().__call__(scope, receive, send)
