"""Settings for the test suite: production settings plus what tests need, stated explicitly.

Production code does not know a test runner exists; everything test-specific is here.
"""

from __future__ import annotations

import os
import secrets

# A fresh random key per run, set before the settings module reads it, so importing the
# settings never writes a generated key file into the developer's DATA_DIR.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))

from tutorhub.settings import *  # noqa: E402,F403
from tutorhub.settings import STORAGES  # noqa: E402

# Tasks run inline so a test sees their effect without a worker process.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
# Fast hashing: thousands of users are created; the real hasher is exercised in tests/accounts.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Without Redis, one process: the in-memory layer. The default stack's cross-process database
# layer is tested with real processes in tests/core/test_cross_process_events.py; with
# REDIS_URL (CI's second run) tests keep the production channels-redis layer.
if not REDIS_URL:  # noqa: F405
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Lexical retrieval unless a test opts in: the default local embedding model would add its load
# and ~10 ms per chunk to every test that processes a document, and make ranking assertions
# depend on the model. tests/ai/test_local_embeddings.py tests the real model (loaded once per
# run) and the backfill; retrieval tests that need vectors configure a backend themselves.
EMBEDDING_BACKENDS = {}
# Tests exercise throttling explicitly (override_settings / the settings fixture).
THROTTLING_ENABLED = False
# No collectstatic before tests: templates resolve {% static %} without a manifest.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# SQLite: a file test database (WAL, per test session) rather than the in-memory one, so tests that
# write from several threads meet SQLite's real locking (busy_timeout, IMMEDIATE transactions)
# instead of shared-cache table locks that production never has ("database table is locked").
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import atexit
    import shutil
    import tempfile

    _TEST_DB_DIR = tempfile.mkdtemp(prefix="tutorhub-testdb-")
    atexit.register(shutil.rmtree, _TEST_DB_DIR, ignore_errors=True)
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(_TEST_DB_DIR, "test.sqlite3")}  # noqa: F405
