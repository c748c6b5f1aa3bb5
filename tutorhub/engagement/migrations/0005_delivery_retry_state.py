import django.utils.timezone
from django.db import migrations, models


def settle_finished_deliveries(apps, schema_editor):
    # AddField gave every existing row "due now"; only pending notification deliveries are still
    # waiting to be sent, and the retry sweep must not see the sent and failed ones as due.
    NotificationDelivery = apps.get_model("engagement", "NotificationDelivery")
    NotificationDelivery.objects.exclude(status="pending").update(next_attempt_at=None)


class Migration(migrations.Migration):

    dependencies = [
        ('engagement', '0004_alter_notificationdelivery_options_and_more'),
    ]

    operations = [
        migrations.AddField(
            model_name='notificationdelivery',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, db_index=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, db_index=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.RunPython(settle_finished_deliveries, migrations.RunPython.noop),
    ]
