"""PostgreSQL: compress the large JSON columns of new job rows with lz4 instead of pglz.

A 22-qubit job stores ~30 KB of circuit and ~30 KB of counts; with pglz compressing them took about a
third of a cache hit's submit (benchmarks/perf/orchestration_latency.py), lz4 is several times faster
at a similar ratio. Existing rows keep their compression. Skipped on servers built without lz4 (and
on PostgreSQL < 14, which has no per-column compression) and on other databases.
"""

from django.db import migrations

COLUMNS = ("circuit", "counts", "result_meta")


def _set(method: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql" or schema_editor.connection.pg_version < 140000:
            return
        for column in COLUMNS:
            # EXECUTE inside a DO block: a server without lz4 raises an error this block can catch.
            schema_editor.execute(
                "DO $$ BEGIN EXECUTE 'ALTER TABLE jobs_job ALTER COLUMN %s SET COMPRESSION %s'; "
                "EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL; END $$" % (column, method)
            )

    return run


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_policy_run_record_indexes")]

    operations = [migrations.RunPython(_set("lz4"), _set("default"))]
