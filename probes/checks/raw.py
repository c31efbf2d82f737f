"""One ICMP echo over a raw socket (needs CAP_NET_RAW): shared by ``icmp`` and ``traceroute``.

probes.packets builds and parses the ICMP messages; the kernel adds the IP header. The socket is
blocking and runs in a worker thread, so the event loop never waits on it.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from dataclasses import dataclass

from cutwatch.probes.packets import icmp_echo, parse_icmp4
from cutwatch.vocab import Family

ECHO_REPLY = {"ipv4": 0, "ipv6": 129}
TIME_EXCEEDED = {"ipv4": 11, "ipv6": 3}
UNREACHABLE = {"ipv4": 3, "ipv6": 1}


@dataclass(frozen=True)
class Echo:
    kind: str  # "reply" | "time_exceeded" | "unreachable" | "timeout"
    source: str | None
    rtt_ms: float | None


def ping(host: str, family: Family, *, ttl: int = 64, timeout: float = 2.0, seq: int = 1) -> Echo:
    ident = os.getpid() & 0xFFFF
    if family == "ipv4":
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        packet = icmp_echo(ident, seq, b"cutwatch")
    else:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        # The kernel fills in the ICMPv6 checksum (it needs the IPv6 pseudo-header).
        packet = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + b"cutwatch"
    with sock:
        started = time.monotonic()
        sock.sendto(packet, (host, 0))
        deadline = started + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                break
            data, source = sock.recvfrom(2048)
            kind = _match(data, family, ident, seq)
            if kind is not None:
                return Echo(kind, str(source[0]), round((time.monotonic() - started) * 1000, 2))
    return Echo("timeout", None, None)


def _match(data: bytes, family: Family, ident: int, seq: int) -> str | None:
    if family == "ipv4":
        icmp = parse_icmp4(data)
        if icmp is None:
            return None
        if icmp.type == ECHO_REPLY["ipv4"]:
            return "reply" if (icmp.id, icmp.seq) == (ident, seq) else None
        if icmp.quoted and (icmp.id, icmp.seq) == (ident, seq):  # the quoted original
            return _error_kind(icmp.type, family)
        return None
    kind, quoted = data[0], data[8:]
    if kind == ECHO_REPLY["ipv6"]:
        same = data[4:8] == ident.to_bytes(2, "big") + seq.to_bytes(2, "big")
        return "reply" if same else None
    # Errors quote the original IPv6 header (40 bytes), then our echo request.
    if len(quoted) >= 48 and quoted[44:48] == ident.to_bytes(2, "big") + seq.to_bytes(2, "big"):
        return _error_kind(kind, family)
    return None


def _error_kind(kind: int, family: Family) -> str | None:
    if kind == TIME_EXCEEDED[family]:
        return "time_exceeded"
    if kind == UNREACHABLE[family]:
        return "unreachable"
    return None
