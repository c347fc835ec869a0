"""Fixtures for API tests: tokens for the cast, a JSON client over Django's test client (through the
whole NinjaAPI, with auth, throttling and error handlers), and a rate limit no ordinary test reaches."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from budgets.services import token_issue

API = "/api/v1"


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


class Api:
    """`api.get("/jobs")` → Reply(status, json body, headers), as `token` (None: no Authorization)."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client, self.token = client, token

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None, **query: Any):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        if self.token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        url = API + path
        if method == "get":
            response = self.client.get(url, query, **extra)
        else:
            data = body if isinstance(body, str | bytes) else json.dumps(body if body is not None else {})
            response = getattr(self.client, method)(url, data, content_type="application/json", **extra)
        try:
            parsed = json.loads(response.content) if response.content else None
        except ValueError:
            parsed = response.content.decode(errors="replace")
        return Reply(response.status_code, parsed, response.headers)

    def get(self, path: str, **query: Any) -> Reply:
        return self.call("get", path, **query)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("post", path, body, **kw)


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings) -> None:  # noqa: ANN001
    """A rate limit no ordinary test reaches (tests of the limit set their own), and a private in-memory
    cache per test (the database cache table does not exist in test databases)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api"}}
    settings.API_RATE_LIMIT = "10000/min"
    cache.clear()


@pytest.fixture
def token_for(cast) -> Callable[..., str]:  # noqa: ANN001
    def issue(user: Any, scopes: tuple[str, ...] = ("read", "submit", "approve")) -> str:
        return token_issue(user=user, scopes=list(scopes))[1]

    return issue


@pytest.fixture
def as_user(cast, token_for) -> Callable[..., Api]:  # noqa: ANN001
    """`as_user(cast.alice)` or `as_user(cast.alice, "read")`: an Api with a token of those scopes."""

    def make(user: Any, *scopes: str) -> Api:
        return Api(Client(), token_for(user, scopes or ("read", "submit", "approve")))

    return make


@pytest.fixture
def alice(cast, as_user) -> Api:  # noqa: ANN001
    return as_user(cast.alice)


@pytest.fixture
def anonymous() -> Api:
    return Api(Client(), None)


def ghz_body(experiment: Any, n: int = 3, **overrides: Any) -> dict[str, Any]:
    return {"experiment": experiment.pk, "family": "ghz", "params": {"n_qubits": n}, "shots": 200, **overrides}
