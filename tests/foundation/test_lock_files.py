"""The lock files: a production install gets the portal and no test tool; the test install gets the same pins."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)", re.MULTILINE)
TEST_TOOLS = {"pytest", "pytest-django", "playwright", "pytest-playwright", "schemathesis", "ruff", "hypothesis"}


def pins(name: str) -> dict[str, str]:
    return {package.lower(): version for package, version in PIN.findall((ROOT / name).read_text())}


def test_a_production_install_brings_no_test_tool():
    assert TEST_TOOLS.isdisjoint(pins("requirements.lock"))
    assert {"django", "django-q2", "gunicorn", "qsimcirq", "qiskit-aer"} <= set(pins("requirements.lock"))


def test_the_test_install_runs_the_very_versions_production_runs():
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert set(dev) >= TEST_TOOLS
    assert {package: dev.get(package) for package in runtime} == runtime


def test_every_pin_carries_a_hash():
    for name in ("requirements.lock", "requirements-dev.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", (ROOT / name).read_text())
        pinned = [entry for entry in entries if "==" in entry.split("\n")[0]]
        unhashed = [entry.split()[0] for entry in pinned if "--hash=sha256:" not in entry]
        assert unhashed == [], f"{name}: {unhashed}"
