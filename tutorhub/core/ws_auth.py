"""WebSocket authentication: a JWT access token (or a seed-003 API token) from the `token`
query parameter or the Authorization header; otherwise the session cookie's user.

Cookie-authenticated sockets are only trusted from this site's own origin (or an origin in
CORS_ALLOWED_ORIGINS): a browser sends cookies on a cross-site WebSocket handshake, so without
this check any page could talk to the tutor as the visitor (cross-site WebSocket hijacking).
Token-authenticated sockets need no such check: another site cannot know the token.

Handshakes authenticate on threads of their own (`_auth_threads`), not on Channels' single
database thread: there they queued behind every chat turn's preparation, and under load
handshakes timed out (10 s) while turns were being prepared."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from channels.auth import AuthMiddleware, get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
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


# One thread of its own, keeping its connection between handshakes (CONN_MAX_AGE) as Channels'
# thread does: a handshake is one or two short reads, so they only ever wait for each other.
_auth_threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ws-auth")


def _on_auth_thread(func):
    # call_reconnecting: the first handshake after the database restarted would meet a dead
    # kept connection.
    async def run(*args):
        return await database_sync_to_async(call_reconnecting, thread_sensitive=False, executor=_auth_threads)(
            func, *args
        )

    return run


async def user_for_token(raw: str):
    return await _on_auth_thread(_user_for_token)(raw)


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


class TokenAuthMiddleware(AuthMiddleware):
    """scope["user"]: the token's user, else (same origin only) the session cookie's user.
    The session is only read when there is no token."""

    async def resolve_scope(self, scope):
        raw = _token_from_scope(scope)
        if raw:
            user = await user_for_token(raw)
        elif not _origin_trusted(scope):
            user = AnonymousUser()
        else:
            user = await _on_auth_thread(get_user.func)(scope)  # Channels' own session lookup
        scope["user"]._wrapped = user


def WebSocketAuthStack(inner):  # noqa: N802 - named like Channels' AuthMiddlewareStack
    return CookieMiddleware(SessionMiddleware(TokenAuthMiddleware(inner)))
