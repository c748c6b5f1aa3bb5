from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "tutorhub.billing"
    label = "billing"
