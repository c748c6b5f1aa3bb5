from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "tutorhub.courses"
    label = "courses"

    def ready(self) -> None:
        # Imported here, not at the top: selectors import models, which need the app registry.
        from tutorhub.courses.selectors import attendance_leaderboard_counts, attendance_metrics
        from tutorhub.engagement.activity import ActivitySource, activity_sources

        # engagement sits below courses: its achievements and leaderboards count attendance through this.
        activity_sources.register(
            ActivitySource(student_metrics=attendance_metrics, leaderboard_counts=attendance_leaderboard_counts)
        )
