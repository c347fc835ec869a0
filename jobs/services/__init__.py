"""All writes to jobs: submit (with quote, cache and idempotency), lifecycle controls and approvals.

Rules every function here keeps:

* One `transaction.atomic()` per user action (a submission's too: see `submit.submit_pipeline`).
  Every status change goes through `jobs.lifecycle.transition` (a conditional UPDATE plus a JobEvent
  with actor and reason).
* Controls lock the job row first (`select_for_update`, or the transition's UPDATE as the first write),
  then the approval, then the hold and the budget — one lock order, so two actions on the same job
  queue behind each other instead of deadlocking.
* The task of a queued job is written in the action's transaction (the ORM broker's row commits and
  rolls back with the job); other side effects (e-mail, vendor cancel) run in `transaction.on_commit`.
  A rolled-back action never enqueues or mails anything.
* Permissions: any member of the job's team (researcher, approver, admin) may submit, pause, resume,
  cancel, reroute and rerun the team's jobs — a team shares its queue. Only approvers and admins other
  than the submitter may decide an approval. Another team's job is NotFound, never Forbidden.
"""

from jobs.services.approvals import approval_decide, approvals_expire
from jobs.services.experiments import experiment_create
from jobs.services.idempotency import JOBS_BATCH_ROUTE, JOBS_ROUTE, idempotency_keys_purge
from jobs.services.identity import request_body_sha256, seed_for, trace_id_from
from jobs.services.lifecycle_controls import job_cancel, job_pause, job_reroute, job_rerun, job_resume
from jobs.services.notifications import DIGEST_LISTED
from jobs.services.quotes import Quote, job_quote
from jobs.services.submit import BatchSubmitResult, SubmitResult, job_submit, job_submit_batch
from jobs.services.writes import NON_TERMINAL, enqueue_queued

__all__ = [
    "DIGEST_LISTED",
    "JOBS_BATCH_ROUTE",
    "JOBS_ROUTE",
    "NON_TERMINAL",
    "BatchSubmitResult",
    "Quote",
    "SubmitResult",
    "approval_decide",
    "approvals_expire",
    "enqueue_queued",
    "experiment_create",
    "idempotency_keys_purge",
    "job_cancel",
    "job_pause",
    "job_quote",
    "job_reroute",
    "job_rerun",
    "job_resume",
    "job_submit",
    "job_submit_batch",
    "request_body_sha256",
    "seed_for",
    "trace_id_from",
]
