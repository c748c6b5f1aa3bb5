from tutorhub.billing.models.payments import Payment
from tutorhub.billing.models.plans import (
    Plan,
    ProviderEvent,
    QuotaPeriod,
    QuotaReservation,
    Subscription,
    SubscriptionChange,
)
from tutorhub.billing.models.usage import UsageRecord

__all__ = [
    "Payment",
    "Plan",
    "ProviderEvent",
    "QuotaPeriod",
    "QuotaReservation",
    "Subscription",
    "SubscriptionChange",
    "UsageRecord",
]
