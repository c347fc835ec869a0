"""A small Python client for the Hybrid Portal REST API, for notebooks and scripts.

Pure httpx — it imports nothing from Django, so `pip install .` (or copying this one file) is enough::

    from hybridportal.client import Client

    hp = Client()  # HYBRIDPORTAL_URL (default http://127.0.0.1:8000) and HYBRIDPORTAL_TOKEN
    job = hp.submit("ghz", {"n_qubits": 3}, experiment=1, shots=1000)
    hp.wait(job)  # a progress bar showing the status; raises JobFailed on failed/cancelled/rejected
    hp.result(job)["counts"]  # {"000": 507, "111": 493} — qubit 0 is the leftmost character
    hp.result_frame(job)  # pandas DataFrame: bitstring, count, probability

`submit` (and `submit_many`, a sweep in one request) sends an Idempotency-Key (a fresh UUID4 unless
you pass one) and reuses it on every retry, so a retry after a dropped connection or a 5xx can never
create a second job: the portal replays the first answer instead. Failures raise `ApiError` carrying
the API's `code`, `message` and `field`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
API_PATH = "/api/v1"
TERMINAL_OK = "succeeded"
TERMINAL_BAD = frozenset({"failed", "cancelled", "rejected"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
JobRef = str | uuid.UUID | Mapping[str, Any]

__all__ = ["ApiError", "Client", "HybridPortalError", "JobFailed", "PortalUnreachable"]


class HybridPortalError(Exception):
    """Base class of everything this client raises on purpose."""


class ApiError(HybridPortalError):
    """The API refused the request. `code` is stable (`invalid`, `not_found`, `budget_exceeded`, ...);
    `field` names the offending input (`params.n_qubits`) when there is one."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, detail: Any = None) -> None:
        self.status, self.code, self.message, self.field, self.detail = status, code, message, field, detail
        where = f" [{field}]" if field else ""
        super().__init__(f"{status} {code}{where}: {message}")

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "code" not in body:
            return cls(response.status_code, "http_error", response.text[:500] or response.reason_phrase)
        return cls(
            response.status_code,
            str(body.get("code")),
            str(body.get("message", "")),
            body.get("field"),
            body.get("detail"),
        )


class PortalUnreachable(HybridPortalError):
    """The portal could not be reached (after retrying)."""


class JobFailed(HybridPortalError):
    """`wait` saw the job end failed, cancelled or rejected; `job` is its last state."""

    def __init__(self, job: Mapping[str, Any]) -> None:
        self.job = dict(job)
        self.status = str(job.get("status"))
        error = job.get("error") or {}
        self.code = error.get("code") or self.status
        self.message = error.get("message") or f"job {self.status}"
        super().__init__(f"job {job.get('id')} {self.status}: {self.message}")


def job_id_of(job: JobRef) -> str:
    """A job id from a job dict (as `submit` returns), a UUID or a string."""
    if isinstance(job, Mapping):
        return str(job["id"])
    return str(job)


class Client:
    """One portal, one token. Safe to keep for the whole notebook session; `close()` or use `with`."""

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        token = token or os.environ.get("HYBRIDPORTAL_TOKEN", "")
        if not token:
            raise HybridPortalError(
                "no API token: pass token=... or set HYBRIDPORTAL_TOKEN (manage.py issue_token USERNAME)"
            )
        self.base_url = (base_url or os.environ.get("HYBRIDPORTAL_URL") or DEFAULT_URL).rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.Client(
            base_url=self.base_url + API_PATH,
            # The token travels in a header only: never in a URL, never in repr().
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- jobs -------------------------------------------------------------------------------------
    def submit(
        self,
        family: str,
        params: Mapping[str, Any] | None = None,
        *,
        experiment: int | str,
        shots: int = 1000,
        max_tier: int = 0,
        backend: str | None = None,
        priority: str = "interactive",
        labels: Iterable[str] = (),
        no_cache: bool = False,
        idempotency_key: str | None = None,
        **contract: Any,
    ) -> dict[str, Any]:
        """Submit a job and return it (status `queued`, `awaiting_approval`, or `succeeded` when an
        identical earlier result was reused). Other contract fields (`objective`, `family_version`,
        `budget_ceiling`) go in `contract`. `experiment` is an id or a unique name; its class's budget
        pays (an `experiment_class` other than the experiment's is refused)."""
        body = self._job_body(
            family,
            params,
            experiment=experiment,
            shots=shots,
            max_tier=max_tier,
            backend=backend,
            priority=priority,
            labels=labels,
            no_cache=no_cache,
            **contract,
        )
        key = idempotency_key or str(uuid.uuid4())
        return self._call("POST", "/jobs", json=body, headers={"Idempotency-Key": key}, replay_safe=True)

    def submit_many(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        experiment: int | str,
        idempotency_key: str | None = None,
        **common: Any,
    ) -> list[dict[str, Any]]:
        """Submit a parameter sweep in one request, all or nothing; returns the jobs in order, each as
        `submit` would have made it. Each item has a `family` and its `params` and may set any other
        argument of `submit`; `common` sets them for every item::

            hp.submit_many([{"family": "ghz", "params": {"n_qubits": n}} for n in range(2, 12)],
                           experiment=1, shots=1000, labels=["sweep"])

        One Idempotency-Key covers the call and is reused on every retry. A refused job refuses them all:
        the ApiError's `field` names it (`jobs[3].shots`). At most the portal's JOB_BATCH_MAX (500) jobs."""
        experiment_id = self._experiment_id(experiment)  # a name is looked up once, not per job
        jobs = []
        for item in items:
            if "family" not in item:
                raise HybridPortalError(f"every item needs a family: {dict(item)!r}")
            jobs.append(self._job_body(**{"experiment": experiment_id, **common, **item}))
        key = idempotency_key or str(uuid.uuid4())
        reply = self._call(
            "POST", "/jobs/batch", json={"jobs": jobs}, headers={"Idempotency-Key": key}, replay_safe=True
        )
        return reply["jobs"]

    def quote(
        self,
        family: str,
        params: Mapping[str, Any] | None = None,
        *,
        experiment: int | str,
        shots: int = 1000,
        max_tier: int = 0,
        backend: str | None = None,
        priority: str = "interactive",
        labels: Iterable[str] = (),
        no_cache: bool = False,
        **contract: Any,
    ) -> dict[str, Any]:
        """What `submit` with the same arguments would do (backend and why, cost, seconds, approval),
        creating nothing."""
        body = self._job_body(
            family,
            params,
            experiment=experiment,
            shots=shots,
            max_tier=max_tier,
            backend=backend,
            priority=priority,
            labels=labels,
            no_cache=no_cache,
            **contract,
        )
        return self._call("POST", "/jobs/quote", json=body, replay_safe=True)

    def job(self, job: JobRef) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id_of(job)}")

    def jobs(self, *, limit: int = 100, **filters: Any) -> list[dict[str, Any]]:
        """Your teams' jobs, newest first, up to `limit`; filters: status, experiment, backend, family,
        label, q."""
        return list(self._pages("/jobs", limit=limit, params=filters))

    def events(self, job: JobRef) -> list[dict[str, Any]]:
        return self._call("GET", f"/jobs/{job_id_of(job)}/events")

    def wait(self, job: JobRef, timeout: float = 600, progress: bool = True, poll: float = 1.0) -> dict[str, Any]:
        """Poll until the job finishes; returns it when it succeeded. Raises JobFailed when it failed,
        was cancelled or rejected, and TimeoutError after `timeout` seconds."""
        job_id = job_id_of(job)
        deadline = time.monotonic() + timeout
        bar = _status_bar(job_id, enabled=progress)
        try:
            while True:
                current = self.job(job_id)
                status = current["status"]
                bar.set_description_str(f"job {job_id[:8]} {status}")
                bar.update(0)
                if status == TERMINAL_OK:
                    return current
                if status in TERMINAL_BAD:
                    raise JobFailed(current)
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"job {job_id} still {status} after {timeout:g} s")
                time.sleep(min(poll, max(deadline - time.monotonic(), 0.0)))
        finally:
            bar.close()

    def result(self, job: JobRef) -> dict[str, Any]:
        """The result: `counts` (bitstring → count, qubit 0 leftmost), `shots`, `backend`, `emulated`,
        `metrics`, `versions`, `calibration`, `cost`. ApiError `not_ready` (409) until it succeeded."""
        return self._call("GET", f"/jobs/{job_id_of(job)}/result")

    def result_frame(self, job: JobRef) -> Any:
        """The counts as a pandas DataFrame (bitstring, count, probability), most frequent first."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the notebook's environment
            raise ImportError("result_frame needs pandas: pip install pandas") from exc
        result = self.result(job)
        counts = result["counts"]
        total = sum(counts.values()) or 1
        rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        frame = pd.DataFrame(rows, columns=["bitstring", "count"])
        frame["probability"] = frame["count"] / total
        return frame

    def pause(self, job: JobRef, reason: str = "") -> dict[str, Any]:
        return self._call("POST", f"/jobs/{job_id_of(job)}/pause", json={"reason": reason})

    def resume(self, job: JobRef, reason: str = "") -> dict[str, Any]:
        return self._call("POST", f"/jobs/{job_id_of(job)}/resume", json={"reason": reason})

    def cancel(self, job: JobRef, reason: str = "") -> dict[str, Any]:
        return self._call("POST", f"/jobs/{job_id_of(job)}/cancel", json={"reason": reason})

    def reroute(self, job: JobRef, backend: str, reason: str = "") -> dict[str, Any]:
        return self._call("POST", f"/jobs/{job_id_of(job)}/reroute", json={"backend": backend, "reason": reason})

    # --- approvals --------------------------------------------------------------------------------
    def approvals(self) -> list[dict[str, Any]]:
        """Jobs waiting for your sign-off (needs a token with the `approve` scope)."""
        return self._call("GET", "/approvals")

    def approve(
        self, job: JobRef, comment: str = "", *, backend: str | None = None, shots: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"comment": comment}
        if backend is not None:
            body["backend"] = backend
        if shots is not None:
            body["shots"] = shots
        return self._call("POST", f"/approvals/{job_id_of(job)}/approve", json=body)

    def reject(self, job: JobRef, comment: str) -> dict[str, Any]:
        return self._call("POST", f"/approvals/{job_id_of(job)}/reject", json={"comment": comment})

    # --- catalogue --------------------------------------------------------------------------------
    def backends(self) -> list[dict[str, Any]]:
        return self._call("GET", "/backends")

    def budgets(self) -> list[dict[str, Any]]:
        return self._call("GET", "/budgets")

    def experiments(self) -> list[dict[str, Any]]:
        return self._call("GET", "/experiments")

    def create_experiment(self, name: str, team: str, **fields: Any) -> dict[str, Any]:
        """A new experiment in `team` (slug); fields: description, experiment_class,
        data_classification, retention_days."""
        return self._call("POST", "/experiments", json={"name": name, "team": team, **fields})

    # --- plumbing ---------------------------------------------------------------------------------
    def _job_body(
        self,
        family: str,
        params: Mapping[str, Any] | None = None,
        *,
        experiment: int | str,
        shots: int = 1000,
        max_tier: int = 0,
        backend: str | None = None,
        priority: str = "interactive",
        labels: Iterable[str] = (),
        no_cache: bool = False,
        **contract: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "experiment": self._experiment_id(experiment),
            "family": family,
            "params": dict(params or {}),
            "shots": shots,
            "max_tier": max_tier,
            "priority": priority,
            "labels": list(labels),
            "no_cache": no_cache,
            **contract,
        }
        if backend is not None:
            body["backend"] = backend
        return body

    def _experiment_id(self, experiment: int | str) -> int:
        if isinstance(experiment, int) or (isinstance(experiment, str) and experiment.isdigit()):
            return int(experiment)
        matches = [e for e in self.experiments() if e["name"] == experiment]
        if len(matches) != 1:
            teams = ", ".join(f"{e['team']}/{e['name']} (id {e['id']})" for e in matches) or "none of your teams"
            raise HybridPortalError(f"experiment {experiment!r} is ambiguous or unknown ({teams}); pass its id")
        return int(matches[0]["id"])

    def _pages(self, path: str, *, limit: int, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        page, seen = 1, 0
        query = {k: v for k, v in params.items() if v is not None}
        while seen < limit:
            body = self._call("GET", path, params={**query, "page": page, "page_size": min(limit - seen, 200)})
            for item in body["items"]:
                yield item
                seen += 1
            if page >= body["pages"] or not body["items"]:
                return
            page += 1

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        replay_safe: bool = False,
    ) -> Any:
        """Send one request, retrying with exponential backoff where a retry cannot do harm.

        GETs and `replay_safe` POSTs (submit and submit_many carry an Idempotency-Key; quote creates
        nothing) are retried on connection errors, timeouts, 409 `idempotency_in_flight`, 429 and 5xx.
        Other POSTs are retried only when the connection failed before the request was sent.
        """
        safe = method == "GET" or replay_safe
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError as exc:
                if attempt >= self.retries or not (safe or isinstance(exc, httpx.ConnectError)):
                    raise PortalUnreachable(f"{method} {self.base_url}{API_PATH}{path}: {exc}") from exc
                self._sleep(attempt, None)
                attempt += 1
                continue
            if response.is_success:
                return response.json()
            error = ApiError.from_response(response)
            retryable = response.status_code in RETRY_STATUSES or error.code == "idempotency_in_flight"
            if not (safe and retryable) or attempt >= self.retries:
                raise error
            self._sleep(attempt, response.headers.get("Retry-After"))
            attempt += 1

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self.backoff * 2**attempt, 30.0)
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        time.sleep(delay)


class _NoBar:
    def set_description_str(self, text: str) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _status_bar(job_id: str, *, enabled: bool) -> Any:
    """A tqdm bar that shows the job's status and elapsed time (a notebook widget where available)."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency, but the client may be copied alone
        return _NoBar()
    return tqdm(total=None, desc=f"job {job_id[:8]}", bar_format="{desc} [{elapsed}]", leave=True)
