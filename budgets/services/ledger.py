"""Ledger entries: every money movement is recorded by one append-only row built here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from budgets.models import Hold, LedgerEntry
from budgets.services.audit import actor_or_none


def ledger_entry(
    *,
    kind: str,
    budget_id: int,
    amount_micros: int,
    memo: str,
    hold: Hold | None = None,
    actor: AbstractBaseUser | None = None,
) -> LedgerEntry:
    """One ledger entry, not yet saved (for `bulk_create` with other rows)."""
    return LedgerEntry(
        budget_id=budget_id,
        kind=kind,
        amount_micros=amount_micros,
        hold=hold,
        actor=actor_or_none(actor),
        memo=memo,
    )


def ledger_write(
    *,
    kind: str,
    budget_id: int,
    amount_micros: int,
    memo: str,
    hold: Hold | None = None,
    actor: AbstractBaseUser | None = None,
) -> LedgerEntry:
    """Append one ledger entry in the caller's transaction."""
    entry = ledger_entry(kind=kind, budget_id=budget_id, amount_micros=amount_micros, memo=memo, hold=hold, actor=actor)
    entry.save(force_insert=True)
    return entry
