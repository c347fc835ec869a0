"""The audit trail: one append-only event per decision (never secrets: callers pass ids and decisions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from budgets.models import AuditEvent, Team


def actor_or_none(actor: AbstractBaseUser | None) -> AbstractBaseUser | None:
    """The user to record as the actor; an anonymous user is recorded as nobody."""
    return actor if actor is not None and actor.is_authenticated else None


def audit_record(
    *,
    action: str,
    actor: AbstractBaseUser | None = None,
    team: Team | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit trail (never secrets: callers pass ids and decisions only)."""
    event = audit_event(action, actor, team, target, detail)
    event.save(force_insert=True)
    return event


def audit_rows(
    *, action: str, actor: AbstractBaseUser | None = None, events: Sequence[tuple[Team | None, str, dict[str, Any]]]
) -> list[AuditEvent]:
    """Audit records of one action by one actor, not yet saved, for a caller that writes them with its
    other rows (`bulk_create`); `events` are (team, target, detail)."""
    return [audit_event(action, actor, *event) for event in events]


def audit_event(
    action: str, actor: AbstractBaseUser | None, team: Team | None, target: str, detail: dict[str, Any] | None
) -> AuditEvent:
    """One audit record, not yet saved."""
    return AuditEvent(
        action=action,
        actor=actor_or_none(actor),
        team=team,
        target=target,
        detail=detail or {},
    )
