"""Backend policy: which backend runs a job, and why — in words a researcher can check.

Among the backends within the job's highest acceptable tier whose capabilities fit (qubits under the
memory guard, gates, availability, what is left of the budget) the policy picks the cheapest, then the
fastest by each backend's execute time learnt from its stored runs (`jobs.estimates`), else by the
adapter's own formula. A backend whose recent jobs keep failing is skipped (circuit breaker) and the
ladder falls back to the next one. Every skip is recorded with its reason.

Reads only: adapters through the registry, run records and failure rates from Job rows, and admin
price overrides. Nothing here writes.

- `selection`: the decision (`select_backend`, pins, `Decision`);
- `records`: run records (circuit breaker, observed run times);
- `prices`: the admin's price overrides;
- `shared`: reads shared by the decisions of one batch (`shared_reads`).
"""

from jobs.policy.prices import price_of, price_overrides
from jobs.policy.records import NOT_BACKEND_ERRORS, backend_runs, breaker_settings, open_breakers, recent_runs
from jobs.policy.selection import (
    QUEUE_FOR_LATER,
    REROUTE_TO_SIMULATOR,
    Decision,
    pinned_capabilities,
    select_backend,
    served_from_cache,
)
from jobs.policy.shared import shared_reads

__all__ = [
    "NOT_BACKEND_ERRORS",
    "QUEUE_FOR_LATER",
    "REROUTE_TO_SIMULATOR",
    "Decision",
    "backend_runs",
    "breaker_settings",
    "open_breakers",
    "pinned_capabilities",
    "price_of",
    "price_overrides",
    "recent_runs",
    "select_backend",
    "served_from_cache",
    "shared_reads",
]
