from __future__ import annotations

import base64
import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.courses import fixtures as school_fixtures
from tutorhub.billing.models import Payment
from tutorhub.billing.payment_services import payments_mark_overdue
from tutorhub.core.scheduler import registered_jobs
from tutorhub.engagement.models import Notification

pytestmark = pytest.mark.django_db

# The school (admin, teachers, students, parent, groups) shared with the courses tests.
school = school_fixtures.school
run_on_commit = school_fixtures.run_on_commit


def seed_payload(school, **extra):
    return {
        "student": school.student.pk,
        "group": school.group.pk,
        "amount": "500000",
        "currency": "UZS",
        "payment_method": "payme",
        "due_date": "2024-02-15",
        **extra,
    }


@pytest.fixture
def payment(school) -> Payment:
    resp = school.client("admin").post("/api/v1/payments/", seed_payload(school, due_date=str(timezone.localdate())), format="json")
    assert resp.status_code == 201, resp.json()
    return Payment.objects.get(pk=resp.json()["id"])


def test_admin_creates_payment_with_seed_payload(school):
    resp = school.client("admin").post("/api/v1/payments/", seed_payload(school), format="json")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["amount"] == "500000.00" and body["currency"] == "UZS" and body["status"] == "pending"
    assert Payment.objects.get().amount == Decimal("500000.00")
    # The student and their parent hear about it.
    assert Notification.objects.filter(user=school.student, kind="payment_due").exists()
    assert Notification.objects.filter(user=school.parent, kind="payment_due").exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"amount": "-5"},
        {"amount": "0"},
        {"amount": "12.345"},
        {"amount": "lots"},
        {"currency": "dollars"},
        {"due_date": "someday"},
        {"payment_method": "bitcoin"},
        {"student": 999999},
    ],
)
def test_create_bad_input(school, bad):
    assert school.client("admin").post("/api/v1/payments/", seed_payload(school, **bad), format="json").status_code == 400
    assert not Payment.objects.exists()


def test_student_must_be_in_the_group(school):
    resp = school.client("admin").post("/api/v1/payments/", seed_payload(school, student=school.other_student.pk), format="json")
    assert resp.status_code == 400 and "group" in resp.json()["details"]


@pytest.mark.parametrize("role", ["teacher", "other_teacher", "student", "other_student", "parent"])
def test_only_admin_creates_and_confirms(school, payment, role):
    client = school.client(role)
    assert client.post("/api/v1/payments/", seed_payload(school), format="json").status_code == 403
    assert client.post(f"/api/v1/payments/{payment.pk}/confirm/", {"status": "confirmed"}, format="json").status_code in (403, 404)
    payment.refresh_from_db()
    assert payment.status == "pending"


@pytest.mark.parametrize(
    "role,visible", [("admin", True), ("teacher", False), ("other_teacher", False), ("student", True), ("other_student", False), ("parent", True)]
)
def test_visibility_matrix(school, payment, role, visible):
    client = school.client(role)
    assert (client.get(f"/api/v1/payments/{payment.pk}/").status_code == 200) is visible
    assert client.get(f"/api/v1/payments/?student={school.student.pk}").json()["count"] == (1 if visible else 0)


def test_confirm_with_seed_payload_and_twice(school, payment):
    url = f"/api/v1/payments/{payment.pk}/confirm/"
    resp = school.client("admin").post(url, {"status": "confirmed", "notes": "Payment verified"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "confirmed" and resp.json()["paid_at"]
    assert resp.json()["confirmed_by"] == school.admin.pk
    assert Notification.objects.filter(user=school.student, kind="payment_confirmed").exists()
    again = school.client("admin").post(url, {"status": "confirmed"}, format="json")
    assert again.status_code == 409
    assert school.client("admin").post(url, {"status": "refunded"}, format="json").status_code in (400, 409)


def test_overdue_boundaries_and_job(school):
    today = datetime.date(2026, 3, 20)
    make = lambda days: Payment.objects.create(  # noqa: E731
        student=school.student, amount=Decimal("100"), due_date=today - datetime.timedelta(days=days)
    )
    five, six, confirmed = make(5), make(6), make(30)
    confirmed.status = "confirmed"
    confirmed.save()
    assert payments_mark_overdue(today=today) == 1  # exactly 5 days past due is not yet overdue
    five.refresh_from_db()
    six.refresh_from_db()
    assert (five.status, six.status) == ("pending", "overdue")
    assert Notification.objects.filter(user=school.student, kind="payment_overdue", data__payment_id=six.pk).exists()
    assert Notification.objects.filter(user=school.parent, kind="payment_overdue").exists()
    assert payments_mark_overdue(today=today) == 0  # idempotent
    assert payments_mark_overdue(today=today + datetime.timedelta(days=1)) == 1


def test_is_overdue_filter_matches_the_rule_before_the_job_runs(school):
    today = timezone.localdate()
    late = Payment.objects.create(student=school.student, amount=Decimal("1"), due_date=today - datetime.timedelta(days=6))
    edge = Payment.objects.create(student=school.student, amount=Decimal("1"), due_date=today - datetime.timedelta(days=5))
    admin = school.client("admin")
    assert [p["id"] for p in admin.get("/api/v1/payments/?is_overdue=true").json()["results"]] == [late.pk]
    assert [p["id"] for p in admin.get("/api/v1/payments/?status=pending&is_overdue=false").json()["results"]] == [edge.pk]
    assert admin.get(f"/api/v1/payments/{late.pk}/").json()["is_overdue"] is True
    assert admin.get("/api/v1/payments/?status=nonsense").status_code == 400


def test_scheduled_jobs_are_registered():
    jobs = registered_jobs()
    assert jobs["tutorhub.billing.tasks.payments_overdue_mark"].every == datetime.timedelta(hours=1)
    assert jobs["tutorhub.courses.tasks.lesson_reminders_send"].every == datetime.timedelta(minutes=15)


def test_list_query_count(school, django_assert_max_num_queries):
    for i in range(10):
        Payment.objects.create(student=school.student, amount=Decimal("10"), due_date=datetime.date(2026, 1, i + 1))
    with django_assert_max_num_queries(4):
        assert school.client("admin").get("/api/v1/payments/").json()["count"] == 10


# --- Payme webhook ---------------------------------------------------------------------------


@pytest.fixture
def payme(settings, anon_client):
    settings.PAYME_KEY = "test-merchant-key"

    def call(method, params, *, key="test-merchant-key", login="Paycom"):
        auth = base64.b64encode(f"{login}:{key}".encode()).decode()
        body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
        return anon_client.post("/api/v1/payments/payme/webhook/", body, format="json", HTTP_AUTHORIZATION=f"Basic {auth}").json()

    return call


def test_payme_rejects_bad_credentials(payme, payment):
    assert payme("CheckPerformTransaction", {}, key="wrong")["error"]["code"] == -32504
    assert payme("CheckPerformTransaction", {}, login="Hacker")["error"]["code"] == -32504


def test_payme_refuses_when_not_configured(settings, anon_client):
    settings.PAYME_KEY = ""
    auth = base64.b64encode(b"Paycom:").decode()
    resp = anon_client.post("/api/v1/payments/payme/webhook/", {"method": "CheckTransaction"}, format="json", HTTP_AUTHORIZATION=f"Basic {auth}")
    assert resp.status_code == 200 and resp.json()["error"]["code"] == -32504


def test_payme_full_flow(payme, payment, school, run_on_commit):
    account = {"payment_id": str(payment.pk)}
    tiyin = int(payment.amount * 100)
    assert payme("CheckPerformTransaction", {"amount": tiyin, "account": account}) == {"jsonrpc": "2.0", "id": 7, "result": {"allow": True}}
    assert payme("CheckPerformTransaction", {"amount": tiyin + 1, "account": account})["error"]["code"] == -31001
    assert payme("CheckPerformTransaction", {"amount": tiyin, "account": {"payment_id": "999999"}})["error"]["code"] == -31050

    created = payme("CreateTransaction", {"id": "payme-tx-1", "time": 1700000000000, "amount": tiyin, "account": account})
    assert created["result"]["state"] == 1 and created["result"]["transaction"] == str(payment.pk)
    # Repeating the same create is idempotent; another transaction for the same payment is refused.
    assert payme("CreateTransaction", {"id": "payme-tx-1", "time": 1700000000000, "amount": tiyin, "account": account})["result"]["state"] == 1
    assert payme("CreateTransaction", {"id": "payme-tx-2", "time": 1, "amount": tiyin, "account": account})["error"]["code"] == -31050

    performed = run_on_commit(payme, "PerformTransaction", {"id": "payme-tx-1"})
    assert performed["result"]["state"] == 2
    payment.refresh_from_db()
    assert payment.status == "confirmed" and payment.paid_at is not None
    assert Notification.objects.filter(user=school.student, kind="payment_confirmed").exists()
    assert payme("PerformTransaction", {"id": "payme-tx-1"})["result"]["state"] == 2  # idempotent
    check = payme("CheckTransaction", {"id": "payme-tx-1"})["result"]
    assert check["state"] == 2 and check["create_time"] == 1700000000000
    statement = payme("GetStatement", {"from": 0, "to": 1800000000000})["result"]["transactions"]
    assert [t["id"] for t in statement] == ["payme-tx-1"]
    assert payme("CheckTransaction", {"id": "unknown"})["error"]["code"] == -31003
    assert payme("NoSuchMethod", {})["error"]["code"] == -32601


def test_payme_cancel_before_perform(payme, payment):
    account = {"payment_id": str(payment.pk)}
    payme("CreateTransaction", {"id": "tx-c", "time": 1, "amount": int(payment.amount * 100), "account": account})
    cancelled = payme("CancelTransaction", {"id": "tx-c", "reason": 3})["result"]
    assert cancelled["state"] == -1
    payment.refresh_from_db()
    assert payment.status == "failed" and payment.provider_cancel_reason == 3
    assert payme("PerformTransaction", {"id": "tx-c"})["error"]["code"] == -31008


def test_payme_garbage_is_a_clean_error(settings, anon_client):
    settings.PAYME_KEY = "k"
    auth = base64.b64encode(b"Paycom:k").decode()
    for body in ({"method": "CreateTransaction", "params": "x"}, {"method": 5}, ["not", "an", "object"]):
        resp = anon_client.post("/api/v1/payments/payme/webhook/", body, format="json", HTTP_AUTHORIZATION=f"Basic {auth}")
        assert resp.status_code == 200 and "error" in resp.json()
