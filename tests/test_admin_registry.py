"""Every concrete model of every TutorHub app is in the Django admin, and its pages load."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse


def tutorhub_models():
    return [
        model
        for config in apps.get_app_configs()
        if config.name.startswith("tutorhub.")
        for model in config.get_models()
        if not model._meta.abstract and not model._meta.proxy and not model._meta.auto_created
    ]


def test_every_tutorhub_model_is_registered_in_the_admin():
    missing = sorted(m._meta.label for m in tutorhub_models() if not admin.site.is_registered(m))
    assert missing == [], f"register these models in their app's admin.py: {missing}"


@pytest.fixture
def staff_client(client, admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("model", tutorhub_models(), ids=lambda m: m._meta.label)
def test_admin_changelist_and_add_pages_load(staff_client, model):
    if not admin.site.is_registered(model):
        pytest.skip("not registered (reported by the test above)")
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert staff_client.get(url).status_code == 200
    assert staff_client.get(url, {"q": "x"}).status_code == 200  # search_fields resolve
    # Read-only admins (ledgers, usage records) may refuse "add" with a 403; never a 500.
    add = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert add.status_code in (200, 403)


@pytest.mark.django_db
def test_user_change_page_shows_tutorhub_fields(staff_client, user):
    page = staff_client.get(reverse("admin:accounts_user_change", args=[user.pk]))
    assert page.status_code == 200
    for field in (b"coins", b"learning_style", b"study_goals", b"phone_number"):
        assert field in page.content


@pytest.mark.django_db
def test_admin_adds_a_user_and_rejects_a_case_duplicate(staff_client):
    from tutorhub.accounts.models import User

    url = reverse("admin:accounts_user_add")
    data = {
        "username": "Marie",
        "email": "marie@example.com",
        "role": "teacher",
        "password1": "Radium-Polonium-1898",
        "password2": "Radium-Polonium-1898",
        "usable_password": "true",
        "child_links-TOTAL_FORMS": "0",  # the parent→child links inline
        "child_links-INITIAL_FORMS": "0",
    }
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    created = User.objects.get(username="Marie")
    assert created.check_password("Radium-Polonium-1898") and created.role == "teacher"
    duplicate = staff_client.post(url, {**data, "username": "marie"})
    assert duplicate.status_code == 200  # the form again, with the error
    assert User.objects.filter(username__iexact="marie").count() == 1
