"""The Python client: against a real running portal with a real worker, and its retry and error
behaviour against a scripted transport."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import httpx
import pytest
from django.conf import settings

from budgets.services import token_issue
from hybridportal.client import ApiError, Client, HybridPortalError, JobFailed
from tests.workers.conftest import start_cluster  # noqa: F401 - the qcluster fixture

JOB_ID = "5b3c2e1a-0000-4000-8000-000000000001"


def job(status: str, **extra) -> dict:  # noqa: ANN003
    return {"id": JOB_ID, "status": status, "error": None, **extra}


@pytest.mark.worker
@pytest.mark.slow
def test_client_runs_ghz3_on_a_live_portal_with_a_real_worker(cast, live_server, start_cluster):  # noqa: F811
    start_cluster("interactive")
    _, secret = token_issue(user=cast.alice, scopes=["read", "submit"])
    with Client(base_url=live_server.url, token=secret) as hp:
        submitted = hp.submit("ghz", {"n_qubits": 3}, experiment=cast.qlab_experiment.pk, shots=500)
        assert submitted["status"] == "queued"
        finished = hp.wait(submitted, timeout=120, progress=False)
        result = hp.result(finished)
        frame = hp.result_frame(finished)

    assert finished["status"] == "succeeded"
    assert set(result["counts"]) <= {"000", "111"} and len(result["counts"]) == 2
    assert sum(result["counts"].values()) == result["shots"] == 500
    assert list(frame.columns) == ["bitstring", "count", "probability"]
    assert frame["probability"].sum() == pytest.approx(1.0)


@pytest.mark.worker
@pytest.mark.slow
def test_client_runs_a_sweep_on_a_live_portal_with_a_real_worker(cast, live_server, start_cluster):  # noqa: F811
    start_cluster("interactive")
    _, secret = token_issue(user=cast.alice, scopes=["read", "submit"])
    with Client(base_url=live_server.url, token=secret) as hp:
        sweep = [{"family": "ghz", "params": {"n_qubits": n}} for n in (2, 3, 4)]
        submitted = hp.submit_many(sweep, experiment="qlab experiment", shots=300, labels=["sweep"])
        finished = [hp.wait(job, timeout=120, progress=False) for job in submitted]

    assert [job["params"]["n_qubits"] for job in submitted] == [2, 3, 4]
    assert [job["status"] for job in finished] == ["succeeded"] * 3
    assert all(job["labels"] == ["sweep"] and job["shots"] == 300 for job in finished)


def scripted(*answers: httpx.Response | Exception) -> tuple[Client, list[httpx.Request]]:
    """A client whose requests get `answers` in order; the requests it sent are recorded."""
    sent: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = Client(base_url="http://portal.test", token="hp_secret", backoff=0, transport=httpx.MockTransport(handle))
    return client, sent


def error(status: int, code: str, message: str = "no", field: str | None = None) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, "field": field, "detail": None})


def test_submit_retries_with_the_same_idempotency_key_after_network_errors_and_409():
    hp, sent = scripted(
        httpx.ReadTimeout("the answer was lost"),
        error(409, "idempotency_in_flight"),
        httpx.Response(201, json=job("queued")),
    )
    submitted = hp.submit("ghz", {"n_qubits": 3}, experiment=7)
    assert submitted["id"] == JOB_ID
    keys = {request.headers["Idempotency-Key"] for request in sent}
    assert len(sent) == 3 and len(keys) == 1
    uuid.UUID(keys.pop())
    assert json.loads(sent[0].content) == json.loads(sent[2].content)
    assert json.loads(sent[0].content)["experiment"] == 7


def test_each_submit_gets_its_own_key_unless_one_is_given():
    hp, sent = scripted(*(httpx.Response(201, json=job("queued")) for _ in range(3)))
    hp.submit("ghz", {"n_qubits": 3}, experiment=1)
    hp.submit("ghz", {"n_qubits": 3}, experiment=1)
    hp.submit("ghz", {"n_qubits": 3}, experiment=1, idempotency_key="mine")
    keys = [request.headers["Idempotency-Key"] for request in sent]
    assert keys[0] != keys[1] and keys[2] == "mine"


def test_a_sweep_is_one_request_whose_key_survives_retries_and_items_override_common_arguments():
    hp, sent = scripted(
        httpx.ReadTimeout("the answer was lost"),
        httpx.Response(201, json={"jobs": [job("queued"), job("queued")]}),
    )
    jobs = hp.submit_many(
        [{"family": "ghz", "params": {"n_qubits": 3}}, {"family": "bell", "shots": 50, "backend": "qsim"}],
        experiment=7,
        shots=500,
        labels=["sweep"],
    )
    assert [j["status"] for j in jobs] == ["queued", "queued"]
    assert len(sent) == 2 and sent[0].url.path == "/api/v1/jobs/batch"
    assert sent[0].headers["Idempotency-Key"] == sent[1].headers["Idempotency-Key"]
    ghz, bell = json.loads(sent[0].content)["jobs"]
    assert (ghz["experiment"], ghz["shots"], ghz["labels"], "backend" in ghz) == (7, 500, ["sweep"], False)
    assert (bell["family"], bell["params"], bell["shots"], bell["backend"]) == ("bell", {}, 50, "qsim")


def test_a_refusal_raises_with_the_apis_code_message_and_field():
    hp, sent = scripted(error(422, "invalid", "params.n_qubits must be at least 2.", "params.n_qubits"))
    with pytest.raises(ApiError) as err:
        hp.submit("ghz", {"n_qubits": 0}, experiment=1)
    assert (err.value.status, err.value.code, err.value.field) == (422, "invalid", "params.n_qubits")
    assert "params.n_qubits" in str(err.value) and len(sent) == 1  # a 422 is never retried


def test_a_cancel_is_not_resent_after_the_request_may_have_arrived():
    hp, sent = scripted(httpx.ReadTimeout("lost"), httpx.Response(200, json=job("cancelled")))
    with pytest.raises(HybridPortalError):
        hp.cancel(JOB_ID)
    assert len(sent) == 1


def test_gets_are_retried_on_server_errors():
    hp, sent = scripted(error(503, "unavailable"), httpx.Response(200, json=[]))
    assert hp.budgets() == []
    assert len(sent) == 2


def test_wait_raises_with_the_jobs_error_when_it_failed():
    hp, _ = scripted(
        httpx.Response(200, json=job("queued")),
        httpx.Response(200, json=job("failed", error={"code": "capacity", "message": "40 qubits do not fit"})),
    )
    with pytest.raises(JobFailed) as err:
        hp.wait(JOB_ID, poll=0, progress=False)
    assert err.value.code == "capacity" and "40 qubits do not fit" in str(err.value)


def test_the_token_comes_from_the_environment_and_stays_out_of_repr(monkeypatch):
    monkeypatch.setenv("HYBRIDPORTAL_TOKEN", "hp_from_env")
    monkeypatch.setenv("HYBRIDPORTAL_URL", "http://portal.example.org/")
    hp = Client()
    assert hp.base_url == "http://portal.example.org"
    assert hp._http.headers["Authorization"] == "Bearer hp_from_env"
    assert "hp_from_env" not in repr(hp)
    monkeypatch.delenv("HYBRIDPORTAL_TOKEN")
    with pytest.raises(HybridPortalError, match="HYBRIDPORTAL_TOKEN"):
        Client()


def test_the_client_imports_without_django():
    code = "import sys, hybridportal.client; assert not any(m.startswith('django') for m in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
