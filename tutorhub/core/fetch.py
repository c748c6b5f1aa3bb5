"""Outbound HTTP that cannot be turned against the server (SSRF-safe), for URL ingestion and
webhooks.

Every hop (the first URL and each redirect) is resolved once; if any address it resolves to
is not globally routable (private, loopback, link-local - including the 169.254.169.254
metadata service -, shared, multicast, reserved, unspecified) it is refused, unless
`allow_private` (INGEST_URL_ALLOW_PRIVATE=1). The connection then goes to the checked
address itself, with the original Host header and TLS server name, so a second DNS answer
(rebinding) cannot redirect it. Downloads are capped in time and size.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

USER_AGENT = "TutorHub/1.0 (+knowledge ingestion)"


class FetchError(Exception):
    """The URL cannot be fetched; the message is shown to the user."""


@dataclass
class Fetched:
    url: str
    content: bytes
    content_type: str
    status_code: int


# IPv6 prefixes whose last 32 bits are an IPv4 address that a translator or tunnel relay will
# connect to: NAT64 (RFC 6052 well-known and RFC 8215 local-use) and IPv4-compatible (::a.b.c.d,
# deprecated but still routed by some stacks). Python calls most of them globally routable.
_EMBEDS_IPV4_IN_LOW_BITS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 transition form carries (mapped, NAT64, IPv4-compatible, 6to4,
    Teredo server and client, ISATAP interface id)."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if any(ip in net for net in _EMBEDS_IPV4_IN_LOW_BITS):
        found.append(low32)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    if (int(ip) >> 32) & 0xFDFFFFFF == 0x00005EFE:  # ISATAP: interface id 0000:5efe or 0200:5efe
        found.append(low32)
    return found


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True unless the address, and every IPv4 address embedded in it, is globally routable."""
    if not ip.is_global or ip.is_multicast:
        # ::ffff:8.8.8.8 is "not global" only as an IPv6 address; judge it by the IPv4 inside.
        return not (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped and not _blocked(ip.ipv4_mapped))
    if isinstance(ip, ipaddress.IPv6Address):
        return any(_blocked(v4) for v4 in _embedded_ipv4(ip))
    return False


def resolve_checked(url: str, *, allow_private: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for `url`, or FetchError if it is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError("Only http:// and https:// URLs can be fetched.")
    if not parts.hostname:
        raise FetchError("The URL has no host.")
    if parts.username or parts.password:
        raise FetchError("URLs with credentials are not accepted.")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError("The URL has an invalid port.") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"The host {host!r} could not be resolved.") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise FetchError(f"The host {host!r} could not be resolved.")
    if not allow_private and any(_blocked(a) for a in addresses):
        raise FetchError("The URL points to a private, loopback or link-local address, which is not allowed.")
    return parts.scheme, host, port, str(addresses[0])


def safe_request(
    method: str,
    url: str,
    *,
    allow_private: bool,
    timeout: float,
    max_bytes: int,
    max_redirects: int = 5,
    headers: dict | None = None,
    content: bytes | None = None,
) -> Fetched:
    """Send one request (following redirects for GET), checking every hop. Raises FetchError."""
    current = url
    for _hop in range(max_redirects + 1):
        scheme, host, port, address = resolve_checked(current, allow_private=allow_private)
        parts = urlsplit(current)
        netloc = f"[{address}]" if ":" in address else address
        target = urlunsplit((scheme, f"{netloc}:{port}", parts.path or "/", parts.query, ""))
        default_port = 443 if scheme == "https" else 80
        request_headers = {
            "Host": host if port == default_port else f"{host}:{port}",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
                request = client.build_request(
                    method, target, headers=request_headers, content=content, extensions={"sni_hostname": host}
                )
                response = client.send(request, stream=True)
                try:
                    if response.is_redirect and method == "GET":
                        location = response.headers.get("location", "")
                        if not location:
                            raise FetchError("The server sent a redirect without a location.")
                        current = urljoin(current, location)
                        continue
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(f"The resource is larger than the {max_bytes // (1024 * 1024)} MB limit.")
                    body = bytearray()
                    for piece in response.iter_bytes():
                        body.extend(piece)
                        if len(body) > max_bytes:
                            raise FetchError(f"The resource is larger than the {max_bytes // (1024 * 1024)} MB limit.")
                    return Fetched(
                        url=current,
                        content=bytes(body),
                        content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
                        status_code=response.status_code,
                    )
                finally:
                    response.close()
        except httpx.TimeoutException:
            raise FetchError("The server took too long to answer.") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"The URL could not be fetched ({type(exc).__name__}).") from None
    raise FetchError("Too many redirects.")
