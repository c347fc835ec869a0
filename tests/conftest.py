"""Shared fixtures: the demo cast (alice/bob in qlab, carol in optics) and browser settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import factories

# Live-server tests run Django's ORM from Playwright's event-loop thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class Cast:
    qlab: object
    optics: object
    klass: object
    qlab_budget: object
    optics_budget: object
    qlab_experiment: object
    optics_experiment: object
    alice: object  # researcher, qlab
    bob: object  # approver, qlab
    carol: object  # researcher, optics
    dave: object  # approver, optics


@pytest.fixture
def cast(db) -> Cast:  # noqa: ANN001
    qlab, optics = factories.make_team("qlab"), factories.make_team("optics")
    klass = factories.make_class("algorithm_validation")
    return Cast(
        qlab=qlab,
        optics=optics,
        klass=klass,
        qlab_budget=factories.make_budget(qlab, klass),
        optics_budget=factories.make_budget(optics, klass),
        qlab_experiment=factories.make_experiment(qlab, klass, "qlab experiment"),
        optics_experiment=factories.make_experiment(optics, klass, "optics experiment"),
        alice=factories.make_user("alice", qlab, "researcher"),
        bob=factories.make_user("bob", qlab, "approver"),
        carol=factories.make_user("carol", optics, "researcher"),
        dave=factories.make_user("dave", optics, "approver"),
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # noqa: ANN001, ANN201
    """Debian's chromium, never a downloaded browser; quiet on a machine with no network."""
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (python3.11 -m hybridportal.dev test installs it)")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _slow_reads_read_every_time(settings: Any) -> None:
    """Tests see each price and run record at once; the tests of `jobs.slow_reads` turn the cache on."""
    settings.SLOW_READS_SECONDS = 0


@pytest.fixture(autouse=True)
def _fresh_estimates() -> None:
    """Each test's quotes learn from its own run records only: the models a process keeps would
    otherwise carry one test's runs into the next (the database rolls back, the process does not)."""
    from jobs import estimates, slow_reads

    estimates.forget()
    slow_reads.forget()
