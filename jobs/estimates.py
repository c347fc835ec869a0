"""How long a job will take on a backend, learnt from the backend's stored runs.

Each backend gets a small model of its execute seconds by circuit shape — qubits, depth and shots —
fitted from its latest succeeded runs (the execute-stage time the worker stored on each job):

* at least `MIN_SHAPE_RUNS` runs of this shape (same qubits, depth and shots within 25 %): their
  median — "from 14 runs of this shape";
* else, with enough runs of varied shapes around it: a log-linear least-squares fit of the seconds on
  qubits, log depth and log shots, used only inside the shapes it was fitted on (a simulator's time
  grows exponentially with qubits: a fit does not extrapolate) — "from a curve fitted to 23 runs of
  this backend";
* else nothing, and the policy uses the adapter's formula — "from the backend's formula".

Fitting reads the database; the fitted models are kept per process (Django's local-memory cache) under
the time of the backend's newest run, which the policy's circuit-breaker read brings anyway: a model is
refitted as soon as a newer run finished, and at the latest after `ESTIMATE_MODEL_TTL_SECONDS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache

from adapters.ir import Circuit

FORMULA = "from the backend's formula"
MIN_SHAPE_RUNS = 3  # runs of one shape before their median is trusted over the formula
SHAPE_RUNS = 20  # the newest runs of a shape that its median is taken over
MIN_FIT_RUNS = 8  # runs of varied shapes before a fitted curve is trusted
_NEAR = 1.25  # depth and shots within this factor count as the same shape

_models = LocMemCache("hybridportal-estimates", {"MAX_ENTRIES": 5000})


@dataclass(frozen=True)
class Shape:
    """What a run's execute time depends on, as far as the model sees it."""

    n_qubits: int
    depth: int
    shots: int

    @classmethod
    def of(cls, circuit: Circuit, shots: int) -> Shape:
        return cls(n_qubits=circuit.n_qubits, depth=max(1, circuit.depth()), shots=max(1, shots))


@dataclass(frozen=True)
class Run:
    shape: Shape
    seconds: float


@dataclass(frozen=True)
class Prediction:
    seconds: float
    source: str  # where the number came from, in the quote's words


def _near(a: Any, b: Any) -> Any:
    return np.maximum(a, b) <= _NEAR * np.minimum(a, b)


class BackendModel:
    """One backend's runs (newest first) and the curve fitted to them. Held as arrays: a model is
    unpickled from the process cache on every decision."""

    def __init__(self, runs: Sequence[Run]) -> None:
        rows = [(r.shape.n_qubits, r.shape.depth, r.shape.shots, r.seconds) for r in runs if r.seconds > 0]
        self.runs = np.array(rows, dtype=float).reshape(-1, 4)  # qubits, depth, shots, seconds
        self.coef: np.ndarray | None = None
        self.columns: list[int] = []
        if len(self.runs) >= MIN_FIT_RUNS:
            self._fit()

    @staticmethod
    def _features(n: Any, depth: Any, shots: Any) -> np.ndarray:
        return np.column_stack(np.broadcast_arrays(1.0, n, np.log(depth), np.log(shots)))

    def _fit(self) -> None:
        n, depth, shots, seconds = self.runs.T
        x = self._features(n, depth, shots)
        # Only what varied among the runs can be fitted; the rest is a constant of the intercept.
        columns = [0] + [i for i in (1, 2, 3) if np.ptp(x[:, i]) > 0]
        if 1 not in columns or len(seconds) < len(columns) + 3:
            return
        self.coef, *_ = np.linalg.lstsq(x[:, columns], np.log(seconds), rcond=None)
        self.columns = columns

    def _inside(self, shape: Shape) -> bool:
        """Within the qubits, depths and shots the curve was fitted on."""
        n, depth, shots, _ = self.runs.T
        return bool(
            n.min() <= shape.n_qubits <= n.max()
            and depth.min() / _NEAR <= shape.depth <= depth.max() * _NEAR
            and shots.min() / _NEAR <= shape.shots <= shots.max() * _NEAR
        )

    def predict(self, shape: Shape) -> Prediction | None:
        if not len(self.runs):
            return None
        n, depth, shots, seconds = self.runs.T
        same = seconds[(n == shape.n_qubits) & _near(depth, shape.depth) & _near(shots, shape.shots)][:SHAPE_RUNS]
        if len(same) >= MIN_SHAPE_RUNS:
            return Prediction(float(np.median(same)), f"from {len(same)} runs of this shape")
        if self.coef is not None and self._inside(shape):
            x = self._features(shape.n_qubits, shape.depth, shape.shots)[0, self.columns]
            fitted = f"from a curve fitted to {len(seconds)} runs of this backend"
            return Prediction(math.exp(float(x @ self.coef)), fitted)
        return None


def run_of(n_qubits: Any, shots: Any, depth: Any, seconds: Any) -> Run | None:
    """A stored run record as the model reads it; None for one that lacks what it needs (a run from
    before depths were recorded, a failed timing)."""
    numbers = (n_qubits, shots, depth, seconds)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        return None
    return Run(Shape(int(n_qubits), max(1, int(depth)), max(1, int(shots))), float(seconds))


def _key(backend_id: str, newest: datetime | None) -> str:
    return f"{backend_id}@{newest.isoformat() if newest else '-'}"


def models(
    backend_ids: Sequence[str],
    *,
    newest: Mapping[str, datetime | None],
    read: Callable[[list[str]], Mapping[str, list[Run]]],
) -> dict[str, BackendModel]:
    """Backend → its model. `newest` is the time of each backend's newest run the caller knows of (a
    newer one makes a fresh fit); `read` returns the runs, newest first, of the backends missing here."""
    keys = {b: _key(b, newest.get(b)) for b in backend_ids}
    found = _models.get_many(list(keys.values()))
    # A backend without runs is kept as None: most backends have none, and each cached value is
    # unpickled on every decision.
    out = {b: found[k] or _NO_RUNS for b, k in keys.items() if k in found}
    missing = [b for b in backend_ids if b not in out]
    if missing:
        runs = read(missing)
        fitted = {b: BackendModel(runs[b]) if runs.get(b) else _NO_RUNS for b in missing}
        kept = {keys[b]: None if m is _NO_RUNS else m for b, m in fitted.items()}
        _models.set_many(kept, timeout=settings.ESTIMATE_MODEL_TTL_SECONDS)
        out.update(fitted)
    return out


_NO_RUNS = BackendModel([])


def forget() -> None:
    """Drop every fitted model of this process (tests, and after bulk changes to run records)."""
    _models.clear()


# --- the job page -----------------------------------------------------------------------------------
def _duration(value: float) -> str:
    """Milliseconds too: most simulator runs take less than a second, and their estimates are compared."""
    if value < 1:
        return f"{value * 1000:.3g} ms"
    if value < 60:
        return f"{value:.3g} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _verdict(estimated: float, actual: float) -> str:
    if estimated <= 0 or actual <= 0:
        return ""
    ratio = actual / estimated
    if 1 / 1.1 <= ratio <= 1.1:
        return "as long as estimated"
    factor = max(ratio, 1 / ratio)
    times = f"{factor:.2g}×" if factor < 10 else f"{factor:.0f}×"
    return f"{times} longer than estimated" if ratio > 1 else f"{times} less time than estimated"


def estimate_vs_actual(job: Any) -> dict[str, Any] | None:
    """What the job's quote said beside what the run took and cost, for the job page; None until the
    job ran (and for a job served from the cache, which never ran)."""
    estimate = job.estimate or {}
    actual, estimated = (job.result_meta or {}).get("execute_seconds"), estimate.get("seconds")
    if job.cached_from_id or not isinstance(actual, int | float) or not isinstance(estimated, int | float):
        return None
    estimated = float(estimated)
    return {
        "estimated_time": _duration(estimated),
        "actual_time": _duration(float(actual)),
        "time_verdict": _verdict(estimated, float(actual)),
        "source": estimate.get("seconds_source", ""),
        "estimated_cost_micros": estimate.get("cost_micros"),
        "actual_cost_micros": job.cost_micros,
    }
