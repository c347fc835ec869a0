"""SDK failures reach the jobs layer classified: retry what is temporary, fail what never will work."""

from __future__ import annotations

import pytest

from adapters import registry
from adapters.base import CapacityError, ExecutionRequest, PermanentBackendError, TransientBackendError
from adapters.config import BackendConfig
from adapters.errors import classify, sdk_errors
from adapters.ir import Circuit, Op, ParamRef


class VendorHTTPError(Exception):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TimeoutError("read timed out"), TransientBackendError),
        (ConnectionError("connection reset by peer"), TransientBackendError),
        (VendorHTTPError("Service Unavailable", 503), TransientBackendError),
        (VendorHTTPError("Too Many Requests", 429), TransientBackendError),
        (RuntimeError("the device queue is full, try again later"), TransientBackendError),
        (VendorHTTPError("Unauthorized: invalid token", 401), PermanentBackendError),
        (VendorHTTPError("Bad Request: circuit too deep", 400), PermanentBackendError),
        (ValueError("unsupported instruction 'foo'"), PermanentBackendError),
        (MemoryError(), CapacityError),
    ],
)
def test_sdk_exceptions_are_classified(exc: Exception, kind: type) -> None:
    error = classify(exc, "ibm:fake_manila")
    assert type(error) is kind
    assert str(error).startswith("ibm:fake_manila")
    assert type(exc).__name__ in error.vendor_message  # the vendor's words are kept for the job page


def test_sdk_errors_context_keeps_the_cause() -> None:
    with pytest.raises(TransientBackendError) as raised, sdk_errors("aer"):
        raise TimeoutError("simulator timed out")
    assert isinstance(raised.value.__cause__, TimeoutError)
    assert raised.value.transient is True


def test_unbound_parameters_are_a_permanent_error(configured: BackendConfig) -> None:
    circuit = Circuit(1, (Op("rx", (0,), (ParamRef("theta"),)),))
    with pytest.raises(PermanentBackendError, match="theta"):
        registry.get_adapter("qsim").submit(ExecutionRequest("j", circuit, 10))
