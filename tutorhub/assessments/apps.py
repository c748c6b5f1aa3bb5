from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "tutorhub.assessments"
    label = "assessments"

    def ready(self) -> None:
        # Imported here, not at the top: selectors import models, which need the app registry.
        from tutorhub.assessments.selectors import flashcard_resources
        from tutorhub.learning.resources import resource_sources

        # learning sits below assessments: it suggests the student's cards through this source.
        resource_sources.register(flashcard_resources)
