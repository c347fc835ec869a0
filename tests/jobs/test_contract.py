"""The job contract: every refusal names its field and says the limit; a valid request resolves to
a bound circuit with its ideal. Pure — no database."""

from __future__ import annotations

import time

import pytest

from jobs.contract import (
    MAX_PARAMS_BYTES,
    MAX_SHOTS,
    ContractError,
    ParsedJob,
    max_qubits_any,
    parse_job_request,
    resolve_job_request,
)


@pytest.fixture(autouse=True, scope="module")
def _registry_loaded() -> None:
    """The adapter registry's one-time import is not what the timing assertions measure."""
    max_qubits_any()


BASE = {"experiment": 1, "family": "ghz", "params": {"n_qubits": 5}}
QASM_HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


def resolve(**changes: object) -> ParsedJob:
    return resolve_job_request(parse_job_request({**BASE, **changes}))


def refusal(**changes: object) -> ContractError:
    with pytest.raises(ContractError) as info:
        resolve(**changes)
    return info.value


def test_a_valid_request_resolves_to_a_bound_circuit_with_its_ideal() -> None:
    parsed = resolve()
    assert parsed.family.name == "ghz" and parsed.family_version == 1
    assert parsed.n_qubits == 5
    assert parsed.circuit.is_bound
    assert parsed.ideal == {"00000": 0.5, "11111": 0.5}
    assert parsed.params_json == {"n_qubits": 5}


def test_params_json_records_the_defaults_the_job_ran_with() -> None:
    parsed = resolve(family="grover", params={"n_qubits": 3, "marked": "110"})
    assert parsed.params_json == {"n_qubits": 3, "marked": "110", "iterations": None}
    parsed = resolve(family="bell", params={})
    assert parsed.params_json == {"state": "phi+"}


def test_every_family_example_resolves() -> None:
    from jobs.families import FAMILIES

    for name, versions in FAMILIES.items():
        for version, family in versions.items():
            parsed = resolve(family=name, family_version=version, params=dict(family.example))
            assert parsed.n_qubits >= 1


def test_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ContractError) as info:
        parse_job_request(["ghz"])
    assert info.value.field == "body"


def test_unknown_family_is_refused_naming_family() -> None:
    err = refusal(family="warp_drive")
    assert err.field == "family"
    assert "ghz" in err.message


def test_unknown_family_version_is_refused_naming_family_version() -> None:
    err = refusal(family_version=9)
    assert err.field == "family_version"
    assert err.message == "family_version must be 1 for ghz; it has no version 9."


def test_too_many_qubits_for_the_family_is_refused_with_the_limit() -> None:
    err = refusal(family="qft", params={"n_qubits": 25})
    assert err.field == "params.n_qubits"
    assert err.message == "params.n_qubits must be at most 24."


def test_too_many_qubits_for_every_backend_is_refused_with_the_backends_limit() -> None:
    with pytest.raises(ContractError) as info:
        resolve_job_request(parse_job_request({**BASE, "params": {"n_qubits": 40}}), max_qubits=30)
    err = info.value
    assert err.field == "params.n_qubits"
    assert "40 qubits" in err.message and "30" in err.message


def test_the_default_qubit_limit_is_the_widest_backends() -> None:
    limit = max_qubits_any()
    assert limit >= 2
    err = refusal(params={"n_qubits": limit + 1})
    assert err.field == "params.n_qubits"
    assert str(min(limit, 156)) in err.message


def test_too_wide_secret_names_the_secret() -> None:
    with pytest.raises(ContractError) as info:
        resolve_job_request(
            parse_job_request({**BASE, "family": "bernstein_vazirani", "params": {"secret": "1" * 30}}), max_qubits=20
        )
    assert info.value.field == "params.secret"
    assert "31 qubits" in info.value.message


@pytest.mark.parametrize(
    ("shots", "limit"), [(0, "shots must be at least 1."), (MAX_SHOTS + 1, "shots must be at most 1000000.")]
)
def test_shots_out_of_range_are_refused_with_the_limit(shots: int, limit: str) -> None:
    err = refusal(shots=shots)
    assert err.field == "shots"
    assert limit in err.message


def test_unknown_param_key_is_refused_naming_it() -> None:
    err = refusal(params={"n_qubits": 5, "depth": 3})
    assert err.field == "params.depth"
    assert err.message == "params.depth is not a field this request accepts."


def test_unknown_request_key_is_refused_naming_it() -> None:
    err = refusal(colour="blue")
    assert err.field == "colour"


def test_missing_param_is_refused_naming_it() -> None:
    err = refusal(params={})
    assert (err.field, err.message) == ("params.n_qubits", "params.n_qubits is required.")


def test_wrong_param_type_is_refused_naming_it() -> None:
    assert refusal(params={"n_qubits": "five"}).field == "params.n_qubits"


def test_list_param_of_the_wrong_length_names_the_param_and_the_expected_length() -> None:
    err = refusal(
        family="qaoa_maxcut", params={"n_nodes": 3, "edges": [[0, 1]], "p": 2, "gammas": [0.1], "betas": [0.1, 0.2]}
    )
    assert err.field == "params.gammas"
    assert "p = 2" in err.message


@pytest.mark.parametrize("label", ["has space", "", "x" * 65, "semi;colon"])
def test_wrong_label_format_is_refused_naming_labels(label: str) -> None:
    err = refusal(labels=["ok", label])
    assert err.field == "labels"
    assert "labels[1]" in err.message


def test_too_large_params_payload_is_refused_with_the_limit() -> None:
    err = refusal(family="zz_feature_map", params={"n_qubits": 2, "x": [0.123456789] * 60_000})
    assert err.field == "params"
    assert f"params must be at most {MAX_PARAMS_BYTES} bytes" in err.message


def test_nan_in_params_is_refused() -> None:
    err = refusal(family="zz_feature_map", params={"n_qubits": 1, "x": [float("nan")]})
    assert err.field.startswith("params")


# --- OpenQASM through the contract ------------------------------------------------------------------
def qasm_refusal(text: str, **kwargs: int) -> tuple[ContractError, float]:
    started = time.perf_counter()
    with pytest.raises(ContractError) as info:
        resolve_job_request(parse_job_request({**BASE, "family": "openqasm", "params": {"qasm": text}}), **kwargs)
    return info.value, time.perf_counter() - started


def test_openqasm_resolves_to_its_circuit_and_ideal() -> None:
    text = QASM_HEADER + "qreg q[2];\ncreg c[2];\nx q[0];\ncx q[0],q[1];\nmeasure q -> c;\n"
    parsed = resolve(family="openqasm", params={"qasm": text})
    assert parsed.n_qubits == 2
    assert parsed.ideal == {"11": pytest.approx(1.0)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (QASM_HEADER + "qreg q[1];\n" + "x q[0];\n" * 1_300_000, "at most 524288 bytes"),
        (QASM_HEADER + "qreg q[1000];\n", "1000 qubits"),
        (QASM_HEADER + "qreg q[1];\nrz(" + "(" * 10_000 + "0" + ")" * 10_000 + ") q[0];\n", "nested deeper"),
        ('OPENQASM 2.0;\ninclude "/etc/passwd";\nqreg q[1];\n', "/etc/passwd"),
    ],
    ids=["10 MB", "1000 qubits", "10000-deep parentheses", "include /etc/passwd"],
)
def test_hostile_openqasm_is_refused_fast_with_a_clear_error(text: str, expected: str) -> None:
    err, seconds = qasm_refusal(text)  # the real backends' limit
    assert err.field in ("params", "params.qasm")
    assert expected in err.message
    assert seconds < 1.0


def test_openqasm_syntax_error_reports_its_line() -> None:
    err, _ = qasm_refusal(QASM_HEADER + "qreg q[2];\nh q[0];\ncx q[0] q[1];\n")
    assert err.field == "params.qasm"
    assert err.message.startswith("params.qasm is not accepted: line 5, column 1:")


def test_an_objective_the_family_cannot_serve_is_refused_naming_objective() -> None:
    err = refusal(objective="minimize")
    assert err.field == "objective"
    assert "objective must be sample for ghz" in err.message


def test_variational_families_accept_expectation_and_minimize() -> None:
    from jobs.families import get_family

    for name in ("vqe_ising", "qaoa_maxcut"):
        for objective in ("expectation", "minimize"):
            params = dict(get_family(name).example)
            assert resolve(family=name, params=params, objective=objective).family.name == name
