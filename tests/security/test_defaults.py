"""Issue 11 (parts 1, 4 and 6): safe as shipped. DEBUG off and a generated key by default,
known or weak keys refused, JSON errors under /api/ even in development mode, cookie flags,
a Content-Security-Policy on every HTML page, tokens kept out of logs, request bodies
limited before they are read.

The "as shipped" tests start the real server (`manage.py runall`, what `make run` starts)
in a subprocess with no SECRET_KEY or DEBUG in its environment."""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import subprocess
import sys
import time
from ast import literal_eval
from html.parser import HTMLParser
from pathlib import Path

import httpx
import jwt
import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from tests.core.processes import free_port
from tests.factories import PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parents[2]
OLD_DEV_KEY = "dev-insecure-only-for-debug-" + "x" * 40
ENVELOPE = {"detail", "error", "error_code", "details", "request_id", "timestamp"}
_STRIPPED = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE", "HTTPS", "DATABASE_URL", "REDIS_URL"}


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh install: no DEBUG, no SECRET_KEY, the project's settings."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED and not k.startswith(("PYTEST", "LLM_"))}
    env.update(DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="tutorhub.settings", **extra)
    return env


def settings_in_subprocess(data_dir: Path, expression: str, **extra: str) -> subprocess.CompletedProcess:
    code = f"import django; django.setup(); from django.conf import settings; print(repr({expression}))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean_env(data_dir, **extra), capture_output=True, text=True, timeout=120
    )


# --- DEBUG and SECRET_KEY ---------------------------------------------------------------------


def test_defaults_are_debug_off_with_a_generated_private_key_reused_across_restarts(tmp_path):
    first = settings_in_subprocess(tmp_path, "(settings.DEBUG, settings.SECRET_KEY)")
    assert first.returncode == 0, first.stderr
    debug, key = literal_eval(first.stdout)
    assert debug is False
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == key
    assert len(key) >= 50 and len(set(key)) >= 5
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".secret_key.*")), "the temporary file is removed"

    second = settings_in_subprocess(tmp_path, "settings.SECRET_KEY")
    assert literal_eval(second.stdout) == key
    other_install = settings_in_subprocess(tmp_path / "other", "settings.SECRET_KEY")
    assert literal_eval(other_install.stdout) != key


def test_processes_starting_together_agree_on_one_generated_key(tmp_path):
    """`make run` starts the server, the worker and the scheduler at once."""
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    processes = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=clean_env(tmp_path), stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    keys = {process.communicate(timeout=120)[0].strip() for process in processes}
    assert keys == {(tmp_path / "secret_key").read_text().strip()}


@pytest.mark.parametrize(
    "key, reason",
    [
        (OLD_DEV_KEY, "publicly known"),
        ("django-insecure-" + secrets.token_urlsafe(40), "publicly known"),
        ("changeme", "publicly known"),
        (secrets.token_urlsafe(20), "shorter than 50"),
        ("ab" * 40, "fewer than 5 distinct"),
    ],
)
def test_a_known_or_weak_key_refuses_to_start_with_debug_off(tmp_path, key, reason):
    refused = settings_in_subprocess(tmp_path, "settings.SECRET_KEY", SECRET_KEY=key)
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr and "SECRET_KEY is unsafe" in refused.stderr
    assert reason in refused.stderr
    # Development mode is the one explicit way to use such a key.
    allowed = settings_in_subprocess(tmp_path, "settings.SECRET_KEY", SECRET_KEY=key, DEBUG="1")
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.django_db
def test_a_token_forged_with_the_old_fixed_development_key_is_rejected(anon_client):
    user = UserFactory()
    genuine = AccessToken.for_user(user)
    forged = jwt.encode(dict(genuine.payload), OLD_DEV_KEY, algorithm="HS256")
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    response = anon_client.get("/api/v1/accounts/profile/")
    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {genuine}")
    assert anon_client.get("/api/v1/accounts/profile/").status_code == 200


def test_https_is_declared_once_and_turns_on_redirect_hsts_and_secure_cookies(tmp_path):
    names = ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
    expression = f"[getattr(settings, name) for name in {names!r}]"
    plain = settings_in_subprocess(tmp_path, expression)
    assert literal_eval(plain.stdout) == [False, 0, False, False]  # a plain-HTTP local install
    https = settings_in_subprocess(tmp_path, expression, HTTPS="1")
    assert literal_eval(https.stdout) == [True, 60 * 60 * 24 * 365, True, True]


def test_readme_production_settings_pass_check_deploy(tmp_path):
    """The README's production environment (the same line .ci/run uses) is warning-free."""
    readme = (ROOT / "README.md").read_text()
    assert "HTTPS=1" in readme
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean_env(tmp_path, SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="example.org", HTTPS="1"),
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- JSON errors under /api/ --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_and_ws_paths_are_json_404s_even_in_development_mode(settings, debug):
    settings.DEBUG = debug
    client = Client()
    for path in ("/api/v1/no-such-thing/", "/api/nope", "/ws/unknown/"):
        response = client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert ENVELOPE <= set(body) and body["error_code"] == "RESOURCE_NOT_FOUND"
        assert b"urlpatterns" not in response.content and b"URLconf" not in response.content
    # Pages outside the API keep Django's HTML (the development 404 page with DEBUG on).
    if debug:
        page = client.get("/no-such-page/")
        assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_a_csrf_failure_on_an_api_path_is_the_json_envelope(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/v1/accounts/logout/", {}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"


# --- Cookies ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_httponly_and_samesite_lax():
    user = UserFactory()
    client = Client()
    client.get("/accounts/login/")
    csrf = client.cookies["csrftoken"]
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    for cookie in (session, csrf):
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert not cookie["secure"], "plain-HTTP installs must be able to log in (HTTPS=1 makes them Secure)"


@pytest.mark.django_db
def test_cookies_are_secure_when_https_is_declared(settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    user = UserFactory()
    client = Client()
    client.get("/accounts/login/", secure=True)
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}, secure=True)
    assert response.cookies["sessionid"]["secure"] is True
    assert client.cookies["csrftoken"]["secure"] is True


def test_the_web_app_reads_the_csrf_token_from_the_page_not_the_cookie():
    """What makes CSRF_COOKIE_HTTPONLY safe to set."""
    for script in (ROOT / "tutorhub/web/static/web").glob("*.js"):
        assert "document.cookie" not in script.read_text(), script.name


# --- Content-Security-Policy ------------------------------------------------------------------


class _InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, event-handler and style attributes."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        # json_script's <script type="application/json"> is data, never executed.
        if tag == "script" and "src" not in names and dict(attrs).get("type") != "application/json":
            self.found.append("inline <script>")
        self.found += [f"{tag} {name}=" for name in names if name.startswith("on") or name == "style"]


def _csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
def test_every_html_page_has_a_strict_csp_and_no_inline_code(admin_user):
    client = Client()
    pages = ["/accounts/login/", "/accounts/register/", "/admin/login/", "/api/v1/docs/", "/api/v1/docs/redoc/"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = _csp(response)
        assert policy["script-src"] == ["'self'"], path
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'self'"]
        assert policy["form-action"] == ["'self'"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        parser = _InlineCode()
        parser.feed(response.content.decode())
        if path.startswith("/api/v1/docs/"):
            assert "inline <script>" not in parser.found, path
        elif not path.startswith("/admin/"):
            assert parser.found == [], (path, parser.found)
    client.force_login(admin_user)
    for path in ("/", "/knowledge/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _csp(response)["script-src"] == ["'self'"], path
        if not path.startswith("/admin/"):
            parser = _InlineCode()
            parser.feed(response.content.decode())
            assert parser.found == [], (path, parser.found)
    # Only the API docs may use run-time <style> elements (their bundles inject them).
    assert "'unsafe-inline'" not in _csp(client.get("/accounts/login/"))["style-src"]
    assert "'unsafe-inline'" in _csp(client.get("/api/v1/docs/"))["style-src"]
    # JSON responses carry no CSP (nothing to render) but still nosniff.
    api = client.get("/api/v1/accounts/profile/")
    assert "Content-Security-Policy" not in api and api["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_the_swagger_page_loads_its_assets_from_our_own_static_files():
    from django.contrib.staticfiles import finders

    page = Client().get("/api/v1/docs/")
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page.content.decode())
    assert sources, page.content
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")), source
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source
    init = [source for source in sources if "script" in source and not source.startswith("/static/")]
    assert len(init) == 1
    script = Client().get(init[0])
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


# --- Request bodies -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_15_mb_json_body_is_refused_with_413_before_it_is_read(anon_client):
    body = json.dumps({"email": "a@example.com", "padding": "x" * (15 * 1024 * 1024)})
    response = anon_client.post("/api/v1/accounts/register/", body, content_type="application/json")
    assert response.status_code == 413
    payload = response.json()
    assert ENVELOPE <= set(payload) and payload["error_code"] == "PAYLOAD_TOO_LARGE"
    assert payload["details"]["max_bytes"] == 10 * 1024 * 1024


@pytest.mark.django_db
def test_a_body_past_django_s_memory_limit_read_by_drf_is_a_413_not_a_500(anon_client, settings):
    """If the pre-read limit is configured above DATA_UPLOAD_MAX_MEMORY_SIZE, Django's own check
    (RequestDataTooBig) fires inside the view: still a 413 envelope."""
    settings.MAX_REQUEST_BODY_BYTES = 1024 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = anon_client.post("/api/v1/accounts/register/", {"f1": "x" * 4096}, format="multipart")
    assert response.status_code == 413
    assert response.json()["error_code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.django_db
def test_a_multipart_upload_over_the_largest_upload_limit_is_refused_from_its_content_length(user, settings):
    settings.MAX_UPLOAD_BODY_BYTES = 2 * 1024 * 1024
    client = Client()
    client.force_login(user)
    big = b"x" * (3 * 1024 * 1024)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post("/api/v1/knowledge/documents/upload/", {"file": SimpleUploadedFile("big.txt", big, "text/plain")})
    assert response.status_code == 413
    assert response.json()["details"]["max_bytes"] == 2 * 1024 * 1024


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [65, 50_000])
def test_json_nested_past_the_depth_limit_is_a_400(anon_client, depth):
    body = "[" * depth + "]" * depth
    response = anon_client.post("/api/v1/accounts/register/", body, content_type="application/json")
    assert response.status_code == 400
    payload = response.json()
    assert payload["error_code"] == "MALFORMED_REQUEST" and "nested deeper than 64" in payload["detail"]


def test_depth_check_ignores_brackets_inside_strings_and_accepts_the_limit():
    from tutorhub.core.parsers import json_depth_exceeds

    assert not json_depth_exceeds(json.dumps({"text": "[" * 500}), 64)
    assert not json_depth_exceeds("[" * 64 + "]" * 64, 64)
    assert json_depth_exceeds("[" * 65 + "]" * 65, 64)
    assert not json_depth_exceeds(json.dumps({"a": [{"b": '\\"[[[' * 100}]}), 64)


async def _asgi_call(app, *, headers, chunks):
    """Calls an ASGI app with a body sent in `chunks`; returns (status, body, chunks read)."""
    pending = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    pending[-1]["more_body"] = False
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        if read < len(pending):
            read += 1
            return pending[read - 1]
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/v1/accounts/register/", "raw_path": b"/api/v1/accounts/register/", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return start["status"], body, read


async def test_the_asgi_server_refuses_oversized_bodies_before_django_reads_them():
    from tutorhub.core.middleware import RequestBodyLimitASGI

    reached = []

    async def django(scope, receive, send):
        """Stands in for Django's ASGIHandler: reads the whole body first, and returns without
        answering when the client disconnects meanwhile (RequestAborted)."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if not message.get("more_body"):
                break
        reached.append(True)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    app = RequestBodyLimitASGI(django)
    chunk = b"x" * (1024 * 1024)
    json_type = (b"content-type", b"application/json")
    # Declared too large: answered without reading a single chunk.
    status, body, read = await _asgi_call(app, headers=[json_type, (b"content-length", b"15728640")], chunks=[chunk] * 15)
    assert (status, read, reached) == (413, 0, [])
    assert json.loads(body)["error_code"] == "PAYLOAD_TOO_LARGE"
    # Chunked (no length): cut off as soon as the limit is passed.
    status, body, read = await _asgi_call(app, headers=[json_type], chunks=[chunk] * 15)
    assert status == 413 and read == 11 and reached == []
    # Within the limit: untouched.
    status, _, read = await _asgi_call(app, headers=[json_type], chunks=[chunk] * 3)
    assert status == 201 and read == 3 and reached == [True]


# --- The server as shipped (`make run`) and in development mode (`make dev`) --------------------------


def _start_server(tmp_path: Path, command: list[str], env: dict[str, str]):
    port = free_port()
    log_path = tmp_path / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url, log_path
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("server did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)


def _stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _make_recipe(target: str) -> list[str]:
    """The command line the Makefile's `target` finally runs (make -n prints without running)."""
    lines = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout.splitlines()
    return [line for line in lines if "manage.py runall" in line]


@pytest.fixture(scope="module")
def shipped_server(tmp_path_factory):
    """`make run` on a fresh checkout: no SECRET_KEY, no DEBUG, nothing configured."""
    data_dir = tmp_path_factory.mktemp("shipped")
    env = clean_env(data_dir, LOG_LEVEL="INFO", THROTTLING_ENABLED="0")
    for step in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        done = subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    process, url, log_path = _start_server(data_dir, [sys.executable, "manage.py", "runall"], env)
    try:
        yield url, log_path, data_dir, env
    finally:
        _stop(process)


def test_make_run_as_shipped_serves_pages_static_files_and_lets_a_user_log_in(shipped_server):
    url, _, data_dir, env = shipped_server
    assert any("DEBUG=1" not in line for line in _make_recipe("run"))
    assert stat.S_IMODE((data_dir / "secret_key").stat().st_mode) == 0o600
    create = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         f"from tutorhub.accounts.models import User; User.objects.create_user('shipped', 's@example.com', {PASSWORD!r})"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert create.returncode == 0, create.stderr
    with httpx.Client(base_url=url, timeout=10) as client:
        login_page = client.get("/accounts/login/")
        assert login_page.status_code == 200 and "Content-Security-Policy" in login_page.headers
        assert "Strict-Transport-Security" not in login_page.headers  # no HTTPS declared
        css = re.search(r'href="(/static/[^"]+\.css)"', login_page.text).group(1)
        assert client.get(css).status_code == 200  # hashed by collectstatic, served by WhiteNoise
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
        done = client.post("/accounts/login/", data={"csrfmiddlewaretoken": token, "username": "shipped", "password": PASSWORD})
        assert done.status_code == 302, done.text[:500]
        assert client.get("/").status_code == 200  # logged in over plain HTTP
        missing = client.get("/api/v1/nowhere/")
        assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_NOT_FOUND"


def test_the_real_server_refuses_a_large_body_before_reading_it(shipped_server):
    url = shipped_server[0]
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=30) as client:
        declared = client.post("/api/v1/accounts/register/", content=b"{" + b" " * (15 * 1024 * 1024) + b"}", headers=headers)
        assert declared.status_code == 413 and declared.json()["error_code"] == "PAYLOAD_TOO_LARGE"

        def chunks():  # no Content-Length: Transfer-Encoding: chunked
            for _ in range(15):
                yield b" " * (1024 * 1024)

        chunked = client.post("/api/v1/accounts/register/", content=chunks(), headers=headers)
        assert chunked.status_code == 413 and chunked.json()["error_code"] == "PAYLOAD_TOO_LARGE"
        deep = client.post("/api/v1/accounts/register/", content="[" * 50_000 + "]" * 50_000, headers=headers)
        assert deep.status_code == 400 and deep.json()["error_code"] == "MALFORMED_REQUEST"
        assert client.get("/healthz").status_code == 200


def test_websocket_tokens_are_redacted_from_the_access_log(shipped_server):
    url, log_path, _, _ = shipped_server
    secret = "eyJhbGciOiJIUzI1NiJ9." + secrets.token_urlsafe(24)
    httpx.get(f"{url}/ws/chat/?token={secret}&lang=en", timeout=10)
    from websockets.sync.client import connect

    try:
        with connect(f"{url.replace('http', 'ws')}/ws/notifications/?token={secret}", open_timeout=10) as ws:
            ws.close()
    except Exception:  # noqa: BLE001 - refused (bad token) is fine: only the log line matters
        pass
    time.sleep(0.5)
    log = log_path.read_text()
    assert "/ws/chat/?token=[redacted]&lang=en" in log
    assert "/ws/notifications/?token=[redacted]" in log
    assert secret not in log


def test_make_dev_is_development_mode(tmp_path):
    recipe = _make_recipe("dev")
    assert recipe and recipe[-1].startswith("DEBUG=1 ")
    env = clean_env(tmp_path, LOG_LEVEL="WARNING")
    env["DEBUG"] = "1"
    process, url, _ = _start_server(tmp_path, [sys.executable, "manage.py", "runall", "--server-only"], env)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            # Static files straight from the apps (no collectstatic in development).
            assert client.get("/static/web/app.css").status_code == 200
            page = client.get("/no-such-page/")
            assert page.status_code == 404 and "URLconf" in page.text  # Django's development 404 page
            api = client.get("/api/v1/no-such-thing/")
            assert api.status_code == 404 and api.json()["error_code"] == "RESOURCE_NOT_FOUND"
    finally:
        _stop(process)


def test_no_view_parses_json_without_the_depth_limit():
    """A view that lists its own parser_classes must use tutorhub.core.parsers.JSONParser."""
    from django.urls import get_resolver
    from rest_framework.parsers import JSONParser as PlainJSONParser

    def callbacks(resolver):
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                yield from callbacks(pattern)
            else:
                yield pattern.callback

    offenders = []
    for callback in callbacks(get_resolver()):
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if view is None:
            continue
        parsers = list(getattr(view, "parser_classes", []))
        for action in (getattr(callback, "actions", None) or {}).values():
            parsers += getattr(getattr(view, action, None), "kwargs", {}).get("parser_classes", [])
        if PlainJSONParser in parsers:
            offenders.append(view.__qualname__)
    assert offenders == []
