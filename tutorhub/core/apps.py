from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tutorhub.core"
    label = "core"
