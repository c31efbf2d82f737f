"""The few packets a probe builds and reads itself: one DNS question, its answers, ICMP echo.

Standard library only. Scapy did this before at 8 MB of resident memory for its layer
machinery (a fifth of the probe's 40 MB budget on a Pi Zero); the probe needs only the DNS
header and answer records (RFC 1035 section 4, with name compression) and the ICMP echo
header (RFC 792), so they are written out here. The answers keep scapy's presentation
(names end with a dot, TXT strings joined by spaces), which the results already carry.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Any

A, NS, CNAME, PTR, TXT, AAAA, DNAME = 1, 2, 5, 12, 16, 28, 39
_NAMES = frozenset({NS, CNAME, PTR, DNAME})
_MAX_POINTERS = 64  # a loop of compression pointers is a malformed (or hostile) reply


@dataclass(frozen=True)
class DnsReply:
    id: int
    qr: bool  # a response, not a query
    rcode: int
    answers: list[dict[str, Any]]


def dns_query(query_id: int, name: str, qtype: int) -> bytes:
    """A recursive query (RD set) for ``name``, class IN."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    return header + encode_name(name) + struct.pack("!HH", qtype, 1)


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("idna") if not label.isascii() else label.encode()
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad DNS label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def parse_dns(data: bytes) -> DnsReply:
    """The header and the answer section; ``ValueError`` when the packet is malformed."""
    try:
        query_id, flags, qdcount, ancount, _, _ = struct.unpack_from("!HHHHHH", data)
        offset = 12
        for _ in range(qdcount):
            _, offset = _read_name(data, offset)
            offset += 4  # qtype, qclass
        answers = []
        for _ in range(ancount):
            name, offset = _read_name(data, offset)
            rtype, _, ttl, length = struct.unpack_from("!HHIH", data, offset)
            offset += 10
            rdata = data[offset:offset + length]
            if len(rdata) != length:
                raise ValueError("record data runs past the packet")
            answers.append({"name": name, "type": rtype, "ttl": ttl,
                            "data": _rdata(data, offset, rtype, rdata)})
            offset += length
    except struct.error as exc:
        raise ValueError(f"truncated DNS packet: {exc}") from None
    return DnsReply(query_id, bool(flags & 0x8000), flags & 0x000F, answers)


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """A possibly compressed name at ``offset``; returns it and the offset after it."""
    labels: list[str] = []
    end: int | None = None
    for _ in range(_MAX_POINTERS):
        if offset >= len(data):
            raise ValueError("name runs past the packet")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise ValueError("name runs past the packet")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length & 0xC0:
            raise ValueError("unknown DNS label type")
        if length == 0:
            return ".".join(labels) + ".", end if end is not None else offset + 1
        label = data[offset + 1:offset + 1 + length]
        if len(label) != length:
            raise ValueError("label runs past the packet")
        labels.append(label.decode(errors="replace"))
        offset += 1 + length
    raise ValueError("DNS name compression loop")


def _rdata(data: bytes, offset: int, rtype: int, rdata: bytes) -> str:
    if rtype == A and len(rdata) == 4:
        return str(ipaddress.IPv4Address(rdata))
    if rtype == AAAA and len(rdata) == 16:
        return str(ipaddress.IPv6Address(rdata))
    if rtype in _NAMES:
        return _read_name(data, offset)[0]
    if rtype == TXT:
        strings, at = [], 0
        while at < len(rdata):
            size = rdata[at]
            strings.append(rdata[at + 1:at + 1 + size].decode(errors="replace"))
            at += 1 + size
        return " ".join(strings)
    return rdata.decode(errors="replace")


def icmp_echo(ident: int, seq: int, payload: bytes) -> bytes:
    """An ICMPv4 echo request with its checksum (the kernel adds the IP header)."""
    bare = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    return bare[:2] + struct.pack("!H", checksum(bare)) + bare[4:]


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True)
class Icmp4:
    type: int
    id: int | None  # of the echo this message is, or quotes
    seq: int | None
    quoted: bool  # an error message quoting our original echo request


def parse_icmp4(data: bytes) -> Icmp4 | None:
    """An IPv4 packet as a raw ICMP socket reads it (IP header included); None if not ICMP
    or too short to say anything."""
    if len(data) < 20 or data[0] >> 4 != 4 or data[9] != 1:
        return None
    icmp = data[(data[0] & 0x0F) * 4:]
    if len(icmp) < 8:
        return None
    kind = icmp[0]
    if kind in (0, 8):  # echo reply / request: id and seq are in this header
        ident, seq = struct.unpack_from("!HH", icmp, 4)
        return Icmp4(kind, ident, seq, quoted=False)
    inner = icmp[8:]  # errors quote the original IP header and 8 bytes of its payload
    if len(inner) >= 20 and inner[0] >> 4 == 4 and inner[9] == 1:
        echo = inner[(inner[0] & 0x0F) * 4:]
        if len(echo) >= 8:
            ident, seq = struct.unpack_from("!HH", echo, 4)
            return Icmp4(kind, ident, seq, quoted=True)
    return Icmp4(kind, None, None, quoted=False)
