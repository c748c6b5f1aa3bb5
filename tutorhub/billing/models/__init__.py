from tutorhub.billing.models.payments import Payment
from tutorhub.billing.models.plans import (
    Plan,
    ProviderEvent,
    QuotaReservation,
    Subscription,
    SubscriptionChange,
)
from tutorhub.billing.models.usage import UsageRecord

__all__ = [
    "Payment",
    "Plan",
    "ProviderEvent",
    "QuotaReservation",
    "Subscription",
    "SubscriptionChange",
    "UsageRecord",
]
