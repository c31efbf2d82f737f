"""ICMP check: a few echo requests, loss and RTT. Only with CAP_NET_RAW (an optional drop-in);
without it the result is a clean ``probe_error`` that says the check is unavailable.
"""

from __future__ import annotations

import asyncio

from cutwatch.probes.checks.base import Context, Outcome
from cutwatch.probes.checks.errors import classify_os_error
from cutwatch.probes.checks.raw import ping
from cutwatch.probes.checks.tcp import resolve
from cutwatch.probes.targets import IcmpTarget
from cutwatch.vocab import Family

UNAVAILABLE = "unavailable: needs CAP_NET_RAW (see deploy/systemd drop-in)"


async def check(target: IcmpTarget, family: Family, context: Context) -> Outcome:
    if not context.raw_sockets:
        return Outcome.failed("probe_error", reason=UNAVAILABLE)
    try:
        address = str((await resolve(target.host, 0, family))[0])
        echoes = [await asyncio.to_thread(ping, address, family, timeout=target.timeout, seq=n)
                  for n in range(1, target.count + 1)]
    except OSError as exc:
        return Outcome.failed(classify_os_error(exc), host=target.host, error=str(exc))
    rtts = [e.rtt_ms for e in echoes if e.kind == "reply" and e.rtt_ms is not None]
    details = {"host": target.host, "address": address, "sent": len(echoes),
               "received": len(rtts), "loss": round(1 - len(rtts) / len(echoes), 3)}
    if rtts:
        details |= {"rtt_min_ms": min(rtts), "rtt_avg_ms": round(sum(rtts) / len(rtts), 2),
                    "rtt_max_ms": max(rtts)}
        return Outcome.success(**details)
    if any(e.kind == "unreachable" for e in echoes):
        return Outcome.failed("host_unreachable", **details)
    return Outcome.failed("generic_timeout_error", **details)
