"""Worker tasks for money: the periodic sweep (stale holds, monthly period rollover).

Scheduled by `jobs.tasks.ensure_schedules` every SWEEP_MINUTES on the interactive cluster.
Safe to run twice or on several clusters at once: each hold and budget is re-checked under its row lock.
"""

from __future__ import annotations

import logging

from budgets.services.budgets import budget_roll_periods
from budgets.services.sweeper import holds_expire

logger = logging.getLogger(__name__)

SWEEP_MINUTES = 5


def money_sweep() -> dict[str, int]:
    """Expire leaked holds and start new monthly periods; returns what it did (shown in django-q2's admin)."""
    result = {"holds_closed": holds_expire(), "periods_started": budget_roll_periods()}
    if any(result.values()):
        logger.info("money sweep: %s", result)
    return result
