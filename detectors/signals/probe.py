"""What one probe's own results say, against its own baselines.

A result either describes the probe's present (measured within ``live_window_s`` of the
clock: it feeds live conditions: ``international`` cut, ``block`` of targets, ``throttling``)
or the past (a backlog: it fills the probe's gap record, read by ``classify``).
"""

from __future__ import annotations

from typing import Any

from cutwatch.detectors.params import Params
from cutwatch.detectors.signals import LIVE
from cutwatch.detectors.state import DOMESTIC, INTERNATIONAL, LAN, ProbeState, TargetState
from cutwatch.failures import NOT_NETWORK
from cutwatch.wire import Result

SCOPES = {"lan": LAN, "domestic": DOMESTIC, "international": INTERNATIONAL}
_KILO = 1000.0  # kbps -> bps
_NS = 1e9  # 1/throughput in ns per bit: a number that grows like a latency


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


def slowness(result: Result) -> tuple[float, bool] | None:
    """One number that grows when the path gets slower (1/throughput, TTFB or duration), and
    whether it is a latency in milliseconds (not a throughput)."""
    details: dict[str, Any] = result.details
    for key, scale in (("throughput_bps", 1.0), ("throughput_kbps", _KILO)):
        value = details.get(key)
        if isinstance(value, int | float) and value > 0:
            return _NS / (float(value) * scale), False
    timings = details.get("timings")
    nested = timings if isinstance(timings, dict) else {}
    for value in (nested.get("ttfb_ms"), details.get("ttfb_ms"), details.get("rtt_ms"),
                  details.get("rtt_avg_ms"), details.get("connect_ms")):
        if isinstance(value, int | float) and value > 0:
            return float(value), True
    return (result.duration_ms, True) if result.duration_ms > 0 else None


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
        gap = min(measured - state.last_at, params.max_cadence_s)
        a = params.cadence_alpha
        probe.measure_every = gap if not probe.measure_every else \
            (1 - a) * probe.measure_every + a * gap
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
    measure = slowness(result)
    if measure is None or state.scope == LAN:
        return
    value, _latency = measure
    # a few milliseconds more is a busy machine or link, not an operator: slow is also a
    # delay a user would notice (ms of latency, or ms more per megabit of a transfer)
    if state.n_ok > params.baseline_min_results and value >= params.throttle_factor * state.base \
            and value - state.base >= params.throttle_min_extra_ms:
        # the run's first slow result is when the throttling began for this probe (a result
        # measured earlier but received later moves it back)
        state.slow_since = measured if not state.slow_run else min(state.slow_since, measured)
        state.slow_until = measured if not state.slow_run else max(state.slow_until, measured)
        state.slow_run += 1
        return
    if state.slow_run:  # the run ends: the throttling ended between these two measurements
        state.fast_since = measured
    state.slow_run, state.slow_since = 0, 0.0
    a = params.baseline_alpha if state.n_ok > params.baseline_min_results else 1 / state.n_ok
    state.base = value if state.base == 0.0 else (1 - a) * state.base + a * value


def conditions(probe: ProbeState, params: Params) -> dict[str, dict[str, str]]:
    """The probe's live conditions now: signal -> {target: method} (``""`` where no method
    applies; no targets for an international cut), each as its registered signal says."""
    targets = probe.targets
    if not targets:
        return {}
    gateway_down = any(t.scope == LAN and t.fail_run >= params.fail_min_results
                       for t in targets.values())
    if gateway_down:
        return {}
    out: dict[str, dict[str, str]] = {}
    for signal in LIVE:
        found = signal.probe_condition(probe, targets, params)
        if found is not None:
            out[signal.raises] = found
    return out
