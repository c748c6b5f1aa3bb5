"""What the course views share: id bounds for filters and the teaching permission."""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied

from tutorhub.core.permissions import is_admin
from tutorhub.courses.models import Group

# Ids in query filters are bounded so an absurd number is a 400, not a database overflow.
ID_BOUNDS = {"min_value": 1, "max_value": 2**63 - 1}
UUID_RE = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


def require_teaching(user, group: Group) -> None:
    """Only an admin or the group's own teacher may manage its lessons, attendance and homework."""
    if not (is_admin(user) or (group.teacher_id and group.teacher_id == user.pk)):
        raise PermissionDenied("Only the group's teacher or an admin can do this.")
