"""The memory guard: refuse a circuit before allocating its state, naming what this backend admits.

A statevector takes 2^n amplitudes of 8 bytes (complex64) or 16 bytes (complex128); a density matrix
4^n. The state may use at most `STATE_FRACTION` of the worker's memory limit: the simulator's scratch
space, the sampled shots and the Python process itself need the rest (qsim and Aer both allocate
working buffers beside the state).
"""

from __future__ import annotations

from adapters.base import CapacityError

BYTES_PER_AMPLITUDE = {"complex64": 8, "complex128": 16}
STATE_FRACTION = 0.75


def state_bytes(n_qubits: int, precision: str, *, density: bool = False) -> int:
    """Bytes of the full state of `n_qubits` (pure integer arithmetic: nothing is allocated)."""
    amplitudes = 4**n_qubits if density else 2**n_qubits
    return amplitudes * BYTES_PER_AMPLITUDE[precision]


def max_qubits(limit_bytes: int, precision: str, *, density: bool = False) -> int:
    """The widest state that fits the guard (0 when not even one qubit fits)."""
    budget = limit_bytes * STATE_FRACTION
    n = 0
    while state_bytes(n + 1, precision, density=density) <= budget:
        n += 1
    return n


def human_bytes(n: float, *, exact: bool = False) -> str:
    """``8.0 TiB`` (one decimal), or ``8 GiB`` with ``exact=True`` for configured round limits."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:g} {unit}" if exact or unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _state_name(precision: str, density: bool) -> str:
    return f"{precision} {'density matrix' if density else 'statevector'}"


def guard(backend_id: str, n_qubits: int, precision: str, limit_bytes: int, *, density: bool = False) -> int:
    """Return the state's bytes, or raise CapacityError before anything is allocated.

    The message names the need, the backend's admitted maximum and the limit behind it, e.g.
    "40 qubits need 8.0 TiB for a complex64 statevector; qsim admits at most 29 qubits with 8 GiB worker
    memory".
    """
    need = state_bytes(n_qubits, precision, density=density)
    if need <= limit_bytes * STATE_FRACTION:
        return need
    admitted = max_qubits(limit_bytes, precision, density=density)
    raise CapacityError(
        f"{n_qubits} qubits need {human_bytes(need)} for a {_state_name(precision, density)}; "
        f"{backend_id} admits at most {admitted} qubits with {human_bytes(limit_bytes, exact=True)} worker memory"
    )
