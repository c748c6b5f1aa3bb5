from django.db import migrations, models


def mark_offline_usage(apps, schema_editor):
    # Installs that ran the offline backends before this field existed had their free work
    # held against the plan (a free user locked out of the tutor after uploading a few
    # chapters); the offline model labels every answer "tutorhub-offline-<task>".
    UsageRecord = apps.get_model("billing", "UsageRecord")
    UsageRecord.objects.filter(kind="ai_tokens", model__startswith="tutorhub-offline").update(billable=False)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_subscription_period_default"),
    ]

    operations = [
        migrations.AddField(
            model_name="usagerecord",
            name="billable",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(mark_offline_usage, migrations.RunPython.noop),
    ]
