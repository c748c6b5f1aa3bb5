from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "tutorhub.chat"
    label = "chat"
