"""Errors that services raise and every interface (API, UI, commands) shows the same way.

Each carries a stable `code`, a human `message`, the `field` it is about (a dotted path) when there is
one, the HTTP status the API answers with, and optional structured `detail`. It lives at the bottom of
the import chain so every app can raise it.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.detail = detail
        if code:
            self.code = code

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field, "detail": self.detail}


class NotFound(ServiceError):
    """Missing, or belongs to a team the user is not in: both answer 404 so ids leak nothing."""

    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    """The object is not in a state that allows this (illegal transition, decision already made)."""

    status = 409
    code = "conflict"


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class BudgetExceeded(ServiceError):
    """The estimate does not fit what is left of the budget; `detail` has remaining and needed."""

    status = 422
    code = "budget_exceeded"
