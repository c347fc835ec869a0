"""Writes that belong together in one statement on PostgreSQL.

`bulk_create` and `update` are one statement each, wrapped in the ORM's machinery: a submission wrote
six tables that way (job, events, hold, ledger entry, audit record, task), a worker's result three
(job, events, hold and its ledger entry). A `Statement` collects such writes — each optionally only if
an earlier one changed a row — and runs them as ONE statement on PostgreSQL: a data-modifying CTE per
write; a foreign key is checked when the statement ends, so a row may refer to one inserted beside it.
Elsewhere it runs them in order, in a transaction. `insert_all` is the common case: INSERTs only.

A row that others refer to needs its key before the statement: a UUID the caller sets, or an id taken
from the table's sequence with `reserve_ids`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Field, Model, QuerySet
from django.db.models.sql import UpdateQuery


def reserve_ids(model: type[Model], n: int) -> list[int] | None:
    """`n` ids from `model`'s id sequence, in one query, on PostgreSQL; None elsewhere (there
    `bulk_create` sets them, and `insert_all` inserts table by table)."""
    if connection.vendor != "postgresql" or n == 0:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(model._meta.db_table), model._meta.pk.column, n],
        )
        return [int(row[0]) for row in cursor.fetchall()]


def insert_all(*groups: Sequence[Model]) -> None:
    """Insert each group (unsaved instances of one model), as `bulk_create` would — on PostgreSQL all
    of them in one statement. Instances with keys must all have them (or none: the database's)."""
    statement = Statement()
    for group in groups:
        statement.insert(group)
    statement.run()


class Statement:
    """Writes that belong together — UPDATEs (as the ORM writes them) and INSERTs of unsaved instances —
    each optionally only if an earlier one changed a row (`after`). On PostgreSQL ONE statement, a
    data-modifying CTE per write, atomic by itself; elsewhere the writes in order, in a transaction.

        statement = Statement()
        moved = statement.update(Job.objects.filter(pk=pk, status="running"), {"status": "succeeded"})
        statement.insert(events, after=moved)
        changed = statement.run()[moved]
    """

    def __init__(self) -> None:
        self._writes: list[tuple[str, str, Any, Any, str | None]] = []  # name, kind, target, values, after
        self._channels: list[str] = []

    def notify(self, channel: str) -> None:
        """On PostgreSQL, NOTIFY `channel` with the writes: its listeners wake when they commit (a
        cluster's pusher, for the task rows of `hybridportal.broker`). Nothing elsewhere."""
        self._channels.append(channel)

    def update(self, rows: QuerySet[Any], values: Mapping[str, Any], *, after: str | None = None) -> str:
        """`rows.update(**values)`; its name, for `after` and `run`'s counts."""
        return self._add("update", rows, dict(values), after)

    def insert(self, new: Sequence[Model], *, after: str | None = None) -> str:
        """`bulk_create(new)` (one model; keys set on all or none); its name."""
        return self._add("insert", list(new), None, after)

    def _add(self, kind: str, target: Any, values: Any, after: str | None) -> str:
        name = f"w{len(self._writes)}"
        if after is not None and after not in {w[0] for w in self._writes}:
            raise ValueError(f"{after} is not an earlier write of this statement")
        self._writes.append((name, kind, target, values, after))
        return name

    def run(self) -> dict[str, int]:
        """Carry the writes out; name → rows each changed or inserted (0 when its `after` changed none)."""
        if connection.vendor == "postgresql":
            counts = self._run_one()
        else:
            with transaction.atomic(savepoint=False):
                counts = self._run_each()
        for name, kind, new, _, _ in self._writes:
            if kind == "insert" and counts[name]:
                for obj in new:
                    obj._state.adding, obj._state.db = False, connection.alias
        return counts

    def _run_each(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name, kind, target, values, after in self._writes:
            if (after is not None and not counts[after]) or (kind == "insert" and not target):
                counts[name] = 0
            elif kind == "update":
                counts[name] = target.update(**values)
            else:
                counts[name] = len(type(target[0]).objects.bulk_create(target))
        return counts

    def _run_one(self) -> dict[str, int]:
        writes: list[tuple[str, str, Any, Any, str | None]] = []
        for write in self._writes:  # an empty INSERT writes nothing, nor does a write after one
            name, kind, target, _, after = write
            if (kind == "update" or target) and (after is None or after in {w[0] for w in writes}):
                writes.append(write)
        if not writes and not self._channels:
            return {w[0]: 0 for w in self._writes}
        ctes, params = [], []
        for name, kind, target, values, after in writes:
            sql, write_params = _update_sql(target, values) if kind == "update" else _insert_sql(target)
            if after is not None:
                sql = _only_after(sql, kind == "update" and bool(target.query.where), after)
            ctes.append(f"{name} AS ({sql} RETURNING 1)")
            params.extend(write_params)
        selected = [f"(SELECT count(*) FROM {name})" for name, *_ in writes]  # noqa: S608 - own names
        selected += ["pg_notify(%s, '')"] * len(self._channels)
        params += self._channels
        with_clause = f"WITH {', '.join(ctes)} " if ctes else ""
        with connection.cursor() as cursor:
            cursor.execute(f"{with_clause}SELECT {', '.join(selected)}", params)
            row = cursor.fetchone()
        found = {name: int(count) for (name, *_), count in zip(writes, row, strict=False)}
        return {w[0]: found.get(w[0], 0) for w in self._writes}


def _update_sql(rows: QuerySet[Any], values: dict[str, Any]) -> tuple[str, list[Any]]:
    query = rows.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def _only_after(sql: str, has_where: bool, after: str) -> str:
    """The write (an UPDATE, or an INSERT's `SELECT * FROM (VALUES …) AS v`), only if the write named
    `after` changed a row. The name is this class's own (`w0`, `w1`, …)."""
    condition = f"EXISTS (SELECT 1 FROM {after})"  # noqa: S608
    return f"{sql} AND {condition}" if has_where else f"{sql} WHERE {condition}"


def _insert_sql(new: Sequence[Model]) -> tuple[str, list[Any]]:
    """`INSERT INTO table (columns) SELECT * FROM (VALUES …) AS v` for unsaved instances of one model,
    each value prepared as `bulk_create` prepares it and cast to its column's type (VALUES rows are
    typed by the first); the key column only where the instances have keys. PostgreSQL."""
    model = type(new[0])
    meta = model._meta
    keyed = {obj.pk is not None for obj in new}
    if len(keyed) > 1:
        raise ValueError(f"{meta.label}: some instances have keys and some do not")
    for obj in new:
        obj._prepare_related_fields_for_save(operation_name="insert_all")
    fields, head, row = _insert_parts(model, keyed == {True})
    db = connections[connection.alias]  # the wrapper itself: the proxy costs a lookup per attribute
    params = [f.get_db_prep_save(f.pre_save(obj, True), db) for obj in new for f in fields]
    return f"{head} {', '.join([row] * len(new))}) AS v", params


@functools.cache
def _insert_parts(model: type[Model], keyed: bool) -> tuple[list[Field], str, str]:
    """A model's columns, its `INSERT … SELECT * FROM (VALUES` head and one typed VALUES row."""
    fields = [f for f in model._meta.concrete_fields if keyed or not f.primary_key]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    row = f"({', '.join(f'%s::{f.db_type(connection)}' for f in fields)})"
    # Names come from the model's metadata; every value is a bound parameter.
    return fields, f"INSERT INTO {qn(model._meta.db_table)} ({columns}) SELECT * FROM (VALUES", row  # noqa: S608
