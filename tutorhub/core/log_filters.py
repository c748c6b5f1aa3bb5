"""Logging filters, installed by settings.LOGGING_CONFIG (configure_logging below)."""

from __future__ import annotations

import logging
import logging.config
import re

# Credentials that travel in query strings: the WebSocket JWT (?token=), OAuth-style tokens,
# one-time tickets, signed-URL signatures. Matched as query parameters only.
_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:token|access_token|refresh_token|refresh|ticket|api_key|apikey|key|password|secret|signature|sig)=)"
    r"[^&#\s\"']*"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1" + REDACTED, text)


class RedactTokensFilter(logging.Filter):
    """Replaces secret query-parameter values in a record's message and arguments, so an
    access-log line like `GET /ws/chat/?token=eyJ...` is written as `?token=[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: redact(value) if isinstance(value, str) else value for key, value in record.args.items()}
        return True


# Loggers that write request lines through handlers of their own (not the root's console
# handler, whose filter covers everything that propagates): uvicorn's access log and its
# WebSocket "accepted/rejected" lines, runserver's and daphne's request logs.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "django.server", "django.channels.server", "daphne.server")


def configure_logging(config: dict) -> None:
    """settings.LOGGING_CONFIG: apply LOGGING, then put RedactTokensFilter on SERVER_LOGGERS.

    Declaring those loggers in LOGGING instead would strip uvicorn's handlers each time Django
    is set up again (get_asgi_application() re-applies LOGGING after uvicorn configured its
    logging), silencing the access log. A filter added to the logger object survives both."""
    logging.config.dictConfig(config)
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokensFilter) for existing in logger.filters):
            logger.addFilter(RedactTokensFilter())
