"""In the browser: the approvals inbox refreshing around an approver who is typing, its nav badge, and a
cancelled job's page. Also makes the documentation's screenshots of both pages (docs/img/approvals.png
and docs/img/job-cancelled.png, 1280 px wide): run with UPDATE_DOCS_IMG=1 to write them."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from jobs.models import JobStatus
from jobs.services import job_submit
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
WIDE, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


def _hardware_job(cast, *, n_qubits: int = 3, shots: int = 200, backend: str = "ibm:fake_manila"):
    request = {"experiment": cast.qlab_experiment.pk, "family": "ghz", "params": {"n_qubits": n_qubits},
               "shots": shots, "max_tier": 3, "backend": backend, "labels": ["calibration-check"]}  # fmt: skip
    job = job_submit(user=cast.alice, request=request).job
    assert job.status == JobStatus.AWAITING_APPROVAL
    return job


def _screenshots(page, shoot, name: str) -> None:
    """The page at 1280 px (docs/img/<name>.png when UPDATE_DOCS_IMG is set) and at 390 px (an artifact)."""
    page.set_viewport_size(WIDE)
    shoot(page, name)
    if os.environ.get("UPDATE_DOCS_IMG"):
        page.screenshot(path=str(DOCS_IMG / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    # the page fits the phone: charts redrawn at its width, nothing scrolls sideways but tables and the nav
    # polled from here: a predicate handed to wait_for_function is eval'd in the page, which the CSP forbids
    deadline = time.monotonic() + 5
    while page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
        assert time.monotonic() < deadline, "the page scrolls sideways at 390 px"
        page.wait_for_timeout(100)
    shoot(page, f"{name}-390px")
    page.set_viewport_size(WIDE)


def _badge(page):
    return page.locator("#approvals-badge")


def test_inbox_refresh_keeps_a_half_typed_comment_and_the_badge_follows_decisions(page, live_server, cast, shoot):
    first, second = _hardware_job(cast), _hardware_job(cast, n_qubits=4, shots=500, backend="ibm:fake_kyiv")
    page.set_viewport_size(WIDE)
    sign_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/approvals/")
    expect(_badge(page)).to_have_text("2")

    comment = page.locator(f"#c-{first.id}")
    comment.press_sequentially("looks fine, but check the qu")
    third = _hardware_job(cast, n_qubits=5)  # arrives while bob types

    # the inbox's own 10 s refresh brings the new request and leaves bob's typing alone
    expect(page.locator(f"#approval-{third.id}")).to_be_visible(timeout=15_000)
    expect(comment).to_have_value("looks fine, but check the qu")
    expect(comment).to_be_focused()
    comment.press_sequentially("bit count")
    expect(_badge(page)).to_have_text("3")
    _screenshots(page, shoot, "approvals")

    # edits outside the focused input survive too: the opened options and a changed shot count
    page.locator(f"#approval-{second.id} summary").click()
    page.locator(f"#s-{second.id}").fill("250")
    page.get_by_role("heading", name="Approvals").click()  # nothing focused now
    with page.expect_response(lambda r: r.url.endswith("/approvals/") and r.request.method == "GET"):
        page.locator("#inbox").dispatch_event("refresh")
    expect(page.locator(f"#s-{second.id}")).to_be_visible()
    expect(page.locator(f"#s-{second.id}")).to_have_value("250")
    expect(comment).to_have_value("looks fine, but check the qubit count")

    page.locator(f"#approval-{first.id}").get_by_role("button", name="Approve").click()
    expect(page.locator(f"#approval-{first.id}")).to_contain_text("Approved by bob")
    expect(page.locator(f"#approval-{first.id}")).to_contain_text("looks fine, but check the qubit count")
    expect(_badge(page)).to_have_text("2")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#approval-{third.id}").get_by_role("button", name="Reject").click()
    expect(page.locator(f"#approval-{third.id}")).to_contain_text("Rejected by bob")
    expect(_badge(page)).to_have_text("1")


def test_cancelled_job_page_shows_the_release_and_offers_only_reruns(page, live_server, cast, shoot):
    job = _hardware_job(cast)
    page.set_viewport_size(WIDE)
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/jobs/{job.id}/")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator("#job-status")).to_contain_text("Cancelled")
    cost = page.locator("#h-cost").locator("xpath=ancestor::section")
    expect(cost).to_contain_text(re.compile(r"Actual\s*USD 0\.00 \(released\)"))
    expect(cost).not_to_contain_text("when it finishes")
    actions = page.get_by_label("Job actions")
    expect(actions.get_by_role("button")).to_have_text(["Re-run as submitted (ibm:fake_manila)"])
    expect(actions.get_by_role("link", name="Edit and re-run")).to_be_visible()
    page.wait_for_load_state("networkidle")  # the stage timeline is drawn
    _screenshots(page, shoot, "job-cancelled")

    page.get_by_role("link", name="Jobs", exact=True).click()
    row = page.locator("tr", has=page.get_by_role("link", name=str(job.id)[:8]))
    expect(row).to_contain_text("USD 0.00 (released)")
