from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "tutorhub.ai"
    label = "ai"

    def ready(self) -> None:
        # Imported in ready(), not at the top: apps.py is loaded while the app registry is still
        # being filled. Importing checks registers the system checks.
        from tutorhub.ai import checks
        from tutorhub.core.views import readiness_check_register

        # core imports no app above it: /readyz learns of the vector store from here.
        readiness_check_register("vector_store", checks.vector_store_ping)
