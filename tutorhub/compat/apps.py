from django.apps import AppConfig


class CompatConfig(AppConfig):
    name = "tutorhub.compat"
    label = "compat"
