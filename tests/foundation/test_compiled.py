"""Compiled reads (`hybridportal.compiled`): compiled once, then each call gets its own values' rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from budgets.models import Budget, Team
from hybridportal import compiled
from jobs.models import Experiment, Job
from tests.workers.conftest import queued_job


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    compiled.clear()
    yield
    compiled.clear()


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per compilation: whether it gave a reusable read (False: read through the ORM)."""
    seen: list[bool] = []
    original = compiled._compile

    def spy(*args: Any) -> Any:
        read = original(*args)
        seen.append(read is not None)
        return read

    monkeypatch.setattr(compiled, "_compile", spy)
    return seen


def _by_family(shape: object, *, family: str, at_least: int, backends: list[str]) -> QuerySet[Job]:
    jobs = Job.objects.filter(family=family, shots__gte=at_least, backend__in=backends)
    return jobs.order_by("shots").values_list("family", "shots", "backend", "params")


def test_each_call_reads_with_its_own_values(cast: Any, django_assert_num_queries: Any, compiles: list[bool]) -> None:
    for family, shots, backend in [("ghz", 100, "qsim"), ("ghz", 300, "aer"), ("bell", 200, "qsim")]:
        queued_job(cast, family=family, shots=shots, backend=backend)

    ghz = compiled.values_rows(_by_family, family="ghz", at_least=0, backends=["qsim", "aer"])
    with django_assert_num_queries(2):  # one query each
        bell = compiled.values_rows(_by_family, family="bell", at_least=150, backends=["qsim", "aer"])
        none = compiled.values_rows(_by_family, family="ghz", at_least=500, backends=["qsim", "aer"])

    assert [row[:3] for row in ghz] == [("ghz", 100, "qsim"), ("ghz", 300, "aer")]
    assert [row[:3] for row in bell] == [("bell", 200, "qsim")]
    assert isinstance(bell[0][3], dict)  # JSON decoded as the ORM decodes it
    assert none == []
    # A list of another length is another shape: compiled again, and right.
    assert compiled.values_rows(_by_family, family="ghz", at_least=0, backends=["aer"]) == [ghz[1]]
    assert compiles == [True, True]


def _experiment(shape: object, *, pk: int) -> QuerySet[Experiment]:
    return Experiment.objects.select_related("team", "experiment_class").filter(pk=pk)


def test_instances_come_with_what_they_select_related(cast: Any, django_assert_num_queries: Any) -> None:
    compiled.instances(_experiment, pk=cast.qlab_experiment.pk)
    with django_assert_num_queries(2):  # one each: team and class come with the experiment
        [qlab] = compiled.instances(_experiment, pk=cast.qlab_experiment.pk)
        [optics] = compiled.instances(_experiment, pk=cast.optics_experiment.pk)
        assert (qlab.team.slug, optics.team.slug) == ("qlab", "optics")
        assert qlab.experiment_class.slug == "algorithm_validation"
    assert qlab == cast.qlab_experiment and qlab.name == "qlab experiment"


def _newest(shape: object, *, team_id: int, since: Any) -> QuerySet[Job]:
    return Job.objects.filter(team_id=team_id, created_at__gte=since).order_by("-created_at").only("id", "shots")[:1]


def test_deferred_fields_and_datetimes(cast: Any, compiles: list[bool]) -> None:
    older = queued_job(cast, shots=111)
    newer = queued_job(cast, shots=222)
    Job.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=2))

    [found] = compiled.instances(_newest, team_id=cast.qlab.pk, since=timezone.now() - timedelta(hours=3))
    assert (found.pk, found.shots) == (newer.pk, 222)
    assert found.get_deferred_fields() >= {"circuit", "params"}
    assert compiled.instances(_newest, team_id=cast.optics.pk, since=timezone.now() - timedelta(hours=3)) == []
    assert compiled.instances(_newest, team_id=cast.qlab.pk, since=timezone.now() + timedelta(hours=1)) == []
    # PostgreSQL takes datetimes as they are; SQLite's text form hides the value: read through the ORM.
    assert compiles == [connection.vendor == "postgresql"]


def _slug_like(shape: object, *, slug: str) -> QuerySet[Team]:
    return Team.objects.filter(slug__iexact=slug).values_list("slug")  # the ORM rewrites the value


def test_a_read_whose_values_the_orm_rewrites_still_answers_right(cast: Any, compiles: list[bool]) -> None:
    assert compiled.values_rows(_slug_like, slug="QLAB") == [("qlab",)]
    assert compiled.values_rows(_slug_like, slug="Optics") == [("optics",)]
    assert compiles in ([False], [True])  # whichever the backend does with it, once


def _budgets(shape: object, *, limit: int) -> QuerySet[Budget]:
    return Budget.objects.filter(limit_micros__gte=limit, period="monthly" if shape else "none").values_list("pk")


def test_values_that_change_the_sql_are_refused() -> None:
    with pytest.raises(TypeError, match="shape key"):
        compiled.values_rows(_budgets, limit=None)
    with pytest.raises(TypeError, match="shape key"):
        compiled.values_rows(_budgets, limit=True)


def test_a_prepared_run_record_read_keeps_to_its_partial_indexes(cast: Any) -> None:
    """PostgreSQL prepares a frequent statement and soon plans it once for any values (a generic plan).
    Such a plan can use the partial run-record index (`WHERE status IN ('succeeded', 'failed') …`)
    only if the statement names those statuses itself, so a compiled read writes its fixed values into
    the SQL. Without that the backend policy would read every finished job of a backend per submit."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    from jobs import policy

    for _ in range(3):
        ran = {"status": "succeeded", "finished_at": timezone.now(), "result_meta": {"execute_seconds": 1}}
        queued_job(cast, family="bell", estimate={"depth": 2}, **ran)
    assert [run.seconds for run in policy.backend_runs(["qsim"])["qsim"]] == [1.0, 1.0, 1.0]
    assert policy.open_breakers(backend_ids=["qsim"]) == {}

    reads = [r for r in compiled._cache.reads.values() if r is not None]
    assert len(reads) == 2  # the estimates' runs and the circuit breaker's
    for i, read in enumerate(reads):
        plan = _generic_plan(read, f"run_records_{i}", {"s0_backends": ["qsim"]})
        assert "job_backend_finished" in plan, plan
        assert "Sort" not in plan, plan


def _generic_plan(read: Any, name: str, values: dict[str, Any]) -> str:
    """PostgreSQL's plan of a compiled read prepared as `name`, planned once for any values."""
    from psycopg import sql

    params = compiled._bound(read, values)
    numbered = iter(range(1, len(params) + 1))
    statement = compiled._PLACEHOLDER.sub(lambda m: "%" if m.group() == "%%" else f"${next(numbered)}", read.sql)
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute("SET enable_sort = off")  # a plan that must sort is the one that read every row
        cursor.execute(f"PREPARE {name} AS {statement}")
        explain = sql.SQL("EXPLAIN EXECUTE {}({})").format(sql.SQL(name), sql.SQL(", ").join(map(sql.Literal, params)))
        cursor.execute(explain.as_string(connection.connection))
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"DEALLOCATE {name}")
        cursor.execute("RESET ALL")
    return plan
