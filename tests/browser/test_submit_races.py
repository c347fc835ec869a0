"""The submit page while requests are in flight: typing during a family swap, slow estimates.

Each test holds one of the page's own requests in Playwright's router (the server still answers it,
later) to make a slow network deterministic; everything else runs against the live server.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Request, Route, expect

from jobs.models import Job
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

QUBITS = "#estimate dt:text-is('Qubits') + dd"


def hold(page: Any, pattern: str, *, when: Any = lambda route: True) -> list[Route]:
    """Requests to `pattern` for which `when(route)` is true wait in the returned list until continued."""
    held: list[Route] = []

    def handle(route: Route) -> None:
        if when(route):
            held.append(route)
        else:
            route.continue_()

    page.route(pattern, handle)
    return held


def wait_until_held(page: Any, held: list[Route], count: int = 1) -> None:
    """Let Playwright deliver events (route handlers run inside its calls) until `count` requests wait."""
    for _ in range(250):
        if len(held) >= count:
            return
        page.wait_for_timeout(20)
    raise AssertionError(f"{count} request(s) expected to be held, got {len(held)}")


def release(routes: list[Route]) -> None:
    for route in routes:
        with contextlib.suppress(Exception):  # the page aborted it: nothing left to deliver
            route.continue_()


def aborted_requests(page: Any) -> list[str]:
    """URLs of the requests the page aborts from now on."""
    urls: list[str] = []
    page.on("requestfailed", lambda request: urls.append(request.url) if "ABORTED" in (request.failure or "") else None)
    return urls


def posted(request: Request, name: str) -> str | None:
    return parse_qs(request.post_data or "").get(name, [None])[0]


def test_a_value_typed_while_the_new_familys_fields_load_reaches_the_estimate_and_the_job(page, live_server, cast):
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/submit/?family=qft")
    expect(page.locator("#id_params_input")).to_be_visible()
    page.wait_for_load_state("networkidle")
    held = hold(page, "**/submit/params/**")
    quotes: list[tuple[str | None, str | None]] = []
    page.on(
        "request",
        lambda r: quotes.append((posted(r, "family"), posted(r, "params.n_qubits"))) if "/quote/" in r.url else None,
    )

    page.get_by_label("Family").select_option("ghz")
    wait_until_held(page, held)  # ghz's fields are on the way
    page.locator("#id_params_n_qubits").fill("")
    page.locator("#id_params_n_qubits").press_sequentially("6")  # into qft's field, about to be replaced
    page.wait_for_timeout(600)  # past the input debounce
    assert quotes == []  # no estimate for ghz with qft's fields
    release(held)

    expect(page.locator("#id_params_input")).to_have_count(0)  # ghz's fields are in
    expect(page.locator("#id_params_n_qubits")).to_have_value("6")
    expect(page.locator("#id_params_n_qubits")).to_be_focused()
    expect(page.locator(QUBITS)).to_have_text("6")
    assert quotes == [("ghz", "6")]
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator(".messages")).to_contain_text("submitted")
    job = Job.objects.get()
    assert (job.family, job.params["n_qubits"]) == ("ghz", 6)


def test_a_slow_estimate_for_an_old_value_never_replaces_the_newer_one(page, live_server, cast):
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/submit/")
    page.wait_for_load_state("networkidle")
    held = hold(page, "**/submit/quote/", when=lambda route: posted(route.request, "params.n_qubits") == "3")
    aborted = aborted_requests(page)
    field = page.locator("#id_params_n_qubits")

    field.fill("3")
    wait_until_held(page, held)  # the 3-qubit estimate is slow
    field.fill("6")
    expect(page.locator(QUBITS)).to_have_text("6")  # the newer estimate did not wait for the older one

    release(held)  # the server answers the old request now
    page.wait_for_load_state("networkidle")
    expect(page.locator(QUBITS)).to_have_text("6")
    assert aborted == [held[0].request.url]  # the page dropped the old request when it sent the newer one


def test_the_last_family_picked_wins_when_an_earlier_one_answers_late(page, live_server, cast):
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/submit/")
    page.wait_for_load_state("networkidle")
    held = hold(page, "**/submit/params/**", when=lambda route: "family=bell" in route.request.url)
    aborted = aborted_requests(page)
    family = page.get_by_label("Family")

    family.select_option("bell")
    wait_until_held(page, held)
    family.select_option("grover")
    expect(page.locator("#id_params_marked")).to_be_visible()

    release(held)
    page.wait_for_load_state("networkidle")
    expect(page.locator("#id_params_marked")).to_be_visible()
    expect(page.locator("#id_params_state")).to_have_count(0)
    expect(page.locator(QUBITS)).to_have_text("3")
    assert aborted == [held[0].request.url]
