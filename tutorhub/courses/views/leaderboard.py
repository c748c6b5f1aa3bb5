"""A group's leaderboard. It is a group endpoint: the group is looked up among those the caller
may see (courses), then ranked by engagement, which sits below courses and cannot look groups up."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.courses.selectors import group_list_visible
from tutorhub.engagement.selectors import group_leaderboard
from tutorhub.engagement.serializers import LeaderboardSerializer


class LeaderboardView(APIView):
    @extend_schema(responses=LeaderboardSerializer)
    def get(self, request, group_id: int):
        group = get_object_or_404(group_list_visible(user=request.user), pk=group_id)
        return Response({"group_id": group.pk, "group_name": group.name, "results": group_leaderboard(group=group)})
