"""The job contract, schema_version 1 (DESIGN.md): what a job request declares.

Validation names the field and the limit on every refusal. The family's own params are validated by
the family's schema and reported under ``params.<name>``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_SHOTS = 1_000_000
MAX_LABELS = 20
MAX_LABEL_LENGTH = 64
LABEL_RE = re.compile(r"^[A-Za-z0-9_.:=/-]+$")


class ContractError(ValueError):
    """A request the contract refuses. `field` is a dotted path (``params.n_qubits``)."""

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        self.field = field
        self.code = code
        self.message = message
        super().__init__(f"{field}: {message}")


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    experiment: int = Field(description="id of an experiment of one of your teams")
    family: str = Field(min_length=1, max_length=40, description="circuit family, e.g. ghz")
    family_version: int | None = Field(default=None, ge=1, description="defaults to the latest")
    params: dict[str, Any] = Field(default_factory=dict)
    objective: Literal["sample", "expectation", "minimize"] = "sample"
    shots: int = Field(default=1000, ge=1, le=MAX_SHOTS)
    max_tier: int = Field(default=0, ge=0, le=3, description="highest acceptable backend tier")
    backend: str | None = Field(default=None, max_length=100, description="explicit backend pin")
    priority: Literal["interactive", "batch"] = "interactive"
    experiment_class: str | None = Field(
        default=None, max_length=64, description="slug; defaults to the experiment's class"
    )
    labels: list[str] = Field(default_factory=list, max_length=MAX_LABELS)
    budget_ceiling: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=6)
    no_cache: bool = False

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: list[str]) -> list[str]:
        for i, label in enumerate(labels):
            if not 1 <= len(label) <= MAX_LABEL_LENGTH or not LABEL_RE.match(label):
                raise ValueError(f"labels[{i}] must be 1..{MAX_LABEL_LENGTH} characters of letters, digits and _.:=/-")
        return labels

    @field_validator("backend")
    @classmethod
    def _blank_backend_is_none(cls, backend: str | None) -> str | None:
        return backend or None


def first_error(exc: ValidationError, prefix: str = "") -> ContractError:
    """The first pydantic error as a ContractError whose field is a dotted path and whose message
    says the limit (pydantic's messages already do: 'Input should be less than or equal to 1000000')."""
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in err.get("loc", ()) if part != "__root__")
    field = ".".join(p for p in (prefix, loc) if p) or prefix or "body"
    message = err.get("msg", "invalid value")
    if err.get("type") == "extra_forbidden":
        message = "unknown field"
    elif err.get("type") == "missing":
        message = "this field is required"
    return ContractError(field, message)


def parse_job_request(raw: Any) -> JobRequest:
    """Validate the envelope of a job request; raise ContractError naming the first bad field."""
    if not isinstance(raw, dict):
        raise ContractError("body", "must be a JSON object")
    try:
        return JobRequest.model_validate(raw)
    except ValidationError as exc:
        raise first_error(exc) from None
