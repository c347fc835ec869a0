"""The worker's claim on PostgreSQL in one statement.

Every simulator job starts with the same three steps: read the job (with its hold and its backend's
price override), move it queued → running with a conditional UPDATE, and write the queue-wait stage and
the lifecycle event. Through the ORM that is five round trips (SELECT, BEGIN, UPDATE, INSERT, COMMIT)
and about 5 ms of query building per job; here it is one data-modifying CTE, atomic on its own.

It claims only a job that is plainly runnable now: queued, due, below the hardware tier, within its
budget's tier cap. Anything else (no such job, claimed elsewhere, a retry backoff not yet over, rerouted
to hardware, a cap lowered since the job was queued) returns None, and
`jobs.tasks.run_job` takes its ORM path, which says which of those it was. The rows it writes are the
ones `jobs.lifecycle.transition` writes for the same claim; tests/jobs/test_worker_sql.py compares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

from budgets.models import Budget, Hold, PriceModel
from jobs.lifecycle import emit_stage_span
from jobs.models import Job, JobEvent, JobStatus, PreEncoded, Stage
from jobs.policy import PRICE_FIELDS


def available() -> bool:
    """True where this path applies: PostgreSQL (SQLite has no data-modifying CTEs)."""
    return connection.vendor == "postgresql"


def _fields(model: type[Model]) -> list[Field]:
    return list(model._meta.concrete_fields)


@cache
def _claim_sql() -> str:
    qn = connection.ops.quote_name
    job, event, hold, price, budget = (m._meta.db_table for m in (Job, JobEvent, Hold, PriceModel, Budget))
    actor = JobEvent._meta.get_field("actor").db_type(connection)  # typed: a UNION's NULL is text
    team, klass, max_tier = (qn(Budget._meta.get_field(f).column) for f in ("team", "experiment_class", "max_tier"))
    selected = ", ".join(
        [f"c.{qn(f.column)}" for f in _fields(Job)]
        + [f"h.{qn(f.column)}" for f in _fields(Hold)]
        + [f"p.{qn(PriceModel._meta.get_field(name).column)}" for name in ("id", *PRICE_FIELDS)]
    )
    # `old` is the row as the statement found it: RETURNING gives only new values, and the queue wait
    # runs from the old `not_before` (a retry's backoff end). Its attempt count must still hold when the
    # UPDATE gets the row lock, so a claim racing another worker or the reaper changes nothing.
    # Names come from the models' metadata; every value is a bound parameter.
    return f"""
        WITH old AS (
            SELECT id, attempts, GREATEST(queued_at, not_before, created_at) AS waited_from
            FROM {qn(job)} WHERE id = %(id)s
        ), c AS (
            UPDATE {qn(job)} AS j
            SET status = %(running)s, updated_at = %(now)s, started_at = %(now)s, deadline = %(deadline)s,
                attempts = j.attempts + 1, not_before = NULL, seed = COALESCE(j.seed, %(seed)s),
                worker = %(worker)s, heartbeat_at = %(now)s
            FROM old
            WHERE j.id = old.id AND j.attempts = old.attempts AND j.status = %(queued)s
              AND (j.not_before IS NULL OR j.not_before <= %(now)s)
              AND COALESCE(j.tier, 0) < %(hardware_tier)s
              AND NOT EXISTS (
                  SELECT 1 FROM {qn(budget)} b
                  WHERE b.{team} = j.{team} AND b.{klass} = j.{klass} AND b.{max_tier} < COALESCE(j.tier, 0)
              )
            RETURNING j.*, old.waited_from
        ), events AS (
            INSERT INTO {qn(event)} (job_id, actor_id, actor_label, stage, from_status, to_status, reason, data,
                                     started_at, ended_at, duration_ms, created_at)
            SELECT id, NULL::{actor}, %(label)s, %(queue_wait)s, '', '', '', '{{}}'::jsonb, waited_from, %(now)s,
                   (EXTRACT(EPOCH FROM %(now)s - waited_from) * 1000)::double precision, %(now)s
            FROM c WHERE waited_from < %(now)s
            UNION ALL
            SELECT id, NULL::{actor}, %(label)s, %(lifecycle)s, %(queued)s, %(running)s, %(reason)s, '{{}}'::jsonb,
                   %(now)s, %(now)s, NULL, %(now)s
            FROM c
        )
        SELECT {selected}, c.waited_from
        FROM c LEFT JOIN {qn(hold)} h ON h.job_id = c.id LEFT JOIN {qn(price)} p ON p.backend_id = c.backend
    """  # noqa: S608


def _instance(model: type[Model], values: Sequence[Any]) -> Any:
    """A model instance from raw column values, converted as the ORM converts them (JSON fields are
    decoded by their `from_db_value`). A job's circuit keeps the text it came as (`PreEncoded`): the
    worker looks the circuit up by it (`jobs.tasks._circuit_of`) instead of rebuilding it."""
    db = connections[DEFAULT_DB_ALIAS]
    converted = []
    for (column, converters, is_circuit), raw in zip(_converters(model), values, strict=True):
        value = raw
        for convert in converters:
            value = convert(value, column, db)
        if is_circuit and isinstance(raw, str) and isinstance(value, dict):
            value = PreEncoded(value, raw)
        converted.append(value)
    return model.from_db(db.alias, [f.attname for f in _fields(model)], converted)


@cache
def _converters(model: type[Model]) -> list[tuple[Any, list[Any], bool]]:
    """Per column of `model`: the column expression, the ORM's converters, whether it is a job's circuit."""
    db = connections[DEFAULT_DB_ALIAS]
    out = []
    for f in _fields(model):
        column = f.get_col(model._meta.db_table)
        converters = db.ops.get_db_converters(column) + f.get_db_converters(db)
        out.append((column, converters, model is Job and f.name == "circuit"))
    return out


def claim_queued(
    job_id: object,
    *,
    now: datetime,
    deadline: datetime,
    seed: int,
    worker: str,
    hardware_tier: int,
    actor_label: str,
    reason: str,
) -> Job | None:
    """queued → running in one statement; the claimed job (with `hold` and `price_override` as
    `jobs.tasks._job_for_run` gives them), or None when the job was not plainly runnable now."""
    params = {
        "id": job_id,
        "now": now,
        "deadline": deadline,
        "seed": seed,
        "worker": worker,
        "hardware_tier": hardware_tier,
        "label": actor_label,
        "reason": reason,
        "queued": JobStatus.QUEUED.value,
        "running": JobStatus.RUNNING.value,
        "queue_wait": Stage.QUEUE_WAIT.value,
        "lifecycle": Stage.LIFECYCLE.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    n_job, n_hold = len(_fields(Job)), len(_fields(Hold))
    job = _instance(Job, row[:n_job])
    hold_values = row[n_job : n_job + n_hold]
    hold = _instance(Hold, hold_values) if hold_values[0] is not None else None
    Job.hold.related.set_cached_value(job, hold)  # as select_related("hold") leaves it
    if hold is not None:
        Hold.job.field.set_cached_value(hold, job)
    price_id, *price = row[n_job + n_hold : -1]
    job.price_override = dict(zip(PRICE_FIELDS, price, strict=True)) if price_id is not None else None
    waited_from = row[-1]
    if waited_from < now:
        emit_stage_span(job.pk, Stage.QUEUE_WAIT, waited_from, now, {}, job.trace_id)
    return job
