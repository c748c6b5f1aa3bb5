"""Homework reads: which assignments and submissions a user may see."""

from __future__ import annotations

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from rest_framework.exceptions import ValidationError

from tutorhub.core.permissions import is_admin
from tutorhub.courses.selectors import group_ids_visible
from tutorhub.homework.models import Homework, HomeworkSubmission


def homework_list_visible(*, user) -> QuerySet[Homework]:
    return Homework.objects.filter(lesson__group__in=group_ids_visible(user=user)).select_related("lesson__group")


def submission_list_visible(*, user) -> QuerySet[HomeworkSubmission]:
    """Submissions a user may see: their own; for an assignment also their children's and those
    of the groups they teach (work handed in on one's own stays its author's); all for admins."""
    qs = HomeworkSubmission.objects.select_related("student", "homework__lesson__group", "reviewed_by")
    if is_admin(user):
        return qs
    assigned = Q(homework__isnull=False) & (Q(student__parents=user) | Q(homework__lesson__group__teacher=user))
    return qs.filter(Q(student=user) | assigned).distinct()


def homework_list_for_api(*, user, target_student_id: int | None, lesson=None) -> QuerySet[Homework]:
    """The assignments a user may see (of one lesson, when given), newest first, each with its
    number of submissions and, prefetched, the submission of the student in view (the caller, or
    the student a teacher or parent asked about) if the caller may see it."""
    qs = homework_list_visible(user=user)
    if lesson is not None:
        qs = qs.filter(lesson=lesson)
    target = submission_list_visible(user=user).filter(student_id=target_student_id)
    return qs.annotate(submissions_count=Count("submissions", distinct=True)).order_by("-created_at", "-id").prefetch_related(
        Prefetch("submissions", queryset=target, to_attr="target_submissions")
    )


def submission_list_for_api(*, user, homework: Homework | None = None) -> QuerySet[HomeworkSubmission]:
    """submission_list_visible newest first (of one assignment, when given)."""
    qs = submission_list_visible(user=user).order_by("-created_at", "-id")
    return qs.filter(homework=homework) if homework is not None else qs


def recording_list_visible(*, user) -> QuerySet[HomeworkSubmission]:
    return submission_list_visible(user=user).filter(kind=HomeworkSubmission.Kind.AUDIO)


def submission_list_own(*, user) -> QuerySet[HomeworkSubmission]:
    """The chatbot dialect's view: the caller's own submissions only."""
    return HomeworkSubmission.objects.filter(student=user)


def submission_for_review(*, homework: Homework, student_id: int | None, submission_id: int | None) -> HomeworkSubmission:
    """The submission a review targets: by id, by student, or the only one. Raises ValidationError (400)."""
    submissions = HomeworkSubmission.objects.filter(homework=homework)
    if submission_id is not None:
        submissions = submissions.filter(pk=submission_id)
    elif student_id is not None:
        submissions = submissions.filter(student_id=student_id)
    found = list(submissions[:2])
    if not found:
        raise ValidationError({"student": ["No submission from this student for this homework."]})
    if len(found) > 1:
        raise ValidationError({"student": ["Several students submitted; say whose submission (student or submission)."]})
    return found[0]


def homework_metrics(user) -> dict[str, float]:
    """The student's approved-homework figures achievements count (an engagement activity source)."""
    approved = HomeworkSubmission.objects.filter(student=user, status=HomeworkSubmission.Status.APPROVED).aggregate(
        approved=Count("id"), best=Max("similarity_score")
    )
    return {"homeworks_approved": approved["approved"], "best_similarity": round(approved["best"] or 0.0, 4)}


def homework_leaderboard_counts(group) -> dict[str, QuerySet]:
    """Approved homework, counted per student on the group's leaderboard (an engagement activity source)."""
    return {
        "homeworks_completed": HomeworkSubmission.objects.filter(
            homework__lesson__group=group, status=HomeworkSubmission.Status.APPROVED
        )
    }
