"""Issue 11 (client identity, login limits, enumeration, every route throttled) and issue 12
(Redis down fails open, no write lock held while a password is hashed) regression tests."""

from __future__ import annotations

import logging
import threading
import time
from unittest import mock

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.core.cache import cache
from django.db import connection, transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from tests.factories import PASSWORD, UserFactory
from tutorhub.accounts.loginlimit import lockout_seconds
from tutorhub.accounts.models import User
from tutorhub.core import clientip, throttling
from tutorhub.core.throttling import AnonRateThrottle, UserRateThrottle

LOGIN = "/api/v1/accounts/login/"
WEB_LOGIN = "/accounts/login/"
GOOD = "Corr3ct-Horse-Battery"


@pytest.fixture
def limits(settings):
    """Throttling on, with small budgets a test can exhaust; the cache starts empty."""

    def configure(*, trusted=(), **rates):
        settings.THROTTLING_ENABLED = True
        settings.TRUSTED_PROXIES = list(trusted)
        rest = dict(settings.REST_FRAMEWORK)
        rest["DEFAULT_THROTTLE_RATES"] = {
            **rest["DEFAULT_THROTTLE_RATES"],
            "auth": "1000/min",
            "anon": "1000/min",
            "user": "1000/min",
            **rates,
        }
        settings.REST_FRAMEWORK = rest

    settings.LOGIN_ACCOUNT_FREE_FAILURES = 3
    settings.LOGIN_ADDRESS_FREE_FAILURES = 1000
    settings.LOGIN_LOCKOUT_BASE_SECONDS = 1
    cache.clear()
    yield configure
    cache.clear()


def xff(i: int) -> dict:
    return {"HTTP_X_FORWARDED_FOR": f"198.51.100.{i % 250 + 1}"}


def login(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, format="json", **extra)


# --- client_ip ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trusted, peer, header, expected",
    [
        ([], "127.0.0.1", "203.0.113.9", "127.0.0.1"),  # no proxy configured: the socket
        (["10.0.0.1"], "192.0.2.5", "203.0.113.9", "192.0.2.5"),  # peer is not the proxy
        (["10.0.0.1"], "10.0.0.1", "203.0.113.9", "203.0.113.9"),
        # The client wrote the left part itself; the proxy appended the real address.
        (["10.0.0.1"], "10.0.0.1", "1.2.3.4, 203.0.113.9", "203.0.113.9"),
        # Two trusted hops (CIDR): skip both from the right.
        (["10.0.0.0/8"], "10.0.0.1", "1.2.3.4, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        # Garbage after a trusted proxy: stop at the last address a trusted hop vouched for.
        (["10.0.0.0/8"], "10.0.0.1", "203.0.113.9, nonsense, 10.0.0.2", "10.0.0.2"),
        (["10.0.0.1"], "10.0.0.1", "", "10.0.0.1"),
        (["::1"], "::1", "[2001:db8::7]:443", "2001:db8::7"),
        (["10.0.0.1"], "::ffff:10.0.0.1", "203.0.113.9:5000", "203.0.113.9"),
    ],
)
def test_client_ip_trusts_forwarded_for_only_from_a_configured_proxy(settings, trusted, peer, header, expected):
    settings.TRUSTED_PROXIES = trusted
    assert clientip.resolve(peer, header) == expected


def test_websocket_scope_uses_the_same_rule(settings):
    scope = {"client": ["127.0.0.1", 5000], "headers": [(b"x-forwarded-for", b"203.0.113.9")]}
    settings.TRUSTED_PROXIES = []
    assert clientip.scope_client_ip(scope) == "127.0.0.1"
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert clientip.scope_client_ip(scope) == "203.0.113.9"


# --- X-Forwarded-For rotation ---------------------------------------------------------------


@pytest.mark.django_db
def test_rotating_forwarded_for_does_not_reset_the_login_limit(limits, user):
    limits(auth="3/min")
    client = APIClient()
    for i in range(3):
        assert login(client, user.username, f"wrong-{i}", **xff(i)).status_code == 401
    response = login(client, user.username, PASSWORD, **xff(99))
    assert response.status_code == 429
    assert response.json()["error_code"] == "RATE_LIMIT_EXCEEDED"


@pytest.mark.django_db
def test_rotating_forwarded_for_does_not_reset_the_anonymous_limit(limits):
    limits(anon="2/min")
    client = APIClient()
    statuses = [client.post("/api/token/refresh/", {}, format="json", **xff(i)).status_code for i in range(3)]
    assert statuses == [400, 400, 429]


@pytest.mark.django_db
def test_rotating_forwarded_for_does_not_reset_the_web_form_limit(limits, user, client):
    limits(auth="3/min")
    for i in range(3):
        response = client.post(WEB_LOGIN, {"username": user.username, "password": f"wrong-{i}"}, **xff(i))
        assert response.status_code == 200  # the form again, with its error
    response = client.post(WEB_LOGIN, {"username": user.username, "password": PASSWORD}, **xff(50))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_web_form_and_api_share_one_budget(limits, user, client):
    limits(auth="2/min")
    client.post(WEB_LOGIN, {"username": user.username, "password": "wrong"})
    login(APIClient(), user.username, "wrong")
    assert login(APIClient(), user.username, PASSWORD).status_code == 429


@pytest.mark.django_db
def test_forwarded_for_is_honoured_behind_a_trusted_proxy(limits, user):
    limits(auth="2/min", trusted=["127.0.0.1"])  # the test client's socket address
    client = APIClient()
    assert login(client, user.username, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 401
    assert login(client, user.username, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 401
    assert login(client, user.username, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    # Another client behind the same proxy has its own budget.
    assert login(client, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 200


# --- per-account limit ----------------------------------------------------------------------


def test_lockout_doubles_and_is_capped(settings):
    settings.LOGIN_LOCKOUT_BASE_SECONDS = 2
    settings.LOGIN_LOCKOUT_MAX_SECONDS = 900
    assert [lockout_seconds(n, 5) for n in (1, 5, 6, 7, 8, 12)] == [0, 0, 2, 4, 8, 128]
    assert lockout_seconds(14, 5) == 512
    assert lockout_seconds(15, 5) == lockout_seconds(10_000, 5) == 900


@pytest.mark.django_db
def test_account_locks_after_failures_from_rotating_trusted_addresses_and_unlocks_by_itself(limits, user):
    limits(trusted=["127.0.0.1"])
    client = APIClient()
    for i in range(3):  # LOGIN_ACCOUNT_FREE_FAILURES
        assert login(client, user.email, f"wrong-{i}", **xff(i)).status_code == 401
    assert login(client, user.username, "wrong-3", **xff(3)).status_code == 401  # locks for 1 s
    # Locked: even the right password, from a fresh address, by username or email.
    for name in (user.username, user.email.upper()):
        response = login(client, name, PASSWORD, **xff(10))
        assert response.status_code == 429
        body = response.json()
        assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
        assert "Too many failed login attempts" in body["detail"]
        assert int(response["Retry-After"]) >= 1
    time.sleep(1.1)  # the lock expires by itself
    assert login(client, user.username, PASSWORD, **xff(11)).status_code == 200
    # A success clears the account's count: three fresh failures before the next lock.
    for i in range(3):
        assert login(client, user.username, "wrong", **xff(20 + i)).status_code == 401
    assert login(client, user.username, PASSWORD, **xff(30)).status_code == 200


@pytest.mark.django_db
def test_a_guesser_elsewhere_cannot_lock_the_owner_out_of_their_usual_address(limits, user):
    limits(trusted=["127.0.0.1"])
    client = APIClient()
    home = {"HTTP_X_FORWARDED_FOR": "203.0.113.50"}
    assert login(client, user.username, PASSWORD, **home).status_code == 200  # the owner, earlier
    for i in range(6):
        login(client, user.username, f"guess-{i}", **xff(i))
    assert login(client, user.username, PASSWORD, **xff(40)).status_code == 429  # locked for strangers
    assert login(client, user.username, PASSWORD, **home).status_code == 200


@pytest.mark.django_db
def test_lockout_looks_the_same_for_unknown_accounts(limits, user):
    limits(trusted=["127.0.0.1"])
    client = APIClient()
    answers = {}
    for name in (user.username, "nobody-here"):
        statuses = [login(client, name, "wrong", **xff(i)).status_code for i in range(5)]
        answers[name] = statuses
    assert answers[user.username] == answers["nobody-here"] == [401, 401, 401, 401, 429]


@pytest.mark.django_db
def test_per_address_failures_lock_the_address(limits, settings):
    limits()
    settings.LOGIN_ADDRESS_FREE_FAILURES = 3
    client = APIClient()
    # Different accounts each time: only the address's count grows.
    statuses = [login(client, f"someone-{i}", "wrong").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]


@pytest.mark.django_db
def test_web_form_shares_the_account_lockout(limits, user, client):
    limits()
    for _ in range(4):
        login(APIClient(), user.username, "wrong")
    response = client.post(WEB_LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_admin_login_shares_the_account_lockout(limits, admin_user, client):
    limits()
    for _ in range(4):
        login(APIClient(), admin_user.username, "wrong")
    response = client.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 200  # the admin's own form, with the error; not a 500
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_seed_aliases_share_the_account_lockout(limits, user):
    limits()
    client = APIClient()
    for path in ("/api/accounts/login/", "/api/v1/auth/login/", LOGIN, "/api/accounts/login/"):
        client.post(path, {"username": user.username, "password": "wrong"}, format="json")
    assert client.post("/api/v1/auth/login/", {"username": user.username, "password": PASSWORD}, format="json").status_code == 429


# --- enumeration ---------------------------------------------------------------------------


def _comparable(response) -> tuple[int, dict]:
    body = {k: v for k, v in response.json().items() if k not in ("request_id", "timestamp")}
    return response.status_code, body


@pytest.mark.django_db
def test_registration_does_not_say_which_account_exists(django_capture_on_commit_callbacks):
    owner = UserFactory(username="owner", email="owner@example.com")
    client = APIClient()
    signup = {"password": GOOD, "password2": GOOD}
    with django_capture_on_commit_callbacks(execute=True):
        email_taken = client.post(
            "/api/v1/accounts/register/", {"username": "fresh", "email": "OWNER@example.com", **signup}, format="json"
        )
    name_taken = client.post(
        "/api/v1/accounts/register/", {"username": "Owner", "email": "fresh@example.com", **signup}, format="json"
    )
    assert email_taken.status_code == 400
    assert _comparable(email_taken) == _comparable(name_taken)
    assert "email" not in email_taken.json() and "email" not in email_taken.json()["details"]
    assert User.objects.count() == 1
    # The address's owner learns about the attempt instead of the person trying.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]
    assert "owner" in mail.outbox[0].body


@pytest.mark.django_db
def test_web_registration_does_not_say_which_account_exists(client, django_capture_on_commit_callbacks):
    UserFactory(username="owner", email="owner@example.com")
    form = {"password1": GOOD, "password2": GOOD}
    with django_capture_on_commit_callbacks(execute=True):
        email_taken = client.post("/accounts/register/", {"username": "fresh", "email": "owner@example.com", **form})
    name_taken = client.post("/accounts/register/", {"username": "OWNER", "email": "fresh@example.com", **form})
    assert email_taken.status_code == name_taken.status_code == 400
    for response in (email_taken, name_taken):
        assert "already exists" in response.content.decode()
        assert "An account with this email already exists" not in response.content.decode()
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_password_reset_answers_the_same_for_unknown_addresses(user, django_capture_on_commit_callbacks):
    client = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post("/api/v1/accounts/password-reset/", {"email": user.email}, format="json")
        unknown = client.post("/api/v1/accounts/password-reset/", {"email": "ghost@example.com"}, format="json")
    assert _comparable(known) == _comparable(unknown)
    assert known.status_code == 200
    assert [m.to for m in mail.outbox] == [[user.email]]


# --- every route throttled ---------------------------------------------------------------------

LIMITING = (UserRateThrottle, AnonRateThrottle)


def _routes(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def _drf_views():
    """(route, view class, initkwargs, method, action) for every DRF endpoint in the URLconf."""
    for route, callback in _routes(get_resolver()):
        cls = getattr(callback, "cls", None)
        if cls is None or not issubclass(cls, APIView):
            continue
        actions = getattr(callback, "actions", None)  # ViewSets: {"get": "list", ...}
        if actions is None:
            actions = {m: m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)}
        for method, action in actions.items():
            yield route, cls, getattr(callback, "initkwargs", {}), method, action


def _throttles_for(cls, initkwargs, method, action):
    view = cls(**initkwargs)
    view.action_map = {method: action}
    view.action = action
    view.args, view.kwargs = (), {}
    view.request = view.initialize_request(getattr(APIRequestFactory(), method)("/"))
    return view.get_throttles()


@pytest.mark.django_db
def test_every_api_view_has_a_throttle():
    checked, missing = 0, []
    for route, cls, initkwargs, method, action in _drf_views():
        throttles = _throttles_for(cls, initkwargs, method, action)
        checked += 1
        if not any(isinstance(t, LIMITING) for t in throttles):
            missing.append(f"{method.upper()} {route} ({cls.__name__})")
    assert checked > 150  # the walk really found the API
    assert missing == []


@pytest.mark.django_db
def test_seed_003_chat_alias_is_throttled(limits, api_client):
    limits(user="2/min")
    statuses = [api_client.get("/api/v1/chat/").status_code for _ in range(3)]
    assert statuses[-1] == 429


# --- Redis down: fail open ---------------------------------------------------------------------


@pytest.mark.django_db
def test_cache_down_fails_open_with_one_warning(limits, user, api_client, caplog):
    limits(user="1/min")
    closed_port = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    throttling._last_warning = 0.0
    with override_settings(CACHES=closed_port), caplog.at_level(logging.WARNING, logger="tutorhub.core.throttling"):
        responses = [api_client.get("/api/v1/accounts/profile/") for _ in range(3)]
        logged_in = login(APIClient(), user.username, PASSWORD)
        wrong = login(APIClient(), user.username, "wrong")
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in responses[0]
    assert logged_in.status_code == 200 and wrong.status_code == 401
    warnings = [r for r in caplog.records if "cache unavailable" in r.getMessage()]
    assert len(warnings) == 1  # at most one a minute, however many requests


# --- no write lock while hashing -----------------------------------------------------------


def _slow_hasher(method: str, started: threading.Event):
    original = getattr(MD5PasswordHasher, method)

    def slow(self, *args, **kwargs):
        started.set()
        time.sleep(1.0)
        return original(self, *args, **kwargs)

    return mock.patch.object(MD5PasswordHasher, method, slow)


def _write_while(run, method: str) -> float:
    """Start `run` in a thread; once it is inside the hasher, time a write transaction here."""
    started, errors = threading.Event(), []

    def target():
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    with _slow_hasher(method, started):
        thread = threading.Thread(target=target)
        thread.start()
        assert started.wait(5)
        began = time.monotonic()
        with transaction.atomic():  # a plain write: no password, so no hashing of its own
            User.objects.create(username="bystander", email="bystander@example.com")
        elapsed = time.monotonic() - began
        thread.join(10)
    assert errors == []
    return elapsed


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's single write lock")
@pytest.mark.django_db(transaction=True)
def test_login_holds_no_write_lock_while_hashing():
    UserFactory(username="hasher")
    elapsed = _write_while(lambda: _ok(login(APIClient(), "hasher", PASSWORD)), "verify")
    assert elapsed < 0.5


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's single write lock")
@pytest.mark.django_db(transaction=True)
def test_register_holds_no_write_lock_while_hashing():
    body = {"username": "newcomer", "email": "newcomer@example.com", "password": GOOD, "password2": GOOD}
    elapsed = _write_while(lambda: _ok(APIClient().post("/api/v1/accounts/register/", body, format="json")), "encode")
    assert elapsed < 0.5
    assert User.objects.filter(username="newcomer").exists()


def _ok(response) -> None:
    assert response.status_code in (200, 201), response.content


async def test_asgi_scope_carries_the_resolved_client(settings):
    """Django's REMOTE_ADDR and Channels consumers see what the throttles see."""
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["client"])

    middleware = clientip.ClientAddressMiddleware(app)
    scope = {"type": "websocket", "client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.9")]}
    settings.TRUSTED_PROXIES = []
    await middleware(scope, None, None)
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    await middleware(scope, None, None)
    assert seen == [("127.0.0.1", 5000), ("203.0.113.9", 5000)]
    assert scope["client"] == ("127.0.0.1", 5000)  # the server's own scope is left alone


@pytest.mark.parametrize(
    "trusted, proxy_headers, allowed",
    [([], False, None), (["10.0.0.1", "192.168.0.0/16"], True, ["10.0.0.1", "192.168.0.0/16"])],
)
def test_runall_lets_uvicorn_trust_only_the_configured_proxies(settings, trusted, proxy_headers, allowed):
    from tutorhub.core.management.commands.runall import Command

    settings.TRUSTED_PROXIES = trusted
    with mock.patch("uvicorn.run") as run:
        Command().serve(host="127.0.0.1", port=8000, workers=1, log_level="warning")
    kwargs = run.call_args.kwargs
    assert kwargs["proxy_headers"] is proxy_headers
    assert kwargs["forwarded_allow_ips"] == allowed
