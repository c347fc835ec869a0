"""The portal's broker on PostgreSQL: tasks wake an idle cluster at commit, and clusters sharing a
queue never pull the same task."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from jobs.broker import NotifyORM
from jobs.task_rows import channel, insert_tasks
from tests.jobs.orch_support import ghz

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY and SKIP LOCKED are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]
QUEUE = "broker-test"


def _listener() -> psycopg.Connection[Any]:
    listener = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    listener.execute(f'LISTEN "{channel(QUEUE)}"')
    return listener


def _woken(listener: psycopg.Connection[Any], seconds: float) -> bool:
    return any(True for _ in listener.notifies(timeout=seconds, stop_after=1))


def test_an_enqueue_wakes_listeners_when_it_commits_not_before() -> None:
    listener = _listener()
    try:
        with transaction.atomic():
            NotifyORM(QUEUE).enqueue(SignedPackage.dumps({"n": 1}))
            assert not _woken(listener, 0.3)  # still uncommitted: no pusher may look for it yet
        assert _woken(listener, 5)
    finally:
        listener.close()


def test_a_batch_of_tasks_wakes_listeners_once_at_commit_and_keeps_its_order() -> None:
    listener = _listener()
    try:
        with transaction.atomic():
            payloads = [SignedPackage.dumps({"n": n}) for n in range(5)]
            ids = insert_tasks(QUEUE, payloads, lock=timezone.now(), wake=True)
            assert not _woken(listener, 0.3)
        assert len(list(listener.notifies(timeout=1, stop_after=10))) == 1
    finally:
        listener.close()
    assert ids == sorted(ids)
    assert [row.task["n"] for row in OrmQ.objects.filter(key=QUEUE).order_by("id")] == [0, 1, 2, 3, 4]
    first = NotifyORM(QUEUE)._pull()[0]
    assert first[0] == ids[0] and SignedPackage.loads(first[1])["n"] == 0  # a cluster pulls them in order


def test_a_submission_writes_its_task_with_its_job_and_wakes_the_cluster_at_commit(cast: Any) -> None:
    """The job, its hold, events, audit record and task row commit together, with the wake-up."""
    from jobs.services import job_submit

    listener = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    listener.execute(f'LISTEN "{channel("interactive")}"')
    try:
        with transaction.atomic():
            job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3, no_cache=True)).job
            assert not _woken(listener, 0.3)
        assert _woken(listener, 5)
    finally:
        listener.close()
    [task] = OrmQ.objects.filter(key="interactive")
    assert task.task["args"] == (str(job.pk),) and task.task["func"] == "jobs.tasks.run_job"


def test_two_clusters_on_one_queue_pull_disjoint_tasks() -> None:
    broker = NotifyORM(QUEUE)
    for n in range(40):
        broker.enqueue(SignedPackage.dumps({"n": n}))
    later = OrmQ.objects.create(
        key=QUEUE, payload=SignedPackage.dumps({"n": "later"}), lock=timezone.now() + timedelta(hours=1)
    )
    pulled: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def pull(i: int) -> None:
        try:
            barrier.wait()
            puller = NotifyORM(QUEUE)
            while rows := puller._pull():
                pulled[i] += [pk for pk, _ in rows]
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pull, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not set(pulled[0]) & set(pulled[1])
    assert sorted(pulled[0] + pulled[1]) == sorted(OrmQ.objects.exclude(pk=later.pk).values_list("pk", flat=True))
    assert later.pk not in pulled[0] + pulled[1]  # a delayed task waits for its time
