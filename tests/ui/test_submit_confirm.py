"""The submit page creates a job that costs money or waits for sign-off only at the estimate the user
saw and confirmed; OpenQASM is edited as a multi-line program whose errors name line and column."""

from __future__ import annotations

import re

from django.urls import reverse

from budgets.models import AuditEvent, Hold
from jobs.models import Job
from tests.ui.test_submit import HTMX, form_data

HARDWARE = {"max_tier": "3", "backend": "ibm:fake_brisbane"}


def shown_inputs(html: str) -> dict[str, str]:
    """The hidden inputs that post the estimate on screen back with the form."""
    block = html.split('id="shown-estimate"')[1].split("</div>")[0]
    return dict(re.findall(r'name="(shown_\w+)" value="([^"]*)"', block))


def quote_of(client, data) -> tuple[str, dict[str, str]]:
    html = client.post(reverse("submit_quote"), data, **HTMX).content.decode()
    return html, shown_inputs(html)


def test_the_estimate_asks_to_confirm_the_cost_and_sign_off_of_a_hardware_job(alice_client, cast):
    html, shown = quote_of(alice_client, form_data(cast, **HARDWARE))
    question = re.search(r'data-confirm-submit="([^"]*)"', html).group(1)
    assert "USD 1.60" in question and "ibm:fake_brisbane (emulated)" in question
    assert "sign-off" in question
    assert shown == {"shown_backend": "ibm:fake_brisbane", "shown_cost": "1600000", "shown_approval": "yes"}


def test_a_free_estimate_asks_no_confirmation(alice_client, cast):
    html, shown = quote_of(alice_client, form_data(cast))
    assert "data-confirm-submit" not in html
    assert shown["shown_backend"] == "qsim" and shown["shown_approval"] == "no"


def test_a_hardware_job_submitted_at_the_estimate_shown_is_created(alice_client, cast):
    _, shown = quote_of(alice_client, form_data(cast, **HARDWARE))
    response = alice_client.post(reverse("submit"), form_data(cast, **HARDWARE, **shown))
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("job_detail", args=[job.id])
    assert job.backend == "ibm:fake_brisbane" and job.needs_approval


def test_a_job_shown_as_free_that_costs_money_at_submit_is_not_created_and_the_new_estimate_is_shown(
    alice_client, cast, mailoutbox, django_capture_on_commit_callbacks
):
    """The panel still showed the free simulator when the user pinned hardware and pressed Submit."""
    _, shown_free = quote_of(alice_client, form_data(cast))
    audited = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("submit"), form_data(cast, **HARDWARE, **shown_free))
    html = response.content.decode()
    assert response.status_code == 409
    assert Job.objects.count() == 0 and Hold.objects.count() == 0  # nothing reserved either
    assert AuditEvent.objects.count() == audited and mailoutbox == []  # no record, no mail to the approvers
    changed = "The estimate changed since it was shown: this job costs USD 1.60 on ibm:fake_brisbane (emulated)"
    assert f"{changed} and needs sign-off" in html
    assert "Nothing was submitted" in html
    estimate = html.split('id="estimate"')[1]
    assert "<code>ibm:fake_brisbane</code>" in estimate and "USD 1.60" in estimate and "needs sign-off" in estimate
    # the page now carries the new estimate: submitting again confirms it
    again = shown_inputs(html)
    assert again["shown_cost"] == "1600000"
    assert alice_client.post(reverse("submit"), form_data(cast, **HARDWARE, **again)).status_code == 302
    assert Job.objects.get().backend == "ibm:fake_brisbane"


def test_a_paid_job_posted_without_an_estimate_asks_for_confirmation_first(alice_client, cast):
    """Without JavaScript no estimate is shown before Submit: the first press shows it and asks."""
    response = alice_client.post(reverse("submit"), form_data(cast, **HARDWARE))
    assert response.status_code == 409 and Job.objects.count() == 0
    assert "USD 1.60" in response.content.decode()


def test_a_job_confirmed_at_another_price_is_not_created(alice_client, cast):
    _, shown = quote_of(alice_client, form_data(cast, **HARDWARE))
    cheaper = {**shown, "shown_cost": "800000"}
    response = alice_client.post(reverse("submit"), form_data(cast, **HARDWARE, **cheaper))
    assert response.status_code == 409 and Job.objects.count() == 0


def test_a_free_job_needs_no_confirmation(alice_client, cast):
    response = alice_client.post(reverse("submit"), form_data(cast))
    assert response.status_code == 302 and Job.objects.get().backend == "qsim"


# --- OpenQASM -------------------------------------------------------------------------------------
PROGRAM = (
    "OPENQASM 2.0;\r\n"
    'include "qelib1.inc";\r\n'
    "// a Bell pair: the comment must not swallow the program\r\n"
    "qreg q[2];\r\n"
    "creg c[2];\r\n"
    "h q[0];\r\n"
    "cx q[0],q[1];\r\n"
    "measure q -> c;\r\n"
)


def openqasm(cast, program: str) -> dict[str, str]:
    data = form_data(cast, family="openqasm", **{"params.qasm": program})
    del data["params.n_qubits"]
    return data


def test_the_openqasm_program_is_a_multi_line_monospace_box_with_an_insert_example_button(alice_client):
    html = alice_client.get(reverse("submit_params"), {"family": "openqasm"}, **HTMX).content.decode()
    box = re.search(r'<textarea id="id_params_qasm"[^>]*>', html).group(0)
    assert 'class="code"' in box and 'rows="12"' in box
    assert "OPENQASM 2.0;\ninclude" in html  # the example, newlines kept
    button = re.search(r'<button[^>]*data-insert-example="#id_params_qasm"[^>]*>([^<]*)</button>', html)
    assert button and button.group(1) == "Insert example" and "qreg q[2];" in button.group(0)


def test_a_multi_line_openqasm_program_with_a_comment_is_estimated(alice_client, cast):
    html = alice_client.post(reverse("submit_quote"), openqasm(cast, PROGRAM), **HTMX).content.decode()
    assert "declares no qubits" not in html
    assert re.search(r"<dt>Qubits</dt><dd>2</dd>", html)


def test_an_openqasm_error_names_its_real_line_and_column_and_shows_that_line(alice_client, cast):
    broken = "\r\n" + PROGRAM.replace("cx q[0],q[1];", "  cx q[0] q[1];")  # a blank first line counts
    html = alice_client.post(reverse("submit_quote"), openqasm(cast, broken), **HTMX).content.decode()
    slot = html.split('id="err-id_params_qasm" hx-swap-oob="true">')[1].split("</div>")[0]
    assert "line 8, column 3:" in slot
    assert '<pre class="code-excerpt">8 |   cx q[0] q[1];\n      ^</pre>' in slot


def test_a_refused_openqasm_submission_shows_the_error_at_its_line(alice_client, cast):
    broken = PROGRAM.replace("h q[0];", "hh q[0];")
    response = alice_client.post(reverse("submit"), openqasm(cast, broken))
    html = response.content.decode()
    assert response.status_code == 422 and Job.objects.count() == 0
    slot = html.split('id="err-id_params_qasm">')[1].split("</div>")[0]
    assert "line 6, column 1: " in slot and "hh" in slot
    assert '<pre class="code-excerpt">6 | hh q[0];\n    ^</pre>' in slot


def test_a_multi_line_openqasm_job_is_submitted_with_its_newlines(alice_client, cast):
    response = alice_client.post(reverse("submit"), openqasm(cast, PROGRAM))
    assert response.status_code == 302
    assert Job.objects.get().params["qasm"] == PROGRAM.replace("\r\n", "\n").strip()
