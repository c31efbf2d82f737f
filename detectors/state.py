"""Per-probe state: learned upload cadence, liveness, time-of-day profile, gap record.

Everything the engine knows about one probe lives here, in ``__slots__`` objects so that
memory stays linear and small per probe (see the engine-cost benchmark).
"""

from __future__ import annotations

from typing import Final

from cutwatch.detectors.model import ProbeInfo
from cutwatch.detectors.params import Params

# Liveness states of a probe.
NEW: Final = 0  # not enough arrivals to know its cadence: no evidence either way
ALIVE: Final = 1
BURST: Final = 2  # silent, the silence began recently: evidence
OLD: Final = 3  # silent for longer than a burst window: out of the burst, still in the level
EXCUSED: Final = 4  # silent at its usual off time
GLOBAL: Final = 5  # silent inside a global arrival gap (collector down, mass reboot)
GONE: Final = 6  # silent for longer than the level window: out of every denominator

_DAY: Final = 86_400  # seconds: the time-of-day profile's period
_SEEN_MAX: Final = 255  # days a slot counts (one byte), and the day marker's cycle
SILENT: Final = (BURST, OLD, EXCUSED, GLOBAL, GONE)  # states a returning probe leaves

# Scopes of a result, as small ints (gap records keep many of them).
LAN: Final = 0
DOMESTIC: Final = 1
INTERNATIONAL: Final = 2


class GapRecord:
    """What a probe measured while it was silent: filled by its backlog when it returns."""

    __slots__ = ("end", "prior_ok", "rebooted", "results", "start", "started_before")

    def __init__(self, start: float, prior_ok: float, started_before: float | None) -> None:
        self.start = start  # last arrival before the silence
        self.end: float | None = None  # first arrival after it
        self.prior_ok = prior_ok  # last external success measured before the silence
        self.started_before = started_before
        self.rebooted = False
        self.results: list[tuple[float, int, bool]] = []  # (measured_at, scope, ok)


class TargetState:
    """One probe's view of one target: failure run, method, latency baseline, slow run."""

    __slots__ = ("base", "fail_run", "fail_since", "fast_since", "last_at", "last_fail_at",
                 "last_ok_at", "method", "n_ok", "scope", "slow_run", "slow_since",
                 "slow_until")

    def __init__(self, scope: int) -> None:
        self.scope = scope
        self.fail_run = 0
        self.fail_since = 0.0
        self.last_at = 0.0
        self.last_ok_at = 0.0
        self.last_fail_at = 0.0
        self.method = ""
        self.n_ok = 0
        self.base = 0.0  # EWMA of the slowness measure while not slow
        self.slow_run = 0
        self.slow_since = 0.0  # measured_at of the current slow run's first result
        self.slow_until = 0.0  # measured_at of the last slow result (of this run or the last)
        self.fast_since = 0.0  # measured_at of the fast result that ended the last slow run


class ProbeState:
    __slots__ = (
        "arrivals", "cadence", "conditions", "entities", "first_seen", "gap",
        "idx", "info", "jitter", "last_arrival", "last_ext_ok", "last_measured", "liveness",
        "long_gaps", "long_sum",
        "measure_every",
        "seen_day", "seen_slots", "silent_since", "started_at", "targets", "version",
    )

    def __init__(self, idx: int, info: ProbeInfo, entities: list[int], params: Params) -> None:
        self.idx = idx
        self.info = info
        self.entities = entities
        self.liveness = NEW
        self.arrivals = 0
        self.cadence = params.default_cadence_s
        self.jitter = 0.0
        self.long_gaps = 0  # consecutive gaps far above the cadence, and their sum
        self.long_sum = 0.0
        self.last_arrival = 0.0
        self.first_seen = 0.0
        self.version = 0
        self.silent_since = 0.0
        self.started_at: float | None = None
        self.last_ext_ok = 0.0
        self.last_measured = 0.0
        self.measure_every = 0.0  # learned interval between measurements of one target
        self.gap: GapRecord | None = None
        self.targets: dict[str, TargetState] | None = None
        self.conditions: dict[str, dict[str, str]] | None = None  # signal -> {target: method}
        slots = _DAY // params.tod_slot_s
        self.seen_slots = bytearray(slots)
        self.seen_day = bytearray(slots)

    def learn_arrival(self, now: float, params: Params) -> None:
        """Update cadence/jitter from one more inter-arrival gap (backlog bursts excluded)."""
        if self.arrivals and now > self.last_arrival:
            gap = now - self.last_arrival
            if self.arrivals < params.learn_arrivals:
                self.cadence = gap if self.arrivals == 1 else (self.cadence + gap) / 2
            elif gap <= params.silence_gap_cadences * self.cadence:
                self.long_gaps, self.long_sum = 0, 0.0
                a = params.cadence_alpha
                self.jitter = (1 - a) * self.jitter + a * abs(gap - self.cadence)
                self.cadence = (1 - a) * self.cadence + a * gap
            else:
                # One long gap is a silence. ``learn_arrivals`` of them in a row, with no
                # normal gap between, mean the cadence was learned wrong (a probe's start-up
                # uploads come within a second of each other) or has changed: learn it again
                # from them, or the probe would look silent after every upload for good.
                self.long_gaps += 1
                self.long_sum += gap
                if self.long_gaps >= params.learn_arrivals:
                    self.cadence, self.jitter = self.long_sum / self.long_gaps, 0.0
                    self.long_gaps, self.long_sum = 0, 0.0
            self.cadence = min(max(self.cadence, 1.0), params.max_cadence_s)
        elif not self.arrivals:
            self.first_seen = now
        self.arrivals += 1
        self.last_arrival = max(self.last_arrival, now)
        slot = int(now % _DAY) // params.tod_slot_s
        day = int(now // _DAY) % _SEEN_MAX + 1
        if self.seen_day[slot] != day:
            self.seen_day[slot] = day
            if self.seen_slots[slot] < _SEEN_MAX:
                self.seen_slots[slot] += 1

    def silence_after(self, params: Params) -> float:
        return params.silence_factor * self.cadence + params.silence_jitters * self.jitter + \
            params.silence_margin_s

    def usually_off(self, at: float, params: Params) -> bool:
        """Whether the probe is usually absent at this time of day (switched off at night)."""
        days = int((at - self.first_seen) // _DAY)
        if days < params.tod_min_days:
            return False
        slot = int((at + params.tod_slot_s) % _DAY) // params.tod_slot_s
        return self.seen_slots[slot] / min(days, _SEEN_MAX) < params.tod_presence
