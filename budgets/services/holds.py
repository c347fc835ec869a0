"""Holds: reserve money for a job, change the amount, settle the actual cost, or give it back.

Every money movement is a conditional UPDATE (or a row lock) inside `transaction.atomic`, with a
ledger entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from budgets.errors import BudgetExceeded, Conflict, Invalid, NotFound
from budgets.models import Budget, Hold, HoldStatus, LedgerEntry, LedgerKind
from budgets.money import format_money
from budgets.services.alerts import alerts_check_later
from budgets.services.audit import audit_record
from budgets.services.ledger import ledger_entry, ledger_write

# A pending hold older than this is a candidate for the sweeper; holds of jobs still in flight are
# never swept whatever their age (see `budgets.services.sweeper`).
HOLD_TTL = timedelta(hours=24)


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
        ledger_entry(
            budget_id=hold.budget_id,
            kind=LedgerKind.RESERVE,
            amount_micros=hold.amount_micros,
            hold=hold,
            actor=actor,
            memo=f"job {hold.job_id}",
        )
        for hold in rows
    ]
    return rows, entries


def holds_opened(holds: Sequence[Hold]) -> None:
    """After new holds are written: their budgets' alerts are checked once the transaction commits."""
    for budget_pk in dict.fromkeys(hold.budget_id for hold in holds if hold.amount_micros):
        alerts_check_later(budget_pk)  # a free job cannot cross an alert threshold


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
    ledger_write(
        budget_id=hold.budget_id,
        kind=LedgerKind.RESERVE,
        amount_micros=amount_micros,
        hold=hold,
        actor=actor,
        memo=f"job {hold.job_id} (reserved again)",
    )
    alerts_check_later(hold.budget_id)
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
        ledger_write(
            budget_id=hold.budget_id,
            kind=LedgerKind.RESERVE if delta > 0 else LedgerKind.RELEASE,
            amount_micros=abs(delta),
            hold=hold,
            actor=actor,
            memo=f"job {job.pk} re-estimated {format_money(old)} → {format_money(amount_micros)}",
        )
        if delta > 0:
            alerts_check_later(hold.budget_id)
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
        ledger_write(
            budget_id=hold.budget_id,
            kind=LedgerKind.SETTLE,
            amount_micros=charged,
            hold=hold,
            actor=actor,
            memo=memo,
        )
        if charged < hold.amount_micros:
            ledger_write(
                budget_id=hold.budget_id,
                kind=LedgerKind.RELEASE,
                amount_micros=hold.amount_micros - charged,
                hold=hold,
                actor=actor,
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
            alerts_check_later(hold.budget_id)
    return hold


def hold_close(*, hold: Hold, status: str, kind: str, memo: str, actor: AbstractBaseUser | None, now: datetime) -> None:
    """Return a locked pending hold's money to its budget (release or expiry) in the caller's transaction."""
    Budget.objects.filter(pk=hold.budget_id).update(
        reserved_micros=F("reserved_micros") - hold.amount_micros, updated_at=now
    )
    hold.status, hold.closed_at = status, now
    hold.save(update_fields=["status", "closed_at"])
    ledger_write(
        budget_id=hold.budget_id,
        kind=kind,
        amount_micros=hold.amount_micros,
        hold=hold,
        actor=actor,
        memo=memo[:500],
    )


def hold_release(*, job: Any, reason: str, actor: AbstractBaseUser | None = None) -> Hold | None:
    """Give a failed, cancelled or rejected job's reservation back; the job costs nothing.
    Idempotent: None when there is no pending hold."""
    with transaction.atomic(savepoint=False):  # as in hold_settle
        hold = _pending_hold_locked(job)
        if hold is None:
            return None
        hold_close(
            hold=hold,
            status=HoldStatus.RELEASED,
            kind=LedgerKind.RELEASE,
            memo=f"job {job.pk}: {reason}",
            actor=actor,
            now=timezone.now(),
        )
    return hold
