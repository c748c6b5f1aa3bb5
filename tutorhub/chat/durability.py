"""Chat writes that must not be lost: a question the user saw accepted and an answer the user
saw streamed are stored, whatever happens to the database connection afterwards.

- `call_reconnecting` (tutorhub.core.db): one retry on a fresh connection when the
  kept one died (the database restarted).
- `write_or_queue`: when the retry fails too (the database is down), the write waits in a
  small in-memory queue that a background thread flushes, in order, once the database answers
  again. The objects were built before the first attempt (their UUIDs are final), so what the
  client was told - a message id - stays true. A process that dies with writes queued loses
  them; `chat_unanswered_mark` (a periodic job) then marks the questions' answers incomplete.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tutorhub.chat.models import Message
from tutorhub.core.db import LOST_CONNECTION_ERRORS, call_reconnecting

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 1000  # writes held per process while the database is down
FLUSH_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds between flush attempts, then every 30 s
INTERRUPTED = "The answer was interrupted (the server stopped while answering); please ask again."


_queue: deque[tuple[str, Callable[..., Any], dict[str, Any]]] = deque()
_queue_lock = threading.Lock()
_flush_lock = threading.Lock()  # one flusher at a time, or two threads could write the same entry
_flusher: threading.Thread | None = None


def write_or_queue(func: Callable[..., Any], /, *, what: str, later: Callable[..., Any] | None = None,
                   **kwargs: Any) -> bool:
    """Run the write now (with call_reconnecting), or queue it (as `later`, when given) for the
    flusher when the database cannot be reached. Returns whether it was written now. Writes
    queued earlier go first, so an answer is never stored before its question."""
    if pending_count():
        flush_pending()  # the database may be back before the flusher's next try
    if not pending_count():
        try:
            call_reconnecting(func, **kwargs)
            return True
        except LOST_CONNECTION_ERRORS as exc:
            logger.error("chat: database unavailable (%s); %s kept in memory until it is back", type(exc).__name__, what)
    _enqueue(what, later or func, kwargs)
    return False


def _enqueue(what: str, func: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    global _flusher
    with _queue_lock:
        if len(_queue) >= QUEUE_LIMIT:
            dropped = _queue.popleft()
            logger.error("chat: write queue full (%d); dropped the oldest write (%s)", QUEUE_LIMIT, dropped[0])
        _queue.append((what, func, kwargs))
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_flush_until_empty, name="chat-write-retry", daemon=True)
            start = True
        else:
            start = False
    if start:
        _start_flusher()


def _start_flusher() -> None:
    _flusher.start()


def flush_pending() -> int:
    """Write queued writes in order until one fails (the database is still down) or none are
    left. Returns how many were written."""
    with _flush_lock:
        return _flush_in_order()


def _flush_in_order() -> int:
    written = 0
    while True:
        with _queue_lock:
            if not _queue:
                return written
            entry = _queue[0]
        what, func, kwargs = entry
        try:
            call_reconnecting(func, **kwargs)
        except LOST_CONNECTION_ERRORS:
            return written
        except Exception:
            # Not a connection problem: retrying will not help, and it must not block the rest.
            logger.exception("chat: queued write (%s) failed; dropped", what)
        with _queue_lock:
            if _queue and _queue[0] is entry:  # not dropped meanwhile by a full queue
                _queue.popleft()
        written += 1


def pending_count() -> int:
    with _queue_lock:
        return len(_queue)


def _flush_until_empty() -> None:
    attempt = 0
    try:
        while pending_count():
            time.sleep(FLUSH_BACKOFF[min(attempt, len(FLUSH_BACKOFF) - 1)])
            attempt += 1
            written = flush_pending()
            if written:
                logger.warning("chat: database is back; stored %d queued write(s), %d left", written, pending_count())
    finally:
        connection.close()


@transaction.atomic
def message_save_recovered(*, message: Message) -> None:
    """Insert a message whose first write failed. If the question's answer was marked
    interrupted meanwhile (chat_unanswered_mark ran while this waited), the real answer
    replaces that mark."""
    if message.reply_to_id:
        Message.objects.filter(reply_to_id=message.reply_to_id, context_used__has_key="interrupted").delete()
    message.save(force_insert=True)


def chat_unanswered_mark(*, older_than: timedelta | None = None, batch: int = 500) -> int:
    """Give every question left without an answer (the process answering it died mid-stream,
    or lost its queued writes) an empty answer marked incomplete, so the chat shows the turn
    failed instead of a question hanging forever. Only questions older than the longest an
    answer may take are touched. Returns how many were marked."""
    if older_than is None:
        older_than = timedelta(seconds=settings.AI_TOTAL_TIMEOUT_SECONDS + 60)
    cutoff = timezone.now() - older_than
    questions = list(
        Message.objects.filter(role=Message.Role.USER, reply__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", "session_id")[:batch]
    )
    marks = [
        Message(
            session_id=session_id,
            role=Message.Role.ASSISTANT,
            content="",
            message_type=Message.MessageType.ANSWER,
            token_count=0,
            is_complete=False,
            reply_to_id=pk,
            context_used={"error": INTERRUPTED, "interrupted": True},
        )
        for pk, session_id in questions
    ]
    # ignore_conflicts: an answer stored between the read and this insert wins.
    Message.objects.bulk_create(marks, ignore_conflicts=True)
    if marks:
        logger.warning("chat: marked %d unanswered question(s) as interrupted", len(marks))
    return len(marks)
