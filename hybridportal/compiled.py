"""Hot reads compiled once per process, then run with each call's values.

Django builds and compiles a QuerySet's SQL on every call. On the submit path that is most of a read's
cost: the backend policy's run records took 3.1 ms, of which the database took 0.8. A compiled read
builds its QuerySet once per shape from stand-in values of the right types, remembers where those
values went among the SQL's parameters, and from then on runs the same SQL with the call's values in
their places, its rows converted as the ORM converts them.

What may vary between calls is a *value* (a string, an integer, a float, a datetime, or a list of
strings whose length is part of the shape); anything that changes the SQL's text — None, a boolean, a
LIMIT, which lookups apply — belongs in the shape key. If a stand-in cannot be found among the
parameters (a value the ORM rewrote or inlined), the read is not cached: it runs through the ORM each
time, as before, and says so once in the log.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators

logger = logging.getLogger(__name__)

_ORIGIN = datetime(1, 1, 1, tzinfo=UTC)  # no real job, hold or budget is this old
_cache = threading.local()  # compilers hold their thread's connection


@dataclass
class _Read:
    compiler: Any  # the SQLCompiler that compiled the stand-in query (knows its columns and converters)
    sql: str
    params: list[Any]
    slots: list[tuple[int, str, int | None]]  # (parameter position, argument name, list index or None)


class _StandIns:
    """Distinct values that cannot occur in real data, one per argument (per element of a list)."""

    def __init__(self) -> None:
        self._n = itertools.count(1)
        self.found: dict[Any, tuple[str, int | None]] = {}

    def make(self, name: str, value: Any, index: int | None = None) -> Any:
        n = next(self._n)
        if isinstance(value, bool) or value is None:
            raise TypeError(f"{name}: booleans and None change the SQL; put them in the shape key")
        if isinstance(value, str):
            stand_in: Any = f"\ue000compiled-{n}\ue000"
        elif isinstance(value, int):
            # Within a 32-bit integer column's range: the ORM drops a comparison with an out-of-range
            # value from the SQL (a stand-in it drops is not found, and the read is not cached).
            stand_in = 2_147_000_000 + n
        elif isinstance(value, float):
            stand_in = -(10.0**15) - n - 0.5
        elif isinstance(value, datetime):
            stand_in = _ORIGIN + timedelta(microseconds=n)
        elif isinstance(value, list | tuple) and index is None:
            return [self.make(name, item, i) for i, item in enumerate(value)]
        else:
            raise TypeError(f"{name}: a compiled read takes str, int, float, datetime or a list of them")
        self.found[stand_in] = (name, index)
        return stand_in


def _compile(build: Callable[..., QuerySet[Any]], shape: Hashable, values: dict[str, Any]) -> _Read | None:
    stand_ins = _StandIns()
    queryset = build(shape, **{name: stand_ins.make(name, value) for name, value in values.items()})
    if queryset._known_related_objects or queryset._prefetch_related_lookups:
        raise TypeError(f"compiled read {build}: a related manager's or prefetching QuerySet is not supported")
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    slots = [(pos, *stand_ins.found[p]) for pos, p in enumerate(params) if _hashable(p) and p in stand_ins.found]
    if {(name, index) for _, name, index in slots} != set(stand_ins.found.values()):
        logger.info("compiled read %s: a value did not reach the parameters; reading through the ORM", build)
        return None
    sql, params, slots = _inline_constants(sql, list(params), slots)
    return _Read(compiler=compiler, sql=sql, params=params, slots=slots)


_PLACEHOLDER = re.compile(r"%%|%s")
_SAFE_TEXT = re.compile(r"[A-Za-z0-9_.:\- ]*")


def _inline_constants(
    sql: str, params: list[Any], slots: list[tuple[int, str, int | None]]
) -> tuple[str, list[Any], list[tuple[int, str, int | None]]]:
    """Write the shape's fixed parameters (a status, a JSON key) into the SQL as literals; only the
    call's values stay parameters. PostgreSQL prepares a frequent statement with a generic plan, and a
    generic plan cannot use a partial index (`WHERE status IN ('succeeded', 'failed')`) unless the
    statement names those values itself: the run records would scan every job of the backend."""
    varying = {pos for pos, _, _ in slots}
    literals: dict[int, str] = {}
    for pos, value in enumerate(params):
        if pos in varying or isinstance(value, bool):
            continue
        if isinstance(value, int):
            literals[pos] = str(value)
        elif isinstance(value, str) and _SAFE_TEXT.fullmatch(value):
            literals[pos] = f"'{value}'"
    if not literals:
        return sql, params, slots
    counter = itertools.count()

    def put(match: re.Match[str]) -> str:
        if match.group() == "%%":
            return "%%"
        pos = next(counter)
        return literals.get(pos, "%s")

    new_position = {pos: i for i, pos in enumerate(p for p in range(len(params)) if p not in literals)}
    return (
        _PLACEHOLDER.sub(put, sql),
        [value for pos, value in enumerate(params) if pos not in literals],
        [(new_position[pos], name, index) for pos, name, index in slots],
    )


def _hashable(value: Any) -> bool:
    return isinstance(value, Hashable) and not isinstance(value, list)


def values_rows(
    build: Callable[..., QuerySet[Any]], *, shape: Hashable = (), using: str = "default", **values: Any
) -> list[tuple[Any, ...]]:
    """The rows of `build(shape, **values)` — a `values_list` QuerySet, or a union of them — compiled
    once per (build, shape, database connection) and run with `values`."""
    read = _read(build, shape, values, using)
    if read is None:
        return list(build(shape, **values))
    return list(read.compiler.results_iter(results=[_rows(read, values)], tuple_expected=True))


def instances(
    build: Callable[..., QuerySet[Any]], *, shape: Hashable = (), using: str = "default", **values: Any
) -> list[Any]:
    """The model instances of `build(shape, **values)` — a QuerySet of a model, `select_related` and
    `only` as it likes — compiled once per (build, shape, database connection) and run with `values`,
    built as the ORM's model iterable builds them."""
    read = _read(build, shape, values, using)
    if read is None:
        return list(build(shape, **values))
    compiler = read.compiler
    klass_info, select = compiler.klass_info, compiler.select
    model = klass_info["model"]
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in select[start:end]]
    related = get_related_populators(klass_info, select, compiler.using)
    objects = []
    for row in compiler.results_iter(results=[_rows(read, values)]):
        obj = model.from_db(compiler.using, init_list, row[start:end])
        for populator in related:
            populator.populate(row, obj)
        for name, pos in compiler.annotation_col_map.items():
            setattr(obj, name, row[pos])
        objects.append(obj)
    return objects


def _read(build: Callable[..., QuerySet[Any]], shape: Hashable, values: dict[str, Any], using: str) -> _Read | None:
    reads: dict[Any, _Read | None] = _cache.__dict__.setdefault("reads", {})
    key = (build, shape, tuple(sorted(_list_lengths(values).items())), id(connections[using]))
    if key not in reads:
        reads[key] = _compile(build, shape, values)
    return reads[key]


def _bound(read: _Read, values: dict[str, Any]) -> list[Any]:
    """The read's parameters with the call's values in their slots."""
    params = list(read.params)
    for pos, name, index in read.slots:
        params[pos] = values[name] if index is None else values[name][index]
    return params


def _rows(read: _Read, values: dict[str, Any]) -> list[tuple[Any, ...]]:
    with read.compiler.connection.cursor() as cursor:
        cursor.execute(read.sql, _bound(read, values))
        return cursor.fetchall()


def _list_lengths(values: dict[str, Any]) -> dict[str, int]:
    """A list's length changes the SQL (one parameter per element): part of the key."""
    return {name: len(value) for name, value in values.items() if isinstance(value, list | tuple)}


def clear() -> None:
    """Forget this thread's compiled reads (tests that change settings a read depends on)."""
    _cache.__dict__.pop("reads", None)


__all__: Sequence[str] = ("clear", "instances", "values_rows")
