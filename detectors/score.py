"""Scoring: detector transitions against ground truth (the figures of issue 4).

An event matches a truth entry when the entity (type, code, access scope) is the same and
their times overlap; retracted and merged events count as raised on negative cases but not as
claims (a merged event's probes are claimed by the wider event it joined).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cutwatch.detectors.model import parse_time


@dataclass
class Events:
    """Final state and first opening of every event in a run."""

    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    opened_at: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, transitions: Iterable[dict[str, Any]]) -> Events:
        out = cls()
        for t in transitions:
            ev = t["event"]
            out.final[ev["id"]] = ev
            if t["action"] == "opened":
                out.opened_at.setdefault(ev["id"], parse_time(t["at"]))
        return out


@dataclass
class Score:
    truth_eligible: int = 0
    truth_found: int = 0
    claims: int = 0
    claims_true: int = 0
    kind_right: int = 0
    delays: list[float] = field(default_factory=list)
    start_errors: list[float] = field(default_factory=list)
    end_errors: list[float] = field(default_factory=list)
    negative_events: int = 0
    false_events: int = 0
    entity_months: float = 0.0

    def add(self, events: Events, truth: list[dict[str, Any]], entities: int,
            hours: float) -> None:
        self.entity_months += entities * hours / (24 * 30)
        claims = {i: e for i, e in events.final.items()
                  if e["status"] not in ("retracted", "merged")}
        matched: set[str] = set()
        for case in truth:
            start, end = parse_time(case["start"]), parse_time(case["end"])
            hits = [i for i, e in events.final.items() if _overlaps(e, case, start, end)]
            if case["kind"] is None:
                self.negative_events += len(hits)
                continue
            hits = [i for i in hits if i in claims]
            matched.update(hits)
            if case["minutes"] < 5 or case["probes"] < 5:
                continue
            self.truth_eligible += 1
            if not hits:
                continue
            self.truth_found += 1
            ev = claims[hits[0]]
            self.kind_right += ev["kind"] == case["kind"]
            self.delays.append(events.opened_at.get(hits[0], start) - start)
            self.start_errors.append(abs(parse_time(ev["start"]) - start))
            if ev["end"] is not None:
                self.end_errors.append(abs(parse_time(ev["end"]) - end))
        self.claims += len(claims)
        self.claims_true += len(matched & claims.keys())
        self.false_events += len(claims.keys() - matched)

    def figures(self) -> dict[str, float]:
        def q(values: list[float], p: float) -> float:
            return sorted(values)[min(len(values) - 1, int(p * len(values)))] if values else 0.0

        def within(values: list[float]) -> float:
            return sum(v <= 60 for v in values) / len(values) if values else 0.0

        return {
            "precision": self.claims_true / self.claims if self.claims else 1.0,
            "recall": self.truth_found / self.truth_eligible if self.truth_eligible else 1.0,
            "delay_median_s": statistics.median(self.delays) if self.delays else 0.0,
            "delay_p95_s": q(self.delays, 0.95),
            "start_within_60s": within(self.start_errors),
            "end_within_60s": within(self.end_errors),
            "start_error_median_s": statistics.median(self.start_errors or [0.0]),
            "end_error_median_s": statistics.median(self.end_errors or [0.0]),
            "kind_accuracy": self.kind_right / self.truth_found if self.truth_found else 0.0,
            "negative_case_events": float(self.negative_events),
            "false_events_per_entity_month": self.false_events / self.entity_months
            if self.entity_months else 0.0,
        }


def _overlaps(event: dict[str, Any], case: dict[str, Any], start: float, end: float) -> bool:
    ev_start = parse_time(event["start"])
    ev_end = parse_time(event["end"]) if event["end"] else ev_start + 86_400
    if ev_start > end + 600 or ev_end < start - 600:
        return False
    if case["kind"] is None:
        return True  # any event during a negative case is a false alarm
    entity = event["entity"]
    want = case["entity"]
    return bool(entity["type"] == want["type"] and entity["code"] == want["code"]
                and entity.get("access") == want["access"])
