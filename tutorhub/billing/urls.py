from django.urls import path

from tutorhub.billing import views

urlpatterns = [
    path("billing/plans/", views.PlanListView.as_view(), name="billing-plans"),
    path("billing/subscription/", views.SubscriptionView.as_view(), name="billing-subscription"),
    path("billing/subscription/upgrade/", views.SubscriptionUpgradeView.as_view(), name="billing-subscription-upgrade"),
    path("billing/usage/", views.UsageView.as_view(), name="billing-usage"),
    path("billing/webhooks/<slug:provider>/", views.ProviderWebhookView.as_view(), name="billing-webhook"),
]
