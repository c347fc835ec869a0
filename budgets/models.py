"""Teams, roles, money and the audit trail.

Money is integer micro-units (1 USD = 1_000_000) of the one configured currency. `budgets` is the
bottom of the import chain: it never imports `jobs`; a hold names its job through the lazy
"jobs.Job" reference.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from budgets.errors import Forbidden
from budgets.money import format_money

TIER_NAMES = {0: "local simulator", 1: "scaled simulator", 2: "noisy simulator", 3: "hardware"}
HARDWARE_TIER = 3  # the first tier that runs on a vendor's device, not a simulator


def tier_text(tier: int) -> str:
    """'3 (hardware)': a tier as a researcher reads it."""
    return f"{tier} ({TIER_NAMES.get(tier, 'tier')})"


class Role(models.TextChoices):
    RESEARCHER = "researcher", "Researcher"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Team admin"


class Team(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RESEARCHER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_user_team_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} as {self.role}"

    @property
    def can_approve(self) -> bool:
        return self.role in {Role.APPROVER, Role.ADMIN}


class ExperimentClass(models.Model):
    """What a job's money is for; budgets and approval rules hang off it."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Jobs at this tier or above need a human sign-off whatever they cost (3 = hardware).
    approval_tier = models.PositiveSmallIntegerField(default=3)
    # Over-budget jobs are parked for approval instead of refused.
    park_over_budget = models.BooleanField(default=False)

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "experiment classes"

    def __str__(self) -> str:
        return self.name


class Period(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    ALL_TIME = "all_time", "All time"


class Budget(models.Model):
    """One team's money for one experiment class.

    `reserved` moves only through holds, `spent` only through settlement; both by conditional
    UPDATEs, with the CHECK constraint as the last line of defence against overspending.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="budgets")
    experiment_class = models.ForeignKey(ExperimentClass, on_delete=models.PROTECT, related_name="budgets")
    period = models.CharField(max_length=16, choices=Period.choices, default=Period.MONTHLY)
    period_start = models.DateTimeField()
    limit_micros = models.BigIntegerField(default=0)
    spent_micros = models.BigIntegerField(default=0)
    reserved_micros = models.BigIntegerField(default=0)
    approval_threshold_micros = models.BigIntegerField(default=0)
    max_tier = models.PositiveSmallIntegerField(default=3)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__slug", "experiment_class__slug"]
        constraints = [
            models.UniqueConstraint(fields=["team", "experiment_class"], name="budget_team_class_unique"),
            models.CheckConstraint(
                condition=Q(reserved_micros__gte=0)
                & Q(spent_micros__gte=0)
                & Q(spent_micros__lte=F("limit_micros") - F("reserved_micros")),
                name="budget_never_overspent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team.slug} / {self.experiment_class.slug}"

    @property
    def remaining_micros(self) -> int:
        return self.limit_micros - self.spent_micros - self.reserved_micros

    @property
    def label(self) -> str:
        """'qlab / executive_demo': how errors name a budget."""
        return f"{self.team.slug} / {self.experiment_class.slug}"

    def allows_tier(self, tier: int | None) -> bool:
        return (tier or 0) <= self.max_tier

    def check_tier(self, tier: int) -> None:
        """Refuse a backend tier above what this budget allows (Forbidden, field "max_tier")."""
        if not self.allows_tier(tier):
            raise Forbidden(
                f"tier {tier_text(tier)} is above the highest tier this budget allows ({tier_text(self.max_tier)})",
                field="max_tier",
                code="tier_not_allowed",
                detail={"tier": tier, "max_tier": self.max_tier},
            )

    def tier_refusal(self, tier: int) -> str:
        """Why a job at `tier` may not run on this budget (for a tier it does not allow)."""
        highest = tier_text(self.max_tier)
        return f"tier {tier_text(tier)} is above tier {highest}, the highest the {self.label} budget allows"

    def approval_reasons(self, cost_micros: int, tier: int) -> list[str]:
        """Why a job of this cost and tier needs a second person's sign-off under the budget's rules as
        they are now; empty when it needs none. A threshold of 0 means every job that costs anything
        needs sign-off (free jobs never do)."""
        reasons = []
        if cost_micros > self.approval_threshold_micros:
            reasons.append(
                f"estimate {format_money(cost_micros)} above the approval threshold "
                f"{format_money(self.approval_threshold_micros)}"
            )
        if tier >= self.experiment_class.approval_tier:
            reasons.append(f"tier {tier_text(tier)} needs sign-off in {self.experiment_class.name}")
        return reasons


class HoldStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SETTLED = "settled", "Settled"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"


class Hold(models.Model):
    """Money reserved for one job until it settles, is released, or expires."""

    budget = models.ForeignKey(Budget, on_delete=models.PROTECT, related_name="holds")
    job = models.OneToOneField("jobs.Job", on_delete=models.PROTECT, related_name="hold")
    amount_micros = models.BigIntegerField()
    settled_micros = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=HoldStatus.choices, default=HoldStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "expires_at"], name="hold_status_expiry")]
        constraints = [models.CheckConstraint(condition=Q(amount_micros__gte=0), name="hold_amount_nonneg")]

    def __str__(self) -> str:
        return f"hold {self.pk} for job {self.job_id}: {self.amount_micros} µ ({self.status})"


class LedgerKind(models.TextChoices):
    RESERVE = "reserve", "Reserve"
    SETTLE = "settle", "Settle"
    RELEASE = "release", "Release"
    EXPIRE = "expire", "Expire"
    TOP_UP = "top_up", "Top up"
    NEW_PERIOD = "new_period", "New period"
    SET_LIMIT = "set_limit", "Set limit"


class LedgerEntry(models.Model):
    """Append-only record of every money movement. Never updated or deleted."""

    budget = models.ForeignKey(Budget, on_delete=models.PROTECT, related_name="ledger", db_index=False)  # see Meta
    kind = models.CharField(max_length=16, choices=LedgerKind.choices)
    amount_micros = models.BigIntegerField()
    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    memo = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["budget", "created_at"], name="ledger_budget_created")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_micros} µ on budget {self.budget_id}"

    def save(self, *args, **kwargs):  # noqa: ANN002, ANN003
        if self.pk is not None:
            raise ValueError("ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003
        raise ValueError("ledger entries are append-only")


class BudgetAlert(models.Model):
    """A 50/80/100 % threshold crossed once in a budget period."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    threshold_percent = models.PositiveSmallIntegerField()
    period_start = models.DateTimeField()
    used_micros = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "threshold_percent", "period_start"], name="alert_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.threshold_percent}% of budget {self.budget_id}"


class PriceModelKind(models.TextChoices):
    FREE = "free", "Free"
    PER_TASK_SHOT = "per_task_shot", "Per task + per shot (Braket style)"
    PER_SECOND = "per_second", "Per QPU second (IBM style)"
    PER_MINUTE = "per_minute", "Per simulated minute (SV1 style)"


class PriceModel(models.Model):
    """Admin override of an adapter's built-in price for one backend id."""

    backend_id = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=PriceModelKind.choices, default=PriceModelKind.FREE)
    per_task_micros = models.BigIntegerField(default=0)
    per_shot_micros = models.BigIntegerField(default=0)
    per_second_micros = models.BigIntegerField(default=0)
    per_minute_micros = models.BigIntegerField(default=0)
    min_seconds = models.FloatField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["backend_id"]

    def __str__(self) -> str:
        return f"{self.backend_id} ({self.get_kind_display()})"


class ApiToken(models.Model):
    """A bearer token. Only a SHA-256 of the secret is stored; the secret is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)  # shown in the UI to tell tokens apart
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)  # subset of ["read", "submit", "approve"]
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class AuditEvent(models.Model):
    """Append-only audit trail: logins, denials, submissions, approvals, reroutes, budget changes."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True)
    target = models.CharField(max_length=200, blank=True)  # "job:<uuid>", "budget:12", ...
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"

    def save(self, *args, **kwargs):  # noqa: ANN002, ANN003
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)


class ApiRateWindow(models.Model):
    """One API caller's current rate-limit window: when it began and how many requests it let through.

    Counted by conditional UPDATEs (`budgets.rate_limits`), so requests racing on any number of web
    processes never let more than the limit through; one row per caller, reused window after window.
    """

    key = models.CharField(max_length=64, unique=True)  # "token:12", or "user:3" for a browser session
    started_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.started_at:%H:%M:%S}"
