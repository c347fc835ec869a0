"""What every write of the jobs app shares: the refusals it raises, the audit record, the JSON form
of a detail, the job row lock and the hand-over of queued jobs to the workers."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder

from adapters import registry
from budgets import services as budget_services
from budgets.errors import Conflict, Invalid
from jobs import selectors
from jobs.contract import ContractError
from jobs.models import Job, JobStatus
from jobs.queueing import enqueue_jobs

NON_TERMINAL = [
    JobStatus.SUBMITTED,
    JobStatus.AWAITING_APPROVAL,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.PAUSED,
]


def contract_refusal(exc: ContractError) -> Invalid:
    detail = exc.errors or None  # every refused field, each with its message
    return Invalid(exc.message, field=exc.field, code=None if exc.code == "invalid" else exc.code, detail=detail)


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def enqueue_queued(*jobs: Job) -> None:
    """Hand jobs that have just become queued to the workers, in the caller's transaction.

    With the ORM broker the task rows commit together with the jobs' queued status: a worker never
    sees a task for a job it cannot see, a rollback leaves no task behind, and a crash between the
    commit and the enqueue cannot lose a job (see `jobs.tasks.enqueue_job`; several jobs at once go
    in one INSERT per cluster, `jobs.tasks.enqueue_jobs`)."""
    enqueue_jobs(jobs)


def illegal_transition(job_id: object, verb: str) -> Conflict:
    current = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
    return Conflict(f"job is {current}; it cannot be {verb}", code="illegal_transition", detail={"status": current})


def job_audit(action: str, *, user: AbstractBaseUser, job: Job, **detail: Any) -> None:
    budget_services.audit_record(
        action=action, actor=user, team=job.team, target=f"job:{job.pk}", detail=jsonable(detail)
    )


def backend_calibration(backend_id: str) -> dict[str, Any]:
    calibration = registry.capabilities(backend_id).calibration
    return jsonable(dict(calibration)) if calibration else {}


def job_lock(user: AbstractBaseUser, job_id: object) -> Job:
    """The user's team's job, row-locked for the rest of the transaction (NotFound otherwise)."""
    job = selectors.job_get_for_user(user, job_id)
    return Job.objects.select_for_update().select_related("team", "experiment_class", "submitted_by").get(pk=job.pk)
