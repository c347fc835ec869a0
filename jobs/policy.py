"""Backend policy: which backend runs a job, and why — in words a researcher can check.

Among the backends within the job's highest acceptable tier whose capabilities fit (qubits under the
memory guard, gates, availability, what is left of the budget) the policy picks the cheapest, then the
fastest by each backend's execute time learnt from its stored runs (`jobs.estimates`), else by the
adapter's own formula. A backend whose recent jobs keep failing is skipped (circuit breaker) and the
ladder falls back to the next one. Every skip is recorded with its reason.

Reads only: adapters through the registry, run records and failure rates from Job rows, and admin
price overrides. Nothing here writes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections
from django.db.models import F, QuerySet, Value, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from adapters import registry
from adapters.base import AdapterError, Capabilities, ExecutionRequest, Price, PriceKind
from adapters.ir import Circuit
from budgets.errors import BudgetExceeded, Invalid
from budgets.money import format_money
from jobs import estimates, slow_reads
from jobs.models import Job, JobStatus

TIER_NAMES = {0: "local simulator", 1: "scaled simulator", 2: "noisy simulator", 3: "hardware"}

# Failures that say nothing about a backend's health: the circuit or the user was at fault.
NOT_BACKEND_ERRORS = frozenset({"capacity", "invalid", "contract", "budget_exceeded", "cancelled"})

QUEUE_FOR_LATER = "queue_for_later"
REROUTE_TO_SIMULATOR = "reroute_to_simulator"


@dataclass
class Decision:
    """Where a job runs. `estimate` is what the job stores and the API shows."""

    backend_id: str
    tier: int
    emulated: bool
    reasons: list[str]
    skipped: dict[str, str]
    estimate: dict[str, Any]
    # When the chosen hardware is unavailable: what else could be done, and what the job does now.
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    failover: str = ""

    @property
    def cost_micros(self) -> int:
        return int(self.estimate["cost_micros"])

    @property
    def seconds(self) -> float:
        return float(self.estimate["seconds"])


@dataclass
class _Candidate:
    caps: Capabilities
    cost_micros: int
    seconds: float
    seconds_source: str
    memory_bytes: int
    price: Price

    @property
    def backend_id(self) -> str:
        return self.caps.backend_id


# --- settings -------------------------------------------------------------------------------------
def breaker_settings() -> dict[str, float]:
    defaults = {"window_jobs": 10, "window_minutes": 15, "failure_ratio": 0.5, "min_jobs": 4}
    return {**defaults, **getattr(settings, "CIRCUIT_BREAKER", {})}


# --- reads shared by the decisions of one batch ---------------------------------------------------
_Read = TypeVar("_Read", bound=Callable[..., Any])
_shared: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("policy_shared_reads", default=None)


@contextmanager
def shared_reads() -> Iterator[None]:
    """Inside this block the price overrides are read once and the run records (circuit breakers,
    observed run times) once per distinct question, however many decisions ask: a batch of submissions
    is decided against one snapshot instead of asking the database the same thing for every job.
    Outside it every call reads. The answers are shared: callers must not change them."""
    token = _shared.set({})
    try:
        yield
    finally:
        _shared.reset(token)


def _shared_read(read: _Read) -> _Read:
    @functools.wraps(read)
    def shared(**kwargs: Any) -> Any:
        memo = _shared.get()
        if memo is None:
            return read(**kwargs)
        key = (read.__name__, *sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
        if key not in memo:
            memo[key] = read(**kwargs)
        return memo[key]

    return shared  # type: ignore[return-value]


# --- run records (read in the database: every submission asks, and a busy backend has thousands) ---
# Each read is a spec — tag, a function building its jobs from values, those values, how many of each
# backend's latest, which backends — whose rows all have `_RECORD_FIELDS`, so several specs can go to
# the database as one UNION ALL. The rows are kept per process for a few seconds (`jobs.slow_reads`).
_RECORD_FIELDS = ("backend", "status", "error_code", "finished_at", "result_meta__execute_seconds")
_RECORD_FIELDS += ("n_qubits", "shots", "estimate__depth")  # a run's shape, for the estimates
_Spec = tuple[str, Callable[..., QuerySet[Job]], dict[str, Any], int, list[str] | None]


def _finished_jobs(*, since: datetime | None = None) -> QuerySet[Job]:
    finished = Job.objects.filter(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED], cached_from__isnull=True)
    return finished.filter(finished_at__gte=since) if since is not None else finished


def _breaker_spec(backend_ids: list[str] | None, since: datetime) -> _Spec:
    cfg = breaker_settings()
    # Bounds the ranking of every backend's jobs. The window otherwise applies after the LIMIT: among a
    # backend's last `window_jobs`, those within it — kept out of the per-backend query, whose plan
    # then reads the newest rows from the index and stops.
    ranked = backend_ids is None or len(backend_ids) > _PER_BACKEND_QUERIES
    return ("breaker", _finished_jobs, {"since": since} if ranked else {}, int(cfg["window_jobs"]), backend_ids)


def _breakers_from(rows: list[tuple[Any, ...]], since: datetime) -> dict[str, str]:
    cfg = breaker_settings()
    per_backend: dict[str, list[tuple[str, str]]] = {}
    for backend, status, code, finished_at, *_ in rows:
        if finished_at >= since:
            per_backend.setdefault(backend, []).append((status, code))
    opened = {}
    for backend, outcomes in per_backend.items():
        failed = sum(1 for status, code in outcomes if status == JobStatus.FAILED and code not in NOT_BACKEND_ERRORS)
        if len(outcomes) >= cfg["min_jobs"] and failed / len(outcomes) >= cfg["failure_ratio"]:
            opened[backend] = (
                f"failing: {failed} of its last {len(outcomes)} jobs failed in {cfg['window_minutes']:g} minutes"
            )
    return opened


def _since(now: datetime | None) -> datetime:
    return (now or timezone.now()) - timedelta(minutes=breaker_settings()["window_minutes"])


@_shared_read
def recent_runs(
    *, backend_ids: list[str] | None = None, now: datetime | None = None
) -> tuple[dict[str, str], dict[str, datetime]]:
    """`open_breakers`, and when each backend's newest recent run succeeded (what tells the estimates
    that a backend has a run their model has not seen)."""
    since = _since(now)
    key = slow_reads.runs_key("breaker", *(backend_ids or ["*"]))
    rows = slow_reads.cached(key, lambda: _latest([_breaker_spec(backend_ids, since)])["breaker"])
    newest: dict[str, datetime] = {}
    for backend, status, _, finished_at, *_ in sorted(rows, key=lambda row: row[3]):
        if status == JobStatus.SUCCEEDED:
            newest[backend] = finished_at
    return _breakers_from(rows, since), newest


def open_breakers(*, backend_ids: list[str] | None = None, now: datetime | None = None) -> dict[str, str]:
    """Backends whose circuit breaker is open → why. Open when at least `failure_ratio` of a backend's
    last `window_jobs` jobs finished within `window_minutes` failed with backend errors (with at least
    `min_jobs` finished). Cache hits do not count: they never ran."""
    return recent_runs(backend_ids=backend_ids, now=now)[0]


def _succeeded_runs() -> QuerySet[Job]:
    return Job.objects.filter(
        status=JobStatus.SUCCEEDED, cached_from__isnull=True, result_meta__execute_seconds__isnull=False
    )


def backend_runs(backend_ids: list[str]) -> dict[str, list[estimates.Run]]:
    """Backend → its latest succeeded runs (`ESTIMATE_RUNS_PER_BACKEND`), newest first, as the
    estimates read them."""
    spec: _Spec = ("runs", _succeeded_runs, {}, settings.ESTIMATE_RUNS_PER_BACKEND, backend_ids)
    key = slow_reads.runs_key("succeeded", *backend_ids)
    rows = sorted(slow_reads.cached(key, lambda: _latest([spec])["runs"]), key=lambda row: row[3], reverse=True)
    runs: dict[str, list[estimates.Run]] = {}
    for backend, _, _, _, seconds, n_qubits, shots, depth in rows:
        run = estimates.run_of(n_qubits, shots, depth, seconds)
        if run is not None:
            runs.setdefault(backend, []).append(run)
    return runs


# Up to this many backends, one indexed LIMIT query each beats ranking a backend's whole history.
_PER_BACKEND_QUERIES = 8


def _latest(specs: list[_Spec]) -> dict[str, list[tuple[Any, ...]]]:
    """Tag → `_RECORD_FIELDS` of the `n` most recently finished of each spec's jobs on each of its
    backends (or on all). Per-backend LIMIT queries where the backends are few (on PostgreSQL all of
    them in one UNION ALL), else a window function ranking each backend's jobs."""
    rows: dict[str, list[tuple[Any, ...]]] = {tag: [] for tag, *_ in specs}
    shape = tuple(
        (tag, build, tuple(sorted(values)), n, None if ids is None else len(ids))
        for tag, build, values, n, ids in specs
    )
    values = {
        f"s{i}_{name}": value
        for i, (_, _, spec_values, _, _) in enumerate(specs)
        for name, value in spec_values.items()
    }
    values.update({f"s{i}_backends": list(ids) for i, (*_, ids) in enumerate(specs) if ids is not None})
    count = sum(n_ids if n_ids is not None and n_ids <= _PER_BACKEND_QUERIES else 1 for *_, n_ids in shape)
    if count == 0:
        return rows
    if count == 1 or connections[Job.objects.db].features.supports_slicing_ordering_in_compound:
        found = list(_records_union(shape, **values))
    else:  # SQLite: one query each
        found = [row for query in _record_queries(shape, **values) for row in query]
    for tag, *fields in found:
        rows[tag].append(tuple(fields))
    return rows


def _record_queries(shape: tuple[Any, ...], **values: Any) -> list[QuerySet[Job, tuple[Any, ...]]]:
    """The queries of `_latest`'s specs (by shape, with these values)."""
    queries: list[QuerySet[Job, tuple[Any, ...]]] = []
    for i, (tag, build, names, n, _) in enumerate(shape):
        jobs = build(**{name: values[f"s{i}_{name}"] for name in names})
        # finished_at IS NOT NULL lets the partial run-record indexes serve it.
        jobs = jobs.filter(finished_at__isnull=False).annotate(tag=Value(tag))
        backend_ids = values.get(f"s{i}_backends")
        if backend_ids is not None and len(backend_ids) <= _PER_BACKEND_QUERIES:
            for backend_id in backend_ids:
                newest = jobs.filter(backend=backend_id).order_by("-finished_at")
                queries.append(newest.values_list("tag", *_RECORD_FIELDS)[:n])
            continue
        if backend_ids is not None:
            jobs = jobs.filter(backend__in=backend_ids)
        newest_first = Window(RowNumber(), partition_by=[F("backend")], order_by=F("finished_at").desc())
        ranked = jobs.annotate(recency=newest_first).filter(recency__lte=n).order_by()
        queries.append(ranked.values_list("tag", *_RECORD_FIELDS))
    return queries


def _records_union(shape: tuple[Any, ...], **values: Any) -> QuerySet[Job, tuple[Any, ...]]:
    first, *others = _record_queries(shape, **values)
    return first.union(*others, all=True) if others else first


@_shared_read
def price_overrides() -> dict[str, Price]:
    """The admin's price overrides (budgets.PriceModel) as adapter prices, by backend id."""
    from budgets.models import PriceModel

    def read() -> dict[str, Price]:
        return {row.backend_id: price_of(row.__dict__) for row in PriceModel.objects.all()}

    return slow_reads.cached(slow_reads.PRICES, read)


def price_of(row: Mapping[str, Any]) -> Price:
    """An adapter price from a PriceModel row's fields (a model's `__dict__`)."""
    return Price(
        kind=PriceKind(row["kind"]),
        per_task_micros=int(row["per_task_micros"]),
        per_shot_micros=int(row["per_shot_micros"]),
        per_second_micros=int(row["per_second_micros"]),
        per_minute_micros=int(row["per_minute_micros"]),
        min_seconds=float(row["min_seconds"]),
    )


# --- fitting --------------------------------------------------------------------------------------
def _misfit(circuit: Circuit, caps: Capabilities) -> str:
    """Why a circuit cannot run on a backend judged by its capabilities alone; "" when it can."""
    if not caps.available:
        return "unavailable now"
    if circuit.n_qubits > caps.max_qubits:
        return f"{circuit.n_qubits} qubits exceed its {caps.max_qubits}"
    return ""


def _estimate(caps: Capabilities, *, price: Price, circuit: Circuit, shots: int, seed: int | None) -> _Candidate | str:
    """The candidate with its cost and time, or why it does not fit (the adapter's word: its admission
    check refuses gates it cannot run — e.g. non-Clifford gates on aer-stabilizer — and the memory guard)."""
    adapter = registry.get_adapter(caps.backend_id)
    try:
        est = adapter.estimate(ExecutionRequest(job_id="estimate", circuit=circuit, shots=shots, seed=seed))
    except AdapterError as exc:
        return str(exc)
    if not est.fits:
        return est.reason or "does not fit"
    return _Candidate(
        caps=caps,
        cost_micros=int(price.cost_micros(shots=shots, seconds=est.seconds)),
        seconds=float(est.seconds),
        seconds_source=estimates.FORMULA,
        memory_bytes=int(est.memory_bytes),
        price=price,
    )


def _money(micros: int) -> str:
    return "free" if micros == 0 else format_money(micros)


def _seconds_text(seconds: float) -> str:
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def _unknown_backend(backend_id: str) -> Invalid:
    return Invalid(
        f"unknown backend {backend_id!r}; valid backends: {', '.join(registry.backend_ids())}",
        field="backend",
        code="unknown_backend",
    )


def _apply_estimates(candidates: list[_Candidate], shape: estimates.Shape, newest: dict[str, datetime]) -> None:
    """Each candidate's seconds from its backend's stored runs where they say more than its formula.
    The price stays the adapter's: it bills by its own measure of time (a QPU's billable seconds)."""
    models = estimates.models([c.backend_id for c in candidates], newest=newest, read=backend_runs)
    for c in candidates:
        predicted = models[c.backend_id].predict(shape)
        if predicted is not None:
            c.seconds, c.seconds_source = predicted.seconds, predicted.source


# --- the decision ---------------------------------------------------------------------------------
def select_backend(
    *,
    circuit: Circuit,
    family: str,
    shots: int,
    max_tier: int,
    backend_pin: str | None = None,
    priority: str = "interactive",
    budget_remaining_micros: int | None = None,
    prefers_noise: bool = False,
    team: object | None = None,
    seed: int | None = None,
    now: datetime | None = None,
) -> Decision:
    """Choose the backend for one job.

    Raises Invalid (field "backend") for an unknown pin, a pin above `max_tier` or one the circuit does
    not fit; Invalid (field "max_tier") when no backend within `max_tier` can run it; BudgetExceeded when
    only the budget stands in the way. `priority` and `team` are accepted for rules to come (none yet).

    Paid backends are estimated only when no free one fits (a hardware estimate transpiles for the
    device, seconds per backend): a paid backend can never be cheaper than a free one.
    """
    if backend_pin:
        return _pinned(
            circuit=circuit, family=family, shots=shots, max_tier=max_tier, pin=backend_pin, seed=seed, now=now
        )
    n = circuit.n_qubits
    prices = price_overrides()
    broken, newest = recent_runs(now=now)
    skipped: dict[str, str] = {}
    free: list[tuple[Capabilities, Price]] = []
    paid: list[tuple[Capabilities, Price]] = []
    for caps in registry.all_capabilities():
        bid = caps.backend_id
        why = f"tier {caps.tier} is above max_tier={max_tier}" if caps.tier > max_tier else ""
        why = why or _misfit(circuit, caps) or broken.get(bid, "")
        if why:
            skipped[bid] = why
            continue
        price = prices.get(bid, caps.price)
        (free if price.kind is PriceKind.FREE else paid).append((caps, price))

    def estimate_all(group: list[tuple[Capabilities, Price]]) -> list[_Candidate]:
        out = []
        for caps, price in group:
            candidate = _estimate(caps, price=price, circuit=circuit, shots=shots, seed=seed)
            if isinstance(candidate, str):
                skipped[caps.backend_id] = candidate
            elif budget_remaining_micros is not None and candidate.cost_micros > budget_remaining_micros:
                skipped[caps.backend_id] = (
                    f"costs {format_money(candidate.cost_micros)}, more than the "
                    f"{format_money(max(budget_remaining_micros, 0))} left in the budget"
                )
            else:
                out.append(candidate)
        return out

    wants_noise = prefers_noise and max_tier >= 2
    fitting = estimate_all(free)
    if not fitting or (wants_noise and not any(c.caps.noise for c in fitting)):
        fitting += estimate_all(paid)
    else:
        for caps, _ in paid:
            skipped[caps.backend_id] = "costs money and a free backend fits"
    if not fitting:
        _raise_nothing_fits(n=n, max_tier=max_tier, skipped=skipped)

    noise_note = ""
    if wants_noise and any(c.caps.noise for c in fitting):
        for c in fitting:
            if not c.caps.noise:
                skipped[c.backend_id] = f"max_tier={max_tier} asks for noise"
        fitting = [c for c in fitting if c.caps.noise]
        noise_note = "noisy "
    shape = estimates.Shape.of(circuit, shots)
    _apply_estimates(fitting, shape, newest)
    # Ties go to the lower tier, then the smaller device (a smaller noise model builds faster).
    fitting.sort(key=lambda c: (c.cost_micros, c.seconds, c.caps.tier, c.caps.max_qubits, c.backend_id))
    best = fitting[0]
    device = f"device of {best.caps.max_qubits} qubits, " if ":" in best.backend_id else ""
    headline = (
        f"{best.backend_id}: cheapest {noise_note}tier-{best.caps.tier} backend for {n} qubits "
        f"({device}{_money(best.cost_micros)}, ~{_seconds_text(best.seconds)}, {best.seconds_source})"
    )
    return _decision(best, reasons=[headline, *_skip_reasons(skipped)], skipped=skipped, shape=shape)


def _skip_reasons(skipped: dict[str, str]) -> list[str]:
    """One line per local backend skipped within max_tier; device backends summed up in one line."""
    lines, devices = [], []
    for bid, why in skipped.items():
        if "above max_tier" in why or why == "costs money and a free backend fits":
            continue
        if ":" in bid:
            devices.append((bid, why))
        else:
            lines.append(f"{bid} skipped: {why}")
    if devices:
        bid, why = devices[0]
        more = f" and {len(devices) - 1} other device backends" if len(devices) > 1 else ""
        lines.append(f"{bid}{more} skipped (e.g. {why})")
    return lines


def _decision(
    c: _Candidate,
    *,
    shape: estimates.Shape,
    reasons: list[str],
    skipped: dict[str, str],
    alternatives: list[dict[str, Any]] | None = None,
    failover: str = "",
) -> Decision:
    estimate: dict[str, Any] = {
        "backend": c.backend_id,
        "tier": c.caps.tier,
        "emulated": c.caps.emulated,
        "cost_micros": c.cost_micros,
        "seconds": c.seconds,
        "seconds_source": c.seconds_source,
        "depth": shape.depth,  # with the job's qubits and shots, the shape its run teaches the estimates
        "memory_bytes": c.memory_bytes,
        "price": c.price.describe(settings.CURRENCY),
        "reasons": reasons,
    }
    if failover:
        estimate["failover"] = {"choice": failover, "alternatives": alternatives or []}
    return Decision(
        backend_id=c.backend_id,
        tier=c.caps.tier,
        emulated=c.caps.emulated,
        reasons=reasons,
        skipped=skipped,
        estimate=estimate,
        alternatives=alternatives or [],
        failover=failover,
    )


def _raise_nothing_fits(*, n: int, max_tier: int, skipped: dict[str, str]) -> None:
    within = {bid: why for bid, why in skipped.items() if "above max_tier" not in why}
    detail = {"skipped": within}
    if within and all("left in the budget" in why for why in within.values()):
        raise BudgetExceeded(
            "every backend that fits this job costs more than is left in the budget: "
            + "; ".join(f"{bid}: {why}" for bid, why in within.items()),
            field="budget",
            detail=detail,
        )
    raise Invalid(
        f"no backend within max_tier={max_tier} can run this {n}-qubit job: "
        + ("; ".join(_skip_reasons(within)) or "none is configured"),
        field="max_tier",
        code="no_backend",
        detail=detail,
    )


def pinned_capabilities(circuit: Circuit, *, pin: str, max_tier: int) -> Capabilities:
    """The pinned backend, once the pin is allowed: known, inside max_tier, wide enough (Invalid on
    the field "backend" otherwise). Reads no database."""
    try:
        caps = registry.capabilities(pin)
    except registry.UnknownBackend:
        raise _unknown_backend(pin) from None
    if caps.tier > max_tier:
        raise Invalid(
            f"{pin} is tier {caps.tier} ({TIER_NAMES.get(caps.tier, '')}), above max_tier={max_tier}",
            field="backend",
            code="backend_above_max_tier",
        )
    misfit = _misfit(circuit, dataclasses.replace(caps, available=True))
    if misfit:
        raise Invalid(f"{pin} cannot run this job: {misfit}", field="backend", code="backend_unfit")
    return caps


def served_from_cache(caps: Capabilities) -> Decision:
    """The decision for a pinned job whose result the cache holds: nothing runs, so no estimate (price,
    run records, breaker) is needed."""
    reasons = [f"{caps.backend_id}: pinned by the request (tier {caps.tier})"]
    estimate = {
        "backend": caps.backend_id,
        "tier": caps.tier,
        "emulated": caps.emulated,
        "cost_micros": 0,
        "seconds": 0.0,
        "seconds_source": "result cache",
        "reasons": reasons,
    }
    return Decision(
        backend_id=caps.backend_id,
        tier=caps.tier,
        emulated=caps.emulated,
        reasons=reasons,
        skipped={},
        estimate=estimate,
    )


def _pinned(
    *,
    circuit: Circuit,
    family: str,
    shots: int,
    max_tier: int,
    pin: str,
    seed: int | None,
    now: datetime | None,
) -> Decision:
    """An explicit pin is honoured only inside max_tier and only when the circuit fits. A pinned
    backend that is unavailable or failing is kept (queue for later); the decision offers the cheapest
    simulator as the alternative, which the user can take with a reroute."""
    caps = pinned_capabilities(circuit, pin=pin, max_tier=max_tier)
    price = price_overrides().get(pin, caps.price)
    candidate = _estimate(caps, price=price, circuit=circuit, shots=shots, seed=seed)
    if isinstance(candidate, str):
        raise Invalid(f"{pin} cannot run this job: {candidate}", field="backend", code="backend_unfit")
    broken, newest = recent_runs(backend_ids=[pin], now=now)
    shape = estimates.Shape.of(circuit, shots)
    _apply_estimates([candidate], shape, newest)
    reasons = [
        f"{pin}: pinned by the request (tier {caps.tier}, {_money(candidate.cost_micros)}, "
        f"~{_seconds_text(candidate.seconds)}, {candidate.seconds_source})"
    ]
    unavailable = "unavailable now" if not caps.available else broken.get(pin, "")
    if not unavailable:
        return _decision(candidate, reasons=reasons, skipped={}, shape=shape)
    alternatives: list[dict[str, Any]] = [{"action": QUEUE_FOR_LATER, "backend": pin}]
    try:
        fallback = select_backend(
            circuit=circuit, family=family, shots=shots, max_tier=min(max_tier, 2), seed=seed, now=now
        )
        alternatives.append(
            {"action": REROUTE_TO_SIMULATOR, "backend": fallback.backend_id, "cost_micros": fallback.cost_micros}
        )
    except (Invalid, BudgetExceeded):
        pass
    reasons.append(f"{pin} is {unavailable}: the job waits for it (queue for later); a reroute can move it")
    return _decision(
        candidate, reasons=reasons, skipped={}, shape=shape, alternatives=alternatives, failover=QUEUE_FOR_LATER
    )
