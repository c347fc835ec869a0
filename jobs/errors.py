"""The error a job request raises when the contract or a family refuses it (lowest module of the
jobs app: the contract and the families both raise it)."""

from __future__ import annotations


class ContractError(ValueError):
    """A request the contract refuses. `field` is a dotted path (``params.n_qubits``), the first of
    `errors` when several fields are refused at once (each `{"field", "message", "type"}`)."""

    def __init__(
        self, field: str, message: str, code: str = "invalid", errors: list[dict[str, str]] | None = None
    ) -> None:
        self.field = field
        self.code = code
        self.message = message
        self.errors = errors or []
        super().__init__(f"{field}: {message}")
