from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "tutorhub.billing"
    label = "billing"

    def ready(self) -> None:
        # Imported here, not at the top: services imports the models, which need the app registry.
        from tutorhub.ai import usage_recorder_register
        from tutorhub.billing.services import AiUsageRecorder

        # ai sits below every domain app and cannot import billing: billing hands it the ledger.
        usage_recorder_register(AiUsageRecorder())
