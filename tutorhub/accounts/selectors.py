"""Reads about accounts that other apps use too (weekly reports read a parent's children)."""

from __future__ import annotations

from django.db.models import QuerySet

from tutorhub.accounts.models import ParentChildLink, User


def user_children(*, parent: User) -> QuerySet[User]:
    """Students linked to `parent`, in a stable order."""
    return User.objects.filter(parent_links__parent=parent).order_by("last_name", "first_name", "id")


def parent_is_linked(*, parent: User, child: User) -> bool:
    return ParentChildLink.objects.filter(parent=parent, child=child).exists()


def parent_link_list() -> QuerySet[ParentChildLink]:
    return ParentChildLink.objects.select_related("parent", "child").order_by("-created_at", "-id")


def user_list() -> QuerySet[User]:
    return User.objects.order_by("-date_joined", "-id")
