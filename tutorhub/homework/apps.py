from django.apps import AppConfig


class HomeworkConfig(AppConfig):
    name = "tutorhub.homework"
    label = "homework"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: selectors import models, which need the app registry.
        from tutorhub.engagement.activity import ActivitySource, activity_sources
        from tutorhub.homework.selectors import homework_leaderboard_counts, homework_metrics

        # engagement sits below homework: its achievements and leaderboards count approved homework through this.
        activity_sources.register(
            ActivitySource(student_metrics=homework_metrics, leaderboard_counts=homework_leaderboard_counts)
        )
