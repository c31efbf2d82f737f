"""Event lifecycle: open the widest entity down as a whole, refine, resolve, retract.

Candidates are judged by ``decide`` for each signal (``silence`` and the live conditions
``international``, ``block``, ``throttling``). A candidate must qualify at two consecutive
evaluations before it opens, and the widest one opens first, so a province opening a few
seconds before its country does not raise both. Backlog verdicts (``classify``) turn a
``suspected`` silence into a ``confirmed`` kind, a power outage, or a retraction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from cutwatch.detectors import sources
from cutwatch.detectors.classify import KIND_OF, EventVerdict, GapVerdict, judge_event, quantile
from cutwatch.detectors.decide import Verdict, binomial_tail
from cutwatch.detectors.entities import Entity
from cutwatch.detectors.model import RANK, Event, Transition, event_id
from cutwatch.detectors.signals import LIVE_BY, RAISING
from cutwatch.detectors.signals.base import EngineView, Signal
from cutwatch.detectors.state import ALIVE

# Evaluations fall on a grid: a wait a tenth short of its length ends on the tick it is due.
_TICK_SLACK = 0.9


class Lifecycle:
    def __init__(self, engine: EngineView) -> None:
        self.engine = engine
        self.open: dict[tuple[int, str], Event] = {}
        self.closed: list[Event] = []
        self.pending: dict[tuple[int, str], float] = {}  # candidate -> first qualified
        self.member_events: dict[int, list[Event]] = {}
        self.returns: dict[str, dict[int, float]] = {}
        self.ending: dict[str, float] = {}
        self.stopped: dict[str, float] = {}  # condition event -> when its condition stopped
        self.to_judge: set[str] = set()

    def is_member(self, probe: int) -> bool:
        return probe in self.member_events

    def gap_judged(self, probe: int) -> None:
        for ev in self.member_events.get(probe, ()):
            self.to_judge.add(ev.id)
        for ev in self.closed:  # resolved, still taking late backlogs (settle_s)
            if probe in ev.members:
                self.to_judge.add(ev.id)

    # ---- one evaluation ---------------------------------------------------------------
    def step(self, now: float) -> list[Transition]:
        out: list[Transition] = []
        for ev in list(self.open.values()) + self.closed:
            self._follow(ev, now, out)
        keep = [ev for ev in self.closed
                if ev.status == "resolved" and now - (ev.closed_at or now)
                < self.engine.params.settle_s]
        for ev in self.closed:
            if ev not in keep:  # settled: nothing will refine it any more
                self.returns.pop(ev.id, None)
                self.to_judge.discard(ev.id)
        self.closed = keep
        self._open_new(now, out)
        return out

    def _candidates(self, now: float) -> Iterator[tuple[Entity, str, Signal, Verdict]]:
        eng = self.engine
        ents = eng.index.entities
        churn = eng.churn(now)
        seen: set[tuple[int, str]] = set()
        keys = [(e, "silence") for e in eng.dirty] + list(self.pending)
        keys += [(e, s) for e in eng.cond_dirty for s in ents[e].conditions]
        for e, signal in keys:
            if (e, signal) in seen or (e, signal) in self.open:
                continue
            seen.add((e, signal))
            judged = self._judge_entity(ents[e], signal, churn)
            if judged is not None:
                yield ents[e], signal, *judged

    def _judge_entity(self, ent: Entity, signal: str,
                      churn: float) -> tuple[Signal, Verdict] | None:
        """The registered signals raising ``signal`` judge the entity; when several qualify
        (burst and level for silence), the one that accounts for more of its probes (the
        first registered on a tie), with its verdict."""
        best: tuple[Signal, Verdict] | None = None
        for candidate in RAISING.get(signal, ()):
            verdict = candidate.judge(self.engine, ent, churn)
            if verdict is not None and (best is None or
                                        len(verdict.affected) > len(best[1].affected)):
                best = candidate, verdict
        return best

    def _open_new(self, now: float, out: list[Transition]) -> None:
        found = sorted(self._candidates(now), key=lambda c: (
            RANK[c[0].key.type], c[0].key.access is not None, c[0].key.code, c[1]))
        covered: dict[str, list[frozenset[int] | set[int]]] = {}
        ents = self.engine.index.entities
        for (e, signal), _ev in self.open.items():
            # an entity already down as a whole covers all of its probes
            covered.setdefault(signal, []).append(ents[e].members)
        probes = self.engine.probes
        for ev in self.closed:
            # a resolved event still explains the silences of its probes not back yet (a
            # partial restoration is not a new outage); a silence begun since is new
            if ev.signal == "silence" and ev.end is not None:
                covered.setdefault("silence", []).append(
                    {p for p in ev.members if probes[p].silent_since <= ev.end})
        pending: dict[tuple[int, str], float] = {}
        for ent, signal, judged_by, verdict in found:
            cover = covered.setdefault(signal, [])
            young = self._young_inside(ent, signal, now)
            if young is None:
                unexplained = set(verdict.affected)
                for c in cover:
                    unexplained -= c
                if len(unexplained) < self.engine.params.min_probes:
                    continue  # what is left once wider events are counted is churn
            cover.append(ent.members)
            key = (ent.idx, signal)
            first = self.pending.get(key)
            # the silences (or failing measurements) of slower probes spread over one cadence:
            # confirm over a quarter of it, and wait up to two for a wider entity to follow
            cadence = quantile([self._pace(p, signal) for p in verdict.affected], 0.5)
            params = self.engine.params
            confirm = _TICK_SLACK * max(params.eval_interval_s,
                                        cadence * params.confirm_cadences)
            hold = max(params.hold_s, params.hold_cadences * cadence)
            if first is None or now - first < confirm or \
                    (now - first < hold and self._rising_above(ent, signal)):
                pending[key] = now if first is None else first
            elif young is not None:
                self._widen(young, ent, judged_by, verdict, now, out)
            else:
                self._open(ent, signal, judged_by, verdict, now, out)
        self.pending = pending

    def _young_inside(self, ent: Entity, signal: str, now: float) -> Event | None:
        """An event opened moments ago on an entity inside this one (it went dark first)."""
        ents = self.engine.index.entities
        params = self.engine.params
        # a silence may unfold over hours (a staggered shutdown): its events inside are young
        # as long as the level still remembers their silences
        window = params.level_window_s if signal == "silence" else params.burst_window_s
        inside = [ev for (e, s), ev in self.open.items()
                  if s == signal and e != ent.idx and ev.status in ("suspected", "confirmed")
                  and now - ev.detected_at <= window and ev.members <= ent.members
                  and not ent.members <= ents[e].members]
        return max(inside, key=lambda ev: len(ev.members), default=None)

    def _widen(self, ev: Event, ent: Entity, judged_by: Signal, verdict: Verdict, now: float,
               out: list[Transition]) -> None:
        """The wider entity is down as a whole: the event becomes its event (same id)."""
        eng = self.engine
        self.open.pop((eng.index.by_key[ev.entity], ev.signal), None)
        ev.evidence.setdefault("widened_from", []).append(ev.entity.to_json(ev.entity_name))
        ev.entity, ev.entity_name = ent.key, ent.name
        ev.start = judged_by.widened_start(eng, ev.start, verdict.affected)
        for p in verdict.affected - ev.members:
            ev.members.add(p)
            self.member_events.setdefault(p, []).append(ev)
        ev.probes_total = verdict.total
        ev.confidence = max(ev.confidence, verdict.confidence)
        ev.asns_affected = sorted({a for p in ev.members if (a := eng.asn_of[p]) is not None})
        ev.evidence["probes_active"] = verdict.total
        if verdict.path == "level":
            ev.evidence["path"] = "level"
        if ent.key.access is None:
            ev.evidence.pop("access", None)
        else:
            ev.evidence["access"] = ent.key.access
        self.open[(ent.idx, ev.signal)] = ev
        self.ending.pop(ev.id, None)
        self._merge_inside(ev, ent, now, out)
        self._judge_sources(ev)
        out.append(Transition("updated", now, ev.snapshot()))

    def _merge_inside(self, ev: Event, ent: Entity, now: float,
                      out: list[Transition]) -> None:
        """Other open events inside the widened one (provinces that went dark one after
        another) become part of it: one shutdown, one event. Each leaves as ``merged`` (not
        ``retracted``: to a subscriber that means "no shutdown"), its evidence naming the event
        it was merged into."""
        ents = self.engine.index.entities
        inside = [other for (e, s), other in list(self.open.items())
                  if s == ev.signal and other is not ev and e != ent.idx
                  and ents[e].members <= ent.members
                  and other.status in ("suspected", "confirmed")]
        for other in inside:
            for p in other.members - ev.members:
                ev.members.add(p)
                self.member_events.setdefault(p, []).append(ev)
            ev.evidence.setdefault("widened_from", []).append(
                other.entity.to_json(other.entity_name))
            ev.start = min(ev.start, other.start)
            other.status = "merged"
            other.evidence["merged_into"] = ev.id
            self._close(other)
            self.returns.pop(other.id, None)
            out.append(Transition("merged", now, other.snapshot()))

    def _judge_sources(self, ev: Event) -> bool:
        """Count the operators and networks of the event's probes and flag it when they are
        too few (``sources``); True when it is flagged."""
        eng = self.engine
        operators, networks = sources.count(ev.members, eng.operator_of, eng.asn_of)
        ev.single_source = sources.single_source(ev.entity.type, operators, networks,
                                                 eng.params)
        ev.evidence["sources"] = {"operators": operators, "networks": networks}
        return ev.single_source

    def _pace(self, probe: int, signal: str) -> float:
        p = self.engine.probes[probe]
        return p.cadence if signal == "silence" else max(p.cadence, p.measure_every)

    def _rising_above(self, ent: Entity, signal: str) -> bool:
        """A wider entity is being affected beyond this one: it may be down as a whole."""
        eng, params = self.engine, self.engine.params
        ents = eng.index.entities
        for a in eng.index.ancestors(ent.idx, eng.probes):
            wider = ents[a]
            if signal == "silence":
                k, n = len(wider.burst) - len(ent.burst), wider.active - ent.active
            else:
                k = len(wider.conditions.get(signal, ())) - len(ent.conditions.get(signal, ()))
                n = wider.alive - ent.alive
            # beyond churn: a wider entity that may be going down as a whole
            if k >= 1 and binomial_tail(n, k, params.churn_floor) <= params.rising_surprise:
                return True
        return False

    def _open(self, ent: Entity, signal: str, judged_by: Signal, verdict: Verdict, now: float,
              out: list[Transition]) -> None:
        eng = self.engine
        opening = judged_by.describe(eng, ent, verdict.affected)
        start, evidence, members = opening.start, dict(opening.evidence), set(opening.members)
        if ent.key.access is not None:
            evidence["access"] = ent.key.access
        evidence["probes_active"] = verdict.total
        ev = Event(
            id=event_id(ent.key, signal, start), entity=ent.key, entity_name=ent.name,
            signal=signal, kind=RAISING[signal][0].kind,
            status="suspected" if signal == "silence" else "confirmed",
            start=start, end=None, detected_at=now, confidence=verdict.confidence,
            members=members, probes_total=verdict.total, evidence=evidence,
            asns_affected=sorted({a for p in members if (a := eng.asn_of[p]) is not None}),
            silence_bracket=opening.bracket,
        )
        self.open[(ent.idx, signal)] = ev
        for p in members:
            self.member_events.setdefault(p, []).append(ev)
        if signal == "silence":
            self._merge_inside(ev, ent, now, out)
        self._judge_sources(ev)
        out.append(Transition("opened", now, ev.snapshot()))

    # ---- following an event ---------------------------------------------------------
    def _follow(self, ev: Event, now: float, out: list[Transition]) -> None:
        eng = self.engine
        ent = eng.index.entities[eng.index.by_key[ev.entity]]
        if ev.status in ("suspected", "confirmed"):
            joiners = ent.burst if ev.signal == "silence" else \
                ent.conditions.get(ev.signal, set())
            if ent.idx in eng.dirty or ent.idx in eng.cond_dirty:
                joined = joiners - ev.members
                for p in joined:
                    ev.members.add(p)
                    self.member_events.setdefault(p, []).append(ev)
                if joined and ev.single_source and not self._judge_sources(ev):
                    # probes of another operator (network) bear it out now: say so
                    out.append(Transition("updated", now, ev.snapshot()))
            back = self.returns.setdefault(ev.id, {})
            for p in ev.members:
                if eng.probes[p].liveness == ALIVE:
                    back.setdefault(p, now)
                else:
                    back.pop(p, None)  # silent again: its return did not last
        if ev.id in self.to_judge:
            self.to_judge.discard(ev.id)
            if ev.signal == "silence" and self._apply_backlogs(ev, now, out):
                return
        if ev.status not in ("suspected", "confirmed"):
            return
        if ev.signal == "silence":
            still = sum(1 for p in ev.members if eng.probes[p].liveness != ALIVE)
        else:
            still = len(ev.members & ent.conditions.get(ev.signal, set()))
        # stays open while the evidence threshold holds (hysteresis: close_fraction)
        if still >= eng.params.min_probes and still > eng.params.close_fraction * len(ev.members):
            self.ending.pop(ev.id, None)
            self.stopped.pop(ev.id, None)
            return
        if ev.signal != "silence":
            # one episode, one event: a condition that flickers off and back within
            # condition_hold_s stays the same event; its end is when it first stopped (read
            # from the measurements then: later successes would move it)
            if ev.id not in self.ending:
                self.ending[ev.id] = now
                self.stopped[ev.id] = LIVE_BY[ev.signal].ended(eng, ev.members, ev.start, now)
            if now - self.ending[ev.id] >= eng.params.condition_hold_s:
                self._resolve(ev, now, out, self.stopped.pop(ev.id, now))
            return
        since = self.ending.setdefault(ev.id, now)
        if ev.refined or now - since >= eng.params.backlog_wait_s:
            self._resolve(ev, now, out, since)

    def _resolve(self, ev: Event, now: float, out: list[Transition], since: float) -> None:
        eng = self.engine
        if ev.end is None and ev.refined:
            verdict = self._judge(ev)
            if verdict is not None and verdict.label != "none":
                ev.end = verdict.end
        if ev.end is None:
            back = list(self.returns.get(ev.id, {}).values()) or [now]
            ev.end = RAISING[ev.signal][0].resolved_end(eng, ev.members, ev.start, back, since)
        if ev.signal == "silence":
            # a partial restoration says so: probes of the event still silent at its end
            ev.evidence["probes_still_silent"] = sum(
                1 for p in ev.members if eng.probes[p].liveness != ALIVE)
        ev.status, ev.closed_at = "resolved", now
        self._close(ev)
        self.closed.append(ev)
        out.append(Transition("resolved", now, ev.snapshot()))

    def _close(self, ev: Event) -> None:
        self.open.pop((self.engine.index.by_key[ev.entity], ev.signal), None)
        self.ending.pop(ev.id, None)
        self.stopped.pop(ev.id, None)
        for p in ev.members:
            events = self.member_events.get(p)
            if events is not None and ev in events:
                events.remove(ev)
                if not events:
                    del self.member_events[p]

    def _judge(self, ev: Event) -> EventVerdict | None:
        back = list(self.returns.get(ev.id, {}).values())
        params = self.engine.params
        verdicts = self._verdicts(ev)
        end_before = quantile(back, params.edge_quantile) if back else None
        verdict = judge_event(verdicts, len(ev.members), params,
                              start_within=ev.silence_bracket, end_before=end_before)
        early = [v for v in verdicts if v.onset_lo <= ev.detected_at]
        if verdict is None or len(early) == len(verdicts):
            return verdict
        # Every gap overlapping the event votes on its kind, but its start is that of the
        # silences it was opened from: a gap begun after it opened (a probe back for an hour
        # during a long shutdown, then dark again; a probe joining a staggered fall) must not
        # move the start hours later (the Iran replay's start jumped to a reopening's).
        first = judge_event(early, len(ev.members), params,
                            start_within=ev.silence_bracket, end_before=end_before)
        return dataclasses.replace(verdict, start=ev.start if first is None else first.start)

    def _verdicts(self, ev: Event) -> list[GapVerdict]:
        verdicts = self.engine.verdicts
        floor = ev.start - self.engine.params.burst_window_s
        # a gap that began after the event ended is another story (a later reboot, a later
        # outage): it must not rewrite a resolved event
        ceiling = float("inf") if ev.end is None else ev.end
        return [v for p in ev.members if (v := verdicts.get(p)) is not None
                and v.end >= floor and v.onset_lo < ceiling]

    def _apply_backlogs(self, ev: Event, now: float, out: list[Transition]) -> bool:
        """Refine an event from its members' backlogs; True when it was retracted."""
        params = self.engine.params
        verdict = self._judge(ev)
        if verdict is None:
            return False
        if verdict.label == "none":
            ev.status = "retracted"
            ev.evidence["backlogs"] = {"probes": verdict.voters, "agree": verdict.agree,
                                       "verdict": "no_shutdown"}
            self._close(ev)
            self.closed = [e for e in self.closed if e is not ev]
            self.returns.pop(ev.id, None)
            out.append(Transition("retracted", now, ev.snapshot()))
            return True
        kind = KIND_OF[verdict.label]
        ended = ev.status == "resolved" or ev.id in self.ending
        new_end = verdict.end if ended else ev.end
        shift = params.refine_min_shift_s
        changed = (kind != ev.kind or ev.status == "suspected"
                   or abs(verdict.start - ev.start) >= shift
                   or (new_end is not None and (ev.end is None or abs(new_end - ev.end) >= shift)))
        ev.refined = True
        ev.evidence["backlogs"] = {"probes": verdict.voters, "agree": verdict.agree,
                                   "verdict": verdict.label}
        if not changed:
            return False
        ev.kind, ev.start = kind, verdict.start
        if new_end is not None:
            ev.end = new_end
        if ev.status == "suspected":
            ev.status = "confirmed"
        out.append(Transition("updated", now, ev.snapshot()))
        return False
