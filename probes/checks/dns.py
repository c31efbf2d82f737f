"""DNS check: one A (ipv4) or AAAA (ipv6) query to the system or a configured resolver.

probes.packets builds and parses the packets; an ordinary unconnected UDP socket carries them
(no root), and it keeps listening ``late_window`` seconds after the first reply: an on-path
injector answers first and the real resolver second. Signs of injection, in the order they win:
more than one reply or a reply from an address that was not asked (``dns_injection_error``),
then an answer in bogon space (``dns_bogon_error``), then the rcode.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cutwatch.failures import Failure
from cutwatch.probes.checks.base import Context, Outcome
from cutwatch.probes.checks.errors import classify_os_error
from cutwatch.probes.packets import dns_query, parse_dns
from cutwatch.probes.targets import DnsTarget
from cutwatch.vocab import Family

QTYPES = {"ipv4": 1, "ipv6": 28}
RCODES: dict[int, Failure] = {2: "dns_server_failure", 3: "dns_nxdomain_error",
                               5: "dns_refused_error"}


async def check(target: DnsTarget, family: Family, context: Context) -> Outcome:
    try:
        server = resolver_address(target.resolver, context.resolv_conf)
    except (OSError, ValueError) as exc:
        return Outcome.failed("probe_error", reason=f"no usable resolver: {exc}")
    qtype = QTYPES[family]
    query_id = random.randrange(1, 65536)
    details: dict[str, Any] = {"resolver": _show(server), "query": target.query,
                               "qtype": "A" if qtype == 1 else "AAAA"}
    try:
        packet = dns_query(query_id, target.query, qtype)
    except (ValueError, UnicodeError) as exc:
        return Outcome.failed("probe_error", **details, reason=f"cannot query: {exc}")
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in server[0] else socket.AF_INET,
                         socket.SOCK_DGRAM)
    sock.setblocking(False)
    collector = _Collector(query_id, loop.time())
    transport, _ = await loop.create_datagram_endpoint(lambda: collector, sock=sock)
    try:
        transport.sendto(packet, server)
        try:
            await asyncio.wait_for(collector.first.wait(), target.timeout)
        except TimeoutError:
            if collector.error is not None:
                return Outcome.failed(classify_os_error(collector.error), **details,
                                      error=str(collector.error))
            return Outcome.failed("generic_timeout_error", **details)
        await asyncio.sleep(target.late_window)
    finally:
        transport.close()
    return _judge(collector.replies, server, target, details)


@dataclass
class _Collector(asyncio.DatagramProtocol):
    query_id: int
    started: float
    replies: list[dict[str, Any]] = field(default_factory=list)
    first: asyncio.Event = field(default_factory=asyncio.Event)
    error: Exception | None = None

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        elapsed = (asyncio.get_running_loop().time() - self.started) * 1000
        try:
            reply = parse_dns(data)
        except ValueError:
            return
        if reply.id != self.query_id or not reply.qr:
            return
        self.replies.append({"source": _show((addr[0], addr[1])), "rtt_ms": round(elapsed, 2),
                             "rcode": reply.rcode, "answers": reply.answers})
        self.first.set()

    def error_received(self, exc: Exception) -> None:
        self.error = exc


def _judge(replies: list[dict[str, Any]], server: tuple[str, int], target: DnsTarget,
           details: dict[str, Any]) -> Outcome:
    first = replies[0]
    details |= {"rcode": first["rcode"], "answers": first["answers"], "replies": len(replies),
                "rtt_ms": first["rtt_ms"]}
    strangers = sorted({r["source"] for r in replies} - {_show(server)})
    if len(replies) > 1 or strangers:
        signs = (["multiple_replies"] if len(replies) > 1 else []) + (
            ["unexpected_source"] if strangers else [])
        return Outcome.failed("dns_injection_error", **details, injection=signs,
                              all_replies=replies)
    addresses = [a["data"] for a in first["answers"] if a["type"] in (1, 28)]
    if not target.allow_private and any(is_bogon(a) for a in addresses):
        return Outcome.failed("dns_bogon_error", **details)
    if first["rcode"] != 0:
        return Outcome.failed(RCODES.get(first["rcode"], "unknown_failure"), **details)
    if not addresses:
        return Outcome.failed("dns_no_answer", **details)
    return Outcome.success(**details)


def is_bogon(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not ip.is_global or ip.is_multicast


def resolver_address(resolver: str, resolv_conf: Path) -> tuple[str, int]:
    """``system`` -> first nameserver of resolv.conf; else ``ip``, ``ip:port``, ``[v6]:port``."""
    if resolver == "system":
        for line in resolv_conf.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                return parts[1].split("%")[0], 53
        raise ValueError(f"no nameserver in {resolv_conf}")
    host, port = resolver, 53
    if resolver.startswith("["):
        host, _, rest = resolver[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif resolver.count(":") == 1:
        host, _, text = resolver.partition(":")
        port = int(text)
    ipaddress.ip_address(host)  # a resolver is an address: no lookup to find the resolver
    return host, port


def _show(address: tuple[str, int]) -> str:
    host = str(ipaddress.ip_address(address[0].split("%")[0]))
    return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"

