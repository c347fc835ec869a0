"""Who may call what: a token with the right scope or a signed-in session; another team's objects
do not exist; tokens are rate-limited and never logged."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from budgets.models import AuditEvent
from budgets.services import token_issue, token_revoke
from tests.api.conftest import API, Api, ghz_body
from tests.factories import make_job

JOB = "{job}"
# (method, path, scope it needs, body)
ROUTES = [
    ("post", "/jobs", "submit", "ghz"),
    ("post", "/jobs/quote", "submit", "ghz"),
    ("get", "/jobs", "read", None),
    ("get", f"/jobs/{JOB}", "read", None),
    ("get", f"/jobs/{JOB}/result", "read", None),
    ("get", f"/jobs/{JOB}/events", "read", None),
    ("post", f"/jobs/{JOB}/pause", "submit", {}),
    ("post", f"/jobs/{JOB}/resume", "submit", {}),
    ("post", f"/jobs/{JOB}/cancel", "submit", {}),
    ("post", f"/jobs/{JOB}/reroute", "submit", {"backend": "qsim"}),
    ("get", "/approvals", "approve", None),
    ("post", f"/approvals/{JOB}/approve", "approve", {}),
    ("post", f"/approvals/{JOB}/reject", "approve", {"comment": "no"}),
    ("get", "/backends", "read", None),
    ("get", "/budgets", "read", None),
    ("get", "/experiments", "read", None),
    ("post", "/experiments", "submit", {"name": "new one", "team": "qlab"}),
]
OBJECT_ROUTES = [r for r in ROUTES if JOB in r[1]]


def _call(api: Api, route: tuple, job, experiment, **headers: str):  # noqa: ANN001
    method, path, _, body = route
    path = path.replace(JOB, str(job.pk))
    if body == "ghz":
        body = ghz_body(experiment)
    return api.call(method, path, body, headers={"Idempotency-Key": "k-1", **headers})


@pytest.fixture
def job(cast):  # noqa: ANN001
    return make_job(cast.qlab_experiment, cast.alice, status="queued")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_every_route_needs_authentication(route, anonymous, cast, job):
    reply = _call(anonymous, route, job, cast.qlab_experiment)
    assert reply.status == 401
    assert reply.code == "unauthenticated"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_a_token_without_the_routes_scope_is_forbidden(route, as_user, cast, job):
    other_scopes = [s for s in ("read", "submit", "approve") if s != route[2]]
    reply = _call(as_user(cast.bob, *other_scopes), route, job, cast.qlab_experiment)
    assert reply.status == 403
    assert reply.code == "insufficient_scope"
    assert reply.body["detail"]["required"] == route[2]
    denial = AuditEvent.objects.get(action="api.denied")
    assert denial.actor == cast.bob and denial.detail["required"] == route[2]


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_another_teams_job_is_not_found_rather_than_forbidden(route, as_user, cast, job):
    reply = _call(as_user(cast.dave), route, job, cast.qlab_experiment)
    assert reply.status == 404
    assert reply.code == "not_found"


@pytest.mark.parametrize("secret", ["hp_not-a-real-token", "garbage"])
def test_an_unknown_token_is_refused_even_with_a_session(secret, cast):
    client = Client()
    client.force_login(cast.alice)
    reply = Api(client, secret).get("/jobs")
    assert reply.status == 401 and reply.code == "invalid_token"


def test_a_revoked_token_stops_working(cast):
    token, secret = token_issue(user=cast.alice, scopes=["read"])
    api = Api(Client(), secret)
    assert api.get("/budgets").status == 200
    token_revoke(token=token, actor=cast.alice)
    assert api.get("/budgets").status == 401


def test_a_signed_in_browser_session_can_read_and_act(cast):
    client = Client()
    client.force_login(cast.alice)
    api = Api(client, None)
    assert api.get("/budgets").status == 200
    created = api.post("/experiments", {"name": "from the browser", "team": "qlab"})
    assert created.status == 201


def test_a_session_post_without_the_csrf_token_is_refused(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.alice)
    reply = Api(client, None).post("/experiments", {"name": "forged", "team": "qlab"})
    assert reply.status == 403 and reply.code == "csrf_failed"


def test_a_session_post_with_the_csrf_token_is_accepted(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.alice)
    client.get("/accounts/login/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    reply = Api(client, None).post("/experiments", {"name": "genuine", "team": "qlab"}, headers={"X-CSRFToken": csrf})
    assert reply.status == 201


def test_too_many_requests_get_429_with_retry_after(alice, settings):
    settings.API_RATE_LIMIT = "3/min"
    assert [alice.get("/budgets").status for _ in range(3)] == [200, 200, 200]
    reply = alice.get("/budgets")
    assert reply.status == 429
    assert reply.code == "rate_limited"
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert reply.body["detail"]["retry_after"] == int(reply.headers["Retry-After"])


def test_rate_limits_are_per_token(as_user, cast, settings):
    settings.API_RATE_LIMIT = "2/min"
    first, second = as_user(cast.alice), as_user(cast.alice)
    assert [first.get("/budgets").status for _ in range(3)] == [200, 200, 429]
    assert second.get("/budgets").status == 200


def test_the_token_never_reaches_the_logs(alice, anonymous, caplog, settings):
    settings.DEBUG = True  # ninja's own bearer class logs the header in DEBUG
    with caplog.at_level(logging.DEBUG):
        alice.get("/budgets")
        Api(Client(), None).client.get(f"{API}/budgets", HTTP_AUTHORIZATION=f"Token {alice.token}")
        alice.get("/no-such-route")
    assert alice.token not in caplog.text
    assert alice.token[3:] not in caplog.text
