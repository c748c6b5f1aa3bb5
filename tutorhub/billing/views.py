"""Billing API (canonical API): plans, the current subscription, upgrades, usage, provider webhooks."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.billing import selectors, services
from tutorhub.billing import serializers as s
from tutorhub.billing.models import SubscriptionChange
from tutorhub.core.throttling import WebhookRateThrottle


class PlanListView(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = s.PlanSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.plan_list_active()


class SubscriptionView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.SubscriptionSerializer)
    def get(self, request):
        return Response(s.SubscriptionSerializer(selectors.subscription_detail(user=request.user)).data)


class SubscriptionUpgradeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=s.UpgradeRequestSerializer,
        responses={
            200: s.UpgradeResponseSerializer,
            202: s.UpgradeResponseSerializer,
            402: OpenApiResponse(OpenApiTypes.OBJECT, description="The payment was declined (error envelope)."),
            503: OpenApiResponse(OpenApiTypes.OBJECT, description="The payment processor is unreachable (error envelope)."),
        },
    )
    def post(self, request):
        params = s.UpgradeRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        change = services.subscription_upgrade(user=request.user, **params.validated_data)
        body = {
            "change": s.SubscriptionChangeSerializer(change).data,
            "subscription": s.SubscriptionSerializer(selectors.subscription_detail(user=request.user)).data,
        }
        pending = change.status == SubscriptionChange.Status.PENDING
        return Response(body, status=status.HTTP_202_ACCEPTED if pending else status.HTTP_200_OK)


class UsageView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.UsageSerializer)
    def get(self, request):
        return Response(s.UsageSerializer(selectors.usage_summary(user=request.user)).data)


class ProviderWebhookView(APIView):
    """Called by the payment processor, authenticated by its signature rather than a user."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [WebhookRateThrottle]

    @extend_schema(request=OpenApiTypes.OBJECT, responses=s.ProviderWebhookAckSerializer)
    def post(self, request, provider: str):
        return Response(services.provider_webhook_handle(provider_name=provider, body=request.body, headers=request.headers))
