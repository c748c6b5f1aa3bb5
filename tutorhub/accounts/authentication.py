"""API authentication: simplejwt's JWT check with a cheaper read of the user row.

Every authenticated request reads its user. simplejwt does it with `User.objects.get(pk=...)`,
which compiles the same 20-column SELECT again on each request: ~1.2 ms of CPU on this machine's
Python, 22% of a profile request and 7-10% of a list request (py-spy, benchmarks/http_api.py),
against ~0.1 ms to run it. Here the statement is compiled once per request thread (threads are
long-lived: tutorhub/core/asgi.py) and run with the new id. The row is still read on every
request, so a deactivated or deleted account is refused at its next request, as before; the
token's signature, expiry and type are checked by simplejwt unchanged.
"""

from __future__ import annotations

import threading

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from tutorhub.accounts.models import User


class _UserById(threading.local):
    """`User.objects.filter(pk=...).first()` without the per-call SQL compilation. The compiled
    statement, its column converters and the connection it was compiled for are kept per thread
    and database alias: a compiler is bound to its thread's connection."""

    def __init__(self):
        self.compiled: dict[str, tuple] = {}

    def get(self, pk) -> User | None:
        alias = router.db_for_read(User)
        connection = connections[alias]
        compiled = self.compiled.get(alias)
        if compiled is None or compiled[0] is not connection:
            compiler = User._default_manager.filter(pk=0).query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            if len(params) != 1:  # the statement takes exactly the id; anything else: the ORM's way
                raise RuntimeError(f"unexpected parameters for the user lookup: {params!r}")
            columns = [column for column, _, _ in compiler.select]
            compiled = (connection, compiler, sql, compiler.get_converters(columns), [c.target.attname for c in columns])
            self.compiled[alias] = compiled
        _, compiler, sql, converters, names = compiled
        try:
            value = User._meta.pk.get_db_prep_value(User._meta.pk.to_python(pk), connection)
        except ValidationError:
            return None  # not an id at all: no such user
        with connection.cursor() as cursor:
            cursor.execute(sql, [value])
            row = cursor.fetchone()
        if row is None:
            return None
        if converters:
            row = next(iter(compiler.apply_converters([row], converters)))
        return User.from_db(alias, names, row)


_user_by_id = _UserById()


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's JWTAuthentication; only the user row is read differently (see the module)."""

    def get_user(self, validated_token):
        # simplejwt's checks, in its order and with its messages: no id claim, no such user,
        # an inactive user, and (when CHECK_REVOKE_TOKEN is on) a password changed since issue.
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        if api_settings.USER_ID_FIELD != User._meta.pk.attname:  # configured otherwise: simplejwt's lookup
            return super().get_user(validated_token)
        user = _user_by_id.get(user_id)
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
        return user
