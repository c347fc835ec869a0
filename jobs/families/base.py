"""What a circuit family is: a versioned problem with validated params, a builder to IR and,
where cheap, the exact ideal output distribution."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from adapters.ir import Circuit

# The largest device any adapter models (IBM Heron r2, 156 qubits). Families whose ideal is known
# without simulation (GHZ, Bernstein–Vazirani, mirror) may go this wide; the backends' own limit
# (`adapters.registry.max_qubits_any`) is checked when a job is resolved.
MAX_QUBITS = 156
BITSTRING_PATTERN = r"^[01]+$"


class FamilyParams(BaseModel):
    """Base for every family's params: unknown keys are refused, naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Builder(Protocol):
    def __call__(self, params: Any) -> Circuit: ...


class IdealFn(Protocol):
    def __call__(self, params: Any) -> Mapping[str, float] | None: ...


@dataclass(frozen=True)
class Family:
    name: str
    version: int
    title: str
    description: str
    params_model: type[FamilyParams]
    build: Builder
    ideal: IdealFn | None = None  # bitstring (qubit 0 leftmost) → probability
    prefers_noise: bool = False  # benchmark families that exist to measure noise
    example: Mapping[str, Any] = field(default_factory=dict)  # valid params shown in the UI and docs
    qubits_field: str = "n_qubits"  # the param a "too many qubits" refusal names (params.<this>)
    # Contract objectives the family can serve: expectation/minimize need an observable to estimate.
    objectives: frozenset[str] = frozenset({"sample"})

    def parse(self, raw: Mapping[str, Any]) -> FamilyParams:
        """Validate params as the JSON they arrive as, strictly: "5" is not a number and true not 1
        (JSON arrays still fill tuples). Raises pydantic's ValidationError."""
        return self.params_model.model_validate_json(json.dumps(dict(raw)), strict=True)
