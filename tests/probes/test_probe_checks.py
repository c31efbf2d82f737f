"""Every failure class produced by a real lab peer and classified correctly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from probe_lab import ZONE, Lab

from cutwatch.api.lab.dns import DnsServer
from cutwatch.api.lab.http import BLOCK_PAGE_TITLE, HttpServer
from cutwatch.api.lab.tcp import SilentPort, TcpServer, closed_port
from cutwatch.probes.checks.base import Context, raw_sockets_allowed
from cutwatch.probes.checks.dns import is_bogon, resolver_address
from cutwatch.probes.checks.gateway import default_gateway
from cutwatch.probes.runner import measure
from cutwatch.probes.targets import (
    DnsTarget,
    GatewayTarget,
    HttpTarget,
    IcmpTarget,
    TcpTarget,
    TracerouteTarget,
)
from cutwatch.wire import Family, Result

CTX = Context()
pytestmark = pytest.mark.anyio


def dns(resolver: str, query: str = "ok.test", **extra: Any) -> DnsTarget:
    return DnsTarget(kind="dns", name="d", tag="international", query=query, resolver=resolver,
                     timeout=1, late_window=0.15, **extra)


def tcp(port: int, **extra: Any) -> TcpTarget:
    return TcpTarget(kind="tcp", name="t", tag="domestic", host="127.0.0.1", port=port,
                     **{"timeout": 1} | extra)


def http(url: str, **extra: Any) -> HttpTarget:
    return HttpTarget(kind="http", name="h", tag="international", url=url,
                      **{"timeout": 3} | extra)


async def run(target: Any, family: Family = "ipv4", context: Context = CTX) -> Result:
    return await measure(target, family, context)


async def test_dns_ok_a_and_aaaa_measured_separately(lab: Lab) -> None:
    a = await run(dns(lab.resolver(lab.dns)), "ipv4")
    aaaa = await run(dns(lab.resolver(lab.dns)), "ipv6")
    assert (a.ok, a.family, a.details["qtype"], a.details["rcode"]) == (True, "ipv4", "A", 0)
    assert [x["data"] for x in a.details["answers"]] == ["93.184.216.34"]
    assert a.details["answers"][0]["ttl"] == 120
    assert aaaa.ok
    assert aaaa.family == "ipv6"
    assert aaaa.details["answers"][0]["data"] == "2606:2800:220:1:248:1893:25c8:1946"
    v6 = await run(dns(lab.resolver(lab.dns), "v4only.test"), "ipv6")
    assert (v6.ok, v6.failure) == (False, "dns_no_answer")


@pytest.mark.parametrize(
    ("mode", "query", "failure"),
    [("normal", "missing.test", "dns_nxdomain_error"),
     ("nxdomain", "ok.test", "dns_nxdomain_error"),
     ("servfail", "ok.test", "dns_server_failure"), ("refused", "ok.test", "dns_refused_error"),
     ("silent", "ok.test", "generic_timeout_error"), ("twice", "ok.test", "dns_injection_error"),
     ("bogon", "ok.test", "dns_bogon_error"), ("wrong_source", "ok.test", "dns_injection_error")],
)
async def test_dns_failures(mode: Any, query: str, failure: str) -> None:
    with DnsServer(ZONE, mode=mode, delay=0.05) as server:
        result = await run(dns(f"127.0.0.1:{server.port}", query))
    assert (result.ok, result.failure) == (False, failure)
    if mode == "twice":
        assert result.details["injection"] == ["multiple_replies"]
        assert result.details["replies"] == 2
        assert [r["answers"][0]["data"] for r in result.details["all_replies"]] == [
            "203.0.113.66", "93.184.216.34"]
    if mode == "wrong_source":
        assert result.details["injection"] == ["unexpected_source"]
    if mode == "bogon":
        assert result.details["answers"][0]["data"] == "10.10.34.34"


async def test_dns_private_answers_allowed_when_expected(lab: Lab) -> None:
    flagged = await run(dns(lab.resolver(lab.dns), "lan.test"))
    allowed = await run(dns(lab.resolver(lab.dns), "lan.test", allow_private=True))
    assert (flagged.failure, allowed.ok) == ("dns_bogon_error", True)


async def test_dns_system_resolver_from_resolv_conf(lab: Lab, tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\nsearch lan\nnameserver 127.0.0.1\n")
    assert resolver_address("system", conf) == ("127.0.0.1", 53)
    assert resolver_address("[::1]:5353", conf) == ("::1", 5353)
    assert resolver_address("127.0.0.1:5300", conf) == ("127.0.0.1", 5300)
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    result = await run(dns("system"), context=Context(resolv_conf=empty))
    assert (result.failure, result.details["reason"]) == (
        "probe_error", f"no usable resolver: no nameserver in {empty}")


def test_bogon_space() -> None:
    assert [is_bogon(a) for a in ("10.1.1.1", "127.0.0.1", "0.0.0.0", "fd00::1", "::1",
                                  "93.184.216.34", "2606:2800::1")] == [
        True, True, True, True, True, False, False]


async def test_tcp_ok_refused_reset_timeout(lab: Lab) -> None:
    ok = await run(tcp(lab.held.port))
    refused = await run(tcp(closed_port()))
    reset = await run(tcp(lab.reset.port))
    assert ok.ok
    assert ok.details["connect_ms"] >= 0
    assert ok.details["eof"] is False
    assert (refused.failure, refused.details["phase"]) == ("connection_refused", "connect")
    # The RST may beat the event loop to the connect's completion: either phase is honest.
    assert reset.failure == "connection_reset"
    assert reset.details["phase"] in ("connect", "after_connect")


async def test_tcp_timeout_on_dropped_syn() -> None:
    with SilentPort() as silent:
        result = await run(tcp(silent.port, timeout=0.5))
    assert (result.failure, result.details["phase"]) == ("generic_timeout_error", "connect")


async def test_tcp_ipv6_separately() -> None:
    with TcpServer("hold", host="::1") as server:
        target = TcpTarget(kind="tcp", name="t6", tag="lan", host="::1", port=server.port,
                           families=("ipv6",), linger=0)
        result = await run(target, "ipv6")
        v4 = await run(target, "ipv4")
    assert (result.ok, result.family, result.details["address"]) == (True, "ipv6", "::1")
    assert (v4.ok, v4.family) == (False, "ipv4")  # ::1 has no IPv4 address
    assert v4.failure in ("dns_no_answer", "dns_nxdomain_error", "unknown_failure")


async def test_http_ok_with_timings_and_hash(lab: Lab) -> None:
    import hashlib

    from cutwatch.api.lab.http import OK_PAGE

    result = await run(http(lab.web.url("/redirect/2")))
    assert (result.ok, result.details["status"], result.details["redirects"]) == (True, 200, 2)
    assert result.details["body_sha256"] == hashlib.sha256(OK_PAGE).hexdigest()
    timings = result.details["timings"]
    assert {"connect_ms", "ttfb_ms", "total_ms"} <= set(timings)


async def test_http_block_page_loop_and_status(lab: Lab) -> None:
    pattern = BLOCK_PAGE_TITLE.split()[0] + r"\s+to this site"
    blocked = await run(http(lab.web.url("/blocked"), block_patterns=(pattern,)))
    loop = await run(http(lab.web.url("/loop")))
    missing = await run(http(lab.web.url("/status/503")))
    assert (blocked.failure, blocked.details["block_page"]) == ("http_block_page", "target:0")
    assert (loop.failure, loop.details["redirects"]) == ("http_too_many_redirects", 10)
    assert (missing.failure, missing.details["status"]) == ("http_request_failed", 503)


async def test_http_body_cap_and_throughput() -> None:
    with HttpServer(rate=400_000) as slow:
        result = await run(http(slow.url("/object/200000"), expect_size=200_000))
        capped = await run(http(slow.url("/object/200000"), max_body=1000))
    assert result.ok
    assert result.details["size_ok"] is True
    assert 0 < result.details["throughput_bps"] < 400_000 * 8 * 1.5
    assert (capped.details["body_size"], capped.details["truncated"]) == (1000, True)


async def test_http_drip_fed_body_is_cut_at_the_deadline() -> None:
    with HttpServer(rate=20_000) as drip:  # 200 kB at 20 kB/s would take 10 s
        result = await run(http(drip.url("/object/200000"), expect_size=200_000, timeout=0.2))
    assert result.ok
    assert result.details["truncated"] is True
    assert result.details["size_ok"] is False
    assert 0 < result.details["body_size"] < 200_000
    assert result.duration_ms < 3000


async def test_tls_failures(lab: Lab) -> None:
    good = await run(http(lab.tls.url("/"), ca_file=str(lab.ca_file)))
    unknown = await run(http(lab.tls.url("/")))
    wrong = await run(http(lab.wrong_host.url("/"), ca_file=str(lab.ca_file)))
    assert good.ok
    assert good.details["timings"]["tls_ms"] > 0
    assert unknown.failure == "ssl_unknown_authority"
    assert unknown.details["phase"] == "tls_handshake"
    assert wrong.failure == "ssl_invalid_hostname"


async def test_tls_expired_and_cut_handshakes(tmp_path: Path) -> None:
    from cutwatch.api.lab.http import LabCA

    ca = LabCA()
    ca_file = str(ca.write_pem(tmp_path / "ca.pem"))
    with HttpServer(tls=ca.server_context(expired=True)) as expired, \
            TcpServer("close_after_read") as cut, TcpServer("reset_after_read") as sni:
        old = await run(http(expired.url("/"), ca_file=ca_file))
        eof = await run(http(f"https://127.0.0.1:{cut.port}/"))
        rst = await run(http(f"https://127.0.0.1:{sni.port}/"))
    assert old.failure == "ssl_invalid_certificate"
    assert (eof.failure, eof.details["phase"]) == ("ssl_failed_handshake", "tls_handshake")
    assert (rst.failure, rst.details["phase"]) == ("connection_reset", "tls_handshake")


async def test_http_refused() -> None:
    result = await run(http(f"http://127.0.0.1:{closed_port()}/"))
    assert (result.failure, result.details["phase"]) == ("connection_refused", "connect")


async def test_gateway_up_even_when_refused_and_down_when_silent(lab: Lab) -> None:
    up = GatewayTarget(kind="gateway", name="gw", address="127.0.0.1",
                       ports=(closed_port(), lab.held.port))
    refused_only = GatewayTarget(kind="gateway", name="gw", address="127.0.0.1",
                                 ports=(closed_port(),))
    first, second = await run(up), await run(refused_only)
    assert (first.ok, first.scope) == (True, "lan")
    assert first.details["ports"][str(lab.held.port)] == "open"
    assert second.ok  # an RST proves the gateway is alive
    with SilentPort() as silent:
        down = await run(GatewayTarget(kind="gateway", name="gw", address="127.0.0.1",
                                       ports=(silent.port,), timeout=0.3))
    assert (down.ok, down.failure) == (False, "generic_timeout_error")


def test_default_gateway_from_proc(tmp_path: Path) -> None:
    (tmp_path / "route").write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n")
    (tmp_path / "ipv6_route").write_text(
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fd000000000000000000000000000001 00000400 00000002 00000000 00000003 eth0\n")
    assert default_gateway(tmp_path, "ipv4") == "192.0.2.1"
    assert default_gateway(tmp_path, "ipv6") == "fd00::1"
    assert default_gateway(tmp_path / "missing", "ipv4") is None


@pytest.mark.skipif(not raw_sockets_allowed(), reason="needs CAP_NET_RAW")
@pytest.mark.parametrize(("host", "family"), [("127.0.0.1", "ipv4"), ("::1", "ipv6")])
async def test_icmp_and_traceroute_per_family(host: str, family: Family) -> None:
    context = Context(raw_sockets=True)
    ping = IcmpTarget(kind="icmp", name="i", tag="lan", host=host, count=2, timeout=1)
    trace = TracerouteTarget(kind="traceroute", name="tr", tag="lan", host=host, max_hops=3,
                             timeout=1)
    pinged, traced = await run(ping, family, context), await run(trace, family, context)
    assert (pinged.ok, pinged.family, pinged.details["received"]) == (True, family, 2)
    assert traced.ok
    assert traced.details["hops"] == [
        {"ttl": 1, "address": host, "rtt_ms": traced.details["hops"][0]["rtt_ms"],
         "kind": "reply"}]
