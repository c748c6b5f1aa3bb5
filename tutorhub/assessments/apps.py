from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "tutorhub.assessments"
    label = "assessments"
