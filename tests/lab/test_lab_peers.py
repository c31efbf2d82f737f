"""Each lab peer does what it promises, seen from a plain socket client."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest
from scapy.layers.dns import DNS, DNSQR

from cutwatch.api.lab.dns import DnsServer
from cutwatch.api.lab.http import BLOCK_PAGE_TITLE, HttpServer, LabCA, object_bytes
from cutwatch.api.lab.tcp import DelayProxy, SilentPort, TcpServer, closed_port

ZONE = {"ok.test": ["127.0.0.1", "::1"]}


def _ask(server: DnsServer, name: str, qtype: str = "A", wait: float = 0.2) -> list[DNS]:
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(wait)
        sock.sendto(bytes(DNS(id=7, rd=1, qd=DNSQR(qname=name, qtype=qtype))), server.address)
        try:
            while True:
                data, source = sock.recvfrom(4096)
                reply = DNS(data)
                reply.source = source
                replies.append(reply)
        except TimeoutError:
            return replies


def test_dns_normal_answers_a_and_aaaa_and_nxdomain() -> None:
    with DnsServer(ZONE, ttl=42) as dns:
        (a,) = _ask(dns, "ok.test")
        (aaaa,) = _ask(dns, "ok.test", "AAAA")
        (missing,) = _ask(dns, "nope.test")
    assert (a.id, a.rcode, a.an[0].rdata, a.an[0].ttl) == (7, 0, "127.0.0.1", 42)
    assert aaaa.an[0].rdata == "::1"
    assert missing.rcode == 3
    assert dns.queries == [("ok.test.", 1), ("ok.test.", 28), ("nope.test.", 1)]


@pytest.mark.parametrize(("mode", "rcode"), [("nxdomain", 3), ("servfail", 2), ("refused", 5)])
def test_dns_rcode_modes(mode: str, rcode: int) -> None:
    with DnsServer(ZONE, mode=mode) as dns:  # type: ignore[arg-type]
        (reply,) = _ask(dns, "ok.test")
    assert reply.rcode == rcode


def test_dns_silent_never_answers() -> None:
    with DnsServer(ZONE, mode="silent") as dns:
        assert _ask(dns, "ok.test", wait=0.3) == []
        assert dns.queries == [("ok.test.", 1)]


def test_dns_twice_sends_fake_then_real() -> None:
    with DnsServer(ZONE, mode="twice", delay=0.05) as dns:
        first, second = _ask(dns, "ok.test")
    assert [first.an[0].rdata, second.an[0].rdata] == ["203.0.113.66", "127.0.0.1"]


def test_dns_bogon_and_wrong_source() -> None:
    with DnsServer(ZONE, mode="bogon") as dns:
        (bogon,) = _ask(dns, "anything.test")
    assert bogon.an[0].rdata == "10.10.34.34"
    with DnsServer(ZONE, mode="wrong_source") as dns:
        (reply,) = _ask(dns, "ok.test")
        assert reply.source != dns.address
        assert reply.an[0].rdata == "127.0.0.1"


def test_tcp_hold_reset_and_closed_port() -> None:
    with TcpServer("hold") as held, socket.create_connection(held.address, timeout=2) as conn:
        conn.settimeout(0.2)
        with pytest.raises(TimeoutError):
            conn.recv(1)  # held open: nothing comes, nothing closes
    # A blocking connect: it returns once the handshake is done (synchronous on loopback).
    # With a timeout, Python connects non-blocking and then reads SO_ERROR, which may already
    # hold the peer's RST, so the reset would sometimes surface at connect instead of recv.
    with TcpServer("reset") as reset, socket.create_connection(reset.address) as conn:
        conn.settimeout(2)
        with pytest.raises(ConnectionResetError):
            conn.recv(1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port()), timeout=2)


def test_tcp_reset_after_read() -> None:
    with TcpServer("reset_after_read") as peer, socket.create_connection(peer.address) as conn:
        conn.settimeout(2)
        deadline = time.monotonic() + 10  # the peer's accept, however loaded the machine
        while peer.accepted < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert peer.accepted == 1
        conn.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            conn.recv(1)


def _get(url: str, context: ssl.SSLContext | None = None) -> tuple[str, bytes]:
    response = httpx.get(url, verify=context or True, follow_redirects=True, timeout=5)
    return str(response.url), response.content


def test_http_routes() -> None:
    with HttpServer() as web:
        assert _get(web.url("/"))[1].endswith(b"ok</body></html>\n")
        assert BLOCK_PAGE_TITLE.encode() in _get(web.url("/blocked"))[1]
        assert _get(web.url("/object/1000"))[1] == object_bytes(1000)
        assert _get(web.url("/redirect/3"))[0] == web.url("/")
        with pytest.raises(httpx.TooManyRedirects):
            _get(web.url("/loop"))
    assert len(object_bytes(1000)) == 1000


def test_http_rate_limits_download() -> None:
    with HttpServer(rate=100_000) as web:
        started = time.monotonic()
        assert len(_get(web.url("/object/30000"))[1]) == 30000
        assert time.monotonic() - started >= 0.25


def test_https_good_wrong_host_and_unknown_ca(tmp_path: Path) -> None:
    ca = LabCA()
    trusted = ssl.create_default_context(cafile=str(ca.write_pem(tmp_path / "ca.pem")))
    with HttpServer(tls=ca.server_context()) as web:
        assert _get(web.url("/"), trusted)[1].endswith(b"ok</body></html>\n")
        with pytest.raises(httpx.ConnectError, match="unable to get local issuer"):
            _get(web.url("/"), ssl.create_default_context())
    with HttpServer(tls=ca.server_context("wrong.example")) as web, pytest.raises(
        httpx.ConnectError, match="IP address mismatch"
    ):
        _get(web.url("/"), trusted)


def test_silent_port_drops_syns() -> None:
    with SilentPort() as silent, pytest.raises(TimeoutError):
        socket.create_connection(silent.address, timeout=0.3)


def test_delay_proxy_forwards_slowly() -> None:
    with HttpServer() as web, DelayProxy(("127.0.0.1", web.port), delay=0.2) as proxy:
        started = time.monotonic()
        _, body = _get(f"http://127.0.0.1:{proxy.port}/object/5000")
        assert body == object_bytes(5000)
        assert time.monotonic() - started >= 0.2
