from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from tutorhub.core.scheduler import registered_jobs, run_due_jobs


class Command(BaseCommand):
    help = "Enqueue periodic jobs (overdue payments, lesson reminders, weekly reports) when they are due."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=30.0, help="seconds between checks")
        parser.add_argument("--once", action="store_true", help="check once and exit")

    def handle(self, *args, interval: float, once: bool, **options):
        jobs = registered_jobs()
        self.stdout.write(f"scheduler: {len(jobs)} periodic jobs: {', '.join(sorted(jobs)) or '-'}")
        while True:
            for name in run_due_jobs():
                self.stdout.write(f"scheduler: enqueued {name}")
            if once:
                return
            time.sleep(interval)
