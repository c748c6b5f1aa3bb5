from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.billing import payment_services as services
from tutorhub.billing import selectors
from tutorhub.billing.models import Payment
from tutorhub.billing.payment_serializers import (
    PaymentConfirmSerializer,
    PaymentSerializer,
    PaymeResponseSerializer,
)
from tutorhub.core.permissions import IsAdminRole
from tutorhub.core.throttling import WebhookRateThrottle


class PaymentFilter(filters.FilterSet):
    is_overdue = filters.BooleanFilter(method="filter_is_overdue", help_text="Overdue, or pending > 5 days past due")
    due_date__gte = filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_date__lte = filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = Payment
        fields = ["student", "group", "status", "currency", "payment_method", "is_overdue"]

    def filter_is_overdue(self, queryset, name, value):
        return selectors.payments_overdue(queryset, overdue=value)


class PaymentViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Admins manage payments; students see their own, parents their children's."""

    queryset = Payment.objects.none()  # for schema generation; get_queryset scopes to the caller
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter
    ordering_fields = ["due_date", "amount", "created_at"]
    lookup_value_regex = r"\d+"

    def get_permissions(self):
        if self.action in {"create", "confirm"}:
            return [IsAdminRole()]
        return super().get_permissions()

    def get_queryset(self):
        return selectors.payment_list_visible(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.payment_create(created_by=self.request.user, data=serializer.validated_data)

    @extend_schema(request=PaymentConfirmSerializer, responses=PaymentSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        payload = PaymentConfirmSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        payment = services.payment_confirm(payment=self.get_object(), confirmed_by=request.user, **payload.validated_data)
        return Response(PaymentSerializer(payment).data)


class PaymeWebhookView(APIView):
    """Payme Merchant API endpoint (JSON-RPC). Authenticated by Payme's Basic credentials, not by users."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookRateThrottle]

    @extend_schema(request={"application/json": {"type": "object"}}, responses={200: PaymeResponseSerializer})
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        rpc_id = body.get("id")
        if not services.payme_authenticate(request.headers.get("Authorization", "")):
            error = services.PaymeError(-32504, "Insufficient privileges.")
            return Response({"jsonrpc": "2.0", "id": rpc_id, "error": error.as_dict()})
        try:
            result = services.payme_rpc(method=str(body.get("method", "")), params=body.get("params") or {})
        except services.PaymeError as exc:
            return Response({"jsonrpc": "2.0", "id": rpc_id, "error": exc.as_dict()})
        return Response({"jsonrpc": "2.0", "id": rpc_id, "result": result})
