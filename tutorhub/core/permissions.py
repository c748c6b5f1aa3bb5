"""Role permissions shared by every app (roles live on accounts.User.role)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or getattr(user, "role", None) == "admin"))


def is_teacher(user) -> bool:
    return bool(user and user.is_authenticated and getattr(user, "role", None) == "teacher")


class IsAdminRole(BasePermission):
    message = "You do not have permission to perform this action."

    def has_permission(self, request, view):
        return is_admin(request.user)


class IsTeacherOrAdmin(BasePermission):
    def has_permission(self, request, view):
        return is_admin(request.user) or is_teacher(request.user)
