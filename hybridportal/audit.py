"""Sign-ins, sign-outs and failed sign-ins go to the append-only audit trail.

Failed attempts record the username tried and the client address, never the password.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from budgets.services.audit import audit_record


def _client(request: HttpRequest | None) -> dict[str, str]:
    if request is None:
        return {}
    return {"ip": request.META.get("REMOTE_ADDR", ""), "user_agent": request.headers.get("User-Agent", "")[:200]}


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(action="auth.login", actor=user, target=f"user:{user.pk}", detail=_client(request))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action="auth.logout", actor=user, target=f"user:{user.pk}", detail=_client(request))


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit_record(action="auth.login_failed", target=f"username:{username}", detail=_client(request))
