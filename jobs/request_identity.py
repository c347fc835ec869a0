"""What an Idempotency-Key remembers of a request: the contract it means, not the text it was sent as.

Two bodies are the same request when they validate to the same contract: defaults filled in
(`max_tier: 0` is the same as leaving it out), the family's params as its schema reads them (its
defaults too), the family version resolved, money as an exact amount ("12.5" and "12.50"), keys in any
order. `experiment_class` is left out: a request may only restate its experiment's class (any other is
refused before a key is stored), so whether it was restated changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from budgets.money import to_micros
from jobs.contract import ContractError, JobRequest, parse_job_request


def request_sha256(body: Any) -> str:
    """SHA-256 of the canonical contract of a request — a JobRequest, its JSON object, or a batch's
    `{"jobs": [...]}` of either — as sorted-key JSON without whitespace."""
    text = json.dumps(_canonical(body), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(body: Any) -> Any:
    if isinstance(body, JobRequest):
        return canonical_contract(body)
    if isinstance(body, dict) and set(body) == {"jobs"} and isinstance(body["jobs"], list | tuple):
        return {"jobs": [_canonical(item) for item in body["jobs"]]}
    if isinstance(body, dict):
        try:
            return canonical_contract(parse_job_request(body))
        except ContractError:
            return body  # refused anyway: no answer is ever stored under it
    return body


def canonical_contract(req: JobRequest) -> dict[str, Any]:
    """The request as the portal understands it, every default filled in."""
    from jobs.families import get_family

    data = req.model_dump(mode="json", exclude={"experiment_class"})
    if req.budget_ceiling is not None:
        data["budget_ceiling"] = to_micros(req.budget_ceiling)
    try:
        family = get_family(req.family, req.family_version)
        data["family_version"] = family.version
        data["params"] = family.parse(req.params).model_dump(mode="json")
    except (ContractError, ValidationError, TypeError, ValueError):
        pass  # refused when it is resolved; compared as sent until then
    return data
