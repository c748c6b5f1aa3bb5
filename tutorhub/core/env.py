"""Small typed readers for settings from the environment (python-dotenv loads `.env` first)."""

from __future__ import annotations

import os
from pathlib import Path


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return float(value)


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


# Keys that are public (this project's old development key, documentation placeholders):
# anyone could sign sessions, password-reset links and JWTs with them.
KNOWN_SECRET_KEYS = frozenset(
    {
        "dev-insecure-only-for-debug-" + "x" * 40,
        "changeme",
        "change-me",
        "secret",
        "secret-key",
        "secretkey",
        "your-secret-key",
        "your-secret-key-here",
        "insecure",
    }
)
# Django's startproject prefix and this project's old dev prefix.
KNOWN_SECRET_KEY_PREFIXES = ("django-insecure-", "dev-insecure-")
# The same rule as `check --deploy` (security.W009).
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5


def weak_secret_key_reason(key: str) -> str | None:
    """Why `key` must not sign anything in production, or None if it is acceptable."""
    if key in KNOWN_SECRET_KEYS or key.lower().startswith(KNOWN_SECRET_KEY_PREFIXES):
        return "it is a publicly known key"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it is shorter than {SECRET_KEY_MIN_LENGTH} characters"
    if len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return f"it has fewer than {SECRET_KEY_MIN_UNIQUE_CHARACTERS} distinct characters"
    return None


def generated_secret_key(path: Path) -> str:
    """The key stored in `path`, generated on first use.

    The file is written completely under a temporary name (mode 0600) and then hard-linked
    into place, so a concurrent start (the web server and the worker starting together)
    either wins the link or reads the finished file of the process that won: nobody ever
    reads a half-written key, and everybody ends up with the same one."""
    import secrets
    import tempfile

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(50) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process created it first; use theirs
        finally:
            os.unlink(tmp)
    return path.read_text(encoding="ascii").strip()
