"""All writes to teams, budgets, holds, tokens and the audit trail, one module per topic.

`from budgets.services import hold_settle` keeps working: every name callers use is re-exported here.
"""

from budgets.models import TIER_NAMES
from budgets.services.alerts import ALERT_THRESHOLDS, alerts_check
from budgets.services.audit import audit_record, audit_rows
from budgets.services.budgets import (
    approval_reasons,
    budget_new_period,
    budget_roll_periods,
    budget_set,
    budget_top_up,
    check_tier_allowed,
    period_start_for,
)
from budgets.services.holds import (
    HOLD_TTL,
    budget_reserve,
    hold_adjust,
    hold_open,
    hold_release,
    hold_reserve,
    hold_rows,
    hold_settle,
    holds_open,
    holds_opened,
    write_holds,
)
from budgets.services.ledger import ledger_entry, ledger_write
from budgets.services.sweeper import ACTIVE_JOB_STATUSES, holds_expire
from budgets.services.tokens import TOKEN_PREFIX, TOKEN_SCOPES, token_authenticate, token_issue, token_revoke

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "ALERT_THRESHOLDS",
    "HOLD_TTL",
    "TIER_NAMES",
    "TOKEN_PREFIX",
    "TOKEN_SCOPES",
    "alerts_check",
    "approval_reasons",
    "audit_record",
    "audit_rows",
    "budget_new_period",
    "budget_reserve",
    "budget_roll_periods",
    "budget_set",
    "budget_top_up",
    "check_tier_allowed",
    "hold_adjust",
    "hold_open",
    "hold_release",
    "hold_reserve",
    "hold_rows",
    "hold_settle",
    "holds_expire",
    "holds_open",
    "holds_opened",
    "ledger_entry",
    "ledger_write",
    "period_start_for",
    "token_authenticate",
    "token_issue",
    "token_revoke",
    "write_holds",
]
