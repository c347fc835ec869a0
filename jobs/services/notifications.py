"""Mail the jobs app sends, always on commit: approvers of a job awaiting sign-off (one digest per
batch), and the submitter of a decided job."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from budgets import selectors as budget_selectors
from budgets.money import format_money
from jobs.models import Job

logger = logging.getLogger(__name__)


def mail_on_commit(subject: str, body: str, recipients: list[str]) -> None:
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return

    def send() -> None:
        try:
            send_mail(subject, body, None, recipients)
        except Exception:
            logger.exception("could not send %r to %s", subject, recipients)

    transaction.on_commit(send)


def portal_link(name: str, *args: Any) -> str:
    """A page's address for an e-mail: PORTAL_URL + its path."""
    return settings.PORTAL_URL + reverse(name, args=args)


def job_url(job: Job) -> str:
    return portal_link("job_detail", job.pk)


def team_approver_emails(job: Job) -> list[str]:
    approvers = budget_selectors.approvers_for_team(job.team).exclude(pk=job.submitted_by_id)
    return [u.email for u in approvers]


def approvers_notify(job: Job, reasons: list[str], emails: list[str] | None = None) -> None:
    """Mail the team's approvers (but the submitter) about a job awaiting sign-off; `emails`: theirs,
    when already read."""
    mail_on_commit(
        f"[Hybrid Portal] approval needed: {job.family} job {str(job.pk)[:8]} on {job.backend}",
        f"{job.submitted_by} submitted a job that needs your sign-off.\n\n"
        f"Backend: {job.backend} (tier {job.tier})\nEstimate: {format_money(job.estimate.get('cost_micros'))}\n"
        f"Why: {'; '.join(reasons)}\n\nDecide at {job_url(job)}\n",
        team_approver_emails(job) if emails is None else emails,
    )


# A batch's digest lists this many jobs; the approvals page has them all.
DIGEST_LISTED = 20


def approvers_notify_of_batch(waiting: Sequence[tuple[Job, list[str]]], emails: list[str]) -> None:
    """One mail for a batch's jobs of one team awaiting sign-off (a sweep of 100 is one message, not
    100): how many, their total estimate, the first DIGEST_LISTED with their reasons, and where to
    decide."""
    if len(waiting) == 1:
        approvers_notify(*waiting[0], emails)
        return
    first = waiting[0][0]
    total = sum(int(job.estimate.get("cost_micros") or 0) for job, _ in waiting)
    lines = [
        f"- {job.family} job {str(job.pk)[:8]} on {job.backend} (tier {job.tier}), "
        f"{format_money(job.estimate.get('cost_micros'))}: {'; '.join(reasons)}\n  {job_url(job)}"
        for job, reasons in waiting[:DIGEST_LISTED]
    ]
    if len(waiting) > DIGEST_LISTED:
        lines.append(f"… and {len(waiting) - DIGEST_LISTED} more.")
    mail_on_commit(
        f"[Hybrid Portal] approval needed: {len(waiting)} jobs from {first.submitted_by}",
        f"{first.submitted_by} submitted {len(waiting)} jobs in one batch that need your sign-off.\n"
        f"Estimate in total: {format_money(total)}\n\n"
        + "\n".join(lines)
        + f"\n\nDecide at {portal_link('approvals')}\n",
        emails,
    )


def submitter_notify(job: Job, decision: str, decided_by: AbstractBaseUser, comment: str) -> None:
    mail_on_commit(
        f"[Hybrid Portal] your job {str(job.pk)[:8]} was {decision}",
        f"{decided_by} {decision} your {job.family} job on {job.backend}."
        + (f"\n\nComment: {comment}" if comment else "")
        + f"\n\n{job_url(job)}\n",
        [job.submitted_by.email],
    )
