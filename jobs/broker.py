"""django-q2's ORM broker, woken by PostgreSQL LISTEN/NOTIFY instead of only polling.

The stock ORM broker's pusher sleeps `poll` seconds whenever the queue is empty, so every task waits
on average half a poll before a worker sees it. Here an enqueue also sends `NOTIFY` on the cluster's
channel, in the enqueuing transaction (PostgreSQL delivers it at commit, when the task row becomes
visible), and an idle pusher waits on a `LISTEN` connection instead of sleeping: it wakes as soon as a
task commits. The wait still ends after `poll` seconds, so a missed notification, a task delayed with
a future `lock` (retry backoff, the next hardware poll) and a task enqueued by a process without this
broker are all picked up exactly as before. On any other database it is the ORM broker unchanged.

Configured as `Q_CLUSTER["broker_class"]`, so `async_task` and the clusters use it.

The pusher is also the cluster's clock: it loops for as long as the cluster lives, whatever its
workers are busy with, so between two pulls it runs `jobs.reaper.ClusterClock` (heartbeats of the
cluster's running jobs, and the return of jobs whose heartbeat stopped). On PostgreSQL an idle pusher's
wait ends in time for the next tick; elsewhere the ORM broker's idle sleep of `poll` seconds bounds it.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING, Any

import psycopg
from django.db import DatabaseError, connections, transaction
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf, logger
from django_q.models import OrmQ
from psycopg import sql

from jobs.task_rows import channel, insert_task, postgres

if TYPE_CHECKING:
    from jobs.reaper import ClusterClock


class NotifyORM(ORM):
    def __init__(self, list_key: str | None = None) -> None:
        super().__init__(list_key=list_key or Conf.CLUSTER_NAME)
        self._listener: psycopg.Connection[Any] | None = None
        self._listener_pid = 0
        self._clock: ClusterClock | None = None

    def enqueue(self, task: str) -> Any:
        self.get_connection()  # the ORM broker's check for a stale connection
        return insert_task(self.list_key, task, lock=timezone.now(), wake=True)

    def dequeue(self) -> list[tuple[Any, Any]] | None:
        clock = self._tick()
        if not postgres():
            return super().dequeue()
        # LISTEN before looking, so a task committed between the look and the wait still wakes us.
        listener = self._listen()
        try:
            tasks = self._pull()
        except DatabaseError:
            logger.warning("could not pull tasks; retrying", exc_info=True)
            connections[Conf.ORM].close()  # a fresh connection next time (e.g. after a server restart)
            time.sleep(Conf.POLL)
            return None
        if tasks:
            return tasks
        if listener is None:
            time.sleep(Conf.POLL)  # nothing to wait on: sleep like the ORM broker
            return None
        try:
            for _ in listener.notifies(timeout=min(Conf.POLL, clock.seconds_to_next()), stop_after=1):
                pass
        except psycopg.Error:
            logger.warning("the LISTEN connection broke; polling until it is back", exc_info=True)
            self._close()
        return None

    def _tick(self) -> ClusterClock:
        """Only the pusher dequeues: its clock starts with its first pull."""
        if self._clock is None:
            from jobs.reaper import ClusterClock  # the app registry is ready by the first pull

            self._clock = ClusterClock()
        self._clock.tick()
        return self._clock

    def _pull(self) -> list[tuple[Any, Any]]:
        """Lock and return up to `bulk` due tasks, oldest first. SKIP LOCKED: clusters sharing a queue
        take different rows instead of waiting on each other (the ORM broker reads, then updates row by
        row, and closes its connection before each). The lock is the ORM broker's: `retry`."""
        rows = OrmQ.objects.using(Conf.ORM)
        with transaction.atomic(using=Conf.ORM):
            due = rows.select_for_update(skip_locked=True).filter(key=self.list_key, lock__lt=timezone.now())
            tasks = list(due.order_by("id").values_list("id", "payload")[: Conf.BULK])
            if tasks:
                rows.filter(id__in=[pk for pk, _ in tasks]).update(lock=self.timeout(None))
        return tasks

    def _listen(self) -> psycopg.Connection[Any] | None:
        """This process's LISTEN connection (opened after a fork, never shared with Django's)."""
        if self._listener_pid != os.getpid():
            self._listener, self._listener_pid = None, os.getpid()  # the parent's is not ours
        if self._listener is None or self._listener.closed:
            try:
                params = connections[Conf.ORM].get_connection_params()
                self._listener = psycopg.connect(**params, autocommit=True)
                self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel(self.list_key))))
            except psycopg.Error:
                logger.warning("could not LISTEN for new tasks; polling instead", exc_info=True)
                self._close()
        return self._listener

    def _close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(psycopg.Error):
                self._listener.close()
        self._listener = None
