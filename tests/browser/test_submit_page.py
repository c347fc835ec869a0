"""The submit page as a researcher meets it: an estimate that is out of date says so and cannot be
submitted, a paid job is confirmed at its price, OpenQASM is edited as a program, family switches
start the new family afresh.

Set HP_DOCS_SCREENSHOTS=1 to also write docs/img/submit-qasm.png (the OpenQASM test).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from jobs.models import Job, JobStatus
from tests.browser.conftest import sign_in
from tests.browser.test_submit_races import QUBITS, aborted_requests, hold, posted, release, wait_until_held

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
SUBMIT = "Submit job"

PROGRAM = """OPENQASM 2.0;
include "qelib1.inc";
// A Bell pair, then a third qubit flipped by the second.
// Comments and blank lines are kept: errors name the line you see.
qreg q[3];
creg c[3];

h q[0];
cx q[0],q[1];   // entangle
cx q[1],q[2];
measure q -> c;
"""


def open_submit(page: Any, live_server: Any, query: str = "") -> None:
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/submit/{query}")
    page.wait_for_load_state("networkidle")  # the first estimate is in


def record_oob_misses(page: Any) -> None:
    page.evaluate(
        "window.oobMisses = [];"
        "document.body.addEventListener('htmx:oobErrorNoTarget', e => window.oobMisses.push(e.detail.content.id))"
    )


# --- a stale estimate; confirmation of a paid job ---------------------------------------------------
def test_a_hardware_job_cannot_be_submitted_on_the_free_estimate_and_is_confirmed_at_its_price(page, live_server, cast):
    open_submit(page, live_server)
    estimate, submit = page.locator("#estimate"), page.get_by_role("button", name=SUBMIT)
    expect(estimate).to_contain_text("qsim")
    expect(submit).to_be_enabled()
    held = hold(page, "**/submit/quote/", when=lambda route: posted(route.request, "backend") == "ibm:fake_brisbane")

    page.get_by_label("Highest tier").select_option("3")
    page.get_by_label("Pin a backend (optional)").select_option("ibm:fake_brisbane")
    wait_until_held(page, held)  # the hardware estimate is slow to come
    expect(estimate).to_have_class(re.compile(r"\bis-stale\b"))
    expect(estimate.get_by_role("status")).to_have_text("out of date: updating…")
    expect(submit).to_be_disabled()
    page.locator("#id_labels").press("Enter")  # implicit submission is refused too
    page.wait_for_timeout(300)
    assert Job.objects.count() == 0

    release(held)
    expect(estimate).to_contain_text("ibm:fake_brisbane", timeout=30_000)  # the first estimate loads the device
    expect(estimate).not_to_have_class(re.compile(r"\bis-stale\b"))
    expect(estimate).to_contain_text("USD 1.60")
    expect(submit).to_be_enabled()

    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    submit.click()
    page.wait_for_timeout(300)
    assert Job.objects.count() == 0  # the user said no
    assert "USD 1.60" in questions[0] and "ibm:fake_brisbane (emulated)" in questions[0]
    assert "sign-off" in questions[0]

    page.once("dialog", lambda dialog: dialog.accept())
    submit.click()
    expect(page.locator(".messages")).to_contain_text("submitted")
    job = Job.objects.get()
    assert (job.backend, job.status, job.estimate["cost_micros"]) == (
        "ibm:fake_brisbane",
        JobStatus.AWAITING_APPROVAL,
        1_600_000,
    )


def test_the_estimate_stays_in_view_beside_a_long_form(page, live_server, cast):
    open_submit(page, live_server, "?family=openqasm")
    page.get_by_role("button", name=SUBMIT).scroll_into_view_if_needed()
    expect(page.locator("#estimate")).to_be_in_viewport()
    expect(page.locator("#estimate-summary")).to_be_hidden()  # the panel itself is in view on a wide screen


def test_on_a_phone_a_summary_of_the_estimate_sits_beside_submit(page, live_server, cast, shoot):
    page.set_viewport_size({"width": 390, "height": 844})
    open_submit(page, live_server)
    summary = page.locator("#estimate-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("qsim")
    expect(summary).to_contain_text("USD 0.00")
    expect(summary).to_contain_text("no sign-off")
    expect(page.get_by_role("button", name=SUBMIT)).to_be_in_viewport()  # the action bar sticks to the bottom
    page.locator("#id_params_n_qubits").fill("7")
    expect(summary).to_have_class(re.compile(r"\bis-stale\b"))
    expect(page.locator(QUBITS)).to_have_text("7")
    expect(summary).not_to_have_class(re.compile(r"\bis-stale\b"))
    shoot(page, "submit-390")


# --- OpenQASM ---------------------------------------------------------------------------------------
def test_an_openqasm_program_keeps_its_lines_and_its_errors_point_at_them(page, live_server, cast, shoot):
    page.set_viewport_size({"width": 1280, "height": 900})
    open_submit(page, live_server)
    page.get_by_label("Family").select_option("openqasm")
    box = page.get_by_label("qasm")
    expect(box).to_be_visible()
    expect(box).to_have_css("font-family", re.compile("mono", re.I))

    box.fill("")
    page.get_by_role("button", name="Insert example").click()
    expect(box).to_have_value(re.compile(r'^OPENQASM 2\.0;\ninclude "qelib1\.inc";\nqreg q\[2\];'))
    expect(page.locator(QUBITS)).to_have_text("2")

    box.fill(PROGRAM.rstrip("\n"))
    box.press("End")
    box.press("Enter")  # a new line, not a submission
    expect(page.locator(QUBITS)).to_have_text("3")  # the comment did not swallow the program
    assert Job.objects.count() == 0
    expect(box).to_have_value(PROGRAM)
    if os.environ.get("HP_DOCS_SCREENSHOTS"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / "submit-qasm.png"), full_page=True)
    shoot(page, "submit-qasm")

    box.fill(PROGRAM.replace("cx q[1],q[2];", "  cx q[1] q[2];"))
    error = page.locator("#err-id_params_qasm")
    expect(error).to_contain_text("line 10, column 3:")
    expect(error.locator(".code-excerpt")).to_have_text("10 |   cx q[1] q[2];\n       ^")
    shoot(page, "submit-qasm-error")


# --- family switch ----------------------------------------------------------------------------------
def test_a_field_the_new_family_lacks_takes_no_typing_and_the_focus_moves_to_the_new_fields(page, live_server, cast):
    open_submit(page, live_server, "?family=grover")
    held = hold(page, "**/submit/params/**")
    marked = page.locator("#id_params_marked")

    marked.focus()
    page.get_by_label("Family").select_option("ghz")
    wait_until_held(page, held)
    marked.focus()
    page.keyboard.type("11")
    expect(marked).to_have_value("101")  # grover's example, untouched: ghz has no marked
    expect(marked).not_to_be_editable()
    release(held)

    expect(marked).to_have_count(0)
    expect(page.locator("#id_params_n_qubits")).to_be_focused()  # not <body>
    assert page.evaluate("document.activeElement !== document.body")


def test_a_late_estimate_for_the_old_family_never_lands_under_the_new_familys_fields(page, live_server, cast):
    open_submit(page, live_server, "?family=qft")
    record_oob_misses(page)
    held_quote = hold(page, "**/submit/quote/", when=lambda route: posted(route.request, "params.n_qubits") == "7")
    aborted = aborted_requests(page)
    estimate, submit = page.locator("#estimate"), page.get_by_role("button", name=SUBMIT)

    page.locator("#id_params_n_qubits").fill("7")
    wait_until_held(page, held_quote)  # qft's estimate is slow
    held_fields = hold(page, "**/submit/params/**")
    page.get_by_label("Family").select_option("ghz")
    wait_until_held(page, held_fields)
    expect(estimate).to_have_class(re.compile(r"\bis-stale\b"))  # the new family's fields are loading
    expect(submit).to_be_disabled()
    release(held_quote)  # the server answers qft's estimate now
    page.wait_for_timeout(300)
    release(held_fields)

    expect(page.locator("#id_params_input")).to_have_count(0)
    expect(page.locator(QUBITS)).to_have_text("5")  # ghz's default, not qft's 7
    page.wait_for_load_state("networkidle")
    expect(page.locator(QUBITS)).to_have_text("5")
    expect(submit).to_be_enabled()
    assert held_quote[0].request.url in aborted  # picking the family dropped the old estimate
    assert page.evaluate("window.oobMisses") == []


def test_values_typed_for_the_old_family_do_not_carry_into_the_new_one(page, live_server, cast):
    open_submit(page, live_server)
    page.locator("#id_params_n_qubits").fill("12")
    expect(page.locator(QUBITS)).to_have_text("12")

    page.get_by_label("Family").select_option("grover")
    expect(page.locator("#id_params_marked")).to_be_visible()
    expect(page.locator("#id_params_n_qubits")).to_have_value("3")  # grover's own example
    expect(page.locator(QUBITS)).to_have_text("3")
    expect(page.locator("#estimate")).not_to_contain_text("Cannot estimate")


def test_qfts_input_follows_n_qubits_until_the_user_edits_it(page, live_server, cast):
    open_submit(page, live_server, "?family=qft")
    n_qubits, bits = page.locator("#id_params_n_qubits"), page.locator("#id_params_input")
    expect(bits).to_have_value("0101")

    n_qubits.fill("6")
    expect(bits).to_have_value("010100")
    expect(page.locator(QUBITS)).to_have_text("6")
    n_qubits.fill("3")
    expect(bits).to_have_value("010")
    expect(page.locator(QUBITS)).to_have_text("3")

    bits.fill("111")
    n_qubits.fill("4")
    expect(bits).to_have_value("111")  # the user's own input is theirs to fix
    expect(page.locator("#err-id_params_input")).to_contain_text("4")
