"""Slowness benchmark: how often one result of a fast target looks throttled on this machine.

    python -m tests.bench.dns_jitter [--queries 300] [--gap 0.1]

The probe's own DNS check against the lab DNS server on 127.0.0.1, ``--queries`` times
``--gap`` seconds apart; the results folded by the detector's slowness rule (an EWMA
baseline, ``throttle_factor`` times it) with latency floors of 0, 20, 50 and 100 ms above the
baseline (``throttle_min_extra_ms``). Figures: RTT median, p99, max; per floor, the single
results counted slow and the runs of two in a row (what ``throttle_min_results`` 2 needs).
Run it on a loaded machine to see what a blip does to a few-millisecond baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from cutwatch.api.lab.dns import DnsServer
from cutwatch.detectors.params import Params
from cutwatch.probes.checks.base import Context
from cutwatch.probes.checks.dns import check
from cutwatch.probes.targets import DnsTarget

FLOORS = (0.0, 20.0, 50.0, 100.0)


async def measure(queries: int, gap: float) -> list[float]:
    rtts: list[float] = []
    with DnsServer({"ok.test": ["127.0.0.1"]}, delay=0.0) as dns:
        target = DnsTarget(name="dns", tag="domestic", query="ok.test",
                           resolver=f"127.0.0.1:{dns.port}", families=("ipv4",),
                           allow_private=True, late_window=0.0, timeout=2)
        for _ in range(queries):
            out = await check(target, "ipv4", Context())
            if out.ok:
                rtts.append(float(out.details["rtt_ms"]))
            await asyncio.sleep(gap)
    return rtts


def slow_counts(rtts: list[float], floor: float, params: Params) -> tuple[int, int]:
    """Results the slowness rule calls slow, and runs of two slow in a row (the baseline
    learns only from results that are not slow, as ``signals.probe.observe`` does)."""
    base, n, slow, twos, run = 0.0, 0, 0, 0, 0
    for value in rtts:
        n += 1
        if n > params.baseline_min_results and value >= params.throttle_factor * base \
                and value - base >= floor:
            slow, run = slow + 1, run + 1
            twos += run == 2
            continue
        run = 0
        a = params.baseline_alpha if n > params.baseline_min_results else 1 / n
        base = value if base == 0.0 else (1 - a) * base + a * value
    return slow, twos


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.dns_jitter")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--gap", type=float, default=0.1)
    args = parser.parse_args()
    rtts = asyncio.run(measure(args.queries, args.gap))
    ordered = sorted(rtts)
    print(f"{len(rtts)} DNS results on loopback (load average {os.getloadavg()[0]:.1f}): "
          f"RTT median {ordered[len(ordered) // 2]:.1f} ms, "
          f"p99 {ordered[int(len(ordered) * 0.99)]:.1f} ms, max {ordered[-1]:.1f} ms")
    params = Params()
    for floor in FLOORS:
        slow, twos = slow_counts(rtts, floor, params)
        print(f"  floor {floor:3.0f} ms: {slow} slow ({slow / len(rtts):.1%}), "
              f"{twos} runs of two")


if __name__ == "__main__":
    main()
