"""Browser tests: Debian's chromium (tests/conftest.py) against pytest-django's live server on the test
database, with real qcluster worker processes from tests/workers/conftest.py."""

from __future__ import annotations

import logging
from typing import Any

import pytest

# qiskit must be imported first on the main thread. Imported first inside a live-server request thread
# that then ends, any later qiskit call from another thread segfaults (reproduced with qiskit 2.x: build
# a QuantumCircuit in thread A that did the first import, join A, build one in thread B).
import qiskit  # noqa: F401

from tests.factories import PASSWORD
from tests.workers.conftest import start_cluster  # noqa: F401 - re-exported fixture

pytestmark = pytest.mark.browser


def sign_in(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.fixture(autouse=True)
def quiet_qiskit() -> Any:
    """qiskit logs every transpiler pass at INFO; from the live server's threads that floods the capture."""
    logger = logging.getLogger("qiskit")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.fixture
def shoot(artifacts_dir: Any) -> Any:
    """Save a full-page screenshot as a test artifact."""

    def save(page: Any, name: str) -> None:
        page.screenshot(path=str(artifacts_dir / f"{name}.png"), full_page=True)

    return save
