"""All writes to teams, budgets, holds, tokens and the audit trail.

Every money movement is a conditional UPDATE (or a row lock) inside `transaction.atomic`, with a
ledger entry in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from budgets.errors import BudgetExceeded, Conflict, Forbidden, Invalid, NotFound
from budgets.models import (
    ApiToken,
    AuditEvent,
    Budget,
    BudgetAlert,
    ExperimentClass,
    Hold,
    HoldStatus,
    LedgerEntry,
    LedgerKind,
    Period,
    Team,
    tier_text,
)
from budgets.money import format_money

logger = logging.getLogger(__name__)

TOKEN_SCOPES = ("read", "submit", "approve")
TOKEN_PREFIX = "hp_"  # noqa: S105 - a public marker, not a secret


# --- audit ----------------------------------------------------------------------------------------
def audit_record(
    *,
    action: str,
    actor: AbstractBaseUser | None = None,
    team: Team | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit trail (never secrets: callers pass ids and decisions only)."""
    event = _audit_event(action, actor, team, target, detail)
    event.save(force_insert=True)
    return event


def audit_rows(
    *, action: str, actor: AbstractBaseUser | None = None, events: Sequence[tuple[Team | None, str, dict[str, Any]]]
) -> list[AuditEvent]:
    """Audit records of one action by one actor, not yet saved, for a caller that writes them with its
    other rows (`bulk_create`); `events` are (team, target, detail)."""
    return [_audit_event(action, actor, *event) for event in events]


def _audit_event(
    action: str, actor: AbstractBaseUser | None, team: Team | None, target: str, detail: dict[str, Any] | None
) -> AuditEvent:
    return AuditEvent(
        action=action,
        actor=_actor_or_none(actor),
        team=team,
        target=target,
        detail=detail or {},
    )


# --- budgets --------------------------------------------------------------------------------------
def period_start_for(period: str, now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    if period == Period.MONTHLY:
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return datetime(2000, 1, 1, tzinfo=now.tzinfo)


def budget_set(
    *,
    team: Team,
    experiment_class: ExperimentClass,
    limit_micros: int | None,
    period: str | None = None,
    approval_threshold_micros: int | None = None,
    max_tier: int | None = None,
    actor: AbstractBaseUser | None = None,
) -> Budget:
    """Create or change a budget's limit and rules; the change goes to the ledger and the audit trail.

    A limit below what is already spent + reserved is refused (the CHECK constraint would be broken).
    `limit_micros=None` keeps an existing budget's limit (a change of its rules only).
    """
    if limit_micros is not None and limit_micros < 0:
        raise ValueError("limit must not be negative")
    if max_tier is not None and not 0 <= max_tier <= 3:
        raise ValueError("max_tier must be between 0 and 3")
    with transaction.atomic():
        budget, created = Budget.objects.select_for_update().get_or_create(
            team=team,
            experiment_class=experiment_class,
            defaults={
                "period": period or Period.MONTHLY,
                "period_start": period_start_for(period or Period.MONTHLY),
            },
        )
        if limit_micros is None:
            if created:
                raise ValueError(f"a limit is required: {team.slug} has no budget for {experiment_class.slug} yet")
            limit_micros = budget.limit_micros
        used = budget.spent_micros + budget.reserved_micros
        if limit_micros < used:
            raise ValueError(
                f"the limit {format_money(limit_micros)} is below what is already spent and reserved "
                f"({format_money(used)})"
            )
        old_limit = budget.limit_micros
        budget.limit_micros = limit_micros
        if period is not None and period != budget.period:
            budget.period = period
            budget.period_start = period_start_for(period)
        if approval_threshold_micros is not None:
            budget.approval_threshold_micros = approval_threshold_micros
        if max_tier is not None:
            budget.max_tier = max_tier
        budget.save()
        LedgerEntry.objects.create(
            budget=budget,
            kind=LedgerKind.SET_LIMIT,
            amount_micros=limit_micros - old_limit,
            actor=actor if actor is not None and actor.is_authenticated else None,
            memo=_limit_memo(old_limit, limit_micros, created=created),
        )
        audit_record(
            action="budget.set",
            actor=actor,
            team=team,
            target=f"budget:{budget.pk}",
            detail={
                "experiment_class": experiment_class.slug,
                "limit": format_money(limit_micros),
                "previous_limit": None if created else format_money(old_limit),
                "approval_threshold": format_money(budget.approval_threshold_micros),
                "max_tier": budget.max_tier,
                "period": budget.period,
            },
        )
        _alerts_check_later(budget.pk)  # a lower limit can cross a threshold too
    return budget


def _limit_memo(old_micros: int, new_micros: int, *, created: bool) -> str:
    """The ledger's words for a limit change, in the currency: "limit USD 0.00 → USD 50.00"."""
    if created:
        return f"new budget, limit {format_money(new_micros)}"
    return f"limit {format_money(old_micros)} → {format_money(new_micros)}"


# --- API tokens -----------------------------------------------------------------------------------
def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_issue(
    *,
    user: AbstractBaseUser,
    scopes: list[str] | tuple[str, ...] = TOKEN_SCOPES,
    days: int = 90,
    name: str = "",
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is never stored and shown only once."""
    bad = sorted(set(scopes) - set(TOKEN_SCOPES))
    if bad:
        raise ValueError(f"unknown scope(s) {', '.join(bad)}; allowed: {', '.join(TOKEN_SCOPES)}")
    if not scopes:
        raise ValueError("a token needs at least one scope")
    if not 1 <= days <= 366:
        raise ValueError("days must be between 1 and 366")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=secret[:10],
        token_hash=_token_hash(secret),
        scopes=sorted(set(scopes)),
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit_record(action="token.issue", actor=user, target=f"token:{token.pk}", detail={"scopes": token.scopes})
    return token, secret


def token_authenticate(secret: str) -> ApiToken | None:
    """The live token for this secret, or None (unknown, expired, revoked, inactive user)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=_token_hash(secret), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    # Last-used time at minute resolution: one write a minute per token, not one per request.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_revoke(*, token: ApiToken, actor: AbstractBaseUser) -> bool:
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if changed:
        audit_record(action="token.revoke", actor=actor, target=f"token:{token.pk}")
    return bool(changed)


# --- approval rules -------------------------------------------------------------------------------
def approval_reasons(*, budget: Budget, experiment_class: ExperimentClass, tier: int, cost_micros: int) -> list[str]:
    """Why a job needs a second person's sign-off; empty when it does not (`Budget.approval_reasons`)."""
    if budget.experiment_class_id == experiment_class.pk:
        budget.experiment_class = experiment_class  # already read: the rule needs its approval tier
    return budget.approval_reasons(cost_micros, tier)


def check_tier_allowed(*, budget: Budget, tier: int) -> None:
    """Refuse a backend tier above what this budget allows (Forbidden, field "max_tier")."""
    if not budget.allows_tier(tier):
        raise Forbidden(
            f"tier {tier_text(tier)} is above the highest tier this budget allows ({tier_text(budget.max_tier)})",
            field="max_tier",
            code="tier_not_allowed",
            detail={"tier": tier, "max_tier": budget.max_tier},
        )


# --- holds ----------------------------------------------------------------------------------------
# A pending hold older than this is a candidate for the sweeper; holds of jobs still in flight are
# never swept whatever their age (see `holds_expire`).
HOLD_TTL = timedelta(hours=24)
# Job statuses (as strings: budgets never imports jobs) whose hold the sweeper leaves alone.
ACTIVE_JOB_STATUSES = ("awaiting_approval", "queued", "running", "paused")


def _actor_or_none(actor: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


def _amount_text(micros: int) -> str:
    """'0.35' — the API's money text: a decimal in the major unit, without the currency."""
    return format_money(micros).split(" ", 1)[1]


def _budget_exceeded(budget_pk: int, needed: int) -> BudgetExceeded:
    budget = Budget.objects.select_related("team", "experiment_class").get(pk=budget_pk)
    remaining = max(budget.remaining_micros, 0)
    return BudgetExceeded(
        f"budget {budget.team.slug} / {budget.experiment_class.slug} has {format_money(remaining)} left; "
        f"this job needs {format_money(needed)}",
        field="budget",
        detail={"remaining": _amount_text(remaining), "needed": _amount_text(needed), "currency": settings.CURRENCY},
    )


def _reserve_on_budget(budget_pk: int, amount_micros: int) -> bool:
    """`reserved += amount` only where it fits. Under READ COMMITTED a concurrent UPDATE waits for the
    row lock and then re-checks the WHERE against the committed row, so two reservations can never both
    take the last money; the CHECK constraint backs this up."""
    return bool(
        Budget.objects.filter(
            pk=budget_pk,
            spent_micros__lte=F("limit_micros") - F("reserved_micros") - amount_micros,
        ).update(reserved_micros=F("reserved_micros") + amount_micros, updated_at=timezone.now())
    )


def _alerts_check_later(budget_pk: int) -> None:
    """Alerts after the money moved and committed; never lets an alert failure reach the caller."""

    def run() -> None:
        try:
            budget = Budget.objects.filter(pk=budget_pk).first()
            if budget is not None:
                alerts_check(budget=budget)
        except Exception:
            logger.exception("budget alert check failed for budget %s", budget_pk)

    transaction.on_commit(run)


def budget_reserve(*, budget: Budget, amount_micros: int) -> None:
    """The money half of a new hold: `reserved += amount` where it fits, else BudgetExceeded naming
    what is left. The submit path takes it before the job row exists, so a refusal writes nothing;
    `hold_open` must follow in the same transaction. A free job moves no money and takes no lock."""
    if amount_micros < 0:
        raise Invalid("a reservation cannot be negative", field="amount")
    if amount_micros and not _reserve_on_budget(budget.pk, amount_micros):
        raise _budget_exceeded(budget.pk, amount_micros)


def hold_open(
    *, job: Any, budget: Budget, amount_micros: int, actor: AbstractBaseUser | None = None, ttl: timedelta = HOLD_TTL
) -> Hold:
    """The hold and its reserve ledger entry for money `budget_reserve` took in this transaction."""
    return holds_open(holds=[(job, budget, amount_micros)], actor=actor, ttl=ttl)[0]


def holds_open(
    *, holds: Sequence[tuple[Any, Budget, int]], actor: AbstractBaseUser | None = None, ttl: timedelta = HOLD_TTL
) -> list[Hold]:
    """`hold_open` for several (job, budget, amount) at once: one INSERT for the holds, one for their
    ledger entries."""
    rows, entries = hold_rows(holds=holds, actor=actor, ttl=ttl)
    write_holds(rows, entries)
    return rows


def write_holds(rows: Sequence[Hold], entries: Sequence[LedgerEntry]) -> None:
    """Write `hold_rows`' rows (the holds first: the entries refer to them), then `holds_opened`."""
    with transaction.atomic(savepoint=False):
        Hold.objects.bulk_create(rows)
        LedgerEntry.objects.bulk_create(entries)  # each takes its hold's key, set by the INSERT above
    holds_opened(rows)


def hold_rows(
    *, holds: Sequence[tuple[Any, Budget, int]], actor: AbstractBaseUser | None = None, ttl: timedelta = HOLD_TTL
) -> tuple[list[Hold], list[LedgerEntry]]:
    """`holds_open`'s rows, not yet saved, for a caller that writes them in its transaction after the
    jobs they hold money for (`write_holds`)."""
    expires_at = timezone.now() + ttl
    rows = [Hold(budget=budget, job=job, amount_micros=amount, expires_at=expires_at) for job, budget, amount in holds]
    entries = [
        LedgerEntry(
            budget_id=hold.budget_id,
            kind=LedgerKind.RESERVE,
            amount_micros=hold.amount_micros,
            hold=hold,
            actor=_actor_or_none(actor),
            memo=f"job {hold.job_id}",
        )
        for hold in rows
    ]
    return rows, entries


def holds_opened(holds: Sequence[Hold]) -> None:
    """After new holds are written: their budgets' alerts are checked once the transaction commits."""
    for budget_pk in dict.fromkeys(hold.budget_id for hold in holds if hold.amount_micros):
        _alerts_check_later(budget_pk)  # a free job cannot cross an alert threshold


def hold_reserve(
    *,
    job: Any,
    budget: Budget,
    amount_micros: int,
    actor: AbstractBaseUser | None = None,
    ttl: timedelta = HOLD_TTL,
) -> Hold:
    """Reserve `amount_micros` of `budget` for `job`, or raise BudgetExceeded naming what is left.

    Idempotent per job (a job has at most one hold): a pending hold is returned unchanged — use
    `hold_adjust` to change its amount — and a released or expired one is reopened. A free job still gets
    a hold of 0 so every job settles or releases the same way. Call it inside the transaction that
    creates the job: if that rolls back, so does the reservation.
    """
    if amount_micros < 0:
        raise Invalid("a reservation cannot be negative", field="amount")
    if budget.team_id != job.team_id or budget.experiment_class_id != job.experiment_class_id:
        raise Invalid("the budget does not belong to the job's team and experiment class", field="budget")
    try:
        with transaction.atomic():
            existing = Hold.objects.select_for_update().filter(job=job).first()
            if existing is not None:
                expires_at = timezone.now() + ttl
                return _hold_reopen(hold=existing, amount_micros=amount_micros, actor=actor, expires_at=expires_at)
            budget_reserve(budget=budget, amount_micros=amount_micros)
            return hold_open(job=job, budget=budget, amount_micros=amount_micros, actor=actor, ttl=ttl)
    except (IntegrityError, BudgetExceeded):
        # A concurrent call for the same job won the race (unique job): its hold is the answer.
        # Only reachable when the other transaction has committed, so a fresh read sees it.
        hold = Hold.objects.filter(job=job, status=HoldStatus.PENDING).first()
        if hold is not None:
            return hold
        raise


def _hold_reopen(*, hold: Hold, amount_micros: int, actor: AbstractBaseUser | None, expires_at: datetime) -> Hold:
    if hold.status == HoldStatus.PENDING:
        return hold
    if hold.status == HoldStatus.SETTLED:
        raise Conflict(f"job {hold.job_id} has already been charged; it cannot reserve again", field="job")
    if not _reserve_on_budget(hold.budget_id, amount_micros):
        raise _budget_exceeded(hold.budget_id, amount_micros)
    Hold.objects.filter(pk=hold.pk).update(
        status=HoldStatus.PENDING, amount_micros=amount_micros, settled_micros=0, closed_at=None, expires_at=expires_at
    )
    LedgerEntry.objects.create(
        budget_id=hold.budget_id,
        kind=LedgerKind.RESERVE,
        amount_micros=amount_micros,
        hold=hold,
        actor=_actor_or_none(actor),
        memo=f"job {hold.job_id} (reserved again)",
    )
    _alerts_check_later(hold.budget_id)
    hold.refresh_from_db()
    return hold


def _free_hold_read_with(job: Any) -> Hold | None:
    """A free job's pending 0 hold, when it was read with the job (`select_related("hold")`, as a worker
    reads a job); None otherwise."""
    descriptor = getattr(type(job), "hold", None)
    if descriptor is None or not descriptor.is_cached(job):
        return None
    hold = descriptor.related.get_cached_value(job, default=None)
    if hold is None or hold.status != HoldStatus.PENDING or hold.amount_micros != 0:
        return None
    return hold


def _free_settlement(now: datetime) -> dict[str, Any]:
    return {"status": HoldStatus.SETTLED, "settled_micros": 0, "closed_at": now}


def _free_hold_settled_as_read(job: Any, now: datetime) -> Hold | None:
    """A free job's pending 0 hold read with the job, marked settled by one conditional UPDATE instead
    of being locked first: nothing but the hold row changes. None when that does not apply (no hold
    read, not a pending 0 hold, or changed since): the caller then locks the hold."""
    hold = _free_hold_read_with(job)
    changes = _free_settlement(now)
    if hold is None or not Hold.objects.filter(**_pending_free(hold)).update(**changes):
        return None
    for name, value in changes.items():
        setattr(hold, name, value)
    return hold


def _pending_free(hold: Hold) -> dict[str, Any]:
    """The conditions of a free hold that is still pending."""
    return {"pk": hold.pk, "status": HoldStatus.PENDING, "amount_micros": 0}


def _settle_memo(job_pk: object, *, actual_micros: int, held_micros: int, overrun: int) -> str:
    memo = f"job {job_pk}: actual {format_money(actual_micros)}, held {format_money(held_micros)}"
    if overrun:
        memo += f"; {format_money(overrun)} over the limit not booked"
    return memo


def _pending_hold_locked(job: Any) -> Hold | None:
    """The job's pending hold, row-locked for the rest of the transaction (holds are locked before
    budgets everywhere, so two money movements never wait on each other in a cycle)."""
    return Hold.objects.select_for_update().filter(job=job, status=HoldStatus.PENDING).first()


def hold_adjust(*, job: Any, amount_micros: int, actor: AbstractBaseUser | None = None) -> Hold:
    """Change a pending hold to a new estimate (after a reroute or an approver's change).

    Raises NotFound when the job has no hold, Conflict when it is no longer pending, BudgetExceeded when
    the increase does not fit (the hold keeps its old amount).
    """
    if amount_micros < 0:
        raise Invalid("a reservation cannot be negative", field="amount")
    with transaction.atomic():
        hold = _pending_hold_locked(job)
        if hold is None:
            if Hold.objects.filter(job=job).exists():
                raise Conflict(f"the hold of job {job.pk} is already closed", field="job")
            raise NotFound(f"job {job.pk} has no hold", field="job")
        delta = amount_micros - hold.amount_micros
        if delta == 0:
            return hold
        if delta > 0:
            if not _reserve_on_budget(hold.budget_id, delta):
                raise _budget_exceeded(hold.budget_id, delta)
        else:
            Budget.objects.filter(pk=hold.budget_id).update(
                reserved_micros=F("reserved_micros") + delta, updated_at=timezone.now()
            )
        old = hold.amount_micros
        hold.amount_micros = amount_micros
        hold.save(update_fields=["amount_micros"])
        LedgerEntry.objects.create(
            budget_id=hold.budget_id,
            kind=LedgerKind.RESERVE if delta > 0 else LedgerKind.RELEASE,
            amount_micros=abs(delta),
            hold=hold,
            actor=_actor_or_none(actor),
            memo=f"job {job.pk} re-estimated {format_money(old)} → {format_money(amount_micros)}",
        )
        if delta > 0:
            _alerts_check_later(hold.budget_id)
    return hold


def hold_settle(*, job: Any, actual_micros: int, actor: AbstractBaseUser | None = None) -> Hold | None:
    """Charge the job's actual cost and release the rest of its hold. Idempotent: None when there is no
    pending hold (already settled, released or expired — e.g. a task delivered twice).

    A vendor may bill more than the estimate. The extra is charged as far as the budget's limit allows;
    anything beyond that cannot be booked without breaking the CHECK constraint, so it is capped, written
    in the ledger memo and to the audit trail ("budget.overrun") for an admin, and the worker carries on.
    """
    if actual_micros < 0:
        raise Invalid("a cost cannot be negative", field="actual")
    # No savepoint: nothing here is caught, so an error aborts the caller's transaction anyway, and a
    # worker settles every job inside its result transaction.
    with transaction.atomic(savepoint=False):
        now = timezone.now()
        # A free run moves no money: the budget row, which every job of the team settles against, is
        # neither locked nor written.
        budget, charged = None, 0
        hold = _free_hold_settled_as_read(job, now) if actual_micros == 0 else None
        if hold is None:
            hold = _pending_hold_locked(job)
            if hold is None:
                return None
            if hold.amount_micros or actual_micros:
                budget = Budget.objects.select_for_update().select_related("team").get(pk=hold.budget_id)
                # What this settlement may add to `spent` while `reserved` drops by the hold's amount.
                room = budget.limit_micros - budget.spent_micros - budget.reserved_micros + hold.amount_micros
                charged = min(actual_micros, room)
                Budget.objects.filter(pk=budget.pk).update(
                    spent_micros=F("spent_micros") + charged,
                    reserved_micros=F("reserved_micros") - hold.amount_micros,
                    updated_at=now,
                )
            hold.status, hold.settled_micros, hold.closed_at = HoldStatus.SETTLED, charged, now
            hold.save(update_fields=["status", "settled_micros", "closed_at"])
        overrun = actual_micros - charged
        memo = _settle_memo(job.pk, actual_micros=actual_micros, held_micros=hold.amount_micros, overrun=overrun)
        LedgerEntry.objects.create(
            budget_id=hold.budget_id,
            kind=LedgerKind.SETTLE,
            amount_micros=charged,
            hold=hold,
            actor=_actor_or_none(actor),
            memo=memo,
        )
        if charged < hold.amount_micros:
            LedgerEntry.objects.create(
                budget_id=hold.budget_id,
                kind=LedgerKind.RELEASE,
                amount_micros=hold.amount_micros - charged,
                hold=hold,
                actor=_actor_or_none(actor),
                memo=f"job {job.pk}: cost below the estimate",
            )
        if overrun:  # only when money moved, so `budget` is the locked row
            audit_record(
                action="budget.overrun",
                actor=actor,
                team=budget.team,
                target=f"budget:{budget.pk}",
                detail={"job": str(job.pk), "actual_micros": actual_micros, "unbooked_micros": overrun},
            )
        if charged > hold.amount_micros:  # spent + reserved grew: a threshold may have been crossed
            _alerts_check_later(hold.budget_id)
    return hold


def _hold_close(
    *, hold: Hold, status: str, kind: str, memo: str, actor: AbstractBaseUser | None, now: datetime
) -> None:
    """Return a locked pending hold's money to its budget (release or expiry) in the caller's transaction."""
    Budget.objects.filter(pk=hold.budget_id).update(
        reserved_micros=F("reserved_micros") - hold.amount_micros, updated_at=now
    )
    hold.status, hold.closed_at = status, now
    hold.save(update_fields=["status", "closed_at"])
    LedgerEntry.objects.create(
        budget_id=hold.budget_id,
        kind=kind,
        amount_micros=hold.amount_micros,
        hold=hold,
        actor=_actor_or_none(actor),
        memo=memo[:500],
    )


def hold_release(*, job: Any, reason: str, actor: AbstractBaseUser | None = None) -> Hold | None:
    """Give a failed, cancelled or rejected job's reservation back; the job costs nothing.
    Idempotent: None when there is no pending hold."""
    with transaction.atomic(savepoint=False):  # as in hold_settle
        hold = _pending_hold_locked(job)
        if hold is None:
            return None
        _hold_close(
            hold=hold,
            status=HoldStatus.RELEASED,
            kind=LedgerKind.RELEASE,
            memo=f"job {job.pk}: {reason}",
            actor=actor,
            now=timezone.now(),
        )
    return hold


def holds_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Sweeper: close pending holds past `expires_at` whose job is no longer in flight; returns how many.

    Conservative on purpose: a hold whose job is awaiting approval, queued, running or paused is never
    touched — the orchestration releases or settles those. What is left are leaks (a worker that died
    between finishing a job and settling it, a job stuck in `submitted`). A succeeded job that recorded
    its cost is settled at that cost rather than given away; every other leak expires and its money
    goes back to the budget. Each hold is closed in its own transaction, re-checked under its row lock.
    """
    now = now or timezone.now()
    ids = list(
        Hold.objects.filter(status=HoldStatus.PENDING, expires_at__lt=now)
        .exclude(job__status__in=ACTIVE_JOB_STATUSES)
        .values_list("pk", flat=True)[:batch]
    )
    closed = 0
    for pk in ids:
        with transaction.atomic():
            hold = Hold.objects.select_for_update().filter(pk=pk, status=HoldStatus.PENDING).first()
            if hold is None:
                continue
            job = hold.job
            if job.status in ACTIVE_JOB_STATUSES:
                continue
            if job.status == "succeeded" and job.cost_micros is not None:
                closed += hold_settle(job=job, actual_micros=job.cost_micros) is not None
                continue
            _hold_close(
                hold=hold,
                status=HoldStatus.EXPIRED,
                kind=LedgerKind.EXPIRE,
                memo=f"job {job.pk} ({job.status}): hold expired at {hold.expires_at:%Y-%m-%d %H:%M} UTC",
                actor=None,
                now=now,
            )
            closed += 1
    if closed:
        logger.info("expired or settled %d stale holds", closed)
    return closed


# --- alerts ---------------------------------------------------------------------------------------
ALERT_THRESHOLDS = (50, 80, 100)


def alerts_check(*, budget: Budget) -> list[BudgetAlert]:
    """Fire each 50/80/100 % threshold of (spent + reserved) / limit once per budget period; returns the
    alerts this call created. Race-safe: the unique (budget, threshold, period_start) constraint lets only
    one of several concurrent checks create an alert, and only that one writes the audit event and mails
    the team's approvers and admins (after commit)."""
    budget = Budget.objects.select_related("team", "experiment_class").get(pk=budget.pk)
    if budget.limit_micros <= 0:
        return []
    used = budget.spent_micros + budget.reserved_micros
    created_alerts = []
    for threshold in ALERT_THRESHOLDS:
        if used * 100 < threshold * budget.limit_micros:
            break
        with transaction.atomic():
            alert, created = BudgetAlert.objects.get_or_create(
                budget=budget,
                threshold_percent=threshold,
                period_start=budget.period_start,
                defaults={"used_micros": used},
            )
            if created:
                audit_record(
                    action="budget.alert",
                    team=budget.team,
                    target=f"budget:{budget.pk}",
                    detail={"threshold_percent": threshold, "used_micros": used, "limit_micros": budget.limit_micros},
                )
                created_alerts.append(alert)
    if created_alerts:
        transaction.on_commit(lambda: _alert_mail(budget, created_alerts[-1].threshold_percent, used))
    return created_alerts


def _alert_mail(budget: Budget, threshold: int, used: int) -> None:
    from budgets.selectors import approvers_for_team

    recipients = sorted({u.email for u in approvers_for_team(budget.team) if u.email})
    if not recipients:
        return
    name = f"{budget.team.slug} / {budget.experiment_class.slug}"
    try:
        send_mail(
            subject=f"[Hybrid Portal] {name}: {threshold}% of the budget used",
            message=(
                f"The {budget.get_period_display().lower()} budget {name} has reached {threshold}% of its limit.\n\n"
                f"Limit:     {format_money(budget.limit_micros)}\n"
                f"Spent:     {format_money(budget.spent_micros)}\n"
                f"Reserved:  {format_money(budget.reserved_micros)}\n"
                f"Remaining: {format_money(max(budget.limit_micros - used, 0))}\n\n"
                "Jobs that do not fit what is left are refused. An admin can top the budget up."
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        logger.exception("could not mail the budget alert for budget %s", budget.pk)


# --- limits and periods ---------------------------------------------------------------------------
def budget_top_up(*, budget: Budget, amount_micros: int, actor: AbstractBaseUser | None, memo: str = "") -> Budget:
    """Raise a budget's limit by `amount_micros` (> 0) for the rest of this period."""
    if amount_micros <= 0:
        raise Invalid("a top-up must be a positive amount", field="amount")
    with transaction.atomic():
        Budget.objects.filter(pk=budget.pk).update(
            limit_micros=F("limit_micros") + amount_micros, updated_at=timezone.now()
        )
        budget = Budget.objects.select_related("team", "experiment_class").get(pk=budget.pk)
        LedgerEntry.objects.create(
            budget=budget,
            kind=LedgerKind.TOP_UP,
            amount_micros=amount_micros,
            actor=_actor_or_none(actor),
            memo=(memo or f"top-up of {format_money(amount_micros)}")[:500],
        )
        audit_record(
            action="budget.top_up",
            actor=actor,
            team=budget.team,
            target=f"budget:{budget.pk}",
            detail={
                "amount": format_money(amount_micros),
                "limit": format_money(budget.limit_micros),
                "memo": memo[:200],
            },
        )
    return budget


def _new_period(
    *, budget_pk: int, start: datetime, actor: AbstractBaseUser | None, only_before: datetime | None
) -> bool:
    """Reset `spent` to 0 from `start`; reservations stay (their jobs are still running and settle into
    the new period). With `only_before`, does nothing if another process already rolled this budget."""
    with transaction.atomic():
        budget = Budget.objects.select_for_update().select_related("team", "experiment_class").get(pk=budget_pk)
        if only_before is not None and budget.period_start >= only_before:
            return False
        old_spent, old_start = budget.spent_micros, budget.period_start
        Budget.objects.filter(pk=budget.pk).update(spent_micros=0, period_start=start, updated_at=timezone.now())
        LedgerEntry.objects.create(
            budget=budget,
            kind=LedgerKind.NEW_PERIOD,
            amount_micros=-old_spent,
            actor=_actor_or_none(actor),
            memo=(
                f"new period from {start:%Y-%m-%d %H:%M} UTC: {format_money(old_spent)} spent since "
                f"{old_start:%Y-%m-%d} cleared, {format_money(budget.reserved_micros)} reserved carried over"
            ),
        )
        audit_record(
            action="budget.new_period",
            actor=actor,
            team=budget.team,
            target=f"budget:{budget.pk}",
            detail={"previous_spent": format_money(old_spent), "period_start": start.isoformat()},
        )
        _alerts_check_later(budget.pk)
    return True


def budget_new_period(*, budget: Budget, actor: AbstractBaseUser | None) -> Budget:
    """Start a new period now: spent back to 0, pending reservations kept; alerts may fire again."""
    _new_period(budget_pk=budget.pk, start=timezone.now(), actor=actor, only_before=None)
    return Budget.objects.select_related("team", "experiment_class").get(pk=budget.pk)


def budget_roll_periods(*, now: datetime | None = None) -> int:
    """Start a new period on every monthly budget whose period began before this month; returns how
    many. Safe to run from several workers at once (each budget is re-checked under its row lock)."""
    month_start = period_start_for(Period.MONTHLY, now or timezone.now())
    ids = Budget.objects.filter(period=Period.MONTHLY, period_start__lt=month_start).values_list("pk", flat=True)
    return sum(_new_period(budget_pk=pk, start=month_start, actor=None, only_before=month_start) for pk in ids)
