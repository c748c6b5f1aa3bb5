from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tutorhub.accounts"
    label = "accounts"
