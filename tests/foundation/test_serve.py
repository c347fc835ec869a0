"""`serve` keeps its children running: one that exits on its own is restarted, later each time it
keeps exiting. The whole command with real clusters: tests/workers/test_worker_death.py."""

from __future__ import annotations

import sys
from pathlib import Path

from hybridportal.management.commands.serve import Child


def test_a_child_that_keeps_exiting_is_restarted_after_a_growing_wait(tmp_path: Path) -> None:
    child = Child("qcluster:interactive", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path)
    child.start()
    waits = []
    for _ in range(4):
        assert child.proc is not None
        child.proc.wait(timeout=30)
        now = child.started + 1  # it exited a second after it started
        message = child.supervise(now)
        waits.append(message)
        assert child.supervise(now) is None  # not yet due
        assert child.restart_at is not None
        assert child.supervise(child.restart_at).startswith("qcluster:interactive restarted")
    child.proc.wait(timeout=30)
    child.kill_group()

    assert waits == [f"qcluster:interactive exited with 3; restarting it in {s} s" for s in ("1", "2", "4", "8")]


def test_a_child_that_ran_for_a_while_before_exiting_is_restarted_at_once(tmp_path: Path) -> None:
    child = Child("web", [sys.executable, "-c", "raise SystemExit(1)"], tmp_path)
    child.start()
    child.failures = 5  # it had trouble once, long ago
    assert child.proc is not None
    child.proc.wait(timeout=30)

    assert child.supervise(child.started + 3600) == "web exited with 1; restarting it in 1 s"
    child.kill_group()
