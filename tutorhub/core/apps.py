from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tutorhub.core"
    label = "core"

    def ready(self) -> None:
        from tutorhub.core import schema  # noqa: F401  (registers OpenAPI extensions)
