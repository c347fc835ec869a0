"""Who is calling the API, what they may do, and how often.

Two ways in: a bearer token (`Authorization: Bearer hp_…`, checked by `token_authenticate`) for
scripts and notebooks, or the browser's Django session (with a CSRF check on unsafe methods). Each
route names the scope it needs — `read` for GETs, `submit` for jobs and experiments, `approve` for the
approver inbox — and a token without it gets 403 `insufficient_scope`. A session acts with the user's
own rights (approval still needs the approver role, which the services check).

The token secret never reaches a log line: ninja's `HttpBearer.__call__` logs the whole header when
DEBUG is on and the scheme is unexpected, so `__call__` is replaced here.

This module sits in `budgets` (where tokens live) so every app's router can import it without
importing upwards.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer
from ninja.security.base import AuthBase
from ninja.throttling import SimpleRateThrottle
from ninja.utils import check_csrf

from budgets.errors import Forbidden
from budgets.rate_limits import rate_limit_hit
from budgets.services.audit import audit_record
from budgets.services.tokens import token_authenticate

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class InvalidToken(AuthenticationError):
    """A bearer token was presented but is unknown, expired or revoked: 401, never a silent fallback
    to the session."""

    def __init__(self) -> None:
        super().__init__(401, "the bearer token is invalid, expired or revoked")


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>`; the token must carry `scope`."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> AbstractBaseUser | None:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, secret.strip())

    def authenticate(self, request: HttpRequest, token: str) -> AbstractBaseUser | None:
        api_token = token_authenticate(token)
        if api_token is None:
            raise InvalidToken()
        if self.scope not in api_token.scopes:
            audit_record(
                action="api.denied",
                actor=api_token.user,
                target=f"token:{api_token.pk}",
                detail={
                    "reason": "insufficient_scope",
                    "required": self.scope,
                    "route": f"{request.method} {request.path}",
                },
            )
            raise Forbidden(
                f"this token lacks the {self.scope!r} scope (it has: {', '.join(api_token.scopes)})",
                code="insufficient_scope",
                detail={"required": self.scope, "granted": list(api_token.scopes)},
            )
        request.user = api_token.user
        request.api_token = api_token
        return api_token.user


class Session(AuthBase):
    """The browser's Django session; unsafe methods must pass Django's CSRF check."""

    openapi_type = "apiKey"
    openapi_in = "cookie"
    openapi_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> AbstractBaseUser | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise Forbidden("CSRF check failed: send the X-CSRFToken header", code="csrf_failed")
        request.api_token = None
        return user


def scoped(scope: str) -> list[Any]:
    """The auth list for a route that needs `scope`: a token with it, or a logged-in session."""
    return [BearerToken(scope), Session()]


READ = scoped("read")
SUBMIT = scoped("submit")
APPROVE = scoped("approve")


class TokenRateThrottle(SimpleRateThrottle):
    """`settings.API_RATE_LIMIT` requests (e.g. "120/min") per token, or per user for a session.

    Runs after authentication, so anonymous requests never reach it (they get 401). The count lives in
    the database (`budgets.rate_limits`), exact under concurrent requests on every web process. The
    rate is re-read on each request so a settings change applies without rebuilding the API, and
    nothing request-specific is kept on the shared instance except in a thread-local (the live server
    and threaded WSGI servers run requests side by side).
    """

    scope = "api"

    def __init__(self) -> None:
        self._local = threading.local()
        super().__init__(rate=self._configured_rate())

    @staticmethod
    def _configured_rate() -> str | None:
        return getattr(settings, "API_RATE_LIMIT", "120/min") or None

    def allow_request(self, request: HttpRequest) -> bool:
        rate = self._configured_rate()
        key = self.get_cache_key(request)
        if rate is None or key is None:
            return True
        limit, duration = self.parse_rate(rate)
        wait = rate_limit_hit(key=key, limit=limit, window_seconds=duration)
        self._local.wait = max(wait, 1.0)
        return not wait

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)

    def get_cache_key(self, request: HttpRequest) -> str | None:
        token = getattr(request, "api_token", None)
        if token is not None:
            ident = f"token:{token.pk}"
        elif getattr(request, "user", None) is not None and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None
        return ident
