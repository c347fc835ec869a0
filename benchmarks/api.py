"""Benchmarks API: your teams' benchmark runs and one run's comparison.

Handlers call one selector and render; another team's run is 404 (`NotFound`), never 403. Scopes
are checked by the route's auth (`budgets.api_auth`): reading needs `read`.

No `from __future__ import annotations` here: ninja resolves the handlers' annotations at import,
and inside its `paginate` wrapper string annotations would not find this module's schemas.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from benchmarks import selectors
from benchmarks.models import BenchmarkRun
from budgets.api_auth import READ
from budgets.schemas import IDENT, Pages, errors, money_text

router = Router(tags=["benchmarks"])


class BenchmarkRunOut(Schema):
    id: int
    suite: str
    team: str = Field(description="team slug")
    experiment: int = Field(description="experiment id")
    created_by: str
    created_at: datetime
    status: str = Field(description="derived from the jobs: running, awaiting_approval, succeeded, partial, failed")
    jobs_total: int
    jobs_done: int = Field(description="jobs in a terminal state")
    backends: list[str]
    trials: int
    shots: int
    seed: int | None = Field(None, description="run seed: the same seed replays the same circuits and seeds")

    @staticmethod
    def _progress(run: BenchmarkRun) -> dict[str, Any]:
        if not hasattr(run, "_progress"):
            run._progress = selectors.run_progress(run)  # one read per run, shared by the fields
        return run._progress

    @staticmethod
    def resolve_team(run: BenchmarkRun) -> str:
        return run.team.slug

    @staticmethod
    def resolve_experiment(run: BenchmarkRun) -> int:
        return run.experiment_id

    @staticmethod
    def resolve_created_by(run: BenchmarkRun) -> str:
        return run.created_by.get_username()

    @staticmethod
    def resolve_status(run: BenchmarkRun) -> str:
        return BenchmarkRunOut._progress(run)["status"]

    @staticmethod
    def resolve_jobs_total(run: BenchmarkRun) -> int:
        return BenchmarkRunOut._progress(run)["total"]

    @staticmethod
    def resolve_jobs_done(run: BenchmarkRun) -> int:
        return BenchmarkRunOut._progress(run)["terminal"]

    @staticmethod
    def resolve_backends(run: BenchmarkRun) -> list[str]:
        return list((run.config or {}).get("backends", []))

    @staticmethod
    def resolve_trials(run: BenchmarkRun) -> int:
        return int((run.config or {}).get("trials", 0))

    @staticmethod
    def resolve_shots(run: BenchmarkRun) -> int:
        return int((run.config or {}).get("shots", 0))

    @staticmethod
    def resolve_seed(run: BenchmarkRun) -> int | None:
        return (run.config or {}).get("seed")


class ComparisonOut(Schema):
    """Per problem × backend: trials done, Hellinger fidelity with bootstrap 95 % CI, normalised
    fidelity, the perfect-sampler `floor`, TVD, the family's score, success rate with Wilson CI,
    queue wait median/p95, execute median/IQR, cost per successful job, the min–max band, the pinned
    SDK versions / precision / noise / calibration, and the paired difference against `reference`
    (`significant` is false when its CI spans 0). Numbers not known yet are null."""

    run: dict[str, Any]
    progress: dict[str, Any]
    reference: str | None
    problems: list[dict[str, Any]]
    skipped: list[dict[str, Any]] = Field(description="(problem, backend) pairs not run, with the reason")
    notes: list[str]
    currency: str


class ComparisonQuery(Schema):
    reference: str | None = Field(None, max_length=100, pattern=IDENT, description="backend to compare against")


def _money_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The API's money is decimal text in the currency's major unit, not micro-units."""
    for problem in data["problems"]:
        for row in problem["rows"]:
            row["cost"] = money_text(row.pop("cost_micros"))
            row["cost_per_success"] = money_text(row.pop("cost_per_success_micros"))
    return {**data, "currency": settings.CURRENCY}


@router.get("/benchmarks", response={200: list[BenchmarkRunOut], **errors()}, auth=READ)
@paginate(Pages)
def list_benchmark_runs(request: HttpRequest) -> object:
    """Your teams' benchmark runs, newest first; `{items, count, page, pages}`."""
    return selectors.benchmark_runs_for_user(request.user)


@router.get("/benchmarks/{int:run_id}", response={200: ComparisonOut, **errors(404)}, auth=READ)
def get_benchmark_comparison(request: HttpRequest, run_id: int, query: ComparisonQuery = Query(...)) -> dict[str, Any]:  # noqa: B008
    """One run's comparison table (see the schema)."""
    run = selectors.benchmark_run_get_for_user(request.user, run_id)
    return _money_fields(selectors.comparison(run, reference=query.reference))
