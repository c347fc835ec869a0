"""The REST API root: /api/v1, one NinjaAPI, one router per app."""

from __future__ import annotations

from ninja import NinjaAPI

from benchmarks.api import router as benchmarks_router
from budgets.api import router as budgets_router
from jobs.api import router as jobs_router

api = NinjaAPI(
    title="Hybrid Portal API",
    version="1",
    urls_namespace="api-v1",
    description=(
        "Declare quantum problems, run them simulator-first under budget and approval control, "
        "and read back reproducible results. Authenticate with `Authorization: Bearer <token>` "
        "(`manage.py issue_token` or the Tokens page)."
    ),
)
api.add_router("/", jobs_router)
api.add_router("/", budgets_router)
api.add_router("/", benchmarks_router)
