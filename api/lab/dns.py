"""A loopback DNS server over UDP (scapy builds and parses the packets) with failure modes.

``zone`` maps a name to its addresses (IPv4 and IPv6 mixed; A and AAAA queries pick their
family). Modes reproduce what a censor or a broken resolver does:

- ``normal``: answers from the zone, NXDOMAIN for names it does not know;
- ``nxdomain`` / ``servfail`` / ``refused``: that rcode for every query;
- ``silent``: never answers;
- ``twice``: an injected fake answer at once, then the real one ``delay`` seconds later;
- ``bogon``: answers every name with a bogon (10.10.34.34 / fd00::34), as injectors do;
- ``wrong_source``: the real answer, but sent from another socket (an address not asked).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Literal

from scapy.layers.dns import DNS, DNSRR

from cutwatch.api.lab._server import LoopbackPeer, family_of

DnsMode = Literal["normal", "nxdomain", "servfail", "refused", "silent", "twice", "bogon",
                  "wrong_source"]

FAKE = {1: "203.0.113.66", 28: "2001:db8::66"}  # documentation ranges: never routed
BOGON = {1: "10.10.34.34", 28: "fd00::34"}
RCODES = {"nxdomain": 3, "servfail": 2, "refused": 5}
QTYPES = {1: 4, 28: 6}  # DNS qtype -> IP version of its records


class DnsServer(LoopbackPeer):
    """``with DnsServer({"ok.test": ["127.0.0.1"]}) as dns: dns.address``."""

    def __init__(
        self,
        zone: Mapping[str, Sequence[str]] | None = None,
        mode: DnsMode = "normal",
        *,
        host: str = "127.0.0.1",
        ttl: int = 300,
        delay: float = 0.05,
    ) -> None:
        sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
        sock.bind((host, 0))
        super().__init__(sock)
        self.zone = {_norm(name): list(addrs) for name, addrs in (zone or {}).items()}
        self.mode = mode
        self.ttl = ttl
        self.delay = delay
        self.queries: list[tuple[str, int]] = []  # (name, qtype) seen, for assertions
        self._other = socket.socket(family_of(host), socket.SOCK_DGRAM)
        self._other.bind((host, 0))

    def stop(self) -> None:
        super().stop()
        self._other.close()

    def handle_readable(self) -> None:
        data, client = self._sock.recvfrom(4096)
        try:
            query = DNS(data)
            question = query.qd[0]
        except Exception:
            return
        name, qtype = _norm(question.qname.decode()), int(question.qtype)
        self.queries.append((name, qtype))
        if self.mode == "silent":
            return
        if self.mode == "twice":
            self._sock.sendto(self._reply(query, name, qtype, fake=FAKE), client)
            real = self._reply(query, name, qtype)
            threading.Timer(self.delay, self._send_late, (real, client)).start()
            return
        if self.mode == "bogon":
            self._sock.sendto(self._reply(query, name, qtype, fake=BOGON), client)
            return
        sender = self._other if self.mode == "wrong_source" else self._sock
        sender.sendto(self._reply(query, name, qtype), client)

    def _send_late(self, payload: bytes, client: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):  # the server may have stopped meanwhile
            self._sock.sendto(payload, client)

    def _reply(
        self, query: DNS, name: str, qtype: int, fake: Mapping[int, str] | None = None
    ) -> bytes:
        reply = DNS(id=query.id, qr=1, aa=1, rd=query.rd, ra=1, qd=query.qd)
        if self.mode in RCODES:
            reply.rcode = RCODES[self.mode]
            return bytes(reply)
        if fake is not None:
            addresses = [fake[qtype]] if qtype in fake else []
        elif name not in self.zone:
            reply.rcode = 3
            return bytes(reply)
        else:
            version = QTYPES.get(qtype)
            addresses = [a for a in self.zone[name] if ipaddress.ip_address(a).version == version]
        answers = [DNSRR(rrname=name, type=qtype, ttl=self.ttl, rdata=a) for a in addresses]
        if answers:
            reply.an = answers
        return bytes(reply)


def _norm(name: str) -> str:
    return name.rstrip(".").lower() + "."
