"""Run the reaper once, now: what the `jobs.reap_jobs` schedule does every minute on the interactive cluster
(every cluster also returns jobs whose heartbeat stopped every few seconds)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from jobs.reaper import reap_jobs
from jobs.tasks import ensure_schedules, poll_hardware_jobs


class Command(BaseCommand):
    help = (
        "Return jobs whose worker died to the queue (or fail them after JOB_MAX_ATTEMPTS), re-enqueue queued "
        "jobs whose task was lost, expire stale holds and approvals, and revive overdue hardware polls."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schedules", action="store_true", help="also create or repair the workers' periodic schedules"
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["schedules"]:
            ensure_schedules()
            self.stdout.write("schedules: jobs.reap_jobs (interactive), jobs.poll_hardware_jobs (hardware)")
        counts = reap_jobs()
        counts["hardware_polls_revived"] = poll_hardware_jobs()
        self.stdout.write(", ".join(f"{name} {n}" for name, n in counts.items()))
