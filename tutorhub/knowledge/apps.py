from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "tutorhub.knowledge"
    label = "knowledge"
