"""SSRF guard: a webhook may only reach public addresses, checked at creation and at connect.

``check_url`` vets a subscriber's URL when it is saved; ``PinnedTransport`` resolves the host
once per request, vets every address and connects to the vetted one, keeping the name for
``Host`` and TLS (SNI and certificate check), so a DNS answer that changes between the check
and the connection (rebinding) cannot steer a delivery inside our network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Cloud metadata services: refused even when the operator allows private targets.
METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# The setting that lets an operator send webhooks to private receivers (labs, tests).
ALLOW_PRIVATE_SETTING = "CUTWATCH_WEBHOOK_ALLOW_PRIVATE"

# Blocks of the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and later)
# that are not globally reachable, plus deprecated ones that are not ordinary hosts: the
# standard library's ``is_global`` depends on the Python patch release and misses several
# (site-local fec0::/10, the 6to4 relay anycast, 3fff::/20 and other recent entries).
# Checked before ``is_global``; the embedded IPv4 of 6to4 and NAT64 is checked on its own.
SPECIAL_PURPOSE: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(block), why) for block, why in (
        ("0.0.0.0/8", "a 'this network' address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a deprecated 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("100:0:0:1::/64", "a dummy IPv6 prefix address"),
        ("2001::/23", "an IETF protocol assignment address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "a segment routing (SRv6) address"),
        ("fc00::/7", "a private address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a deprecated site-local address"),
    )
)


class UnsafeTarget(ValueError):
    """A webhook URL or address we refuse to send to; the message is one line for the user."""


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden inside a mapped, 6to4, Teredo or NAT64 IPv6 address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why this address is not an acceptable webhook target, or None when it is."""
    inner = _embedded_v4(ip)
    if inner is not None:
        return refusal(inner, allow_private=allow_private)
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if allow_private:
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a carrier-grade NAT address"
    for block, why in SPECIAL_PURPOSE:
        if ip.version == block.version and ip in block:
            return why
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a reserved address"
    return None


# Said only where the setting would help: metadata, multicast and unspecified addresses are
# refused whatever it says.
_HINT = f" (set {ALLOW_PRIVATE_SETTING}=true to allow private receivers)"


def _allowable(ip: IPAddress) -> bool:
    return refusal(ip, allow_private=True) is None


def check_syntax(url: str, *, allow_private: bool) -> httpx.URL:
    """Parse and check the parts of the URL that need no name resolution."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeTarget(f"webhook URL is not a valid URL: {exc}") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parsed.scheme not in allowed:
        raise UnsafeTarget(
            f"webhook URL must use https (http:// needs {ALLOW_PRIVATE_SETTING}=true)")
    if not parsed.host:
        raise UnsafeTarget("webhook URL has no host")
    if parsed.userinfo:
        raise UnsafeTarget("webhook URL must not carry credentials")
    return parsed


async def vetted_addresses(url: httpx.URL, *, allow_private: bool,
                           resolver: Resolver = system_resolve) -> list[IPAddress]:
    """Resolve the URL's host once; every address must be acceptable (not just one)."""
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0])
                         for a in await resolver(host, port)]
        except (OSError, UnicodeError) as exc:
            raise UnsafeTarget(f"webhook host {host} does not resolve: {exc}") from None
    if not addresses:
        raise UnsafeTarget(f"webhook host {host} does not resolve")
    for ip in addresses:
        reason = refusal(ip, allow_private=allow_private)
        if reason is not None:
            raise UnsafeTarget(
                f"webhook host {host} resolves to {ip}, {reason}; only public addresses "
                f"are allowed{_HINT if _allowable(ip) and not allow_private else ''}")
    return addresses


async def check_url(url: str, *, allow_private: bool,
                    resolver: Resolver = system_resolve) -> str:
    """Vet a subscriber's URL when it is created or changed; return it normalised."""
    parsed = check_syntax(url, allow_private=allow_private)
    await vetted_addresses(parsed, allow_private=allow_private, resolver=resolver)
    return str(parsed)


class PinnedTransport(httpx.AsyncBaseTransport):
    """Resolve, vet, then connect to the vetted address under the original name."""

    def __init__(self, *, allow_private: bool, verify: object = True,
                 resolver: Resolver = system_resolve) -> None:
        self._allow_private = allow_private
        self._resolver = resolver
        self._inner = httpx.AsyncHTTPTransport(verify=verify, retries=0)  # type: ignore[arg-type]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = check_syntax(str(request.url), allow_private=self._allow_private)
        ip = (await vetted_addresses(url, allow_private=self._allow_private,
                                     resolver=self._resolver))[0]
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        pinned = httpx.Request(
            request.method, url.copy_with(host=str(ip)), headers=request.headers,
            stream=request.stream, extensions=extensions)
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._inner.aclose()
