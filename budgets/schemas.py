"""API output schemas for budgets, plus the pieces every app's router shares: the error body, the
per-route error responses for OpenAPI, money as text and page-number pagination.

They live here, at the bottom of the import chain (`hybridportal → benchmarks → jobs → budgets`), so
`jobs.api` and `benchmarks.api` can use them without importing upwards.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase

from budgets.models import Budget
from budgets.money import format_money

# Patterns for string inputs, so the OpenAPI document tells clients (and fuzzers) what is accepted:
# text the database can store (PostgreSQL refuses NUL; the API edge answers 422 for it), identifiers
# such as backend ids, family names and labels (the job contract's label alphabet), and slugs.
TEXT = r"^[^\x00]*$"
IDENT = r"^[A-Za-z0-9_.:=/-]+$"
SLUG = r"^[-a-zA-Z0-9_]+$"

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class Error(Schema):
    """Every failure of the API has this body; `code` is stable, `message` is for people."""

    code: str = Field(description="stable machine-readable code, e.g. `not_found`, `insufficient_scope`")
    message: str = Field(description="what went wrong, for a person")
    field: str | None = Field(None, description="dotted path of the offending input (`params.n_qubits`), if any")
    detail: Any = Field(None, description="structured extras (remaining budget, retry hint, trace id, ...)")


def errors(*statuses: int) -> dict[int, type[Error]]:
    """OpenAPI responses for a route's failures: `response={200: Out, **errors(404, 409)}`.

    400 (malformed JSON), 401, 403 (a token without the route's scope), 413, 422 and 429 can happen on
    every route, so they are always listed.
    """
    return {status: Error for status in sorted({*statuses, 400, 401, 403, 413, 422, 429})}


def money_text(micros: int | None) -> str | None:
    """12_500_000 → "12.50": the API's money, a decimal in the currency's major unit (no float rounding).

    Uses `format_money`'s rule (cents unless that would hide the amount) so the API, the UI and the
    services' error details write the same number.
    """
    if micros is None:
        return None
    return format_money(micros).partition(" ")[2]


class Pages(PaginationBase):
    """Page-number pagination answering `{items, count, page, pages}`; `page_size` is at most 200.

    A page past the end is empty rather than an error, so a client can loop until `page >= pages`.
    """

    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000, description="1-based page number")
        page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="items per page (≤ 200)")

    class Output(Schema):
        items: list[Any]
        count: int = Field(description="items across all pages")
        page: int
        pages: int = Field(description="number of pages (0 when there are no items)")

    def paginate_queryset(
        self, queryset: QuerySet, pagination: Input, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        count = self._items_count(queryset)
        offset = (pagination.page - 1) * pagination.page_size
        return {
            "items": queryset[offset : offset + pagination.page_size],
            "count": count,
            "page": pagination.page,
            "pages": math.ceil(count / pagination.page_size),
        }


class BudgetOut(Schema):
    """One team × experiment class budget; money as decimal strings in `currency`'s major unit."""

    id: int
    team: str = Field(description="team slug")
    experiment_class: str = Field(description="experiment class slug")
    period: str = Field(description="`monthly` or `all_time`")
    period_start: datetime = Field(description="when the current period began")
    limit: str
    spent: str
    reserved: str
    remaining: str
    percent_used: float
    approval_threshold: str = Field(description="jobs estimated above this need an approver's sign-off")
    max_tier: int = Field(description="highest backend tier this budget pays for (0–3)")
    currency: str

    @classmethod
    def render(cls, budget: Budget, usage: dict[str, Any]) -> BudgetOut:
        """From a budget and `budgets.selectors.budget_usage(budget)` (micros) to the API's text money."""
        return cls(
            id=budget.pk,
            team=budget.team.slug,
            experiment_class=budget.experiment_class.slug,
            period=usage["period"],
            period_start=usage["period_start"],
            limit=money_text(usage["limit_micros"]),
            spent=money_text(usage["spent_micros"]),
            reserved=money_text(usage["reserved_micros"]),
            remaining=money_text(usage["remaining_micros"]),
            percent_used=usage["percent_used"],
            approval_threshold=money_text(usage["approval_threshold_micros"]),
            max_tier=usage["max_tier"],
            currency=usage["currency"],
        )
