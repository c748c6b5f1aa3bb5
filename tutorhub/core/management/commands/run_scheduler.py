from __future__ import annotations

import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from tutorhub.core.backoff import DB_OUTAGE_ERRORS, Backoff
from tutorhub.core.scheduler import registered_jobs, run_due_jobs

logger = logging.getLogger("tutorhub.scheduler")


class Command(BaseCommand):
    help = "Enqueue periodic jobs (overdue payments, lesson reminders, weekly reports) when they are due."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=30.0, help="seconds between checks")
        parser.add_argument("--once", action="store_true", help="check once and exit")

    def handle(self, *args, interval: float, once: bool, **options):
        jobs = registered_jobs()
        self.stdout.write(f"scheduler: {len(jobs)} periodic jobs: {', '.join(sorted(jobs)) or '-'}")
        backoff = Backoff(initial=1.0, maximum=min(30.0, max(interval, 1.0)))
        while True:
            # A database outage (server down, restarting, "database is locked") is waited out:
            # the scheduler exiting would stop every periodic job silently.
            try:
                close_old_connections()
                for name in run_due_jobs():
                    self.stdout.write(f"scheduler: enqueued {name}")
            except DB_OUTAGE_ERRORS as exc:
                delay = backoff.failed()
                logger.warning("scheduler: database error (%s: %s); retrying in %.0f s", type(exc).__name__, exc, delay)
                close_old_connections()
                if once:
                    raise
                time.sleep(delay)
                continue
            backoff.reset()
            if once:
                return
            time.sleep(interval)
