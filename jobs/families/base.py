"""What a circuit family is: a versioned problem with validated params, a builder to IR and,
where cheap, the exact ideal output distribution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from adapters.ir import Circuit


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

    def parse(self, raw: Mapping[str, Any]) -> FamilyParams:
        return self.params_model.model_validate(dict(raw))
