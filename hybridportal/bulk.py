"""Writing unsaved model instances: several tables in one statement on PostgreSQL.

`bulk_create` is one statement per table, each wrapped in the ORM's machinery: a submission wrote five
tables that way (job, events, hold, ledger entry, audit record), a fifth of its time. `insert_all`
writes several lists of instances in ONE statement on PostgreSQL — a data-modifying CTE per table; a
foreign key is checked when the statement ends, so a row may refer to one inserted beside it — and with
`bulk_create`, table by table in the order given, elsewhere.

A row that others refer to needs its key before the statement: a UUID the caller sets, or an id taken
from the table's sequence with `reserve_ids`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model


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
    groups = tuple(g for g in groups if g)
    if connection.vendor != "postgresql":
        for group in groups:
            type(group[0]).objects.bulk_create(group)
        return
    if not groups:
        return
    parts = [_insert_sql(group) for group in groups]
    *firsts, (last_sql, _) = parts
    with_clause = ", ".join(f"i{n} AS ({sql})" for n, (sql, _) in enumerate(firsts))
    sql = f"WITH {with_clause} {last_sql}" if firsts else last_sql
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for _, params in parts for param in params])
    for group in groups:
        for obj in group:
            obj._state.adding, obj._state.db = False, connection.alias


def insert_values_sql(new: Sequence[Model]) -> tuple[str, list[Any]]:
    """`INSERT INTO table (columns) SELECT * FROM (VALUES …)` for unsaved instances of one model, each
    value prepared as `bulk_create` prepares it and cast to its column's type (VALUES rows are typed by
    the first); the key column only where the instances have keys. PostgreSQL."""
    return _insert_sql(new)


def _insert_sql(new: Sequence[Model]) -> tuple[str, list[Any]]:
    model = type(new[0])
    meta = model._meta
    keyed = {obj.pk is not None for obj in new}
    if len(keyed) > 1:
        raise ValueError(f"{meta.label}: some instances have keys and some do not")
    fields = [f for f in meta.concrete_fields if keyed == {True} or not f.primary_key]
    for obj in new:
        obj._prepare_related_fields_for_save(operation_name="insert_all")
    qn = connection.ops.quote_name
    row = f"({', '.join(f'%s::{f.db_type(connection)}' for f in fields)})"
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in new for f in fields]
    columns = ", ".join(qn(f.column) for f in fields)
    rows = ", ".join([row] * len(new))
    # Names come from the model's metadata; every value is a bound parameter.
    return f"INSERT INTO {qn(meta.db_table)} ({columns}) SELECT * FROM (VALUES {rows}) AS v", params  # noqa: S608
