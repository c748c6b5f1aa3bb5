from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.engagement import selectors, webhooks
from tutorhub.engagement.models import WebhookDelivery, WebhookEndpoint


class WebhookRegisterSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1, max_length=20)
    secret = serializers.CharField(max_length=255, required=False, allow_blank=True, trim_whitespace=False)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "is_active", "created_at"]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookEndpointSerializer):
    """The secret is shown once, when registered (so a generated one can be stored)."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "payload", "status", "attempts", "next_attempt_at", "last_status_code", "last_error",
                  "delivered_at", "created_at"]
        read_only_fields = fields


class WebhookRegisterView(APIView):
    @extend_schema(request=WebhookRegisterSerializer, responses={201: WebhookCreatedSerializer})
    def post(self, request):
        serializer = WebhookRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_register(user=request.user, **serializer.validated_data)
        return Response(WebhookCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookListView(ListAPIView):
    serializer_class = WebhookEndpointSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        return selectors.webhook_endpoint_list(user=self.request.user)


class WebhookDetailView(APIView):
    @extend_schema(responses=WebhookEndpointSerializer)
    def get(self, request, webhook_id):
        return Response(WebhookEndpointSerializer(get_object_or_404(selectors.webhook_endpoint_list(user=request.user), pk=webhook_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, webhook_id):
        webhooks.webhook_endpoint_delete(endpoint=get_object_or_404(selectors.webhook_endpoint_list(user=request.user), pk=webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListView(ListAPIView):
    """The delivery log of one of the caller's webhooks."""

    serializer_class = WebhookDeliverySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        endpoint = get_object_or_404(selectors.webhook_endpoint_list(user=self.request.user), pk=self.kwargs["webhook_id"])
        return selectors.webhook_delivery_list(endpoint=endpoint)
