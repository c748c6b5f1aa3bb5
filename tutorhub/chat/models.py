from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tutorhub.core.models import UUIDModel


class ChatSession(UUIDModel):
    """One conversation with the AI tutor (the chatbot dialect's "session", the canonical API's "chat")."""

    class ChatType(models.TextChoices):
        STUDY = "study", "Study"
        TUTORING = "tutoring", "Tutoring"
        GENERAL = "general", "General"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions")
    title = models.CharField(max_length=200, default="New Chat")
    course = models.ForeignKey(
        "courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="chat_sessions"
    )
    chat_type = models.CharField(max_length=20, choices=ChatType.choices, default=ChatType.GENERAL)
    # The model the user asked for; the one that actually answered is on each Message.
    ai_model = models.CharField(max_length=100, blank=True, default="")
    temperature = models.FloatField(default=0.7, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)])
    system_prompt = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    is_pinned = models.BooleanField(default=False)
    is_favorite = models.BooleanField(default=False)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        SYSTEM = "system", "System"

    class MessageType(models.TextChoices):
        QUESTION = "question", "Question"
        ANSWER = "answer", "Answer"
        EXPLANATION = "explanation", "Explanation"
        EXAMPLE = "example", "Example"
        PROBLEM = "problem", "Problem"
        SOLUTION = "solution", "Solution"
        FEEDBACK = "feedback", "Feedback"
        TEXT = "text", "Text"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=20, choices=Role.choices)
    content = models.TextField(blank=True, default="")
    message_type = models.CharField(max_length=20, choices=MessageType.choices, default=MessageType.TEXT)
    token_count = models.PositiveIntegerField(default=0)
    processing_time_ms = models.PositiveIntegerField(null=True, blank=True)
    model_used = models.CharField(max_length=100, blank=True, default="")
    # {"citations": [...], "documents_referenced": [...], "course_concepts": [...], "error": ...}
    context_used = models.JSONField(default=dict, blank=True)
    # False when the model's answer was cut short (timeout, upstream error, dropped stream).
    is_complete = models.BooleanField(default=True)
    # Which user message an assistant message answers (the web-chat dialect's message/response pairs).
    reply_to = models.OneToOneField("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reply")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class ChatContext(UUIDModel):
    """Standing instructions or documents a chat should focus on (the canonical API's add_context)."""

    class ContextType(models.TextChoices):
        DOCUMENT = "document", "Document"
        INSTRUCTION = "instruction", "Instruction"
        TOPIC = "topic", "Topic"
        NOTE = "note", "Note"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="contexts")
    context_type = models.CharField(max_length=20, choices=ContextType.choices, default=ContextType.NOTE)
    content = models.TextField(blank=True, default="")
    document_ids = models.JSONField(default=list, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    expiration_date = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.context_type}: {self.content[:40]}"


class TutoringSession(UUIDModel):
    """A planned tutoring block with objectives, run through a chat (canonical API)."""

    class SessionType(models.TextChoices):
        PRACTICE = "practice", "Practice"
        REVIEW = "review", "Review"
        CONCEPT = "concept", "Concept learning"
        EXAM_PREP = "exam_prep", "Exam preparation"
        HOMEWORK_HELP = "homework_help", "Homework help"

    class Difficulty(models.TextChoices):
        BEGINNER = "beginner", "Beginner"
        INTERMEDIATE = "intermediate", "Intermediate"
        ADVANCED = "advanced", "Advanced"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tutoring_sessions")
    course = models.ForeignKey("courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    chat = models.OneToOneField(ChatSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="tutoring")
    title = models.CharField(max_length=200)
    session_type = models.CharField(max_length=20, choices=SessionType.choices, default=SessionType.PRACTICE)
    learning_objectives = models.JSONField(default=list, blank=True)
    estimated_duration_minutes = models.PositiveIntegerField(default=30)
    difficulty_level = models.CharField(max_length=20, choices=Difficulty.choices, default=Difficulty.INTERMEDIATE)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    actual_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    objectives_achieved = models.JSONField(default=list, blank=True)
    concepts_mastered = models.JSONField(default=list, blank=True)
    areas_for_improvement = models.JSONField(default=list, blank=True)
    user_satisfaction = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    learning_effectiveness = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    session_notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title
