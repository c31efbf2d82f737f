"""SSRF guard: refusal table, and the connect-time check that pins the vetted address.

Names are resolved by an injected resolver, so no test asks a DNS server anything; every
connection goes to loopback.
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest

from cutwatch.api.lab.http import HttpServer, LabCA
from cutwatch.api.webhooks.ssrf import PinnedTransport, Resolver, UnsafeTarget, check_url, refusal

from .receiver import Receiver

pytestmark = pytest.mark.anyio

TABLE = [
    ("93.184.215.14", False, None),
    ("2606:4700::1111", False, None),
    ("127.0.0.1", False, "a loopback address"),
    ("127.0.0.1", True, None),
    ("::1", False, "a loopback address"),
    ("10.0.0.1", False, "a private address"),
    ("10.0.0.1", True, None),
    ("172.16.5.4", False, "a private address"),
    ("192.168.0.1", False, "a private address"),
    ("fd12::1", False, "a private address"),
    ("100.64.1.1", False, "a carrier-grade NAT address"),
    ("169.254.1.1", False, "a link-local address"),
    ("fe80::1", False, "a link-local address"),
    ("169.254.169.254", False, "a cloud metadata address"),
    ("169.254.169.254", True, "a cloud metadata address"),  # even with the operator setting
    ("fd00:ec2::254", True, "a cloud metadata address"),
    ("224.0.0.251", True, "a multicast address"),
    ("ff02::1", False, "a multicast address"),
    ("0.0.0.0", True, "an unspecified address"),
    ("240.0.0.1", False, "a reserved address"),
    ("192.0.2.1", False, "a documentation address"),
    ("::ffff:127.0.0.1", False, "a loopback address"),  # IPv4-mapped
    ("64:ff9b::a00:1", False, "a private address"),  # NAT64 of 10.0.0.1
    ("2002:a00:1::", False, "a private address"),  # 6to4 of 10.0.0.1
    # IANA special-purpose blocks the standard library's is_global lets through.
    ("fec0::1", False, "a deprecated site-local address"),
    ("192.88.99.1", False, "a deprecated 6to4 relay anycast address"),
    ("192.0.0.8", False, "an IETF protocol assignment address"),
    ("192.0.0.9", False, "an IETF protocol assignment address"),
    ("3fff::1", False, "a documentation address"),
    ("5f00::1", False, "a segment routing (SRv6) address"),
    ("100:0:0:1::1", False, "a dummy IPv6 prefix address"),
    ("64:ff9b:1::1", False, "a local-use NAT64 address"),
    ("100::1", False, "a discard-only address"),
    ("2001:db8::1", False, "a documentation address"),
    ("2001:2::1", False, "an IETF protocol assignment address"),  # benchmarking
    ("198.18.0.1", False, "a benchmarking address"),
    ("203.0.113.9", False, "a documentation address"),
    ("0.1.2.3", False, "a 'this network' address"),
    ("fec0::1", True, None),  # the operator's setting allows private receivers
    ("192.88.99.1", True, None),
]

# The four the hostile test found, as URLs, and the setting the refusal must name.
URLS = ["https://[fec0::1]/", "https://192.88.99.1/", "https://192.0.0.8/",
        "https://[3fff::1]/"]


@pytest.mark.parametrize("url", URLS)
async def test_special_purpose_urls_are_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(UnsafeTarget, match="only public addresses are allowed") as refused:
        await check_url(url, allow_private=False)
    assert "CUTWATCH_WEBHOOK_ALLOW_PRIVATE=true" in str(refused.value)
    assert await check_url(url, allow_private=True) == url


async def test_refusals_the_setting_cannot_lift_do_not_name_it() -> None:
    with pytest.raises(UnsafeTarget) as refused:
        await check_url("https://169.254.169.254/", allow_private=False)
    assert "cloud metadata" in str(refused.value)
    assert "CUTWATCH_WEBHOOK_ALLOW_PRIVATE" not in str(refused.value)
    with pytest.raises(UnsafeTarget, match="CUTWATCH_WEBHOOK_ALLOW_PRIVATE=true"):
        await check_url("http://93.184.215.14/", allow_private=False)


def test_global_addresses_outside_the_blocks_pass() -> None:
    # Neighbours of the refused blocks stay usable: the table is not over-broad.
    for address in ("192.88.98.255", "192.88.100.1", "192.0.1.1", "3fff:1000::1",
                    "2001:200::1"):
        assert refusal(ipaddress.ip_address(address), allow_private=False) is None, address


@pytest.mark.parametrize(("address", "allow", "reason"), TABLE)
def test_refusal_table(address: str, allow: bool, reason: str | None) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=allow) == reason


def answers(*sequence: list[str]) -> Resolver:
    """A resolver that gives one prepared answer per call (a rebinding name server)."""
    calls = iter(sequence)

    async def resolve(host: str, port: int) -> list[str]:
        return next(calls)
    return resolve


async def test_every_address_of_a_name_must_be_public() -> None:
    resolver = answers(["93.184.215.14", "10.0.0.8"])
    with pytest.raises(UnsafeTarget, match=r"hook\.example resolves to 10\.0\.0\.8, a private"):
        await check_url("https://hook.example/x", allow_private=False,
                        resolver=resolver)


async def test_dns_rebinding_is_refused_at_connection_time() -> None:
    # Public at creation, loopback when the dispatcher connects: refused before connecting.
    resolver = answers(["93.184.215.14"], ["127.0.0.1"])
    url = await check_url("https://rebind.example/hook", allow_private=False,
                          resolver=resolver)
    transport = PinnedTransport(allow_private=False, resolver=resolver)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(UnsafeTarget, match=r"resolves to 127\.0\.0\.1, a loopback address"):
            await client.post(url, content=b"{}")


async def test_pinned_connection_keeps_the_name_for_tls_and_host(tmp_path: Path) -> None:
    ca = LabCA()
    trust = ssl.create_default_context(cafile=str(ca.write_pem(tmp_path / "ca.pem")))
    # The name exists only in our resolver; the connection goes to the vetted 127.0.0.1 and
    # the certificate is checked against the name (SNI), not the address.
    with HttpServer(tls=ca.server_context("hooks.cutwatch.test")) as good:
        transport = PinnedTransport(allow_private=True, verify=trust,
                                    resolver=answers(["127.0.0.1"]))
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(f"https://hooks.cutwatch.test:{good.port}/")
        assert response.status_code == 200
        assert good.requests == ["/"]
    with HttpServer(tls=ca.server_context("other.cutwatch.test")) as wrong:
        transport = PinnedTransport(allow_private=True, verify=trust,
                                    resolver=answers(["127.0.0.1"]))
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await client.get(f"https://hooks.cutwatch.test:{wrong.port}/")


async def test_pinned_connection_keeps_the_host_header() -> None:
    receiver = Receiver(secret="whsec_" + "A" * 44).start()
    try:
        transport = PinnedTransport(allow_private=True, resolver=answers(["127.0.0.1"]))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.post(f"http://hooks.cutwatch.test:{receiver.port}/hook", content=b"{}")
        assert receiver.requests[0].headers["host"] == f"hooks.cutwatch.test:{receiver.port}"
    finally:
        receiver.stop()
