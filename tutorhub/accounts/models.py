from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        TEACHER = "teacher", "Teacher"
        STUDENT = "student", "Student"
        PARENT = "parent", "Parent"

    class LearningStyle(models.TextChoices):
        VISUAL = "visual", "Visual"
        AUDITORY = "auditory", "Auditory"
        READING = "reading", "Reading/writing"
        KINESTHETIC = "kinesthetic", "Kinesthetic"

    email = models.EmailField("email address", blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT, db_index=True)
    phone_number = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=16, blank=True, default="en")
    bio = models.TextField(blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    language_preference = models.CharField(max_length=16, blank=True, default="en")
    learning_style = models.CharField(max_length=16, choices=LearningStyle.choices, blank=True)
    study_goals = models.JSONField(default=list, blank=True)
    # Cached balance; the engagement coin ledger is the source of truth and updates it atomically.
    coins = models.PositiveIntegerField(default=0)
    children = models.ManyToManyField(
        "self", symmetrical=False, through="ParentChildLink", related_name="parents", blank=True
    )

    # What a user may change about themselves (profile PATCH); role, coins and email are not.
    PROFILE_FIELDS = (
        "first_name",
        "last_name",
        "phone_number",
        "language",
        "bio",
        "timezone",
        "language_preference",
        "learning_style",
        "study_goals",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"), name="accounts_user_email_ci_unique", condition=~models.Q(email="")
            ),
            # "Alice" and "alice" would be indistinguishable to people and to email-style logins.
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
        ]

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        if self.is_superuser and self.role != self.Role.ADMIN:
            self.role = self.Role.ADMIN
        super().save(*args, **kwargs)

    @property
    def is_admin_role(self) -> bool:
        return self.is_superuser or self.role == self.Role.ADMIN


class ParentChildLink(models.Model):
    """A parent (or guardian) sees a child's progress and receives their weekly reports."""

    parent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="child_links")
    child = models.ForeignKey(User, on_delete=models.CASCADE, related_name="parent_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["parent", "child"], name="accounts_parent_child_unique")]

    def __str__(self) -> str:
        return f"{self.parent} → {self.child}"
