"""Experiments, jobs, their audit trail and approvals.

The Job row — not django-q2's task table — is the source of truth. Every status change goes through
`jobs.lifecycle.transition` (a conditional UPDATE plus a JobEvent), never `job.save()`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.db import models

from budgets.models import ExperimentClass, Team

CONTRACT_VERSION = 1


class DataClassification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class Experiment(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    experiment_class = models.ForeignKey(
        ExperimentClass, on_delete=models.PROTECT, related_name="experiments", null=True, blank=True
    )
    data_classification = models.CharField(
        max_length=16, choices=DataClassification.choices, default=DataClassification.INTERNAL
    )
    retention_days = models.PositiveIntegerField(default=365)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__slug", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="experiment_team_name_unique")]

    def __str__(self) -> str:
        return f"{self.team.slug}/{self.name}"


class JobStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.REJECTED})


class Objective(models.TextChoices):
    SAMPLE = "sample", "Sample"
    EXPECTATION = "expectation", "Expectation value"
    MINIMIZE = "minimize", "Minimize"


class Priority(models.TextChoices):
    INTERACTIVE = "interactive", "Interactive"
    BATCH = "batch", "Batch"


class PreEncoded(dict):  # type: ignore[type-arg]
    """A JSON object that already has its text: saved as that text, read as the dict it is. A submission
    serialises a job's circuit for its fingerprint; a 22-qubit circuit takes ~1 ms to serialise again."""

    def __init__(self, value: dict[str, Any], text: str) -> None:
        super().__init__(value)
        self.text: str | None = text

    def _changed(name: str) -> Any:  # noqa: N805 - builds the methods below
        def method(self: PreEncoded, *args: Any, **kwargs: Any) -> Any:
            self.text = None  # changed in place: the text no longer says what it holds
            return getattr(dict, name)(self, *args, **kwargs)

        return method

    __setitem__ = _changed("__setitem__")
    __delitem__ = _changed("__delitem__")
    update = _changed("update")
    pop = _changed("pop")
    popitem = _changed("popitem")
    setdefault = _changed("setdefault")
    clear = _changed("clear")
    __ior__ = _changed("__ior__")
    del _changed


class PreEncodedJSONEncoder(json.JSONEncoder):
    def encode(self, o: Any) -> str:
        if isinstance(o, PreEncoded) and o.text is not None:
            return o.text
        return super().encode(o)


# Jobs that ran to an outcome (cache hits never ran): the rows the backend policy learns from (see
# Job.Meta.indexes).
RAN = models.Q(finished_at__isnull=False, status__in=["succeeded", "failed"], cached_from__isnull=True)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # team and experiment lead the composite indexes below: a single-column index of their own would
    # only cost every insert and status change one more index entry.
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="jobs", db_index=False)
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="jobs", db_index=False)
    experiment_class = models.ForeignKey(ExperimentClass, on_delete=models.PROTECT, related_name="jobs")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs")

    # --- the request, as declared (contract v1) ---
    schema_version = models.PositiveSmallIntegerField(default=CONTRACT_VERSION)
    family = models.CharField(max_length=40)
    family_version = models.PositiveSmallIntegerField()
    params = models.JSONField(default=dict)
    objective = models.CharField(max_length=16, choices=Objective.choices, default=Objective.SAMPLE)
    shots = models.PositiveIntegerField()
    max_tier = models.PositiveSmallIntegerField(default=0)
    backend_pin = models.CharField(max_length=100, blank=True)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.INTERACTIVE)
    labels = models.JSONField(default=list, blank=True)
    budget_ceiling_micros = models.BigIntegerField(null=True, blank=True)
    no_cache = models.BooleanField(default=False)

    # --- what the portal decided ---
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.SUBMITTED)
    paused_from = models.CharField(max_length=20, blank=True)  # where `resume` returns to
    backend = models.CharField(max_length=100, blank=True)
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    emulated = models.BooleanField(default=False)
    policy_reasons = models.JSONField(default=list, blank=True)
    estimate = models.JSONField(default=dict, blank=True)  # cost_micros, seconds, backend, reasons, ...
    needs_approval = models.BooleanField(default=False)

    # --- reproducibility ---
    circuit = models.JSONField(default=dict, encoder=PreEncodedJSONEncoder)  # canonical IR, parameters bound
    n_qubits = models.PositiveIntegerField(default=0)
    fingerprint = models.CharField(max_length=64, blank=True)
    sdk_versions = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    calibration = models.JSONField(default=dict, blank=True)  # device, date, snapshot reference

    # --- execution ---
    trace_id = models.CharField(max_length=32, blank=True)
    cached_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="cache_hits")
    remote_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    deadline = models.DateTimeField(null=True, blank=True)  # a running job past this is reaped
    # The worker process that claimed it ("host:pid:start") and when its cluster last saw that process
    # alive (jobs.heartbeat): a running job whose heartbeat is stale is reaped long before its deadline.
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)  # retry backoff

    # --- outcome ---
    counts = models.JSONField(null=True, blank=True)  # bitstring (qubit 0 leftmost) → count
    result_meta = models.JSONField(default=dict, blank=True)  # execute/transpile time, precision, ...
    metrics = models.JSONField(default=dict, blank=True)
    cost_micros = models.BigIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="job_team_created"),
            models.Index(fields=["status", "created_at"], name="job_status_created"),
            models.Index(fields=["team", "status"], name="job_team_status"),
            models.Index(fields=["fingerprint", "status"], name="job_fingerprint_status"),
            models.Index(fields=["backend", "status"], name="job_backend_status"),
            models.Index(fields=["experiment", "-created_at"], name="job_experiment_created"),
            # The policy's run records: a backend's latest finished runs (circuit breaker) and its
            # latest runs of a family (observed speed). Partial: a backlog of unfinished jobs would
            # otherwise sit first in a newest-first scan, and the narrower index is the planner's pick.
            models.Index(
                fields=["backend", "-finished_at"],
                name="job_backend_finished",
                condition=RAN,
            ),
            models.Index(
                fields=["family", "backend", "-finished_at"],
                name="job_family_backend_finished",
                condition=RAN,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family} {str(self.id)[:8]} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Stage(models.TextChoices):
    LIFECYCLE = "lifecycle", "Lifecycle"
    VALIDATE = "validate", "Validate"
    ASSEMBLE = "assemble", "Assemble"
    SELECT = "select", "Select backend"
    QUEUE_WAIT = "queue_wait", "Queue wait"
    VENDOR_QUEUE = "vendor_queue", "Vendor queue"  # a hardware job waiting for the device (jobs.vendor_queue)
    APPROVAL_WAIT = "approval_wait", "Approval wait"
    TRANSPILE = "transpile", "Transpile"
    EXECUTE = "execute", "Execute"
    PARSE = "parse", "Parse"
    POSTPROCESS = "postprocess", "Post-process"


class JobEvent(models.Model):
    """Append-only: one status transition or one timed stage of one job."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events", db_index=False)  # see Meta
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor_label = models.CharField(max_length=100, blank=True)  # "worker", "reaper", a username, ...
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.LIFECYCLE)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["job", "created_at"], name="jobevent_job_created")]

    def __str__(self) -> str:
        return f"{self.job_id} {self.stage} {self.from_status}→{self.to_status}"

    def save(self, *args, **kwargs):  # noqa: ANN002, ANN003
        if self.pk is not None:
            raise ValueError("job events are append-only")
        super().save(*args, **kwargs)


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    # No longer needed: the job was cancelled, or rerouted to a backend that needs no sign-off.
    WITHDRAWN = "withdrawn", "Withdrawn"


class Approval(models.Model):
    """A request for a second person's sign-off on one job.

    One row per job: a reroute that needs sign-off again reopens it as a new pending request (the
    earlier decision stays in the job's events and the audit trail). Deciding is a conditional UPDATE
    on `status="pending"`, so of two approvers deciding at once exactly one wins.
    """

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="approval")
    status = models.CharField(max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    reasons = models.JSONField(default=list, blank=True)  # why sign-off is needed
    requested_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="approvals"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)  # backend / shots changed by the approver

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "expires_at"], name="approval_status_expiry")]

    def __str__(self) -> str:
        return f"approval of {self.job_id} ({self.status})"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key, claimed in the same transaction as the job it creates."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    route = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)  # null while in flight
    response_body = models.JSONField(null=True, blank=True)
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "method", "route", "key"], name="idempotency_scope_unique")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.route} {self.key}"
