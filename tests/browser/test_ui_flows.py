"""What a researcher and an approver do in the browser, with real workers running the jobs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from jobs.models import Job
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

STATUS = "#job-status"


def submit_form(page, live_server, *, family="ghz", n_qubits="4", max_tier=None, backend=None, shots=None):
    page.goto(f"{live_server.url}/submit/")
    page.get_by_label("Family").select_option(family)
    page.wait_for_load_state("networkidle")  # the family's parameter fields have been swapped in
    field = page.locator("#id_params_n_qubits")
    field.fill(n_qubits)
    expect(field).to_have_value(n_qubits)
    if shots:
        page.get_by_label("Shots").fill(shots)
    if max_tier is not None:
        page.get_by_label("Highest tier").select_option(str(max_tier))
    if backend:
        page.get_by_label("Pin a backend (optional)").select_option(backend)
    page.wait_for_load_state("networkidle")  # the last estimate is in
    return page.locator("#estimate")


def test_researcher_submits_a_ghz_job_and_sees_its_histogram(page, live_server, cast, start_cluster, shoot):
    start_cluster("interactive")
    sign_in(page, live_server, "alice")
    estimate = submit_form(page, live_server, n_qubits="4")
    expect(estimate).to_contain_text("qsim")
    expect(estimate).to_contain_text("not needed")
    expect(estimate).to_contain_text("from the backend's formula")  # no runs yet to learn from
    shoot(page, "submit")
    page.get_by_role("button", name="Submit job").click()

    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    expect(page.locator(".messages")).to_contain_text("submitted")
    expect(page.locator(STATUS)).to_contain_text("Succeeded", timeout=60_000)
    expect(page.locator("#histogram .main-svg").first).to_be_visible(timeout=10_000)
    expect(page.locator("#histogram")).to_contain_text("0000")
    expect(page.locator("#histogram")).to_contain_text("1111")
    expect(page.get_by_text("uniform-sampler floor")).to_be_visible()
    expect(page.locator("#timeline .main-svg").first).to_be_visible()
    expect(page.get_by_role("region", name="Estimate vs actual")).to_contain_text("Execution took")
    shoot(page, "job")

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#panel-runtimes")).to_contain_text("1")
    shoot(page, "dashboard")


def test_hardware_job_waits_for_an_approver_then_finishes(page, browser, live_server, cast, start_cluster, shoot):
    start_cluster("hardware", EMULATED_QUEUE_SECONDS="0.5", HARDWARE_POLL_SECONDS="0.5")
    sign_in(page, live_server, "alice")
    estimate = submit_form(page, live_server, n_qubits="3", max_tier=3, backend="ibm:fake_manila", shots="200")
    expect(estimate).to_contain_text("ibm:fake_manila", timeout=30_000)  # the first estimate loads the device
    expect(estimate).to_contain_text("emulated")
    expect(estimate).to_contain_text("needs sign-off")
    page.once("dialog", lambda dialog: dialog.accept())  # "This job costs USD … Submit it?"
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator(STATUS)).to_contain_text("Awaiting approval")
    expect(page.locator(".page-head")).to_contain_text("emulated")
    job_id = page.url.rstrip("/").rsplit("/", 1)[1]

    approver = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(approver, live_server, "bob")
    expect(approver.get_by_role("link", name=re.compile("Approvals"))).to_contain_text("1")
    approver.get_by_role("link", name=re.compile("Approvals")).click()
    row = approver.locator(f"#approval-{job_id}")
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("emulated")
    expect(row).to_contain_text("→")  # budget before → after
    shoot(approver, "approvals")
    row.get_by_label("Comment").fill("fine for the calibration study")
    row.get_by_role("button", name="Approve").click()
    expect(approver.locator(f"#approval-{job_id}")).to_contain_text("Approved by bob")

    expect(page.locator(STATUS)).to_contain_text("Succeeded", timeout=60_000)
    expect(page.locator("#histogram .main-svg").first).to_be_visible(timeout=10_000)
    assert Job.objects.get(pk=job_id).emulated


def test_pause_resume_and_cancel_from_the_job_page(page, live_server, cast):
    sign_in(page, live_server, "alice")
    submit_form(page, live_server, n_qubits="3", max_tier=3, backend="ibm:fake_manila", shots="100")
    page.once("dialog", lambda dialog: dialog.accept())  # "This job costs USD … Submit it?"
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator(STATUS)).to_contain_text("Awaiting approval")

    page.get_by_role("button", name="Pause").click()
    expect(page.locator(STATUS)).to_contain_text("Paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(STATUS)).to_contain_text("Awaiting approval")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator(STATUS)).to_contain_text("Awaiting approval")  # dismissed: nothing happened

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator(STATUS)).to_contain_text("Cancelled")
    expect(page.locator(STATUS)).not_to_have_attribute("hx-trigger", re.compile("."))
    expect(page.get_by_role("button", name="Re-run")).to_be_visible()
