"""Formerly created the money-sweep schedule without a cluster, so it never ran under `serve`.

The schedule is now created and repaired by `jobs.tasks.ensure_schedules` after every migrate (on the
interactive cluster); this migration only removes the old cluster-less row.
"""

from django.db import migrations

NAME = "budgets.money_sweep"


def drop_clusterless_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME, cluster__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("budgets", "0002_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(drop_clusterless_schedule, migrations.RunPython.noop)]
