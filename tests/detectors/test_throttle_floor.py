"""A slow result is slow against the probe's baseline by a factor *and* by a margin.

Three times a few milliseconds is a busy CPU or a household's own traffic: the blackout
drill's probes, a few ms from their targets, kept a throttling event open (and widened it to
the country) a minute after the link was restored until ``throttle_min_extra_ms`` was added.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import pytest

from cutwatch.detectors.model import ProbeInfo
from cutwatch.detectors.params import Params
from cutwatch.detectors.signals import probe as signals
from cutwatch.detectors.signals.base import EngineView
from cutwatch.detectors.signals.throttling import SIGNAL
from cutwatch.detectors.state import ProbeState
from cutwatch.wire import Result

PARAMS = Params()
T0 = 1_800_000_000.0


def result(at: float, duration_ms: float, **details: float) -> Result:
    return Result(id=uuid.uuid4(), kind="http", target="news", scope="international",
                  measured_at=datetime.fromtimestamp(at, UTC), duration_ms=duration_ms,
                  ok=True, details=dict(details))


def slow_run(baseline_ms: float, then_ms: float, *, throughput: bool = False) -> int:
    """The target's slow run after 10 results at the baseline and 3 at ``then_ms``."""
    probe = ProbeState(0, ProbeInfo("p"), [], PARAMS)

    def one(at: float, ms: float) -> Result:
        # a 1 Mbit (125 kB) object fetched in ``ms``: 1/throughput in ns per bit = ms per Mbit
        return result(at, ms, throughput_bps=1e6 / (ms / 1000)) if throughput else \
            result(at, ms)

    for n in range(10):
        signals.observe(probe, one(T0 + 30 * n, baseline_ms), T0 + 30 * n, PARAMS)
    for n in range(10, 13):
        signals.observe(probe, one(T0 + 30 * n, then_ms), T0 + 30 * n, PARAMS)
    assert probe.targets is not None
    return probe.targets["news"].slow_run


@pytest.mark.parametrize("throughput", [False, True], ids=["latency", "throughput"])
def test_a_few_milliseconds_more_is_not_throttling(throughput: bool) -> None:
    # 5 -> 40 ms is eight times slower, and still only 35 ms more
    assert slow_run(5.0, 40.0, throughput=throughput) == 0


@pytest.mark.parametrize("throughput", [False, True], ids=["latency", "throughput"])
def test_slower_by_factor_and_margin_is_throttling(throughput: bool) -> None:
    assert slow_run(5.0, 450.0, throughput=throughput) == 3
    assert slow_run(200.0, 900.0, throughput=throughput) == 3


def test_a_large_baseline_still_needs_the_factor() -> None:
    # 400 -> 600 ms is 200 ms more but only 1.5 times: congestion, not throttling
    assert slow_run(400.0, 600.0) == 0


def test_a_page_coming_fast_inside_the_throttling_does_not_end_it() -> None:
    """A small page can come fast in a throttled round while the download stays slow: the
    probe's throttling ends after its last slow result, whichever target gave it (the drill's
    throttling event ended 7 s before the repair when one target's early fast answer did)."""
    probe = ProbeState(0, ProbeInfo("p"), [], PARAMS)

    def page(at: float, ms: float) -> Result:
        return result(at, ms).model_copy(update={"target": "page"})

    for n in range(8):  # baselines: 20 ms each
        for make in (result, page):
            signals.observe(probe, make(T0 + 10 * n, 20.0), T0 + 10 * n, PARAMS)
    cut = T0 + 100
    # the page is slow once, then fast again; the download stays slow until the repair (+40)
    timeline = [(0, 900.0, 900.0), (10, 900.0, 20.0), (20, 900.0, 20.0), (30, 900.0, 20.0),
                (40, 20.0, 20.0), (50, 20.0, 20.0)]
    for offset, news_ms, page_ms in timeline:
        signals.observe(probe, result(cut + offset, news_ms), cut + offset, PARAMS)
        signals.observe(probe, page(cut + offset, page_ms), cut + offset, PARAMS)
    view = cast(EngineView, SimpleNamespace(probes=[probe], params=PARAMS))
    end = SIGNAL.ended(view, {0}, cut, cut + 60)
    assert cut + 30 < end < cut + 40  # between the last slow download and the first fast one
