"""Task rows of django-q2's ORM broker, written by the portal: with a "do not pull before" lock, and on
PostgreSQL a NOTIFY at commit that wakes the cluster's pusher (`jobs.broker.NotifyORM`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connections, transaction
from django_q.conf import Conf
from django_q.models import OrmQ


def channel(list_key: str) -> str:
    """The NOTIFY channel of a cluster's queue (a PostgreSQL identifier: at most 63 bytes)."""
    return f"django_q_{list_key}"[:63]


def postgres() -> bool:
    return connections[Conf.ORM].vendor == "postgresql"


def insert_task(list_key: str, payload: str, *, lock: datetime, wake: bool) -> int:
    """Write a task row for `list_key`'s cluster, not to be pulled before `lock`; `wake`: notify its
    pusher at commit (PostgreSQL). Returns the row's id."""
    return insert_tasks(list_key, [payload], lock=lock, wake=wake)[0]


def insert_tasks(list_key: str, payloads: Sequence[str], *, lock: datetime, wake: bool) -> list[int]:
    """`insert_task` for several payloads of one cluster: one INSERT (and one NOTIFY on PostgreSQL);
    the rows' ids in the payloads' order, which is the order the cluster pulls them in."""
    using = Conf.ORM
    with transaction.atomic(using=using, savepoint=False):
        rows = OrmQ.objects.using(using).bulk_create([OrmQ(key=list_key, payload=p, lock=lock) for p in payloads])
        if wake and postgres():
            # Sent inside the transaction: PostgreSQL delivers it at commit, when the rows are visible.
            with connections[using].cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, '')", [channel(list_key)])
    return [int(row.pk) for row in rows]
