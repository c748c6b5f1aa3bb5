from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "tutorhub.ai"
    label = "ai"

    def ready(self) -> None:
        from tutorhub.ai import checks  # noqa: F401  (registers the system check)
