"""Fingerprints: the same problem hashes the same however its JSON was written; anything that
changes the run (params, shots, backend, SDK versions) changes the hash."""

from __future__ import annotations

import json

from adapters.ir import fingerprint
from adapters.versions import sdk_versions
from jobs.contract import ParsedJob, parse_job_request, resolve_job_request

VERSIONS = {"qiskit": "2.6.2", "cirq-core": "1.7.0", "numpy": "2.4.6"}
QAOA = {
    "n_nodes": 4,
    "edges": [[0, 1], [1, 2], [2, 3], [3, 0]],
    "p": 2,
    "gammas": [0.3, 0.6],
    "betas": [0.7, 0.1],
}


def parsed(body: dict | str) -> ParsedJob:
    raw = json.loads(body) if isinstance(body, str) else body
    return resolve_job_request(parse_job_request(raw))


def fp(body: dict | str, backend: str = "qsim", versions: dict[str, str] = VERSIONS) -> str:
    return parsed(body).fingerprint(backend, versions)


def request(params: dict = QAOA, **changes: object) -> dict:
    return {"experiment": 1, "family": "qaoa_maxcut", "params": params, "shots": 1000, **changes}


def test_identical_problems_hash_equal_whatever_the_params_order() -> None:
    reordered = dict(reversed(list(QAOA.items())))
    assert list(reordered) != list(QAOA)
    assert fp(request()) == fp(request(reordered))


def test_identical_problems_hash_equal_whatever_the_json_key_order() -> None:
    one = '{"experiment": 1, "family": "ghz", "shots": 500, "params": {"n_qubits": 4}}'
    two = '{"params": {"n_qubits": 4}, "shots": 500, "family": "ghz", "experiment": 1}'
    assert fp(one) == fp(two)


def test_sdk_version_order_does_not_matter() -> None:
    assert fp(request(), versions=dict(reversed(list(VERSIONS.items())))) == fp(request())


def test_float_noise_in_angles_does_not_split_identical_problems() -> None:
    noisy = {**QAOA, "gammas": [0.1 + 0.2, 0.6]}  # 0.30000000000000004
    assert fp(request(noisy)) == fp(request())


def test_defaults_written_out_hash_like_defaults_left_out() -> None:
    assert fp(request(family="bell", params={})) == fp(request(family="bell", params={"state": "phi+"}))


def test_a_different_param_changes_the_fingerprint() -> None:
    base = fp(request())
    assert fp(request({**QAOA, "gammas": [0.3, 0.61]})) != base
    assert fp(request({**QAOA, "edges": [[0, 1], [1, 2], [2, 3]]})) != base
    assert fp(request(family="ghz", params={"n_qubits": 5})) != fp(request(family="ghz", params={"n_qubits": 6}))


def test_different_shots_change_the_fingerprint() -> None:
    assert fp(request(shots=1001)) != fp(request())


def test_a_different_backend_changes_the_fingerprint() -> None:
    assert fp(request(), backend="aer") != fp(request(), backend="qsim")


def test_different_sdk_versions_change_the_fingerprint() -> None:
    assert fp(request(), versions={**VERSIONS, "qiskit": "2.6.3"}) != fp(request())
    assert fp(request(), versions={**VERSIONS, "qsimcirq": "0.22.1"}) != fp(request())


def test_the_default_versions_are_the_installed_sdks() -> None:
    job = parsed(request())
    assert job.fingerprint("qsim") == fingerprint(job.circuit, shots=1000, backend="qsim", sdk_versions=sdk_versions())
    assert len(job.fingerprint("qsim")) == 64


def test_fingerprints_stay_those_of_the_documented_payload_so_stored_results_stay_cache_hits() -> None:
    """Jobs store their fingerprint; the cache finds an earlier result only while the hash of the same
    problem does not change between releases. It is SHA-256 over the canonical JSON of this payload."""
    import hashlib

    from adapters.ir import _canon_float, canonical_json

    for body in (request(), request(family="ghz", params={"n_qubits": 5}), request(family="bell", params={})):
        circuit = parsed(body).circuit
        for params in (None, {"theta": 0.5, "alpha": 1e-17}):
            payload = {
                "circuit": circuit.to_json(),
                "params": {k: _canon_float(v) for k, v in sorted((params or {}).items())},
                "shots": 1000,
                "backend": 'aer-noisy:"q"',
                "sdk_versions": dict(sorted(VERSIONS.items())),
            }
            expected = hashlib.sha256(canonical_json(payload).encode()).hexdigest()
            actual = fingerprint(circuit, shots=1000, backend='aer-noisy:"q"', sdk_versions=VERSIONS, params=params)
            assert actual == expected
