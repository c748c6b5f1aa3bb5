from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "tutorhub.web"
    label = "web"
