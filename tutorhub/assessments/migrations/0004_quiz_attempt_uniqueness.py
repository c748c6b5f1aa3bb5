# Double submits of a quiz make one attempt, by unique constraints rather than timing.

from django.db import migrations, models


def close_duplicate_running_attempts(apps, schema_editor):
    """Races before this migration could leave two running attempts of one quiz by one student;
    keep the newest running and close the others (ungraded), so the new constraint can be added."""
    QuizAttempt = apps.get_model("assessments", "QuizAttempt")
    running = QuizAttempt.objects.filter(status="in_progress").order_by("quiz_id", "user_id", "-started_at")
    seen = set()
    stale = []
    for pk, quiz_id, user_id in running.values_list("pk", "quiz_id", "user_id").iterator():
        if (quiz_id, user_id) in seen:
            stale.append(pk)
        seen.add((quiz_id, user_id))
    if stale:
        QuizAttempt.objects.filter(pk__in=stale).update(status="completed", completed_at=models.F("started_at"))


class Migration(migrations.Migration):

    dependencies = [
        ("assessments", "0003_homework_file_extracted"),
    ]

    operations = [
        migrations.AddField(
            model_name="quizattempt",
            name="submission_key",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.RunPython(close_duplicate_running_attempts, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="quizattempt",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "in_progress")), fields=("quiz", "user"), name="quiz_attempt_one_in_progress"
            ),
        ),
        migrations.AddConstraint(
            model_name="quizattempt",
            constraint=models.UniqueConstraint(
                condition=models.Q(("submission_key", ""), _negated=True),
                fields=("quiz", "user", "submission_key"),
                name="quiz_attempt_submission_once",
            ),
        ),
    ]
