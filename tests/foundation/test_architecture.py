"""The house's import rules, checked by import-linter (contracts in pyproject.toml): apps import
downwards only (hybridportal → benchmarks → jobs → budgets → adapters) and no app's modules import
each other in a cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_upward_import_and_no_import_cycle():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "2 kept, 0 broken" in result.stdout
