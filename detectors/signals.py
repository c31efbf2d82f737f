"""In-probe signals: what one probe's own results say, against its own baselines.

A result either describes the probe's present (measured within ``live_window_s`` of the
clock: it feeds live conditions: ``international`` cut, ``block`` of targets, ``throttling``)
or the past (a backlog: it fills the probe's gap record, read by ``classify``).
"""

from __future__ import annotations

from typing import Any

from cutwatch.failures import NOT_NETWORK
from cutwatch.wire import Result
from detectors.params import Params
from detectors.state import DOMESTIC, INTERNATIONAL, LAN, ProbeState, TargetState

SCOPES = {"lan": LAN, "domestic": DOMESTIC, "international": INTERNATIONAL}


def scope_of(result: Result) -> int:
    if result.kind == "gateway" or result.scope == "lan":
        return LAN
    return SCOPES.get(result.scope or "", INTERNATIONAL)


def method_of(result: Result) -> str:
    """Where the interference was seen: dns | tcp | tls | http."""
    failure = result.failure or ""
    if failure.startswith("dns_") or result.kind == "dns":
        return "dns"
    if failure.startswith("ssl_"):
        return "tls"
    if failure.startswith("http_"):
        return "http"
    return "tcp"


def slowness(result: Result) -> float | None:
    """One number that grows when the path gets slower: 1/throughput, TTFB or duration."""
    details: dict[str, Any] = result.details
    for key, scale in (("throughput_bps", 1.0), ("throughput_kbps", 1000.0)):
        value = details.get(key)
        if isinstance(value, int | float) and value > 0:
            return 1e9 / (float(value) * scale)
    timings = details.get("timings")
    nested = timings if isinstance(timings, dict) else {}
    for value in (nested.get("ttfb_ms"), details.get("ttfb_ms"), details.get("rtt_ms"),
                  details.get("rtt_avg_ms"), details.get("connect_ms")):
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return result.duration_ms if result.duration_ms > 0 else None


def observe(probe: ProbeState, result: Result, measured: float, params: Params) -> None:
    """Fold one live result into the probe's per-target state."""
    if result.failure in NOT_NETWORK:
        return
    if probe.targets is None:
        probe.targets = {}
    state = probe.targets.get(result.target)
    if state is None:
        state = probe.targets[result.target] = TargetState(scope_of(result))
    elif measured > state.last_at:
        # how often the probe measures (gap coverage is judged against it, not uploads)
        gap = min(measured - state.last_at, 3600.0)
        probe.measure_every = gap if not probe.measure_every else \
            0.9 * probe.measure_every + 0.1 * gap
    state.last_at = max(state.last_at, measured)
    if not result.ok:
        if not state.fail_run:
            state.fail_since = measured
        state.fail_run += 1
        state.last_fail_at = max(state.last_fail_at, measured)
        state.method = method_of(result)
        return
    state.fail_run = 0
    state.n_ok += 1
    state.last_ok_at = max(state.last_ok_at, measured)
    value = slowness(result)
    if value is None or state.scope == LAN:
        return
    if state.n_ok > params.baseline_min_results and value >= params.throttle_factor * state.base:
        state.slow_run += 1
        return
    state.slow_run = 0
    a = params.baseline_alpha if state.n_ok > params.baseline_min_results else 1 / state.n_ok
    state.base = value if state.base == 0.0 else (1 - a) * state.base + a * value


def conditions(probe: ProbeState, params: Params) -> dict[str, dict[str, str]]:
    """The probe's live conditions now: signal -> {target: method} (``""`` where no method
    applies; no targets for an international cut)."""
    targets = probe.targets
    if not targets:
        return {}
    gateway_down = any(t.scope == LAN and t.fail_run >= 2 for t in targets.values())
    if gateway_down:
        return {}
    failing = {name: t for name, t in targets.items() if t.scope != LAN and t.fail_run >= 2}
    working = [t for t in targets.values() if t.scope != LAN and t.fail_run == 0 and t.n_ok]
    out: dict[str, dict[str, str]] = {}
    intl = [t for t in targets.values() if t.scope == INTERNATIONAL]
    dom_ok = any(t.scope == DOMESTIC and t.fail_run == 0 and t.n_ok for t in targets.values())
    # the batch carrying these results reached the collector: from a probe whose uploads
    # cross an international link, that is an international success newer than any of them
    uploaded_abroad = probe.info.collector_abroad
    if intl and dom_ok and not uploaded_abroad and all(t.fail_run >= 2 for t in intl):
        out["international"] = {}
    elif failing and working:
        out["block"] = {n: t.method for n, t in sorted(failing.items())}
    slow = sorted(n for n, t in targets.items() if t.slow_run >= params.throttle_min_results)
    if slow:
        out["throttling"] = dict.fromkeys(slow, "")
    return out
