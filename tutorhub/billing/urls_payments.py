from django.urls import path
from rest_framework.routers import SimpleRouter

from tutorhub.billing import payment_views

router = SimpleRouter()
router.register("payments", payment_views.PaymentViewSet, basename="payment")

urlpatterns = [
    path("payments/payme/webhook/", payment_views.PaymeWebhookView.as_view(), name="payme-webhook"),
    *router.urls,
]
