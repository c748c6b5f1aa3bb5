from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.core.compiled import CompiledQuery
from tutorhub.core.pagination import CompiledListMixin, StandardPagination
from tutorhub.engagement import selectors, services
from tutorhub.engagement.models import Notification
from tutorhub.engagement.serializers import (
    AchievementsSerializer,
    CoinsMeSerializer,
    CoinTransactionSerializer,
    NotificationPreferenceSerializer,
    NotificationSerializer,
)


class NotificationViewSet(CompiledListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Notification.objects.none()  # for schema generation; get_queryset scopes to the caller
    serializer_class = NotificationSerializer
    compiled_list = CompiledQuery("notifications", lambda user: selectors.notification_list(user=user), user=())
    filterset_fields = ["is_read", "kind"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.notification_list(user=self.request.user)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"], url_path="mark-read")
    def mark_read(self, request, pk=None):
        notification = services.notification_mark_read(notification=self.get_object())
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses={200: {"type": "object", "properties": {"marked": {"type": "integer"}}}})
    @action(detail=False, methods=["post"], url_path="mark-all-read")
    def mark_all_read(self, request):
        return Response({"marked": services.notification_mark_all_read(user=request.user)})

    @extend_schema(responses={200: {"type": "object", "properties": {"unread_count": {"type": "integer"}}}})
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response({"unread_count": selectors.notification_unread_count(user=request.user)})


class NotificationPreferenceView(APIView):
    serializer_class = NotificationPreferenceSerializer

    @extend_schema(responses=NotificationPreferenceSerializer)
    def get(self, request):
        return Response(NotificationPreferenceSerializer(services.notification_preference_get(user=request.user)).data)

    @extend_schema(request=NotificationPreferenceSerializer, responses=NotificationPreferenceSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=NotificationPreferenceSerializer, responses=NotificationPreferenceSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        current = services.notification_preference_get(user=request.user)
        serializer = NotificationPreferenceSerializer(current, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        preference = services.notification_preference_update(user=request.user, data=serializer.validated_data)
        return Response(NotificationPreferenceSerializer(preference).data)


class CoinsMeView(APIView):
    @extend_schema(responses=CoinsMeSerializer)
    def get(self, request):
        totals = selectors.coin_totals(user=request.user)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.coin_ledger(user=request.user), request, view=self)
        balance = selectors.coin_balance(user=request.user)
        return Response(
            {
                "balance": balance,
                "coins": balance,
                "total_earned": totals["earned"],
                "total_spent": totals["spent"],
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": CoinTransactionSerializer(page, many=True).data,
            }
        )


class AchievementsView(APIView):
    @extend_schema(responses=AchievementsSerializer)
    def get(self, request, student_id: int | None = None):
        student = selectors.student_visible_to(viewer=request.user, student_id=student_id or request.user.pk)
        if student is None:
            raise NotFound()
        return Response(AchievementsSerializer(selectors.achievement_progress(student=student)).data)
