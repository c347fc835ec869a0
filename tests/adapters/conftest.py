"""Adapter tests need no database: they build adapters from a plain config dict, like the jobs app does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters import registry
from adapters.config import BackendConfig


@pytest.fixture
def config(tmp_path: Path) -> BackendConfig:
    return BackendConfig.from_mapping(
        {
            "memory_limit_bytes": 8 * 1024**3,
            "qsim_threads": 2,
            "ibm_token": "",
            "emulated_queue_seconds": 0.5,
            "emulated_run_seconds_max": 0.2,
            "state_dir": str(tmp_path / "adapters"),
        }
    )


@pytest.fixture
def configured(config: BackendConfig) -> Iterator[BackendConfig]:
    """The registry configured for one test, restored to defaults after it."""
    registry.configure(config)
    yield config
    registry.configure(None)
