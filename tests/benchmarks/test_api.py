"""GET /api/v1/benchmarks and /api/v1/benchmarks/{id}: runs and the comparison, team-scoped."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from budgets.services import token_issue

pytestmark = pytest.mark.django_db


def get(user, path: str) -> tuple[int, dict]:  # noqa: ANN001
    token = token_issue(user=user, scopes=["read"])[1]
    response = Client().get("/api/v1" + path, HTTP_AUTHORIZATION=f"Bearer {token}")
    return response.status_code, json.loads(response.content)


def test_runs_are_listed_with_their_derived_status(cast, ghz_run):
    status, body = get(cast.alice, "/benchmarks")
    assert status == 200 and body["count"] == 1
    (item,) = body["items"]
    assert item["id"] == ghz_run.pk and item["suite"] == "ghz-ladder" and item["team"] == "qlab"
    assert item["status"] == "awaiting_approval" and item["jobs_done"] == 12 and item["jobs_total"] == 16


def test_comparison_json_has_intervals_floor_emulated_flag_and_money_as_text(cast, ghz_run):
    status, body = get(cast.alice, f"/benchmarks/{ghz_run.pk}")
    assert status == 200 and body["reference"] == "qsim" and body["currency"]
    ghz3 = next(p for p in body["problems"] if p["key"] == "ghz-3")
    rows = {r["backend"]: r for r in ghz3["rows"]}
    assert rows["qsim"]["fidelity"]["estimate"] > 0.99 and rows["qsim"]["floor"] > 0.99
    assert rows["qsim"]["cost_per_success"] == "0.00" and "cost_per_success_micros" not in rows["qsim"]
    assert rows["ibm:fake_manila"]["emulated"] is True and rows["ibm:fake_manila"]["n"] == 0
    assert rows["ibm:fake_manila"]["pinned"]["calibration_date"].startswith("2024-05-27")
    cirq = next(d for d in ghz3["differences"] if d["backend"] == "cirq")
    assert cirq["n_pairs"] == 2 and cirq["significant"] is False


def test_another_teams_run_is_404_and_no_token_is_401(cast, ghz_run):
    status, body = get(cast.carol, f"/benchmarks/{ghz_run.pk}")
    assert status == 404 and body["code"] == "not_found"
    assert get(cast.carol, "/benchmarks")[1]["count"] == 0
    assert Client().get(f"/api/v1/benchmarks/{ghz_run.pk}").status_code == 401
