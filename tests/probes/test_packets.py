"""cutwatch.probes.packets against scapy (the reference the probe used before): same bytes out, same
answers read, malformed packets refused instead of misread."""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP
from scapy.packet import Packet

from cutwatch.probes.packets import dns_query, icmp_echo, parse_dns, parse_icmp4


def scapy_answer(rr: Any) -> dict[str, Any]:
    """How the probe presented an answer when scapy parsed it."""
    data = rr.rdata
    if isinstance(data, bytes):
        data = data.decode(errors="replace")
    elif isinstance(data, list):
        data = " ".join(d.decode(errors="replace") if isinstance(d, bytes) else str(d)
                        for d in data)
    return {"name": rr.rrname.decode(errors="replace"), "type": int(rr.type),
            "ttl": int(rr.ttl), "data": str(data)}


def test_query_is_what_scapy_builds() -> None:
    for name, qtype in (("ok.test", 1), ("www.example.org.", 28), ("a-b.c", 1)):
        ours = dns_query(4242, name, qtype)
        assert ours == bytes(DNS(id=4242, rd=1, qd=DNSQR(qname=name, qtype=qtype)))


REPLIES: list[Packet] = [
    DNS(id=7, qr=1, rd=1, ra=1, qd=DNSQR(qname="ok.test", qtype=1),
        an=DNSRR(rrname="ok.test", type=1, ttl=120, rdata="93.184.216.34")),
    DNS(id=7, qr=1, qd=DNSQR(qname="ok.test", qtype=28),
        an=DNSRR(rrname="ok.test", type=28, ttl=5, rdata="2606:2800:220:1::1946")),
    DNS(id=7, qr=1, qd=DNSQR(qname="www.ok.test", qtype=1),
        an=DNSRR(rrname="www.ok.test", type=5, ttl=60, rdata="edge.ok.test")
        / DNSRR(rrname="edge.ok.test", type=1, ttl=60, rdata="10.0.0.1")
        / DNSRR(rrname="edge.ok.test", type=1, ttl=60, rdata="10.0.0.2")),
    DNS(id=7, qr=1, qd=DNSQR(qname="t.test", qtype=16),
        an=DNSRR(rrname="t.test", type=16, ttl=1, rdata=["v=spf1 -all", "two"])),
    DNS(id=7, qr=1, rcode=3, qd=DNSQR(qname="no-such-name.test", qtype=1)),
    DNS(id=7, qr=1, rcode=5, qd=DNSQR(qname="x.test", qtype=1)),
]


@pytest.mark.parametrize("reply", REPLIES, ids=lambda r: r.summary())
def test_replies_read_as_scapy_read_them(reply: Packet) -> None:
    # Scapy compresses repeated names on the wire, so the pointers are exercised too.
    wire = bytes(reply)
    parsed, reference = parse_dns(wire), DNS(wire)
    assert (parsed.id, parsed.qr, parsed.rcode) == (7, True, int(reference.rcode))
    assert parsed.answers == [scapy_answer(rr) for rr in (reference.an or [])]


def test_a_query_is_not_a_reply() -> None:
    assert parse_dns(dns_query(9, "ok.test", 1)).qr is False


@pytest.mark.parametrize("bad", [
    b"",
    b"\x00\x07\x81\x80\x00\x01\x00\x01",  # header cut short
    bytes(REPLIES[0])[:-3],  # answer data cut short
    # an answer whose name points at itself: a compression loop
    b"\x00\x07\x81\x80\x00\x00\x00\x01\x00\x00\x00\x00\xc0\x0c",
    b"\x00\x07\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\x05ok",  # label past the end
])
def test_malformed_replies_are_refused(bad: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every malformation is a ValueError
        parse_dns(bad)


def test_icmp_echo_is_what_scapy_builds() -> None:
    assert icmp_echo(0x1234, 3, b"cutwatch") == bytes(ICMP(type=8, id=0x1234, seq=3)
                                                      / b"cutwatch")


def test_icmp_replies_and_errors_are_matched_to_our_echo() -> None:
    request = IP(src="192.0.2.1", dst="198.51.100.7") / ICMP(type=8, id=0x1234, seq=3) \
        / b"cutwatch"
    reply = IP(src="198.51.100.7", dst="192.0.2.1") / ICMP(type=0, id=0x1234, seq=3)
    expired = IP(src="203.0.113.9", dst="192.0.2.1", ihl=6, options=b"\x01\x01\x01\x01") \
        / ICMP(type=11, code=0) / bytes(request)[:28]
    got = parse_icmp4(bytes(reply))
    assert got is not None
    assert (got.type, got.id, got.seq, got.quoted) == (0, 0x1234, 3, False)
    got = parse_icmp4(bytes(expired))  # with IP options: the header length is honoured
    assert got is not None
    assert (got.type, got.id, got.seq, got.quoted) == (11, 0x1234, 3, True)
    assert parse_icmp4(bytes(IP(proto=6) / (b"x" * 30))) is None  # not ICMP
    assert parse_icmp4(b"\x45\x00") is None  # too short to be anything
