"""The per-token rate limit holds under concurrent requests: the count is exact, not a race."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client

from tests.api.conftest import Api

REQUESTS, THREADS = 200, 20
PRODUCTION_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "hybridportal_cache"}
}


def test_a_caller_is_let_through_again_once_its_window_ends(alice, settings):
    settings.API_RATE_LIMIT = "2/s"
    assert [alice.get("/budgets").status for _ in range(3)] == [200, 200, 429]
    time.sleep(1.05)
    assert alice.get("/budgets").status == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (DATABASE_URL)")
def test_two_hundred_concurrent_requests_on_one_token_get_exactly_the_limit(cast, token_for, settings):
    settings.API_RATE_LIMIT = "120/min"
    settings.CACHES = PRODUCTION_CACHES  # as deployed: the database cache, not the tests' in-memory one
    call_command("createcachetable", verbosity=0)
    token = token_for(cast.alice, ("read",))
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(REQUESTS):
        todo.put(i)
    start = threading.Barrier(THREADS)
    replies = []

    def caller() -> None:
        api = Api(Client(), token)
        try:
            start.wait(timeout=30)  # every thread is ready before the first request
            while True:
                try:
                    todo.get_nowait()
                except queue.Empty:
                    return
                replies.append(api.get("/budgets"))
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=caller) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(r.status for r in replies) == {200: 120, 429: 80}
    refused = [r for r in replies if r.status == 429]
    assert all(r.code == "rate_limited" and 1 <= int(r.headers["Retry-After"]) <= 60 for r in refused)
