from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "tutorhub.learning"
    label = "learning"
