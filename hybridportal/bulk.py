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
from psycopg import _queries

# psycopg parses a statement's placeholders on every execute and keeps the result (an LRU of 128) only
# for statements of up to 4,096 characters and 50 parameters, as an ORM's long ones rarely repeat. A
# Statement's SQL has a handful of shapes, each run once per job: a submission's is ~3,900 characters
# with 122 parameters, and parsing it cost the client 0.3 ms of CPU each time (the worker's result as
# much). psycopg is pinned (requirements.lock); tests/foundation/test_bulk.py sees the cache hit.
_queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 16_384)
_queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 1_000)


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
        moved = statement.update_where(Job, {"pk": pk, "status": "running"}, {"status": "succeeded"})
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

    def update_where(
        self, model: type[Model], where: Mapping[str, Any], values: Mapping[str, Any], *, after: str | None = None
    ) -> str:
        """`model.objects.filter(**where).update(**values)`; its name, for `after` and `run`'s counts.
        Where every condition is a field equal to a plain value (`pk` for the key), its SQL on
        PostgreSQL is built once per shape and reused instead of compiled by the ORM for each call (a
        worker's result has two on every job's path); anything else goes through the ORM."""
        return self._add("update", _Where(model, dict(where)), dict(values), after)

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
                counts[name] = target.queryset().update(**values)
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
                sql = _only_after(sql, kind == "update" and bool(target.where), after)
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


class _Where:
    """`Statement.update_where`'s rows: those of `model` whose fields equal these values."""

    def __init__(self, model: type[Model], where: dict[str, Any]) -> None:
        self.model, self.where = model, where

    def queryset(self) -> QuerySet[Any]:
        return self.model._default_manager.filter(**self.where)


def _update_sql(target: _Where, values: dict[str, Any]) -> tuple[str, list[Any]]:
    equalities = all("__" not in name for name in target.where)
    if target.where and equalities and all(_plain(v) for v in (*values.values(), *target.where.values())):
        return _update_where_sql(target, values)
    # A lookup, an expression or an instance: as the ORM resolves it.
    query = target.queryset().query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def _plain(value: Any) -> bool:
    return not hasattr(value, "resolve_expression") and not isinstance(value, Model)


def _update_where_sql(target: _Where, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """The UPDATE as the ORM writes it — each value prepared by its field, a None condition as IS NULL
    — from SQL cached per shape."""
    db = connections[connection.alias]
    nulls = tuple(name for name, value in target.where.items() if value is None)
    sql, set_fields, where_fields = _update_parts(target.model, tuple(values), tuple(target.where), nulls)
    params = [f.get_db_prep_save(values[name], db) for name, f in set_fields]
    params += [f.get_db_prep_value(target.where[name], db, prepared=False) for name, f in where_fields]
    return sql, params


@functools.cache
def _update_parts(
    model: type[Model], set_names: tuple[str, ...], where_names: tuple[str, ...], nulls: tuple[str, ...]
) -> tuple[str, list[tuple[str, Field]], list[tuple[str, Field]]]:
    meta, qn = model._meta, connection.ops.quote_name

    def field(name: str) -> Field:
        return meta.pk if name == "pk" else meta.get_field(name)

    set_fields = [(name, field(name)) for name in set_names]
    where_fields = [(name, field(name)) for name in where_names if name not in nulls]
    assignments = ", ".join(f"{qn(f.column)} = %s" for _, f in set_fields)
    table = qn(meta.db_table)
    conditions = [f"{table}.{qn(f.column)} = %s" for _, f in where_fields]
    conditions += [f"{table}.{qn(field(name).column)} IS NULL" for name in nulls]
    # Names come from the model's metadata; every value is a bound parameter.
    sql = f"UPDATE {table} SET {assignments} WHERE {' AND '.join(conditions)}"  # noqa: S608
    return sql, set_fields, where_fields


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
