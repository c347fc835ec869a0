"""All writes to teams, budgets, holds, tokens and the audit trail.

Every money movement is a conditional UPDATE (or a row lock) inside `transaction.atomic`, with a
ledger entry in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from budgets.models import (
    ApiToken,
    AuditEvent,
    Budget,
    ExperimentClass,
    LedgerEntry,
    LedgerKind,
    Period,
    Team,
)

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
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
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
    limit_micros: int,
    period: str | None = None,
    approval_threshold_micros: int | None = None,
    max_tier: int | None = None,
    actor: AbstractBaseUser | None = None,
) -> Budget:
    """Create or change a budget's limit and rules; the change goes to the ledger and the audit trail.

    A limit below what is already spent + reserved is refused (the CHECK constraint would be broken).
    """
    if limit_micros < 0:
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
        used = budget.spent_micros + budget.reserved_micros
        if limit_micros < used:
            raise ValueError(
                f"limit {limit_micros / 1e6:.2f} is below what is already spent and reserved ({used / 1e6:.2f})"
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
            memo=f"limit {old_limit} → {limit_micros} micros" + (" (new budget)" if created else ""),
        )
        audit_record(
            action="budget.set",
            actor=actor,
            team=team,
            target=f"budget:{budget.pk}",
            detail={
                "experiment_class": experiment_class.slug,
                "limit_micros": limit_micros,
                "approval_threshold_micros": budget.approval_threshold_micros,
                "max_tier": budget.max_tier,
                "period": budget.period,
            },
        )
    return budget


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
