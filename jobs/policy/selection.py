"""The decision: which backend runs a job, and why, in words a researcher can check."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from adapters import registry
from adapters.base import AdapterError, Capabilities, ExecutionRequest, Price, PriceKind
from adapters.ir import Circuit
from budgets.errors import BudgetExceeded, Invalid
from budgets.models import TIER_NAMES
from budgets.money import format_money
from jobs import estimates
from jobs.policy.prices import price_overrides
from jobs.policy.records import backend_runs, recent_runs

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


# --- fitting --------------------------------------------------------------------------------------
def _misfit(circuit: Circuit, caps: Capabilities) -> str:
    """Why a circuit cannot run on a backend judged by its capabilities alone; "" when it can."""
    if not caps.available:
        return "unavailable now"
    if circuit.n_qubits > caps.max_qubits:
        return f"{circuit.n_qubits} qubits exceed its {caps.max_qubits}"
    return ""


def _candidate_estimate(
    caps: Capabilities, *, price: Price, circuit: Circuit, shots: int, seed: int | None
) -> _Candidate | str:
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
        return _pinned_decide(
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
            candidate = _candidate_estimate(caps, price=price, circuit=circuit, shots=shots, seed=seed)
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
    return _decision_build(best, reasons=[headline, *_skip_reasons(skipped)], skipped=skipped, shape=shape)


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


def _decision_build(
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


def _pinned_decide(
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
    candidate = _candidate_estimate(caps, price=price, circuit=circuit, shots=shots, seed=seed)
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
        return _decision_build(candidate, reasons=reasons, skipped={}, shape=shape)
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
    return _decision_build(
        candidate, reasons=reasons, skipped={}, shape=shape, alternatives=alternatives, failover=QUEUE_FOR_LATER
    )
