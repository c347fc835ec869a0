"""API tokens: issue, authenticate and revoke. Only a SHA-256 of a secret is ever stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from budgets.models import ApiToken
from budgets.services.audit import audit_record

TOKEN_SCOPES = ("read", "submit", "approve")
TOKEN_PREFIX = "hp_"  # noqa: S105 - a public marker, not a secret


def _token_hash(secret: str) -> str:
    """What is stored of a secret: its SHA-256, so a database dump reveals no usable token."""
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
