from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "tutorhub.engagement"
    label = "engagement"
