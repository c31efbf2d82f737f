"""Small pure parts as tables: the burst model's tail, backlog verdicts, entity codes, the
start of a slow run."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import uuid
from fractions import Fraction
from pathlib import Path

import pytest

from cutwatch.detectors.classify import GapVerdict, judge_event, judge_gap, quantile
from cutwatch.detectors.decide import binomial_tail
from cutwatch.detectors.engine import Engine
from cutwatch.detectors.model import EntityKey, ProbeInfo, iso, parse_time
from cutwatch.detectors.params import Params
from cutwatch.detectors.replay import replay
from cutwatch.detectors.signals.probe import observe
from cutwatch.detectors.state import DOMESTIC, INTERNATIONAL, LAN, GapRecord, ProbeState
from cutwatch.wire import Result

P = Params()


@pytest.mark.parametrize(("n", "k", "p", "expected"), [
    (10, 0, 0.01, 1.0),
    (10, 11, 0.01, 0.0),
    (5, 5, 0.01, 1e-10),
    (3, 1, 0.01, 1 - 0.99**3),
    (20, 2, 0.1, 1 - 0.9**20 - 20 * 0.1 * 0.9**19),
])
def test_binomial_tail(n: int, k: int, p: float, expected: float) -> None:
    assert math.isclose(binomial_tail(n, k, p), expected, rel_tol=1e-9, abs_tol=1e-15)


def _exact_tail(n: int, k: int, p: str) -> float:
    q = Fraction(p)

    def pmf(i: int) -> Fraction:
        return math.comb(n, i) * q**i * (1 - q)**(n - i)

    if k < n * q:  # the shorter sum, exactly: rationals do not cancel badly
        return float(1 - sum(pmf(i) for i in range(k)))
    return float(sum(pmf(i) for i in range(k, n + 1)))


@pytest.mark.parametrize(("n", "k", "p"), [
    # large n: below the mean (k << n p), around it, and far in the tail
    (2000, 15, "0.01"), (800, 14, "0.01"), (600, 250, "0.4"), (1000, 230, "0.2"),
    (200, 150, "0.3"), (300, 10, "0.01"),
])
def test_binomial_tail_large_n_matches_exact_sum(n: int, k: int, p: str) -> None:
    assert math.isclose(binomial_tail(n, k, float(p)), _exact_tail(n, k, p), rel_tol=1e-9)


def test_binomial_tail_in_a_large_country() -> None:
    # 5 silent of 100 000 under 1 % churn is no surprise at all (1000 expected)
    assert binomial_tail(100_000, 5, 0.01) == pytest.approx(1.0, abs=1e-12)
    assert binomial_tail(100_000, 800, 0.01) == pytest.approx(1.0, abs=1e-9)
    assert 0 < binomial_tail(100_000, 1500, 0.01) < 1e-40
    assert binomial_tail(1_000_000, 12_000, 0.01) < 1e-9


def _gap(rows: list[tuple[float, int, bool]], start: float = 1000.0, end: float = 3000.0,
         prior_ok: float = 990.0) -> GapRecord:
    gap = GapRecord(start, prior_ok, None)
    gap.end = end
    gap.results = rows
    return gap


def _rounds(t0: float, t1: float, lan: bool, dom: bool, intl: bool) -> list[tuple[float, int,
                                                                                  bool]]:
    out = []
    t = t0
    while t < t1:
        out += [(t, LAN, lan), (t + 1, DOMESTIC, dom), (t + 2, INTERNATIONAL, intl)]
        t += 60
    return out


GAPS = [
    # (what the probe measured in its 1000..3000 s gap, verdict)
    (_rounds(1000, 1300, True, True, True) + _rounds(1300, 2800, True, False, False)
     + _rounds(2800, 3000, True, True, True), "blackout"),
    (_rounds(1000, 1300, True, True, True) + _rounds(1300, 2800, True, True, False)
     + _rounds(2800, 3000, True, True, True), "international_cut"),
    (_rounds(1000, 1200, True, True, True) + _rounds(2900, 3000, True, True, True), "power"),
    (_rounds(1000, 3000, False, False, False), "power"),
    (_rounds(1000, 3000, True, True, True), "none"),
    ([], "power"),
]


@pytest.mark.parametrize(("rows", "label"), GAPS)
def test_gap_verdicts(rows: list[tuple[float, int, bool]], label: str) -> None:
    verdict = judge_gap(_gap(rows), 60.0, True, P)
    assert verdict.label == label
    if label in ("blackout", "international_cut"):
        assert 1240 <= verdict.onset <= 1302
        assert 2740 <= verdict.end <= 2802


def test_a_reboot_with_nothing_else_in_the_gap_is_power() -> None:
    gap = _gap(_rounds(1000, 3000, True, True, True))
    gap.rebooted = True
    assert judge_gap(gap, 60.0, True, P).label == "power"


def test_a_probe_that_never_measured_does_not_vote() -> None:
    assert judge_gap(_gap([]), 60.0, False, P).label == "nodata"


def test_event_brackets_beat_any_single_probe() -> None:
    # five probes measuring at different seconds bracket an onset at t=1300 within seconds
    verdicts = [GapVerdict("blackout", 1300 - 60 + 12 * i, 1300 + 12 * i,
                           2700 + 12 * i, 2760 + 12 * i) for i in range(5)]
    event = judge_event(verdicts, 5, P)
    assert event is not None
    assert event.label == "blackout"
    assert abs(event.start - 1300) <= 12
    assert abs(event.end - 2730) <= 30
    split = verdicts[:2] + [GapVerdict("none", 0, 0, 0, 0)] * 3
    retract = judge_event(split, 5, P)
    assert retract is not None
    assert retract.label == "none"  # most saw everything reachable: retracted
    assert judge_event(verdicts[:2], 5, P) is None  # not enough probes back yet


def test_one_late_probe_does_not_set_a_small_events_end() -> None:
    """Three probes of one network; the repair at t=3000. One probe's first check after it
    failed (its bracket ends 20 s late), so the brackets do not overlap: the end is the
    middle probe's, not the late one's (the drill's ISP cut caught the 90 % rank = the last
    of three)."""
    verdicts = [GapVerdict("blackout", 995, 1000, 2995, 3001),
                GapVerdict("blackout", 996, 1002, 2998, 3003),
                GapVerdict("blackout", 994, 1001, 3016, 3021)]
    event = judge_event(verdicts, 3, P)
    assert event is not None
    assert abs(event.end - 3000) <= 2
    # with ten probes the last tenth still counts (a staggered restoration)
    many = [GapVerdict("blackout", 995, 1000, 3000 + 60 * i, 3005 + 60 * i) for i in range(10)]
    staggered = judge_event(many, 10, P)
    assert staggered is not None
    assert staggered.end == many[8].end


def test_entity_codes() -> None:
    info = ProbeInfo("p", "MM", "MM-07", "Bago", 9988, "mobile")
    keys = [k for k, _ in info.entities()]
    assert EntityKey("city", "MM-07/Bago") in keys
    assert EntityKey("asn_subdivision", "AS9988/MM-07") in keys
    assert EntityKey("country", "MM", "mobile") in keys
    assert len(keys) == 10
    assert EntityKey("asn_subdivision", "AS9988/MM-07").to_json("x") == {
        "type": "asn_subdivision", "code": "AS9988/MM-07", "name": "x", "asn": 9988,
        "subdivision": "MM-07", "country": "MM"}


def test_every_parameter_is_documented_with_its_default() -> None:
    text = (Path(__file__).parents[2] / "docs" / "events.md").read_text(encoding="utf-8")
    table = text.split("\n## Parameters\n")[1].split("\n## ")[0]
    documented = {name: float(default) for name, default in
                  re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", table, re.MULTILINE)}
    assert documented == {f.name: float(f.default) for f in dataclasses.fields(Params)}


def test_a_cadence_learned_from_a_start_up_burst_is_learned_again() -> None:
    """A probe's first uploads come within a second (an empty heartbeat, then its first
    results); learned from them alone, the cadence stuck at the 1 s floor and every later
    60 s gap was ignored as a silence, so the probe looked silent ~11 s after each upload."""
    params = Params()
    probe = ProbeState(0, ProbeInfo("p-1"), [], params)
    for t in (0.0, 0.3, 0.6):
        probe.learn_arrival(t, params)
    assert probe.cadence == 1.0  # the burst
    for t in (60.6, 120.6, 180.6):
        probe.learn_arrival(t, params)
    assert probe.cadence == pytest.approx(60.0)
    assert probe.silence_after(params) >= 60.0
    # One long gap after that is a silence, not a new cadence.
    probe.learn_arrival(900.0, params)
    probe.learn_arrival(960.0, params)
    assert probe.cadence == pytest.approx(60.0)


# ---- throttling's start: the first slow measurement --------------------------------------
CUT = parse_time("2021-02-15T06:00:00Z")  # the throttling begins
FAST_MS, SLOW_MS = 100.0, 900.0  # nine times the baseline: slow at any throttle_factor <= 9


def _web(measured: float, duration_ms: float) -> Result:
    return Result(id=uuid.UUID(int=int(measured)), kind="http", target="web",
                  scope="international", measured_at=iso(measured), duration_ms=duration_ms,
                  ok=True)


def test_a_slow_run_remembers_its_first_measurement() -> None:
    params = Params()
    probe = ProbeState(0, ProbeInfo("p-1"), [], params)
    for k in range(params.baseline_min_results + 1):  # the baseline, fast
        observe(probe, _web(CUT - 600 + 60 * k, FAST_MS), CUT - 600 + 60 * k, params)
    assert probe.targets is not None
    web = probe.targets["web"]
    assert (web.slow_run, web.slow_since) == (0, 0.0)
    observe(probe, _web(CUT + 7, SLOW_MS), CUT + 7, params)
    observe(probe, _web(CUT + 67, SLOW_MS), CUT + 67, params)
    assert (web.slow_run, web.slow_since) == (2, CUT + 7)  # the run's first, not its last
    observe(probe, _web(CUT + 2, SLOW_MS), CUT + 2, params)  # measured earlier, came later
    assert (web.slow_run, web.slow_since) == (3, CUT + 2)
    observe(probe, _web(CUT + 127, FAST_MS), CUT + 127, params)  # the run ends
    assert (web.slow_run, web.slow_since) == (0, 0.0)
    observe(probe, _web(CUT + 187, SLOW_MS), CUT + 187, params)  # a new run, its own start
    assert (web.slow_run, web.slow_since) == (1, CUT + 187)


def _line(probe: str, received: float, results: list[dict[str, object]]) -> str:
    batch = {"schema_version": 1, "batch_id": str(uuid.UUID(int=int(received * 1000) * 64
                                                              + int(probe[1:]))),
             "probe_id": probe, "sent_at": iso(received),
             "clock": {"synced": True, "offset_ms": 0.0},
             "heartbeat": {"seq": 1, "spool_depth": 0, "dropped_total": 0,
                           "started_at": iso(CUT - 86_400), "software": "test"},
             "results": results}
    return json.dumps({"type": "upload", "received_at": iso(received), "batch": batch})


def _throttled_country(until: float = CUT + 600, end: float = float("inf"),
                       ) -> tuple[list[str], dict[str, float], dict[str, tuple[float, float]]]:
    """Six probes in MM (two networks) and four controls in TH measure one international
    target every minute, each at its own second of the minute; from CUT to ``end`` MM's are
    nine times slower. Returns the stream, each MM probe's first slow measurement and its
    last slow and first fast one after."""
    lines = [json.dumps({"type": "probe", "probe": {
        "id": f"{c}{i}", "country": c.upper() * 2 if c == "m" else "TH",
        "subdivision": ("MM" if c == "m" else "TH") + "-01",
        "asn": (64500 if c == "m" else 64600) + i % 2}})
        for c, n in (("m", 6), ("t", 4)) for i in range(n)]
    first_slow: dict[str, float] = {}
    ended: dict[str, tuple[float, float]] = {}
    uploads: list[tuple[float, str]] = []
    for c, n in (("m", 6), ("t", 4)):
        for i in range(n):
            probe = f"{c}{i}"
            for k in range(int((until - CUT + 1800) // 60)):
                received = CUT - 1800 + 7 * i + 60 * k
                measured = received - 45  # uploaded well after measured, as a pulse can be
                slow = c == "m" and CUT <= measured < end
                if slow:
                    first_slow.setdefault(probe, measured)
                elif probe in first_slow and probe not in ended:
                    ended[probe] = (measured - 60, measured)
                uploads.append((received, _line(probe, received, [{
                    "id": str(uuid.UUID(int=int(measured) * 64 + 10 * (c == "t") + i)),
                    "kind": "http", "target": "web", "scope": "international",
                    "measured_at": iso(measured), "duration_ms": SLOW_MS if slow else FAST_MS,
                    "ok": True}])))
    return lines + [line for _, line in sorted(uploads)], first_slow, ended


def test_a_throttling_event_starts_at_its_first_slow_measurements() -> None:
    """The start is read from the slow results themselves (the edge quantile of each
    member's first slow measurement), not guessed back from when the event opened."""
    lines, first_slow, _ = _throttled_country()
    engine = Engine()
    opened = next(t for t in replay(lines, engine=engine)
                  if t.action == "opened" and t.event.kind == "throttling")
    assert opened.event.entity["code"] == "MM"
    (event,) = [e for e in engine.life.open.values() if e.signal == "throttling"]
    members = sorted(engine.probes[p].info.id for p in event.members)
    # MM's probes slow for two rounds by then (m0, measuring last in the minute, not yet)
    assert set(members) <= set(first_slow)
    assert len(members) >= P.min_probes
    expected = quantile([first_slow[m] for m in members], P.edge_quantile)
    assert parse_time(opened.event.start) == expected
    assert CUT <= expected < CUT + 60  # within one cadence of the cut
    assert opened.at - expected > 60  # opened over a cadence later (two slow rounds each)


def test_a_few_milliseconds_more_on_a_fast_target_is_not_throttling() -> None:
    """A 2 ms DNS baseline tripled to 9 ms is a busy machine's blip, not throttling; 300 ms
    is slow. A throughput is held to the same margin per megabit: a gigabit line at a quarter
    of its speed (congestion) is not throttled, at 10 Mbit/s it is."""
    params = Params()
    probe = ProbeState(0, ProbeInfo("p-1"), [], params)

    def dns(at: float, ms: float) -> Result:
        return Result(id=uuid.UUID(int=int(at)), kind="dns", target="dns", scope="domestic",
                      measured_at=iso(at), duration_ms=ms, ok=True, details={"rtt_ms": ms})

    def fetch(at: float, bps: float) -> Result:
        return Result(id=uuid.UUID(int=int(at) + 1), kind="http", target="object",
                      scope="international", measured_at=iso(at), duration_ms=100.0, ok=True,
                      details={"throughput_bps": bps})

    for k in range(params.baseline_min_results + 1):  # the baselines: 2 ms, 1 Gbit/s
        observe(probe, dns(CUT + 10 * k, 2.0), CUT + 10 * k, params)
        observe(probe, fetch(CUT + 10 * k, 1e9), CUT + 10 * k, params)
    assert probe.targets is not None
    state, obj = probe.targets["dns"], probe.targets["object"]
    observe(probe, dns(CUT + 100, 9.0), CUT + 100, params)  # 4.5 x, 7 ms more
    assert state.slow_run == 0
    observe(probe, dns(CUT + 110, 300.0), CUT + 110, params)
    assert (state.slow_run, state.slow_since) == (1, CUT + 110)
    observe(probe, fetch(CUT + 110, 2.5e8), CUT + 110, params)  # 1 -> 4 ns per bit
    assert obj.slow_run == 0
    observe(probe, fetch(CUT + 120, 1e7), CUT + 120, params)  # 1 -> 100 ns per bit
    assert (obj.slow_run, obj.slow_since) == (1, CUT + 120)


def test_a_throttling_event_ends_between_its_last_slow_and_first_fast_measurements() -> None:
    """The end is read from the measurements too (between each probe's last slow result and
    the fast one after it), not when the evaluation saw the condition stop."""
    params = Params()
    end = CUT + 900
    lines, _, ended = _throttled_country(until=end + params.condition_hold_s + 600, end=end)
    engine = Engine()
    transitions = [t for t in replay(lines, engine=engine) if t.event.kind == "throttling"]
    assert [t.action for t in transitions] == ["opened", "resolved"]
    resolved = transitions[-1]
    (event,) = [e for e in engine.life.closed if e.signal == "throttling"]
    members = sorted(engine.probes[p].info.id for p in event.members)
    got = parse_time(resolved.event.end or "")
    # inside the probes' brackets (read when the condition stopped: the probes back by then)
    assert min(ended[m][0] for m in members) <= got <= max(ended[m][1] for m in members)
    assert abs(got - end) <= 30  # within half a cadence
