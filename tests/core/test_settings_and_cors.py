"""Production settings, CORS and pagination conventions."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE", "HTTPS"}}
    base.update({"DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_https_declared_and_a_real_secret(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env={"HTTPS": "1", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "example.org"},
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_sqlite_database_url_gets_the_same_wal_and_immediate_transactions(tmp_path):
    """IMMEDIATE transactions are what serialise quota checks on SQLite, however it is configured."""
    result = manage(
        "shell", "-c", "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])",
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}"},
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "'transaction_mode': 'IMMEDIATE'" in result.stdout and "journal_mode=WAL" in result.stdout


@pytest.mark.django_db
def test_cors_allows_a_configured_origin_only(anon_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["http://localhost:3000"]
    allowed = anon_client.get("/healthz", HTTP_ORIGIN="http://localhost:3000")
    assert allowed["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "X-Request-ID" in allowed["Access-Control-Expose-Headers"]
    preflight = anon_client.options(
        "/api/v1/accounts/login/",
        HTTP_ORIGIN="http://localhost:3000",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )
    assert preflight.status_code == 200
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    denied = anon_client.get("/healthz", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in denied


@pytest.mark.django_db
def test_pagination_shape_and_page_size_cap(admin_client):
    from tests.factories import UserFactory

    for _ in range(4):
        UserFactory()
    body = admin_client.get("/api/v1/accounts/users/?page_size=1000").json()
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 5 and body["next"] is None and body["previous"] is None
    assert len(admin_client.get("/api/v1/accounts/users/?page_size=2").json()["results"]) == 2
