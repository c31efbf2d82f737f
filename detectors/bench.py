"""``cutwatch bench detect``: quality per shape, on simulated suites and real data, and cost.

One line per shape (precision, recall, onset -> opened delay, start/end error, kind
accuracy, events on must-not-alarm cases); ``--full`` adds the long suites (nights, churny,
large and sparse fleets). Then the cost of one evaluation at 10 % of ``probes`` and at
``probes``. docs/benchmarks.md records a run.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from cutwatch.detectors.engine import Engine
from cutwatch.detectors.fleet import FleetSpec
from cutwatch.detectors.model import ProbeInfo, Upload, heartbeat_upload, iso, parse_time
from cutwatch.detectors.params import Params
from cutwatch.detectors.replay import drive, replay
from cutwatch.detectors.scenarios import Scenario, build, negatives, positives
from cutwatch.detectors.score import Events, Score

Suite = tuple[FleetSpec, list[Scenario], float, float]  # fleet, scenarios, hours, churn/day


def positive_suite() -> Suite:
    return FleetSpec(), positives(), 17.0, 0.3


def negative_suite() -> Suite:
    return FleetSpec(), negatives(), 7.5, 0.3


def night_suite() -> Suite:
    """Three days; a third of the probes switched off every night by one shared timer."""
    spec = FleetSpec(probes_per_country=(30, 12, 10), night_off_share=0.35,
                     night_jitter_s=240.0)
    night = [Scenario(f"night {d}", None, "single_power", "subdivision", "MM-01",
                      start_h=22 + 24 * d, minutes=8 * 60) for d in range(3)]
    return spec, night, 72.0, 0.3


def churny_suite() -> Suite:
    """Every kind again, on a fleet whose probes each lose power three times a day."""
    return FleetSpec(), positives() + [
        Scenario(n.name, None, n.effect, n.entity_type, n.code, n.access, n.start_h + 16.5,
                 n.minutes, n.target, n.method) for n in negatives()], 25.0, 3.0


def large_suite() -> Suite:
    """Every kind on a fleet five times larger, five provinces, three fixed ISPs each."""
    return FleetSpec(probes_per_country=(240, 80, 60), subdivisions=5, cities=3,
                     fixed_asns=3), positives(), 17.0, 0.3


def sparse_suite() -> Suite:
    """Uploads every minute, measurements only every five (the probes' own schedule)."""
    return FleetSpec(measure_every=5), positives(), 17.0, 0.3


SUITES: dict[str, Callable[[], Suite]] = {
    "positive": positive_suite, "negative": negative_suite, "night": night_suite,
}
VARIANTS: dict[str, Callable[[], Suite]] = {
    "churny": churny_suite, "large": large_suite, "sparse": sparse_suite,
}


def run_suite(name: str, seed: int, params: Params | None = None) -> tuple[Events, list[
        dict[str, Any]], int, float]:
    spec, scenarios, hours, churn = (SUITES | VARIANTS)[name]()
    lines, truth = build(spec, scenarios, hours, seed=seed, churn_per_day=churn)
    engine = Engine(params)
    events = Events.of(t.to_json() for t in replay(lines, engine=engine))
    entities = sum(1 for e in engine.index.entities if e.members)
    return events, truth, entities, hours


def quality(seeds: int, suites: list[str]) -> dict[str, float]:
    score = Score()
    for name in suites:
        for seed in range(1, seeds + 1):
            events, truth, entities, hours = run_suite(name, seed)
            score.add(events, truth, entities, hours)
    return score.figures()


# ---- shapes: one line each ------------------------------------------------------------
Run = tuple[Iterable[str] | Iterable[ProbeInfo | Upload], list[dict[str, Any]], float]


def _shape(scenario: Scenario, hours: float, spec: FleetSpec | None = None,
           ) -> Callable[[int], Run]:
    def run(seed: int) -> Run:
        lines, truth = build(spec or FleetSpec(), [scenario], hours, seed=seed)
        return lines, truth, hours
    return run


def _suite_shape(name: str) -> Callable[[int], Run]:
    def run(seed: int) -> Run:
        spec, scenarios, hours, churn = (SUITES | VARIANTS)[name]()
        lines, truth = build(spec, scenarios, hours, seed=seed, churn_per_day=churn)
        return lines, truth, hours
    return run


def _heartbeat_suite(seed: int) -> Run:
    """The silence kinds of the positive suite with uploads (heartbeats) every 15 s and
    measurements every minute: how fast silence can be seen when probes say they are alive
    more often than they measure."""
    spec = FleetSpec(cadence_s=15.0, measure_every=4)
    chosen = [s for s in positives() if s.effect in ("blackout", "power")][:5]
    hours = max(s.start_h for s in chosen) + 1.5
    lines, truth = build(spec, chosen, hours, seed=seed)
    return lines, truth, hours


def _heartbeat_negative(seed: int) -> Run:
    """The negative suite (collector down, mass reboots, one router, a target down for all,
    ...) with uploads every 15 s and measurements every minute: what a faster heartbeat
    costs in false alarms."""
    spec, scenarios, hours, churn = negative_suite()
    spec = dataclasses.replace(spec, cadence_s=15.0, measure_every=4)
    lines, truth = build(spec, scenarios, hours, seed=seed, churn_per_day=churn)
    return lines, truth, hours


def default_schedule_spec(spec: FleetSpec) -> FleetSpec:
    """The fleet uploading and measuring at the probe's own default schedule (heartbeat
    upload every ``upload`` s, the pulse group every ``pulse`` s), so the bench measures
    the defaults a volunteer runs, not the simulator's (the collector's model of the
    schedule, held equal to the probe's own by tests/probes/test_catalogue_parity.py)."""
    from cutwatch.catalogue import Schedule

    schedule = Schedule()
    return dataclasses.replace(spec, cadence_s=schedule.upload,
                               measure_every=max(1, round(schedule.pulse / schedule.upload)))


def _default_suite(name: str) -> Callable[[int], Run]:
    def run(seed: int) -> Run:
        spec, scenarios, hours, churn = SUITES[name]()
        lines, truth = build(default_schedule_spec(spec), scenarios, hours, seed=seed,
                             churn_per_day=churn)
        return lines, truth, hours
    return run


MM = ("country", "MM")
NIGHT = FleetSpec(night_off_share=0.4, night_countries=("MM",), night_jitter_s=600.0)
SHAPES: dict[str, Callable[[int], Run]] = {
    "positive suite (every kind)": _suite_shape("positive"),
    "negative suite (must not alarm)": _suite_shape("negative"),
    "positive suite, probe's default schedule": _default_suite("positive"),
    "negative suite, probe's default schedule (must not alarm)": _default_suite("negative"),
    "silence kinds, 15 s heartbeat uploads": _heartbeat_suite,
    "negative suite, 15 s heartbeat uploads (must not alarm)": _heartbeat_negative,
    "staggered onset over 15 min": _shape(Scenario(
        "staggered 15 min", "blackout", "blackout", *MM, minutes=60, spread_min=15), 3.0),
    "staggered onset over 1 h": _shape(Scenario(
        "staggered 1 h", "blackout", "blackout", *MM, minutes=120, spread_min=60), 4.0),
    "staggered onset over 3 h": _shape(Scenario(
        "staggered 3 h", "blackout", "blackout", *MM, minutes=240, spread_min=180), 6.0),
    "partial restoration (30 % stay dark)": _shape(Scenario(
        "partial", "blackout", "blackout", *MM, minutes=60, partial=0.3), 3.5),
    "mass reboot of one country (back before/after opening)": _shape(Scenario(
        "reboot", "power_outage", "mass_reboot", *MM, minutes=8, spread_min=4), 3.0),
    "flickering throttling (6 min off per half hour)": _shape(Scenario(
        "flicker", "throttling", "throttling", *MM, minutes=160, flicker_min=6), 5.0),
    "province blackout, 40 % of probes in their night-off slot": _shape(Scenario(
        "night province", "blackout", "blackout", "subdivision", "MM-01", start_h=24 + 5.0,
        minutes=60), 31.0, NIGHT),
}

BY_KIND = frozenset({"positive suite (every kind)", "positive suite, probe's default schedule"})


def iran_shape(data: Path) -> Callable[[int], Run]:
    """IODA's Iran signals (8 Jan 2026): a 40-probe fleet following active probing."""
    from cutwatch.detectors.ioda import ioda_stream, read_signal

    start, end = parse_time("2026-01-08T04:00:00Z"), parse_time("2026-01-08T20:00:00Z")
    onset = parse_time("2026-01-08T16:00:00Z")

    def run(seed: int) -> Run:
        with (data / "ioda-iran-2026-01" / "signals.csv").open(encoding="utf-8") as f:
            curve = read_signal(f)
        lines = ioda_stream(curve, start, end, order="province", seed=seed)
        # the dark probes never return inside the window: no backlog can tell the kind
        truth = [{"name": "iran", "kind": "international_cut", "start": iso(onset),
                  "end": iso(end), "minutes": (end - onset) / 60, "probes": 40,
                  "entity": {"type": "country", "code": "IR", "access": None}}]
        return lines, truth, (end - start) / 3600
    return run


IRAN_ONSET = "2026-01-08T16:00:00Z"  # active probing's last ordinary point before the fall


def iran_restoration_run(data: Path, first: str, last: str, probes: int, cadence_s: float,
                         ) -> Callable[[int], Run]:
    """IODA's Iran signals from ``first`` (ordinary days: must not alarm) through the drop
    of 8 January 2026 and the staged restoration to ``last``. Truth: one country-level
    ``international_cut`` from the onset until the curve is back at ``ioda.CEILING`` of its
    normal (the end of the last restoration stage, when every simulated probe is back);
    before the onset, a negative case."""
    from cutwatch.detectors.ioda import (
        CEILING,
        ioda_stream,
        normal_level,
        read_signal,
        restored_at,
    )

    start, end, onset = parse_time(first), parse_time(last), parse_time(IRAN_ONSET)

    def run(seed: int) -> Run:
        with (data / "ioda-iran-2026-01" / "signals.csv").open(encoding="utf-8") as f:
            curve = read_signal(f)
        back = restored_at(curve, onset + 86_400, normal_level(curve, start), CEILING) or end
        lines = ioda_stream(curve, start, end, order="province", seed=seed, probes=probes,
                            cadence_s=cadence_s)
        country = {"type": "country", "code": "IR", "access": None}
        truth = [{"name": "iran", "kind": "international_cut", "start": IRAN_ONSET,
                  "end": iso(back), "minutes": (back - onset) / 60, "probes": probes,
                  "entity": country}]
        if onset - start > 3600:
            truth.append({"name": "ordinary days", "kind": None, "start": first,
                          "end": iso(onset - 1800), "minutes": (onset - 1800 - start) / 60,
                          "probes": probes, "entity": country})
        return lines, truth, (end - start) / 3600
    return run


def atlas_shape(data: Path) -> Callable[[int], Run]:
    """The RIPE Atlas log of 2014-08-27, US networks declaring US. The truth is every
    network outage the log itself shows (``atlas.network_outages``: TWC's, and the short
    outages of small networks elsewhere), each an AS-level blackout."""
    from cutwatch.detectors.atlas import connlog_items, network_outages, read_connlog

    us = ATLAS_TWC | {7922, 6939, 20115, 701, 7018, 22773, 209, 5650, 33363, 3549}

    def run(seed: int) -> Run:
        path = data / "ripe-atlas-connlog-2014-08-27" / "connlog.csv"
        with path.open(encoding="utf-8") as f:
            items = list(connlog_items(f, countries=dict.fromkeys(us, "US")))
        with path.open(encoding="utf-8") as f:
            outages = network_outages(read_connlog(f))
        truth = [{"name": f"AS{o.asn} {iso(o.start)}", "kind": "blackout",
                  "start": iso(o.start), "end": iso(o.end),
                  "minutes": (o.end - o.start) / 60, "probes": o.probes,
                  "entity": {"type": "asn", "code": f"AS{o.asn}", "access": None}}
                 for o in outages]
        return items, truth, 24.0
    return run


def atlas_shuffled_shape(data: Path) -> Callable[[int], Run]:
    """The same log with each probe moved to another probe's network at random (seeded):
    churn without shared causes, a negative control on real disconnections."""
    from cutwatch.detectors.atlas import connlog_items_of, read_connlog, shuffle_networks

    us = ATLAS_TWC | {7922, 6939, 20115, 701, 7018, 22773, 209, 5650, 33363, 3549}

    def run(seed: int) -> Run:
        path = data / "ripe-atlas-connlog-2014-08-27" / "connlog.csv"
        with path.open(encoding="utf-8") as f:
            probes = shuffle_networks(read_connlog(f), seed)
        items = list(connlog_items_of(probes, countries=dict.fromkeys(us, "US")))
        truth = [{"name": "churn only", "kind": None, "start": "2014-08-27T00:00:00Z",
                  "end": "2014-08-28T00:00:00Z", "minutes": 1440, "probes": len(probes),
                  "entity": {"type": "asn", "code": "", "access": None}}]
        return items, truth, 24.0
    return run


ATLAS_TWC = frozenset({7843, 10796, 11351, 11426, 11427, 12271, 20001})


def events_of(source: Iterable[str] | Iterable[ProbeInfo | Upload],
            params: Params | None) -> tuple[Events, int]:
    """The events of one replay (stream lines or probe items) and the entities it had."""
    engine = Engine(params)
    items: Iterator[Any] = iter(source)
    first = next(items, None)
    if first is None:
        return Events(), 0
    rest = _chain(first, items)
    transitions = replay(rest, engine=engine) if isinstance(first, str) else \
        drive(engine, rest)
    events = Events.of(t.to_json() for t in transitions)
    return events, sum(1 for e in engine.index.entities if e.members)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def shape_line(name: str, make: Callable[[int], Run], seeds: int,
               params: Params | None = None, by_kind: bool = False) -> str:
    score = Score()
    kinds: dict[str, Score] = {}
    started = time.perf_counter()
    for seed in range(1, seeds + 1):
        source, truth, hours = make(seed)
        events, entities = events_of(source, params)
        score.add(events, truth, entities, hours)
        for kind in {c["kind"] for c in truth if c["kind"] is not None}:
            kinds.setdefault(kind, Score()).add(
                events, [c for c in truth if c["kind"] == kind], entities, hours)
    f = score.figures()
    line = (f"{name:58s} precision {f['precision']:.2f} recall {f['recall']:.2f} "
            f"delay {f['delay_median_s']:.0f}/{f['delay_p95_s']:.0f} s "
            f"start err {f['start_error_median_s']:.0f} s end err {f['end_error_median_s']:.0f} s "
            f"kind {f['kind_accuracy']:.2f} negative-case events {f['negative_case_events']:.0f} "
            f"({time.perf_counter() - started:.0f} s)")
    if by_kind and kinds:
        line += "\n    delay per kind (median/p95): " + kind_delays(kinds)
    return line


def kind_delays(kinds: dict[str, Score]) -> str:
    """Onset -> opened per true kind, so one slow kind is not hidden in a suite's median."""
    parts = []
    for kind, score in sorted(kinds.items()):
        f = score.figures()
        found = f"{score.truth_found}/{score.truth_eligible}"
        parts.append(f"{kind} {f['delay_median_s']:.0f}/{f['delay_p95_s']:.0f} s ({found})")
    return ", ".join(parts)


def _fleet(engine: Engine, n: int, t0: float, batches: list[Any]) -> None:
    rng = random.Random(7)
    for i in range(n):
        country = f"C{i % 20:02d}"
        sub = f"{country}-{i % 7}"
        # 20 countries x 7 provinces x 5 cities, 6 networks per country
        engine.register(ProbeInfo(f"p{i}", country, sub, f"city{i % 5}",
                                  64500 + (i % 20) * 10 + i % 6,
                                  "mobile" if i % 3 == 0 else "fixed"))
    for k in range(3):
        for i in range(n):
            engine.upload(Upload(t0 + 60 * k + rng.uniform(0, 60), batches[i]))


def engine_cost(n: int) -> dict[str, float]:
    """Memory per probe, and the time of one evaluation: quiet, and with 5% going dark."""
    t0 = 1_600_000_000.0
    # one batch per probe, uploaded again and again: building 16 n pydantic objects would
    # time the model, not the engine (which keeps no reference to a batch)
    batches = [heartbeat_upload(f"p{i}", uuid.UUID(int=i + 1), t0).batch for i in range(n)]
    gc.collect()
    tracemalloc.start()
    engine = Engine()
    _fleet(engine, n, t0, batches)
    engine.evaluate(t0 + 200)
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # every probe keeps uploading each minute except country C00 (5%), which goes dark
    schedule = sorted((t0 + 60 * k + (i * 7919 % 6000) / 100, i)
                      for k in range(3, 16) for i in range(n) if k < 9 or i % 20)
    times: list[float] = []
    opened = 0
    pos = 0
    for step in range(1, 13 * 4):
        tick = t0 + 180 + 15 * step
        while pos < len(schedule) and schedule[pos][0] <= tick:
            at, i = schedule[pos]
            pos += 1
            engine.upload(Upload(at, batches[i]))
        started = time.perf_counter()
        opened += len(engine.evaluate(tick))
        times.append(time.perf_counter() - started)
    quiet, worst = sorted(times)[len(times) // 2], max(times)
    return {"probes": float(n), "memory_per_probe_bytes": memory / n,
            "evaluation_quiet_s": quiet, "evaluation_worst_s": worst,
            "events_opened": float(opened)}


def main(seeds: int = 1, probes: int = 100_000, full: bool = False,
         data: Path | None = None, only: str = "") -> None:
    """Every shape's line (those whose name contains ``only``, when given), then the cost."""
    print(f"detector quality per shape, {seeds} seed(s) each "
          "(delay: onset -> opened, median/p95; errors: median):")
    shapes = dict(SHAPES)
    if data is not None:
        shapes["real: IODA Iran 2026-01-08, first hours (staggered national shutdown)"] = \
            iran_shape(data)
        shapes["real: IODA Iran 2025-12-25 to 2026-01-28, 5-min uploads (restoration)"] = \
            iran_restoration_run(data, "2025-12-25T00:00:00Z", "2026-01-28T12:00:00Z", 40,
                                 300.0)
        shapes["real: RIPE Atlas 2014-08-27, every outage the log shows (US declare US)"] = \
            atlas_shape(data)
        shapes["real: RIPE Atlas 2014-08-27, networks shuffled (must not alarm)"] = \
            atlas_shuffled_shape(data)
    else:
        print("  (real-data shapes skipped: no --data directory)")
    for name, make in shapes.items():
        if only not in name:
            continue
        print("  " + shape_line(name, make, seeds if not name.startswith("real") else 1,
                                by_kind=name in BY_KIND), flush=True)
    if full:
        for name in ("night", *VARIANTS):
            print("  " + shape_line(f"suite: {name}", _suite_shape(name), seeds), flush=True)
    for n in sorted({probes // 10, probes}):
        cost = engine_cost(n)
        print(f"engine cost at {n} probes: " + ", ".join(
            f"{k} {v:.4g}" for k, v in cost.items() if k != "probes"), flush=True)
