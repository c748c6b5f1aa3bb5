"""Tuition payments (school dialect): creation, confirmation, overdue marking and the Payme webhook.

Payme Merchant API (JSON-RPC 2.0 over POST, Basic auth "Paycom:<PAYME_KEY>"): amounts are in
tiyin (1/100 of the sum), the order is identified by account.payment_id, and transaction states
are 1 created, 2 performed, -1 cancelled before perform, -2 cancelled after perform.
"""

from __future__ import annotations

import base64
import hmac
import time
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from tutorhub.billing.models import Payment
from tutorhub.billing.models.payments import overdue_cutoff
from tutorhub.core.exceptions import Conflict
from tutorhub.engagement.services import notification_create

Status = Payment.Status


def _notify(payment: Payment, *, kind: str, title: str, message: str = "", include_parents: bool = False) -> None:
    data = {
        "payment_id": payment.pk,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "due_date": payment.due_date.isoformat(),
        "status": payment.status,
    }
    recipients = [payment.student] + (list(payment.student.parents.all()) if include_parents else [])
    for user in recipients:
        notification_create(user=user, kind=kind, title=title, message=message, data=data)


@transaction.atomic
def payment_create(*, created_by, data: dict) -> Payment:
    student, group = data["student"], data.get("group")
    if group is not None and not group.students.filter(pk=student.pk).exists():
        raise ValidationError({"group": ["The student is not in this group."]})
    payment = Payment(created_by=created_by, **data)
    payment.full_clean()
    payment.save()
    what = f" for {group.name}" if group else ""
    _notify(
        payment,
        kind="payment_due",
        title=f"Payment due: {payment.amount:,.2f} {payment.currency}{what}",
        message=f"Please pay by {payment.due_date:%Y-%m-%d}.",
        include_parents=True,
    )
    return payment


@transaction.atomic
def payment_confirm(*, payment: Payment, confirmed_by, status: str = Status.CONFIRMED, notes: str = "") -> Payment:
    """Record the result of checking a payment: confirmed (paid) or failed. A confirmed payment is final."""
    payment = Payment.objects.select_for_update().select_related("student").get(pk=payment.pk)
    if payment.status == Status.CONFIRMED:
        raise Conflict("This payment is already confirmed.", error_code="ALREADY_CONFIRMED")
    if status not in (Status.CONFIRMED, Status.FAILED):
        raise ValidationError({"status": ["Choose confirmed or failed."]})
    payment.status = status
    payment.confirmed_by = confirmed_by
    if notes:
        payment.notes = notes
    if status == Status.CONFIRMED:
        payment.paid_at = timezone.now()
    payment.save()
    if status == Status.CONFIRMED:
        _notify(payment, kind="payment_confirmed", title=f"Payment confirmed: {payment.amount:,.2f} {payment.currency}")
    else:
        _notify(payment, kind="payment_failed", title="Payment failed", message=notes)
    return payment


@transaction.atomic
def payments_mark_overdue(*, today=None) -> int:
    """Pending payments more than 5 days past due become overdue (students and parents are told).

    Returns how many were marked; running again marks nothing new.
    """
    due = list(
        Payment.objects.select_for_update(skip_locked=True)
        .filter(status=Status.PENDING, due_date__lt=overdue_cutoff(today))
        .select_related("student")
    )
    for payment in due:
        payment.status = Status.OVERDUE
        payment.save(update_fields=["status", "updated_at"])
        _notify(
            payment,
            kind="payment_overdue",
            title=f"Payment overdue: {payment.amount:,.2f} {payment.currency}",
            message=f"It was due on {payment.due_date:%Y-%m-%d}.",
            include_parents=True,
        )
    return len(due)


# --- Payme -----------------------------------------------------------------------------------


class PaymeError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": {"en": self.message, "ru": self.message, "uz": self.message}}
        if self.data:
            body["data"] = self.data
        return body


def payme_authenticate(authorization: str) -> bool:
    """Constant-time check of Payme's Basic credentials; False when Payme is not configured."""
    key = settings.PAYME_KEY
    if not key or not authorization.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    expected = f"{settings.PAYME_LOGIN}:{key}"
    return hmac.compare_digest(decoded.encode(), expected.encode())


def _now_ms() -> int:
    return int(time.time() * 1000)


def _payable(params: dict) -> Payment:
    account = params.get("account") if isinstance(params.get("account"), dict) else {}
    payment_id = str(account.get("payment_id", ""))
    if not payment_id.isdigit():
        raise PaymeError(-31050, "Payment not found.", "payment_id")
    payment = Payment.objects.select_for_update().filter(pk=int(payment_id)).first()
    if payment is None:
        raise PaymeError(-31050, "Payment not found.", "payment_id")
    if payment.status not in (Status.PENDING, Status.OVERDUE):
        raise PaymeError(-31051, "Payment cannot be paid in its current state.", "payment_id")
    amount = params.get("amount")
    if not isinstance(amount, int) or Decimal(amount) != payment.amount * 100:
        raise PaymeError(-31001, "Wrong amount.")
    return payment


def _by_transaction(params: dict) -> Payment:
    tx_id = params.get("id")
    payment = (
        Payment.objects.select_for_update().filter(provider_transaction_id=tx_id).first() if isinstance(tx_id, str) and tx_id else None
    )
    if payment is None:
        raise PaymeError(-31003, "Transaction not found.")
    return payment


def _state(payment: Payment) -> dict:
    return {
        "create_time": payment.provider_create_time or 0,
        "perform_time": payment.provider_perform_time or 0,
        "cancel_time": payment.provider_cancel_time or 0,
        "transaction": str(payment.pk),
        "state": payment.provider_state,
        "reason": payment.provider_cancel_reason,
    }


def _check_perform(params: dict) -> dict:
    _payable(params)
    return {"allow": True}


def _create(params: dict) -> dict:
    tx_id = params.get("id")
    if not isinstance(tx_id, str) or not tx_id:
        raise PaymeError(-32600, "Transaction id is required.")
    existing = Payment.objects.select_for_update().filter(provider_transaction_id=tx_id).first()
    if existing is not None:  # Payme retries a create it did not hear back from: same answer
        if existing.provider_state != 1:
            raise PaymeError(-31008, "Transaction cannot be created again.")
        return {"create_time": existing.provider_create_time, "transaction": str(existing.pk), "state": 1}
    payment = _payable(params)
    if payment.provider_state == 1 and payment.provider_transaction_id:
        raise PaymeError(-31050, "Another transaction is pending for this payment.", "payment_id")
    payment.provider_transaction_id = tx_id
    payment.provider_state = 1
    payment.provider_create_time = params.get("time") if isinstance(params.get("time"), int) else _now_ms()
    payment.payment_method = Payment.Method.PAYME
    payment.save()
    return {"create_time": payment.provider_create_time, "transaction": str(payment.pk), "state": 1}


def _perform(params: dict) -> dict:
    payment = _by_transaction(params)
    if payment.provider_state == 1:
        payment.provider_state, payment.provider_perform_time = 2, _now_ms()
        payment.save()
        if payment.status != Status.CONFIRMED:
            payment_confirm(payment=payment, confirmed_by=None, notes="Paid through Payme.")
            payment.refresh_from_db()
    elif payment.provider_state != 2:
        raise PaymeError(-31008, "Transaction was cancelled.")
    return {"transaction": str(payment.pk), "perform_time": payment.provider_perform_time, "state": 2}


def _cancel(params: dict) -> dict:
    payment = _by_transaction(params)
    if payment.provider_state in (1, 2):
        payment.provider_state = -1 if payment.provider_state == 1 else -2
        payment.provider_cancel_time = _now_ms()
        payment.provider_cancel_reason = params.get("reason") if isinstance(params.get("reason"), int) else None
        payment.status = Status.FAILED if payment.provider_state == -1 else Status.PENDING
        payment.save()
    return {"transaction": str(payment.pk), "cancel_time": payment.provider_cancel_time, "state": payment.provider_state}


def _check(params: dict) -> dict:
    return _state(_by_transaction(params))


def _statement(params: dict) -> dict:
    start, end = params.get("from"), params.get("to")
    if not isinstance(start, int) or not isinstance(end, int):
        raise PaymeError(-32600, "from and to are required.")
    rows = Payment.objects.filter(provider_create_time__gte=start, provider_create_time__lte=end).exclude(
        provider_transaction_id=""
    )
    return {
        "transactions": [
            {
                "id": p.provider_transaction_id,
                "time": p.provider_create_time,
                "amount": int(p.amount * 100),
                "account": {"payment_id": str(p.pk)},
                **_state(p),
            }
            for p in rows
        ]
    }


PAYME_METHODS = {
    "CheckPerformTransaction": _check_perform,
    "CreateTransaction": _create,
    "PerformTransaction": _perform,
    "CancelTransaction": _cancel,
    "CheckTransaction": _check,
    "GetStatement": _statement,
}


@transaction.atomic
def payme_rpc(*, method: str, params: dict) -> dict:
    """Run one Payme Merchant API method. Returns the JSON-RPC `result`; raises PaymeError."""
    if not isinstance(params, dict):
        raise PaymeError(-32600, "Invalid request.")
    handler = PAYME_METHODS.get(method)
    if handler is None:
        raise PaymeError(-32601, "Method not found.")
    return handler(params)
