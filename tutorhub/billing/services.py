"""Usage metering and quotas. Every AI call and upload records usage here (one place)."""

from __future__ import annotations

from tutorhub.billing.models import UsageRecord


def usage_record(
    *,
    user,
    kind: str,
    amount: int,
    feature: str = "",
    model: str = "",
    latency_ms: int | None = None,
    metadata: dict | None = None,
) -> UsageRecord | None:
    """Store one metered event. Anonymous/system work (user None) is not metered."""
    if user is None or not getattr(user, "pk", None):
        return None
    return UsageRecord.objects.create(
        user=user,
        kind=kind,
        amount=int(amount),
        feature=feature,
        model=model,
        latency_ms=latency_ms,
        metadata=metadata or {},
    )


def quota_check(*, user, kind: str, amount: int = 1) -> None:
    """Raise QuotaExceeded (error_code QUOTA_EXCEEDED) if `amount` more of `kind` would pass the
    user's plan limit for the current period. Called before any AI work or upload is done.

    Plans and limits are implemented with the billing subscriptions (issue 8); until a plan
    model exists every user is unlimited.
    """
    return None
