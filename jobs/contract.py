"""The job contract, schema_version 1: what a job request declares.

Validation names the field and the limit on every refusal. The family's own params are validated by
the family's schema and reported under ``params.<name>``.

Two pure steps, no database: `parse_job_request` checks the envelope, `resolve_job_request` turns the
declared problem into a bound circuit (family + version + params → IR) and checks it fits a backend.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from adapters.ir import Circuit, IRError, canonical_json
from adapters.ir import fingerprint as ir_fingerprint
from jobs.errors import ContractError
from jobs.families import get_family
from jobs.validation_text import errors_of, joined

if TYPE_CHECKING:
    from jobs.families.base import Family, FamilyParams

MAX_SHOTS = 1_000_000
MAX_LABELS = 20
MAX_LABEL_LENGTH = 64
MAX_PARAMS_BYTES = 512 * 1024  # canonical JSON of params; OpenQASM text (≤ 256 KiB) fits with room to spare
LABEL_RE = re.compile(r"^[A-Za-z0-9_.:=/-]+$")


def whole_json_number(value: Any) -> Any:
    """For a strict model's integer field (`mode="before"`): a whole number as JSON may write it, 5 or
    5.0 (JSON Schema, and so the OpenAPI schema, counts 5.0 as an integer); "5" and true stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class JobRequest(BaseModel):
    # Strict: "100" is not a number of shots and true is not 1 (JSON has types; the web form converts
    # its text inputs itself). Money may be a decimal string or a number.
    model_config = ConfigDict(extra="forbid", strict=True)

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
        default=None, max_length=64, description="the experiment's class slug, or left out; another class is refused"
    )
    labels: list[str] = Field(default_factory=list, max_length=MAX_LABELS)
    budget_ceiling: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=6, strict=False)
    no_cache: bool = False

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: list[str]) -> list[str]:
        for i, label in enumerate(labels):
            if not 1 <= len(label) <= MAX_LABEL_LENGTH or not LABEL_RE.match(label):
                raise ValueError(
                    f"must each be 1 to {MAX_LABEL_LENGTH} characters of letters, digits and _.:=/-; labels[{i}] is not"
                )
        return labels

    _whole_numbers = field_validator("experiment", "family_version", "shots", "max_tier", mode="before")(
        whole_json_number
    )

    @field_validator("schema_version", mode="before")
    @classmethod
    def _version_is_a_number(cls, version: Any) -> Any:
        if isinstance(version, bool):  # True == 1 to Python, not to the contract
            raise PydanticCustomError("literal_error", "", {"expected": "1"})
        return version

    @field_validator("backend")
    @classmethod
    def _blank_backend_is_none(cls, backend: str | None) -> str | None:
        return backend or None


def contract_error(exc: ValidationError, prefix: str = "") -> ContractError:
    """A pydantic ValidationError as one ContractError reporting every refused field, each in the
    portal's wording (`jobs.validation_text`); `field` is the first one's dotted path."""
    errors = errors_of(exc, prefix)
    return ContractError(errors[0]["field"] if errors else prefix or "body", joined(errors), errors=errors)


def parse_job_request(raw: Any) -> JobRequest:
    """Validate the envelope of a job request; raise ContractError naming the first bad field."""
    if not isinstance(raw, dict):
        raise ContractError("body", "The request body must be a JSON object.")
    try:
        return JobRequest.model_validate(raw)
    except ValidationError as exc:
        raise contract_error(exc) from None


@dataclass(frozen=True)
class ParsedJob:
    """A request resolved to its problem: the family, validated params and the bound circuit."""

    request: JobRequest
    family: Family
    params: FamilyParams
    circuit: Circuit

    @property
    def n_qubits(self) -> int:
        return self.circuit.n_qubits

    @property
    def family_version(self) -> int:
        return self.family.version

    @property
    def params_json(self) -> dict[str, Any]:
        """The params as validated, defaults filled in: what the job row stores."""
        return self.params.model_dump(mode="json")

    @cached_property
    def ideal(self) -> Mapping[str, float] | None:
        """The exact output distribution (qubit 0 leftmost), or None where it is not cheap.

        Computed on first use: submit does not need it, benchmarks and result pages do.
        """
        return self.family.ideal(self.params) if self.family.ideal is not None else None

    def fingerprint(self, backend: str, sdk_versions: Mapping[str, str] | None = None) -> str:
        """The dedup / cache key: canonical IR, shots, backend and SDK versions (installed ones by default)."""
        if sdk_versions is None:
            from adapters.versions import sdk_versions as installed

            sdk_versions = installed()
        return ir_fingerprint(self.circuit, shots=self.request.shots, backend=backend, sdk_versions=sdk_versions)


def max_qubits_any() -> int:
    """The widest backend's qubit limit, from the adapter registry (imported on first use: it is heavy)."""
    from adapters.registry import max_qubits_any as registry_max_qubits

    return registry_max_qubits()


def resolve_job_request(req: JobRequest, *, max_qubits: int | None = None) -> ParsedJob:
    """Resolve family + version, validate params with the family's schema, build the circuit and check
    it fits the widest backend. Raises ContractError naming ``family``, ``family_version``, ``params``
    or ``params.<name>`` with the limit in the message. Pure: no database."""
    family = get_family(req.family, req.family_version)
    if req.objective not in family.objectives:
        allowed = ", ".join(sorted(family.objectives))
        raise ContractError(
            "objective", f"objective must be {allowed} for {family.name}: {req.objective!r} needs an observable."
        )
    try:
        size = len(canonical_json(req.params).encode())
    except (TypeError, ValueError):
        raise ContractError("params", "params must be plain JSON (no NaN or Infinity).") from None
    if size > MAX_PARAMS_BYTES:
        raise ContractError("params", f"params must be at most {MAX_PARAMS_BYTES} bytes of JSON; these are {size}.")
    try:
        params = family.parse(req.params)
    except ValidationError as exc:
        raise contract_error(exc, prefix="params") from None
    limit = max_qubits if max_qubits is not None else max_qubits_any()
    try:
        circuit = _build(family, params, limit)
    except IRError as exc:
        field = exc.field if exc.field.startswith("params") else "params"
        message = str(exc).removeprefix(f"{exc.field}: ").rstrip(".")
        raise ContractError(field, f"{field} is not accepted: {message}.") from None
    if circuit.n_qubits > limit:
        raise ContractError(
            f"params.{family.qubits_field}",
            f"params.{family.qubits_field} asks for {circuit.n_qubits} qubits; the largest backend takes {limit}.",
        )
    return ParsedJob(request=req, family=family, params=params, circuit=circuit)


# Built circuits by (family, version, canonical params, qubit limit). A family is a pure function of its
# params and a Circuit is immutable, so a sweep repeating a point, or a resubmission (the result
# cache's case), builds each circuit once per process; a 22-qubit random circuit takes milliseconds.
_BUILT: OrderedDict[tuple[str, int, str, int], Circuit] = OrderedDict()
_BUILT_MAX = 64
_BUILT_LOCK = threading.Lock()


def _build(family: Family, params: FamilyParams, max_qubits: int) -> Circuit:
    key = (family.name, family.version, canonical_json(params.model_dump(mode="json")), max_qubits)
    with _BUILT_LOCK:
        circuit = _BUILT.get(key)
        if circuit is not None:
            _BUILT.move_to_end(key)
            return circuit
    circuit = _build_new(family, params, max_qubits)  # an IRError is not remembered
    with _BUILT_LOCK:
        _BUILT[key] = circuit
        while len(_BUILT) > _BUILT_MAX:
            _BUILT.popitem(last=False)
    return circuit


def _build_new(family: Family, params: FamilyParams, max_qubits: int) -> Circuit:
    # OpenQASM checks the qubit limit while scanning, before qiskit parses anything.
    if family.name == "openqasm":
        from adapters.qasm import parse_qasm

        return parse_qasm(params.qasm, max_qubits=max_qubits)  # type: ignore[attr-defined]
    return family.build(params)
