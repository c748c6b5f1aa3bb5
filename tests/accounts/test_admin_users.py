"""Admin user management (seed 004): list with filters, create teachers/students, roles."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import UserFactory
from tutorhub.accounts.models import User

pytestmark = pytest.mark.django_db

GOOD = "Corr3ct-Horse-Battery"
ADMIN_ENDPOINTS = [
    ("get", "/api/v1/auth/users/"),
    ("get", "/api/v1/users/"),
    ("get", "/api/v1/accounts/users/"),
    ("post", "/api/v1/auth/register/teacher/"),
    ("post", "/api/v1/auth/register/student/"),
    ("post", "/api/v1/accounts/register/parent/"),
    ("get", "/api/v1/accounts/parent-links/"),
    ("post", "/api/v1/accounts/parent-links/"),
]


@pytest.mark.parametrize("method, path", ADMIN_ENDPOINTS)
def test_students_and_teachers_get_403_on_admin_endpoints(api_client, teacher, method, path):
    for client in (api_client, client_for(teacher)):
        response = getattr(client, method)(path, {}, format="json") if method == "post" else client.get(path)
        assert response.status_code == 403
        assert response.json()["error_code"] == "PERMISSION_DENIED"
        assert response.json()["detail"] == "You do not have permission to perform this action."


@pytest.mark.parametrize("method, path", ADMIN_ENDPOINTS[:2])
def test_anonymous_gets_401_on_admin_endpoints(anon_client, method, path):
    assert anon_client.get(path).status_code == 401


def test_user_list_filters_search_and_pages(admin_client, admin_user):
    UserFactory(username="ali", first_name="Ali", role="teacher")
    UserFactory(username="bob", role="student", is_active=False)
    for _ in range(3):
        UserFactory(role="student")

    teachers = admin_client.get("/api/v1/auth/users/?role=teacher").json()
    assert [u["username"] for u in teachers["results"]] == ["ali"]
    inactive = admin_client.get("/api/v1/auth/users/", {"is_active": "false"}).json()
    assert [u["username"] for u in inactive["results"]] == ["bob"]
    found = admin_client.get("/api/v1/users/", {"search": "Ali", "role": "teacher"}).json()
    assert found["count"] == 1 and found["results"][0]["first_name"] == "Ali"

    page = admin_client.get("/api/v1/auth/users/", {"page": 2, "page_size": 2}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 6 and len(page["results"]) == 2
    assert "page=3" in page["next"] and page["previous"] is not None
    assert {"is_active", "role", "coins", "phone_number"} <= set(page["results"][0])


def test_user_list_rejects_bad_filters_and_pages(admin_client):
    assert admin_client.get("/api/v1/auth/users/?role=wizard").status_code == 400
    assert admin_client.get("/api/v1/auth/users/?page=99").status_code == 404


def test_user_list_query_count_does_not_grow_with_users(admin_client, django_assert_max_num_queries):
    for _ in range(15):
        UserFactory()
    with django_assert_max_num_queries(4):
        response = admin_client.get("/api/v1/auth/users/")
    assert response.json()["count"] == 16


@pytest.mark.parametrize("path, role", [
    ("/api/v1/auth/register/teacher/", "teacher"),
    ("/api/v1/auth/register/student/", "student"),
    ("/api/v1/accounts/register/teacher/", "teacher"),
    ("/api/v1/accounts/register/parent/", "parent"),
])
def test_admin_creates_accounts_with_a_role(admin_client, path, role):
    data = {
        "username": "teacher1",
        "email": "teacher@example.com",
        "first_name": "Ali",
        "last_name": "Karimov",
        "phone_number": "+998901234567",
        "password": GOOD,
        "confirm_password": GOOD,
        "language": "uz",
    }
    response = admin_client.post(path, data, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["role"], body["language"], body["phone_number"]) == (role, "uz", "+998901234567")
    assert User.objects.get(username="teacher1").check_password(GOOD)


def test_admin_changes_role_and_deactivates(admin_client, user):
    response = admin_client.patch(f"/api/v1/auth/users/{user.pk}/", {"role": "teacher"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "teacher"
    response = admin_client.patch(f"/api/v1/accounts/users/{user.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert not user.is_active


def test_admin_cannot_lock_themselves_out(admin_client, admin_user):
    response = admin_client.patch(f"/api/v1/auth/users/{admin_user.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 400
    assert response.json()["error_code"] == "SELF_LOCKOUT"
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/api/v1/auth/users/999999/").status_code == 404
