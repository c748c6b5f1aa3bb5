from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "tutorhub.knowledge"
    label = "knowledge"

    def ready(self) -> None:
        # Imported here, not at the top: the services import models, which need the app registry.
        from tutorhub.courses.services.resources import document_indexer_register
        from tutorhub.knowledge.services import document_ingest_file

        # Lesson files uploaded in courses become course documents the tutor answers from.
        document_indexer_register(document_ingest_file)
