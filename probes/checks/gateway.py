"""Gateway check: does the LAN gateway answer at all? This tells a home fault from an upstream cut.

The gateway is the default route's next hop (``/proc/net/route`` or ``/proc/net/ipv6_route``)
unless the target names one. It counts as up if any of a few TCP ports answers, even with a
refusal: an RST proves the router is alive. No answer on any port is a timeout or an
unreachable; no default route at all is ``probe_error`` (the probe has no network to measure).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from pathlib import Path
from typing import Any

from cutwatch.failures import Failure
from cutwatch.probes.checks.base import FAMILIES, Context, Outcome
from cutwatch.probes.checks.errors import classify_os_error
from cutwatch.probes.targets import GatewayTarget
from cutwatch.vocab import Family

RTF_GATEWAY = 0x2


async def check(target: GatewayTarget, family: Family, context: Context) -> Outcome:
    address = target.address or default_gateway(context.proc_net, family)
    if address is None:
        return Outcome.failed("probe_error", reason=f"no {family} default route")
    loop = asyncio.get_running_loop()
    started = loop.time()
    answers = await asyncio.gather(*(_knock(address, port, family, target.timeout)
                                      for port in target.ports))
    details: dict[str, Any] = {"gateway": address,
                               "ports": {str(port): a for port, a in zip(target.ports, answers,
                                                                         strict=True)}}
    if any(a in ("open", "connection_refused") for a in answers):
        details["rtt_ms"] = round((loop.time() - started) * 1000, 2)
        return Outcome.success(**details)
    failures: list[Failure] = [a for a in answers if a not in ("open", "connection_refused")]  # type: ignore[misc]
    return Outcome.failed(_worst(failures), **details)


async def _knock(host: str, port: int, family: Family, seconds: float) -> str:
    loop = asyncio.get_running_loop()
    with socket.socket(FAMILIES[family], socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), seconds)
        except OSError as exc:
            return classify_os_error(exc)
    return "open"


def _worst(failures: list[Failure]) -> Failure:
    for failure in ("network_unreachable", "host_unreachable", "generic_timeout_error"):
        if failure in failures:
            return failure
    return failures[0]


def default_gateway(proc_net: Path, family: Family) -> str | None:
    """The next hop of the default route, read from the kernel's routing table."""
    try:
        if family == "ipv4":
            for line in (proc_net / "route").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1] == "00000000" and int(fields[3], 16) & RTF_GATEWAY:
                    return str(ipaddress.IPv4Address(bytes.fromhex(fields[2])[::-1]))
        else:
            for line in (proc_net / "ipv6_route").read_text().splitlines():
                fields = line.split()
                if fields[0] == "0" * 32 and fields[1] == "00" and fields[4] != "0" * 32:
                    return str(ipaddress.IPv6Address(bytes.fromhex(fields[4])))
    except (OSError, IndexError, ValueError):
        return None
    return None
