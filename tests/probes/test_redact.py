"""Household addresses never leave the probe: the redaction rule, and the runner applying it.

The unit table constructs the inputs directly (loopback, the only place tests may send to, is
not global, so a real check cannot produce a global household address on its own); the
runner tests exercise real lab peers on loopback with a probe whose own addresses come from
kernel files written into a temporary directory.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from cutwatch.api.lab.dns import DnsServer
from cutwatch.api.lab.tcp import closed_port
from cutwatch.probes.checks.base import Context
from cutwatch.probes.redact import REDACTED, OwnNetwork, interface_addresses, redact
from cutwatch.probes.runner import measure
from cutwatch.probes.targets import DnsTarget, GatewayTarget

OWN_V6 = "2a02:1234:5678:9:a:b:c:d"  # the probe's global IPv6 address
ROUTER_V6 = "2a02:1234:5678::1"  # same /48: the home router
NEIGHBOUR_V6 = "2a02:1234:5679::1"  # next /48: another customer, not the household
OWN_V4 = "81.2.69.160"
OWN = OwnNetwork.of([OWN_V6, OWN_V4, "192.168.1.23", "fe80::1", "::1", "127.0.0.1"])


@pytest.mark.parametrize(("address", "redacted"), [
    (OWN_V6, True),  # the probe itself
    (ROUTER_V6, True),  # inside the household /48
    ("2a02:1234:5678:ffff::99", True),
    (NEIGHBOUR_V6, False),  # other global IPv6
    ("2606:4700:4700::1111", False),
    (OWN_V4, True),  # the probe's own global IPv4
    ("81.2.69.161", False),  # its neighbour: IPv4 is redacted only when it is our own
    ("8.8.8.8", False),
    ("192.168.1.23", False),  # private (even our own: it reveals nothing public)
    ("10.0.0.1", False),
    ("100.64.0.1", False),  # CGNAT
    ("fd00:1234:5678::1", False),  # ULA
    ("fe80::1", False),  # link-local
    ("127.0.0.1", False),
    ("::1", False),
])
def test_redaction_table(address: str, redacted: bool) -> None:
    out = redact("tcp", {"address": address, "error": f"connect to ('{address}', 443) failed"},
                 OWN)
    expected = REDACTED if redacted else address
    assert out["address"] == expected
    assert out["error"] == f"connect to ('{expected}', 443) failed"


def test_addresses_are_found_anywhere_in_the_details() -> None:
    details = {"url": f"http://[{ROUTER_V6}]:8080/x", "resolver": f"{OWN_V4}:53",
               "all_replies": [{"source": f"[{ROUTER_V6}]:53"}, {"source": "[2606::1]:53"}],
               "note": f"seen {OWN_V4}.", "body_sha256": "ab" * 32, "status": 200}
    out = redact("http", details, OWN)
    assert out == {"url": "http://[redacted]:8080/x", "resolver": "redacted:53",
                   "all_replies": [{"source": "[redacted]:53"}, {"source": "[2606::1]:53"}],
                   "note": "seen redacted.", "body_sha256": "ab" * 32, "status": 200}
    assert details["url"] == f"http://[{ROUTER_V6}]:8080/x"  # the input is left alone


def test_traceroute_edge_hops_lose_global_addresses_but_keep_the_rest() -> None:
    hops = [{"ttl": 1, "address": "192.168.1.1", "rtt_ms": 0.8, "kind": "time_exceeded"},
            {"ttl": 2, "address": "62.1.2.3", "rtt_ms": 4.1, "kind": "time_exceeded"},
            {"ttl": 3, "address": "62.1.9.9", "rtt_ms": 9.5, "kind": "time_exceeded"},
            {"ttl": 4, "address": ROUTER_V6, "rtt_ms": 9.9, "kind": "time_exceeded"},
            {"ttl": 5, "address": None, "rtt_ms": None, "kind": "timeout"}]
    out = redact("traceroute", {"host": "example.org", "address": "93.184.216.34",
                                "hops": hops}, OwnNetwork())
    assert [h["address"] for h in out["hops"]] == ["192.168.1.1", REDACTED, "62.1.9.9",
                                                   ROUTER_V6, None]
    assert [(h["ttl"], h["rtt_ms"], h["kind"]) for h in out["hops"]] == [
        (h["ttl"], h["rtt_ms"], h["kind"]) for h in hops]
    assert out["address"] == "93.184.216.34"
    # With the household known, a deeper hop inside it goes too.
    assert redact("traceroute", {"hops": hops}, OWN)["hops"][3]["address"] == REDACTED


def test_gateway_global_address_is_redacted_private_kept() -> None:
    assert redact("gateway", {"gateway": "62.1.2.3"}, OwnNetwork())["gateway"] == REDACTED
    assert redact("gateway", {"gateway": "fe80::1"}, OWN)["gateway"] == "fe80::1"
    assert redact("gateway", {"gateway": "192.168.1.1"}, OWN)["gateway"] == "192.168.1.1"


def test_system_resolver_in_the_household_is_reported_as_system() -> None:
    details = {"resolver": f"[{ROUTER_V6}]:53", "all_replies": [{"source": f"[{ROUTER_V6}]:53"}]}
    out = redact("dns", details, OWN, system_resolver=True)
    assert out == {"resolver": "system", "resolver_family": "ipv6",
                   "all_replies": [{"source": "[redacted]:53"}]}
    # An ISP resolver outside the household and a LAN resolver are kept as they are.
    for resolver in ("[2a02:9999::53]:53", "192.168.1.1:53"):
        assert redact("dns", {"resolver": resolver}, OWN, system_resolver=True) == {
            "resolver": resolver}
    # A configured (not system) resolver in the household is an ordinary address.
    assert redact("dns", details, OWN)["resolver"] == "[redacted]:53"


def write_proc_net(directory: Path, v6: list[str], v4: list[str]) -> Path:
    """The two kernel files the probe reads its own addresses from, as Linux writes them."""
    directory.mkdir(exist_ok=True)
    (directory / "if_inet6").write_text("".join(
        f"{ipaddress.IPv6Address(a).packed.hex()} 02 40 00 80     eth0\n" for a in v6))
    leaves = "".join(f"           |-- {a}\n              /32 host LOCAL\n" for a in v4)
    (directory / "fib_trie").write_text(
        "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n"
        "           |-- 81.2.69.0\n              /24 link UNICAST\n" + leaves)
    return directory


def test_own_addresses_are_read_from_the_kernel_files(tmp_path: Path) -> None:
    proc = write_proc_net(tmp_path / "net", [OWN_V6, "fe80::1", "::1"], [OWN_V4, "127.0.0.1"])
    own = OwnNetwork.read(proc)
    assert {str(a) for a in own.ipv4} == {OWN_V4}
    assert {str(n) for n in own.ipv6_prefixes} == {"2a02:1234:5678::/48"}
    assert OwnNetwork.read(tmp_path / "missing") == OwnNetwork()


def test_this_machine_s_interface_addresses_are_read() -> None:
    # The real kernel files of this network namespace: loopback is always configured.
    found = interface_addresses(Path("/proc/self/net"))
    assert "127.0.0.1" in found
    if Path("/proc/self/net/if_inet6").exists():
        assert "::1" in found


@pytest.mark.anyio
async def test_runner_redacts_a_household_address_from_a_real_check(tmp_path: Path) -> None:
    # A real DNS peer on loopback answers with addresses of the probe's household: the wire
    # Result built by the runner must not carry them, while the other answers stay.
    zone = {"home.test": [ROUTER_V6, NEIGHBOUR_V6, OWN_V4, "93.184.216.34"]}
    proc = write_proc_net(tmp_path / "net", [OWN_V6], [OWN_V4])
    context = Context(proc_net=proc)
    with DnsServer(zone) as server:
        resolver = f"{server.host}:{server.port}"
        results = {family: await measure(DnsTarget(
            kind="dns", name="d", tag="domestic", query="home.test", resolver=resolver,
            timeout=1, late_window=0), family, context) for family in ("ipv4", "ipv6")}
    data: dict[str, Any] = {f: [a["data"] for a in r.details["answers"]]
                            for f, r in results.items()}
    assert data == {"ipv4": [REDACTED, "93.184.216.34"], "ipv6": [REDACTED, NEIGHBOUR_V6]}
    assert all(r.ok for r in results.values())
    assert results["ipv4"].details["resolver"] == resolver  # loopback: not global, kept
    wire = results["ipv6"].to_json()
    assert ROUTER_V6 not in wire
    assert OWN_V4 not in results["ipv4"].to_json()


@pytest.mark.anyio
async def test_runner_keeps_lab_addresses(tmp_path: Path) -> None:
    # The gateway check against a real (closed, hence refusing) loopback port: nothing global.
    target = GatewayTarget(kind="gateway", name="g", tag="lan", address="127.0.0.1",
                           ports=[closed_port()], timeout=1)
    result = await measure(target, "ipv4", Context(proc_net=write_proc_net(
        tmp_path / "net", [OWN_V6], [OWN_V4])))
    assert result.ok
    assert result.details["gateway"] == "127.0.0.1"
    assert list(result.details["ports"].values()) == ["connection_refused"]
