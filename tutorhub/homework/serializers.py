from __future__ import annotations

from rest_framework import serializers

from tutorhub.core.files import private_file_url
from tutorhub.core.serializers import ScopedPrimaryKeyRelatedField
from tutorhub.courses.models import Lesson
from tutorhub.courses.selectors import lesson_list_visible
from tutorhub.courses.serializers import MAX_ID
from tutorhub.homework.models import Homework, HomeworkSubmission


def submission_file_url(submission: HomeworkSubmission) -> str | None:
    """The permission-checked download view of what was handed in (never a storage URL: uploads
    are not public): a recording plays inline, a file is fetched by the submission's uuid."""
    if not submission.file:
        return None
    if submission.kind == HomeworkSubmission.Kind.AUDIO:
        return private_file_url("homework-submission-audio", pk=submission.pk)
    return private_file_url("homework-file", pk=submission.uuid)


class WrittenFeedbackFields(serializers.Serializer):
    """The parts of the AI's feedback on written work, read from `feedback_details`."""

    strengths = serializers.ListField(source="feedback_details.strengths", read_only=True, default=list)
    improvements = serializers.ListField(source="feedback_details.improvements", read_only=True, default=list)
    missing_concepts = serializers.ListField(source="feedback_details.missing_concepts", read_only=True, default=list)
    rubric = serializers.ListField(source="feedback_details.rubric", read_only=True, default=list)
    sources = serializers.ListField(source="feedback_details.sources", read_only=True, default=list)


class HomeworkSubmissionSerializer(serializers.ModelSerializer):
    """A submission as the school dialect shows it (a recording and its check and review)."""

    student_name = serializers.CharField(source="student.get_full_name", read_only=True)
    audio_url = serializers.SerializerMethodField()
    audio_size_bytes = serializers.IntegerField(source="file_size_bytes", read_only=True)

    class Meta:
        model = HomeworkSubmission
        fields = [
            "id", "homework", "student", "student_name", "audio_url", "audio_format", "audio_size_bytes",
            "audio_duration_seconds", "status", "progress_percentage", "transcription", "similarity_score",
            "ai_feedback", "ai_model_used", "processing_error", "teacher_feedback", "reviewed_by", "reviewed_at",
            "coins_awarded", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_audio_url(self, obj) -> str | None:
        return submission_file_url(obj) if obj.kind == HomeworkSubmission.Kind.AUDIO else None


class HomeworkSubmissionDetailSerializer(WrittenFeedbackFields, HomeworkSubmissionSerializer):
    """A submission of any kind (canonical API): the school fields plus written work's."""

    file_url = serializers.SerializerMethodField(help_text="What was handed in (null for text-only work)")

    class Meta(HomeworkSubmissionSerializer.Meta):
        fields = [
            *HomeworkSubmissionSerializer.Meta.fields, "uuid", "kind", "title", "subject", "topic", "text", "file_name",
            "file_url", "score", "strengths", "improvements", "missing_concepts", "rubric", "sources", "checked_at",
        ]
        read_only_fields = fields

    def get_file_url(self, obj) -> str | None:
        return submission_file_url(obj)


class HomeworkSerializer(serializers.ModelSerializer):
    lesson = ScopedPrimaryKeyRelatedField(selector=lesson_list_visible, model=Lesson)
    group = serializers.IntegerField(source="lesson.group_id", read_only=True)
    lesson_date = serializers.DateField(source="lesson.scheduled_date", read_only=True)
    submission = serializers.SerializerMethodField(help_text="The submission of the student in view (you, or ?student=)")
    submissions_count = serializers.SerializerMethodField()

    class Meta:
        model = Homework
        fields = [
            "id", "lesson", "lesson_date", "group", "title", "description", "expected_answer", "language",
            "due_date", "coins_reward", "created_by", "submission", "submissions_count", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_by", "created_at", "updated_at"]
        extra_kwargs = {"coins_reward": {"min_value": 0, "max_value": Homework.MAX_COINS_REWARD}}

    def get_submission(self, obj) -> dict | None:
        mine = getattr(obj, "target_submissions", None)
        return HomeworkSubmissionSerializer(mine[0], context=self.context).data if mine else None

    def get_submissions_count(self, obj) -> int:
        return getattr(obj, "submissions_count", 0)


class HomeworkUpdateSerializer(HomeworkSerializer):
    lesson = serializers.PrimaryKeyRelatedField(read_only=True)


class WorkSerializer(serializers.Serializer):
    """Written work: text, a file (PDF, DOCX, text...; its text is read by the worker), or both."""

    text = serializers.CharField(required=False, allow_blank=True, max_length=40_000, default="")
    file = serializers.FileField(required=False, allow_null=True)


class HomeworkSubmitSerializer(WorkSerializer):
    """An assignment's answer: a recording (the school dialect's form field) or written work."""

    audio_submission = serializers.FileField(required=False, help_text="WAV, MP3, OGG, WebM or M4A recording")

    def validate(self, attrs):
        if not (attrs.get("audio_submission") or attrs.get("file") or attrs.get("text", "").strip()):
            raise serializers.ValidationError({"audio_submission": ["Send a recording, a file or text."]})
        return attrs


class HomeworkWorkSerializer(WorkSerializer):
    """Work a student hands in on their own, named by its own title, subject and topic."""

    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    subject = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    topic = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class HomeworkReviewSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("approved", "Approved"), ("rejected", "Rejected")])
    feedback = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    student = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Whose submission (needed when several students submitted)"
    )
    submission = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
