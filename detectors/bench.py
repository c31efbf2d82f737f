"""``cutwatch bench detect``: quality on simulated suites and engine cost at 100,000 probes.

Prints the figures of issue 4; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
import uuid
from collections.abc import Callable
from typing import Any

from detectors.engine import Engine
from detectors.fleet import FleetSpec
from detectors.model import ProbeInfo, heartbeat_upload
from detectors.params import Params
from detectors.replay import replay
from detectors.scenarios import Scenario, build, negatives, positives
from detectors.score import Events, Score

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


def _fleet(engine: Engine, n: int, t0: float) -> None:
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
            engine.upload(heartbeat_upload(f"p{i}", uuid.uuid4(),
                                           t0 + 60 * k + rng.uniform(0, 60)))


def engine_cost(n: int) -> dict[str, float]:
    """Memory per probe, and the time of one evaluation: quiet, and with 5% going dark."""
    gc.collect()
    tracemalloc.start()
    engine = Engine()
    t0 = 1_600_000_000.0
    _fleet(engine, n, t0)
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
            engine.upload(heartbeat_upload(f"p{i}", uuid.uuid4(), at))
        started = time.perf_counter()
        opened += len(engine.evaluate(tick))
        times.append(time.perf_counter() - started)
    quiet, worst = sorted(times)[len(times) // 2], max(times)
    return {"probes": float(n), "memory_per_probe_bytes": memory / n,
            "evaluation_quiet_s": quiet, "evaluation_worst_s": worst,
            "events_opened": float(opened)}


def main(seeds: int = 2, probes: int = 100_000) -> None:
    started = time.perf_counter()
    figures = quality(seeds, list(SUITES))
    print(f"detector quality over {seeds} seed(s) x {len(SUITES)} suites "
          f"({time.perf_counter() - started:.0f} s):")
    for key, value in figures.items():
        print(f"  {key:32s} {value:10.3f}")
    for name in VARIANTS:
        started = time.perf_counter()
        figures = quality(seeds, [name])
        print(f"robustness, {name} ({time.perf_counter() - started:.0f} s): " + ", ".join(
            f"{k} {v:.3g}" for k, v in figures.items()))
    for n in sorted({probes // 10, probes}):
        cost = engine_cost(n)
        print(f"engine cost at {n} probes:")
        for key, value in cost.items():
            print(f"  {key:32s} {value:10.3f}")
