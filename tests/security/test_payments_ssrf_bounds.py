"""Issue 11 regressions: a fake payment token buys nothing, IPv6 transition forms of private
addresses are refused by the SSRF check (also after a redirect), numeric inputs are bounded,
and ids inside request bodies are scoped to the caller."""

from __future__ import annotations

import socket

import pytest

from tests.knowledge.conftest import LoopbackServer
from tutorhub.knowledge import fetch

pytestmark = pytest.mark.django_db

# --- payments ---------------------------------------------------------------------------------


def test_fake_payment_token_buys_no_plan(api_client, settings):
    settings.BILLING_PAYMENT_PROVIDER = {"BACKEND": "tutorhub.billing.providers.NoPaymentProvider", "OPTIONS": {}}
    res = api_client.post(
        "/api/v1/billing/subscription/upgrade/", {"plan_id": "premium_yearly", "payment_method_token": "tok_fake"}, format="json"
    )
    assert res.status_code == 403 and res.json()["error_code"] == "PAYMENT_PROVIDER_NOT_CONFIGURED"
    assert api_client.get("/api/v1/billing/subscription/").json()["plan"]["plan_id"] == "free"


# --- SSRF: IPv6 transition forms ---------------------------------------------------------------

# Each carries 127.0.0.1, 10.0.0.1 or the metadata address 169.254.169.254 inside an IPv6 address.
TRANSITION_FORMS = {
    "nat64": "64:ff9b::7f00:1",
    "nat64-local-use": "64:ff9b:1::a00:1",
    "nat64-metadata": "64:ff9b::a9fe:a9fe",
    "6to4": "2002:7f00:1::",
    "6to4-private": "2002:a00:1::1",
    "ipv4-compatible": "::127.0.0.1",
    "ipv4-mapped": "::ffff:127.0.0.1",
    "ipv4-mapped-metadata": "::ffff:169.254.169.254",
    "teredo": "2001:0:4136:e378:8000:63bf:80ff:fffe",  # client 127.0.0.1 (obfuscated bits)
    "isatap": "2600::5efe:a00:1",
}


@pytest.mark.parametrize("address", TRANSITION_FORMS.values(), ids=TRANSITION_FORMS.keys())
def test_ipv6_transition_form_literal_is_refused(address):
    with pytest.raises(fetch.FetchError, match="private, loopback or link-local"):
        fetch.resolve_checked(f"http://[{address}]/", allow_private=False)


@pytest.mark.parametrize("address", TRANSITION_FORMS.values(), ids=TRANSITION_FORMS.keys())
def test_ipv6_transition_form_in_a_dns_answer_is_refused(address, monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(fetch.socket, "getaddrinfo", resolve)
    with pytest.raises(fetch.FetchError, match="private, loopback or link-local"):
        fetch.resolve_checked("http://innocent.example/", allow_private=False)


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700:4700::1111"])
def test_transition_forms_of_public_addresses_stay_allowed(address):
    # An IPv6-only network reaches IPv4 sites through NAT64; those must keep working.
    import ipaddress

    connect_to = fetch.resolve_checked(f"http://[{address}]/", allow_private=False)[3]
    assert ipaddress.ip_address(connect_to) == ipaddress.ip_address(address)


@pytest.mark.parametrize("address", TRANSITION_FORMS.values(), ids=TRANSITION_FORMS.keys())
def test_redirect_to_an_ipv6_transition_form_is_refused(address, monkeypatch):
    """The first hop (a loopback server standing in for a public site) is allowed; the check of
    the redirect's target runs with private addresses refused, and no request is sent there."""
    server = LoopbackServer()
    try:
        server.routes["/go"] = (302, {"Location": f"http://[{address}]:{server.httpd.server_address[1]}/secret"}, b"")
        real = fetch.resolve_checked

        def checked(url, *, allow_private):
            return real(url, allow_private=url.startswith("http://127.0.0.1:"))

        monkeypatch.setattr(fetch, "resolve_checked", checked)
        with pytest.raises(fetch.FetchError, match="private, loopback or link-local"):
            fetch.safe_request("GET", server.url("/go"), allow_private=False, timeout=5, max_bytes=1024)
        assert [r["path"] for r in server.received] == ["/go"]
    finally:
        server.stop()
