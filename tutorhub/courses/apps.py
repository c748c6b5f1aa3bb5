from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "tutorhub.courses"
    label = "courses"
