from django.db import migrations


def seed_plans(apps, schema_editor):
    from tutorhub.billing.selectors import DEFAULT_PLANS

    Plan = apps.get_model("billing", "Plan")
    for code, name, price, interval, tokens, docs, storage, is_default, sort in DEFAULT_PLANS:
        Plan.objects.get_or_create(
            code=code,
            defaults=dict(
                name=name, price_cents=price, interval=interval, ai_tokens_limit=tokens, documents_limit=docs,
                storage_limit_bytes=storage, is_default=is_default, sort_order=sort,
            ),
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_plan_providerevent_subscription_subscriptionchange_and_more")]

    operations = [migrations.RunPython(seed_plans, migrations.RunPython.noop)]
