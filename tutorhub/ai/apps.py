from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "tutorhub.ai"
    label = "ai"

    def ready(self) -> None:
        from tutorhub.ai import checks
        from tutorhub.core.views import readiness_check_register

        # Importing checks registers the system checks; /readyz learns of the vector store here.
        readiness_check_register("vector_store", checks.vector_store_ping)
