from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0007_drop_indexes_covered_by_composites"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="worker",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="job",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
