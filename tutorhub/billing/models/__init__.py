from tutorhub.billing.models.usage import UsageRecord

__all__ = ["UsageRecord"]
