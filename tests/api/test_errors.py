"""Every failure under /api/v1 is JSON {code, message, field, detail} — even the ones no handler made."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from tests.api.conftest import API

SHAPE = {"code", "message", "field", "detail"}


def _json(response):  # noqa: ANN001
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = json.loads(response.content)
    assert set(body) == SHAPE, body
    return body


def test_unknown_route_is_404_json(alice):
    response = alice.client.get(f"{API}/nowhere", HTTP_AUTHORIZATION=f"Bearer {alice.token}")
    assert response.status_code == 404
    assert _json(response)["code"] == "not_found"


def test_a_method_the_route_does_not_have_is_405_json_with_allow(alice):
    response = alice.client.delete(f"{API}/budgets", HTTP_AUTHORIZATION=f"Bearer {alice.token}")
    assert response.status_code == 405
    assert _json(response)["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_an_oversized_body_is_413_json(alice, cast):
    blob = json.dumps({"experiment": cast.qlab_experiment.pk, "family": "ghz", "params": {"pad": "x" * 3_000_000}})
    response = alice.client.post(
        f"{API}/jobs",
        blob,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {alice.token}",
        HTTP_IDEMPOTENCY_KEY="big",
    )
    assert response.status_code == 413
    body = _json(response)
    assert body["code"] == "payload_too_large" and body["detail"]["limit_bytes"] == 2 * 1024 * 1024


def test_malformed_json_is_400_json(alice):
    response = alice.client.post(
        f"{API}/jobs/quote", "{not json", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {alice.token}"
    )
    assert response.status_code == 400
    assert _json(response)["code"] == "malformed_json"


def test_an_unexpected_error_is_500_without_a_stack_trace_and_logged_with_the_trace_id(alice, monkeypatch, caplog):
    def explode(*args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("secret internals")

    monkeypatch.setattr("budgets.api.budgets_for_user", explode)
    trace = "0af7651916cd43dd8448eb211c80319c"
    with caplog.at_level(logging.ERROR, logger="hybridportal.api"):
        response = alice.client.get(
            f"{API}/budgets",
            HTTP_AUTHORIZATION=f"Bearer {alice.token}",
            HTTP_TRACEPARENT=f"00-{trace}-b7ad6b7169203331-01",
        )
    assert response.status_code == 500
    body = _json(response)
    assert body["code"] == "internal_error" and body["detail"]["trace_id"] == trace
    assert "secret internals" not in response.content.decode() and "Traceback" not in response.content.decode()
    record = next(r for r in caplog.records if r.name == "hybridportal.api")
    assert record.trace_id == trace and "secret internals" in caplog.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/jobs", 401), ("post", "/jobs", 401), ("get", "/jobs?page=0", 401), ("get", "/../admin/", 404)],
)
def test_errors_without_a_token_have_the_shape_too(method, path, status, db):
    response = getattr(Client(), method)(f"{API}{path}")
    assert response.status_code == status
    _json(response)
