"""The engine: probes and uploads in, event transitions out, driven by an explicit clock.

Pure: no I/O and no wall clock. ``register`` and ``upload`` fold inputs into per-probe and
per-entity state; ``evaluate(now)`` advances liveness to ``now`` (silence deadlines in a heap,
so only probes whose state changes are touched) and returns the transitions it decided. The
same object runs inside the service (``online``) and over a file (``replay``).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from operator import attrgetter

from cutwatch.detectors.classify import GapVerdict, judge_gap
from cutwatch.detectors.entities import EntityIndex
from cutwatch.detectors.lifecycle import Lifecycle
from cutwatch.detectors.model import ProbeInfo, Transition, Upload
from cutwatch.detectors.params import Params
from cutwatch.detectors.signals import probe as signals
from cutwatch.detectors.state import (
    ALIVE,
    BURST,
    EXCUSED,
    GLOBAL,
    GONE,
    LAN,
    NEW,
    OLD,
    SILENT,
    GapRecord,
    ProbeState,
)

_SILENCE, _AGE, _GONE = 0, 1, 2
_MAX_GAP_RESULTS = 20_000  # memory bound of one probe's gap record
_MS = 1000  # offset_ms -> s
_MEASURED_AT = attrgetter("measured_at")


class Engine:
    def __init__(self, params: Params | None = None) -> None:
        self.params = params or Params()
        self.index = EntityIndex()
        self.probes: list[ProbeState] = []
        self.by_id: dict[str, int] = {}
        self.asn_of: list[int | None] = []
        self.operator_of: list[str | None] = []
        self.heap: list[tuple[float, int, int, int]] = []
        self.alive = 0
        self.burst = 0
        self.old = 0
        self.global_silent = 0
        self.global_gap = False
        self.churn_onsets: deque[float] = deque()
        self.verdicts: dict[int, GapVerdict] = {}
        self.dirty: set[int] = set()
        self.cond_dirty: set[int] = set()
        self.open_gaps: dict[int, float] = {}  # probe -> when its backlog wait ends
        self.measuring: dict[str, set[int]] = {}  # target -> probes measuring it
        self.life = Lifecycle(self)
        self.clock = 0.0
        self.next_tick: float | None = None  # next point of the evaluation grid
        self.next_level_sample = 0.0

    # ---- inputs -------------------------------------------------------------------
    def register(self, info: ProbeInfo) -> None:
        idx = self.by_id.get(info.id)
        if idx is None:
            idx = len(self.probes)
            self.by_id[info.id] = idx
            self.probes.append(ProbeState(idx, info, [], self.params))
            self.asn_of.append(info.asn)
            self.operator_of.append(info.operator)
        probe = self.probes[idx]
        if probe.entities and probe.info == info:
            return
        state = probe.liveness
        self._set_liveness(probe, NEW)
        self.index.detach(idx, probe.entities)
        probe.info = info
        self.asn_of[idx] = info.asn
        self.operator_of[idx] = info.operator
        probe.entities = self.index.attach(idx, info)
        self._set_liveness(probe, state)

    def upload(self, upload: Upload) -> None:
        batch, now = upload.batch, upload.received_at
        self.clock = max(self.clock, now)
        idx = self.by_id.get(batch.probe_id)
        if idx is None:
            self.register(ProbeInfo(batch.probe_id))
            idx = self.by_id[batch.probe_id]
        p = self.probes[idx]
        params = self.params
        started = batch.heartbeat.started_at
        started_ts = started.timestamp() if started is not None else None
        if p.liveness in SILENT:
            self._returned(p, now)
        if p.gap is not None and started_ts is not None and p.gap.started_before is not None \
                and started_ts > p.gap.started_before + 1:
            p.gap.rebooted = True
        if started_ts is not None:
            p.started_at = started_ts
        if not p.arrivals or now - p.last_arrival >= params.backlog_burst_share * p.cadence or \
                p.arrivals < params.learn_arrivals:
            p.learn_arrival(now, params)
        if p.liveness == NEW and p.arrivals >= params.learn_arrivals:
            self._set_liveness(p, ALIVE)
        if p.liveness == ALIVE:
            p.version += 1
            heapq.heappush(self.heap, (now + p.silence_after(params), idx, p.version, _SILENCE))
        live = False
        gap = p.gap
        newest = 0.0
        # measurement times on the collector's clock (the probe says how far off its own is)
        skew = (batch.clock.offset_ms or 0.0) / _MS if batch.clock is not None else 0.0
        # the wire does not order a batch's results; a target's failure run counts in time order
        for r in sorted(batch.results, key=_MEASURED_AT):
            measured = r.measured_at.timestamp() - skew
            newest = max(newest, measured)
            if r.failure == "probe_error":
                continue
            scope = signals.scope_of(r)
            if gap is not None and measured >= gap.start - 2 * p.cadence and \
                    len(gap.results) < _MAX_GAP_RESULTS:
                gap.results.append((measured, scope, r.ok))
            if r.ok and scope != LAN and measured > p.last_ext_ok:
                p.last_ext_ok = measured
            # what the probe measured while it was silent (its backlog, up to the arrival
            # that ended the silence) is the past: the gap's verdict reads it; as live
            # conditions, the failures and slow answers of the outage and its repair would
            # raise a block or throttling of the area that just came back
            if now - measured <= params.live_window_s and (
                    gap is None or gap.end is None or measured >= gap.end):
                signals.observe(p, r, measured, params)
                self.measuring.setdefault(r.target, set()).add(idx)
                live = True
        p.last_measured = max(p.last_measured, newest)
        if live:
            self._update_conditions(p)
        if gap is not None and gap.end is not None and batch.heartbeat.spool_depth == 0 and \
                (not batch.results or newest >= gap.end - params.backlog_edge_cadences * p.cadence):
            self.open_gaps[idx] = now  # backlog complete: judge at the next evaluation

    # ---- liveness -------------------------------------------------------------------
    def _returned(self, p: ProbeState, now: float) -> None:
        if p.gap is not None:
            p.gap.end = now
            self.open_gaps.setdefault(p.idx, now + self.params.backlog_wait_s)
        if p.liveness in (BURST, OLD, GONE) and not self.life.is_member(p.idx):
            self.churn_onsets.append(p.silent_since)
        self._set_liveness(p, ALIVE)

    def _set_liveness(self, p: ProbeState, new: int) -> None:
        old = p.liveness
        if old == new:
            return
        idx = p.idx
        ents = self.index.entities
        for e in p.entities:
            ent = ents[e]
            if old == ALIVE:
                ent.alive -= 1
            elif old == BURST:
                ent.burst.discard(idx)
            elif old == OLD:
                ent.old.discard(idx)
            if new == ALIVE:
                ent.alive += 1
            elif new == BURST:
                ent.burst.add(idx)
            elif new == OLD:
                ent.old.add(idx)
            self.dirty.add(e)
        self.alive += (new == ALIVE) - (old == ALIVE)
        self.burst += (new == BURST) - (old == BURST)
        self.old += (new == OLD) - (old == OLD)
        self.global_silent += (new == GLOBAL) - (old == GLOBAL)
        p.liveness = new
        if new != ALIVE and p.conditions:
            self._set_conditions(p, {})

    def _fall_silent(self, p: ProbeState) -> None:
        params = self.params
        p.silent_since = p.last_arrival
        self.verdicts.pop(p.idx, None)
        p.gap = GapRecord(p.last_arrival, p.last_ext_ok, p.started_at)
        if self.global_gap:
            self._set_liveness(p, GLOBAL)
        elif p.usually_off(p.silent_since, params):
            self._set_liveness(p, EXCUSED)
        else:
            self._set_liveness(p, BURST)
            heapq.heappush(self.heap, (p.silent_since + params.burst_window_s, p.idx,
                                       p.version, _AGE))

    def _advance(self, now: float) -> None:
        heap, probes = self.heap, self.probes
        while heap and heap[0][0] <= now:
            _, idx, version, what = heapq.heappop(heap)
            p = probes[idx]
            if version != p.version:
                continue
            if what == _SILENCE and p.liveness == ALIVE:
                self._fall_silent(p)
            elif what == _AGE and p.liveness == BURST:
                self._set_liveness(p, OLD)
                heapq.heappush(heap, (p.silent_since + self.params.level_window_s, idx,
                                      version, _GONE))
            elif what == _GONE and p.liveness == OLD:
                self._set_liveness(p, GONE)

    def _check_global(self) -> None:
        """A burst across the whole fleet, in several countries, is the collector's gap."""
        params = self.params
        fleet = self.alive + self.burst + self.global_silent
        share = (self.burst + self.global_silent) / fleet if fleet else 0.0
        if self.global_gap:
            if share < params.global_fraction / 2:
                self.global_gap = False
            return
        if share < params.global_fraction:
            return
        ents = self.index.entities
        # spread over countries; a fleet that declares none (e.g. RIPE Atlas) over networks
        groups = list(self.index.countries.values()) or [
            e.idx for e in ents if e.key.type == "asn" and e.key.access is None]
        spread = 0
        for idx in groups:
            ent = ents[idx]
            if ent.active >= params.min_probes and \
                    len(ent.burst) >= params.open_fraction * ent.active:
                spread += 1
        if spread < params.global_min_countries:
            return
        self.global_gap = True
        for p in self.probes:
            if p.liveness == BURST:
                self._set_liveness(p, GLOBAL)

    def churn(self, now: float) -> float:
        """Share of active probes starting a silence per burst window, over the last 6 h."""
        window = self.params.churn_window_s
        onsets = self.churn_onsets
        while onsets and onsets[0] < now - window:
            onsets.popleft()
        fleet = self.alive + self.burst
        if not fleet:
            return self.params.churn_floor
        return len(onsets) / (fleet * window / self.params.burst_window_s)

    # ---- conditions -----------------------------------------------------------------
    def _update_conditions(self, p: ProbeState) -> None:
        if p.liveness != ALIVE:
            return
        self._set_conditions(p, signals.conditions(p, self.params))

    def _set_conditions(self, p: ProbeState, new: dict[str, dict[str, str]]) -> None:
        old = p.conditions or {}
        if old == new:
            return
        ents = self.index.entities
        for signal in old.keys() | new.keys():
            if old.get(signal) == new.get(signal):
                continue
            for e in p.entities:
                members = ents[e].conditions.setdefault(signal, set())
                if signal in new:
                    members.add(p.idx)
                else:
                    members.discard(p.idx)
                self.cond_dirty.add(e)
        p.conditions = new or None

    # ---- evaluation -----------------------------------------------------------------
    def evaluate_until(self, now: float) -> list[Transition]:
        """Evaluate at every point of the ``eval_interval_s`` grid up to ``now`` (docs/events.md:
        the engine is evaluated as the clock moves); the grid starts after the first ``now``.
        Replay and the online leader both drive the engine through this."""
        interval = self.params.eval_interval_s
        if self.next_tick is None:
            self.next_tick = math.floor(now / interval) * interval + interval
        out: list[Transition] = []
        while self.next_tick <= now:
            out.extend(self.evaluate(self.next_tick))
            self.next_tick += interval
        return out

    def evaluate(self, now: float) -> list[Transition]:
        self.clock = max(self.clock, now)
        self._advance(now)
        self._check_global()
        self._sample_levels(now)
        self._judge_gaps(now)
        out = self.life.step(now)
        self.dirty.clear()
        self.cond_dirty.clear()
        return out

    def _sample_levels(self, now: float) -> None:
        """Each entity's silent share into its baseline, every ``level_sample_s``; not while
        a silence event is open on it (an outage must not become its own baseline)."""
        if now < self.next_level_sample:
            return
        params = self.params
        self.next_level_sample = now + params.level_sample_s
        busy = {e for e, signal in self.life.open if signal == "silence"}
        for ent in self.index.entities:
            if ent.members and ent.idx not in busy:
                ent.sample_level(params.level_history)

    def _judge_gaps(self, now: float) -> None:
        done = [idx for idx, due in self.open_gaps.items() if due <= now]
        for idx in done:
            del self.open_gaps[idx]
            p = self.probes[idx]
            gap = p.gap
            if gap is None or gap.end is None:
                continue
            bucket = max(self.params.gap_bucket_min_s, p.cadence,
                         self.params.gap_bucket_measures * p.measure_every)
            self.verdicts[idx] = judge_gap(gap, bucket, p.last_measured > 0, self.params)
            p.gap = None
            self.life.gap_judged(idx)
