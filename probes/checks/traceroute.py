"""Traceroute check: ICMP echoes with a rising hop limit, recording each hop's address and RTT.

Shows where along the path traffic stops (inside the country or at the border). Only with
CAP_NET_RAW; without it a clean ``probe_error`` saying the check is unavailable.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cutwatch.probes.checks.base import Context, Outcome
from cutwatch.probes.checks.errors import classify_os_error
from cutwatch.probes.checks.icmp import UNAVAILABLE
from cutwatch.probes.checks.raw import ping
from cutwatch.probes.checks.tcp import resolve
from cutwatch.probes.targets import TracerouteTarget
from cutwatch.vocab import Family


async def check(target: TracerouteTarget, family: Family, context: Context) -> Outcome:
    if not context.raw_sockets:
        return Outcome.failed("probe_error", reason=UNAVAILABLE)
    hops: list[dict[str, Any]] = []
    try:
        address = str((await resolve(target.host, 0, family))[0])
        for ttl in range(1, target.max_hops + 1):
            echo = await asyncio.to_thread(ping, address, family, ttl=ttl,
                                           timeout=target.timeout, seq=ttl)
            hops.append({"ttl": ttl, "address": echo.source, "rtt_ms": echo.rtt_ms,
                         "kind": echo.kind})
            if echo.kind in ("reply", "unreachable"):
                break
    except OSError as exc:
        return Outcome.failed(classify_os_error(exc), host=target.host, hops=hops,
                              error=str(exc))
    details = {"host": target.host, "address": address, "hops": hops}
    if hops and hops[-1]["kind"] == "reply":
        return Outcome.success(**details)
    if hops and hops[-1]["kind"] == "unreachable":
        return Outcome.failed("host_unreachable", **details)
    return Outcome.failed("generic_timeout_error", **details)
