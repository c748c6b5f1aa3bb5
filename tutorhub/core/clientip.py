"""Who is the client? One answer for throttles, the login limiter, logs and WebSockets.

`X-Forwarded-For` is whatever the sender wrote, so it only counts when the socket peer is a
proxy listed in `TRUSTED_PROXIES` (IP addresses or CIDR networks). Then the header is read
from the right: each trusted proxy appended the address it saw, so the first hop from the
right that is not a trusted proxy is the client; everything left of it is the client's own
claim. With `TRUSTED_PROXIES` empty (the default) the socket address is the client, so a
rotating header cannot buy a fresh rate-limit budget per request."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from django.conf import settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_proxies() -> tuple[IPNetwork, ...]:
    """The TRUSTED_PROXIES setting parsed (read per call so settings overrides apply; parsed
    once per distinct value)."""
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _parse(value: str) -> IPAddress | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51000"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # An IPv4-mapped IPv6 peer (dual-stack sockets) is the IPv4 client it wraps.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _is_trusted(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def resolve(peer: str | None, forwarded_for: str | None) -> str:
    """The client's address given the socket peer and the X-Forwarded-For value (several
    headers joined by commas, as servers pass them)."""
    peer_address = _parse(peer or "")
    if peer_address is None:
        return peer or UNKNOWN
    networks = trusted_proxies()
    if not forwarded_for or not _is_trusted(peer_address, networks):
        return str(peer_address)
    client = peer_address
    for hop in reversed(forwarded_for.split(",")):
        address = _parse(hop)
        if address is None:
            # Garbage where an address should be: the hop that appended it is the last one we
            # can vouch for, and it is a trusted proxy, so stop there.
            break
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)


def client_ip(request) -> str:
    """The client address of a Django `HttpRequest` or a DRF `Request`."""
    meta = getattr(request, "META", None) or {}
    return resolve(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"))


def scope_client_ip(scope) -> str:
    """The client address of an ASGI (Channels) connection scope."""
    client = scope.get("client") or (None, None)
    forwarded = b",".join(value for name, value in scope.get("headers", []) if name == b"x-forwarded-for")
    return resolve(client[0], forwarded.decode("latin-1") or None)


class ClientAddressMiddleware:
    """ASGI middleware: `scope["client"]` becomes the resolved client address, so Django's
    REMOTE_ADDR, Channels consumers and anything else reading the scope agree with the
    throttles, whichever ASGI server runs the app and whatever it trusts on its own.

    Resolving again later (client_ip on REMOTE_ADDR) gives the same answer: an address that is
    not a trusted proxy is taken as it is, and a trusted one re-reads the same header."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            port = scope["client"][1] if len(scope["client"]) > 1 else 0
            scope = {**scope, "client": (scope_client_ip(scope), port)}
        return await self.app(scope, receive, send)
