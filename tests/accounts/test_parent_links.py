"""Parent↔child links: admins link accounts, parents list their children (weekly reports)."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import UserFactory
from tutorhub.accounts import selectors

pytestmark = pytest.mark.django_db


def link(admin_client, parent, child):
    return admin_client.post("/api/v1/accounts/parent-links/", {"parent": parent.pk, "child": child.pk}, format="json")


def test_admin_links_and_parent_lists_children(admin_client, parent, user, other_user):
    response = link(admin_client, parent, user)
    assert response.status_code == 201
    body = response.json()
    assert (body["parent"], body["child"], body["child_detail"]["username"]) == (parent.pk, user.pk, user.username)
    link(admin_client, parent, other_user)

    children = client_for(parent).get("/api/v1/accounts/children/").json()
    assert children["count"] == 2
    assert {c["id"] for c in children["results"]} == {user.pk, other_user.pk}
    assert set(selectors.user_children(parent=parent)) == {user, other_user}
    assert selectors.parent_is_linked(parent=parent, child=user)


def test_children_of_someone_else_only_for_admins(admin_client, parent, user):
    link(admin_client, parent, user)
    assert admin_client.get(f"/api/v1/accounts/children/?parent={parent.pk}").json()["count"] == 1
    # A student asking for another parent's children sees only their own (none).
    assert client_for(user).get(f"/api/v1/accounts/children/?parent={parent.pk}").json()["count"] == 0
    assert admin_client.get("/api/v1/accounts/children/?parent=abc").status_code == 404


@pytest.mark.parametrize(
    "parent_role, child_role, field",
    [("student", "student", "parent"), ("parent", "teacher", "child")],
)
def test_roles_must_fit(admin_client, parent_role, child_role, field):
    response = link(admin_client, UserFactory(role=parent_role), UserFactory(role=child_role))
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_duplicate_link_is_409_and_self_link_400(admin_client, parent, user):
    link(admin_client, parent, user)
    duplicate = link(admin_client, parent, user)
    assert duplicate.status_code == 409
    assert duplicate.json()["error_code"] == "ALREADY_LINKED"
    assert link(admin_client, parent, parent).status_code == 400


def test_unknown_ids_are_400(admin_client, parent):
    response = admin_client.post("/api/v1/accounts/parent-links/", {"parent": parent.pk, "child": 999999}, format="json")
    assert response.status_code == 400
    assert "child" in response.json()


def test_admin_unlinks(admin_client, parent, user):
    link_id = link(admin_client, parent, user).json()["id"]
    assert admin_client.delete(f"/api/v1/accounts/parent-links/{link_id}/").status_code == 204
    assert client_for(parent).get("/api/v1/accounts/children/").json()["count"] == 0


def test_link_list_query_count(admin_client, django_assert_max_num_queries):
    for _ in range(10):
        link(admin_client, UserFactory(role="parent"), UserFactory())
    with django_assert_max_num_queries(4):
        response = admin_client.get("/api/v1/accounts/parent-links/")
    assert response.json()["count"] == 10
