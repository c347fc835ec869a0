"""Raw OpenQASM 2 / 3 for advanced users: the text is checked against cheap limits, parsed by
qiskit and converted to IR (`adapters.qasm.parse_qasm`); refusals are reported under params.qasm."""

from __future__ import annotations

from pydantic import Field

from adapters.ir import Circuit
from adapters.qasm import MAX_QASM_BYTES, parse_qasm
from jobs.families.base import Family, FamilyParams
from jobs.families.statevector import ideal_distribution

NAME = "openqasm"
VERSION = 1


class OpenQasmParams(FamilyParams):
    qasm: str = Field(
        min_length=1,
        max_length=MAX_QASM_BYTES,
        description='an OpenQASM 2 or 3 program; include only "qelib1.inc" / "stdgates.inc"; measure at the end',
    )


def build(params: OpenQasmParams) -> Circuit:
    return parse_qasm(params.qasm)


def ideal(params: OpenQasmParams) -> dict[str, float] | None:
    return ideal_distribution(build(params))  # None past MAX_SIM_QUBITS


FAMILY = Family(
    name=NAME,
    version=VERSION,
    title="OpenQASM",
    description="Your own OpenQASM 2/3 circuit; ideal: exact distribution up to 16 qubits.",
    params_model=OpenQasmParams,
    build=build,
    ideal=ideal,
    example={
        "qasm": 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\n'
        "measure q -> c;\n"
    },
    qubits_field="qasm",
)
