"""RIPE Atlas connection log -> replay inputs: real disconnections as probe silences.

Each Atlas probe becomes a probe of its origin AS that uploads an empty heartbeat batch every
``cadence_s`` while it is connected to its controller and stays silent while disconnected
(README of the 2014-08-27 data set). A probe whose first record is a disconnect was connected
from the start of the log. The log holds no location: without ``countries`` only ``asn``
entities exist; with it, each probe of a listed network declares that network's country, as
a volunteer declares where the probe is.

``network_outages`` labels the short outages the log itself shows (several probes of one
network disconnecting together), so a score against this log does not count them as false
alarms just because no press report named them.
"""

from __future__ import annotations

import csv
import heapq
import random
import statistics
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TextIO

from cutwatch.detectors.model import ProbeInfo, Upload, heartbeat_upload

Connlog = dict[str, tuple[int | None, list[tuple[float, bool]]]]


def read_connlog(source: TextIO) -> Connlog:
    """prb_id -> (asn, [(time, connected)...] in time order)."""
    probes: Connlog = {}
    for number, row in enumerate(csv.DictReader(source), 2):
        try:
            at = float(row["timestamp"])
            event = row["event"]
            probe = row["prb_id"]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"line {number}: not a connection-log row") from None
        if event not in ("connect", "disconnect"):
            raise ValueError(f"line {number}: event {event!r} is not connect/disconnect")
        asn_text = (row.get("asn") or "").strip()
        asn = int(asn_text) if asn_text.isdigit() and int(asn_text) > 0 else None
        entry = probes.setdefault(probe, (asn, []))
        if entry[0] is None and asn is not None:
            entry = probes[probe] = (asn, entry[1])
        entry[1].append((at, event == "connect"))
    for _, changes in probes.values():
        changes.sort()
    return probes


def _uploads(probe: str, changes: list[tuple[float, bool]], start: float, end: float,
             cadence: float) -> Iterator[tuple[float, str]]:
    phase = (uuid.uuid5(uuid.NAMESPACE_URL, probe).int % 1000) / 1000 * cadence
    connected = not changes[0][1]  # first record a disconnect: it was connected before
    intervals: list[tuple[float, float]] = []
    since = start if connected else None
    for at, up in changes:
        if up and since is None:
            since = at
        elif not up and since is not None:
            intervals.append((since, at))
            since = None
    if since is not None:
        intervals.append((since, end))
    for a, b in intervals:
        t = start + phase + cadence * max(0, int((a - start - phase) // cadence) + 1)
        while t < b:
            yield t, probe
            t += cadence


def connlog_items(source: TextIO, cadence_s: float = 300.0,
                  countries: Mapping[int, str] | None = None) -> Iterator[ProbeInfo | Upload]:
    """Probe registrations, then heartbeat uploads in ``received_at`` order; ``countries``
    maps an ASN to the country its probes declare."""
    return connlog_items_of(read_connlog(source), cadence_s, countries)


def connlog_items_of(probes: Connlog, cadence_s: float = 300.0,
                     countries: Mapping[int, str] | None = None,
                     ) -> Iterator[ProbeInfo | Upload]:
    """``connlog_items`` of a log already read."""
    countries = countries or {}
    if not probes:
        return
    times = [t for _, changes in probes.values() for t, _ in changes]
    start = float(int(min(times)) // 86_400 * 86_400)
    end = max(times)
    for prb, (asn, _) in sorted(probes.items()):
        country = countries.get(asn) if asn is not None else None
        yield ProbeInfo(f"atlas-{prb}", country=country, asn=asn)
    streams: list[Iterable[tuple[float, str]]] = [
        _uploads(prb, changes, start, end, cadence_s) for prb, (_, changes) in probes.items()
    ]
    for n, (at, prb) in enumerate(heapq.merge(*streams)):
        yield heartbeat_upload(f"atlas-{prb}", uuid.UUID(int=n + 1), at)


@dataclass(frozen=True, slots=True)
class Outage:
    """A network outage the log shows: ``probes`` of the ``active`` probes of ``asn``
    (connected just before) went down together from ``start``; ``end`` is when half of
    them were back."""

    asn: int
    start: float
    end: float
    probes: int
    active: int


def shuffle_networks(probes: Connlog, seed: int) -> Connlog:
    """The same probes and disconnections, each probe given the network of another at
    random (network sizes kept): what churn alone does. A network outage needs its probes
    to go down together, so the shuffled log should show almost none (a negative control
    of ``network_outages`` and of the detector)."""
    ids = sorted(probes)
    asns = [probes[p][0] for p in ids]
    random.Random(seed).shuffle(asns)
    return {p: (asn, probes[p][1]) for p, asn in zip(ids, asns, strict=True)}


def network_outages(probes: Connlog, link_s: float = 60.0, min_probes: int = 3,
                    min_share: float = 0.5, min_down_s: float = 300.0) -> list[Outage]:
    """The log's own outages, by one written rule: disconnections of one network each
    within ``link_s`` of the previous one form a group; the group's probes that stayed
    down at least ``min_down_s`` must number ``min_probes`` and be ``min_share`` of the
    network's probes connected just before. Groups of one network that overlap in time are
    one outage.

    Why these numbers: a shared cause (a router, a line card, a maintenance) takes a
    network's probes within seconds of each other, whatever controller each was attached
    to, while churn (about four disconnections per probe a day in the 2014 log) rarely
    lines three of them up within a minute: with the probes shuffled across networks
    (``shuffle_networks``) the rule finds about 0.1 outages a day, against 26 in the log. The
    share keeps out a few probes of a large network (AS3320's 3 of 129) whose network as a
    whole was up; five minutes keeps out reconnection blips."""
    end_of_log = max((t for _, changes in probes.values() for t, _ in changes), default=0.0)
    downs: dict[int, list[tuple[float, float, str]]] = {}
    for prb, (asn, changes) in probes.items():
        if asn is None:
            continue
        for i, (at, up) in enumerate(changes):
            if not up:
                back = next((t for t, u in changes[i + 1:] if u), end_of_log)
                downs.setdefault(asn, []).append((at, back, prb))
    found: list[Outage] = []
    for asn, spans in sorted(downs.items()):
        members = [changes for a, changes in probes.values() if a == asn]
        merged: list[tuple[float, dict[str, float], int]] = []  # start, probe -> back, active
        for group in _groups(sorted(spans), link_s):
            returns = {p: b for a, b, p in group if b - a >= min_down_s}
            active = sum(_connected(changes, group[0][0] - 1.0) for changes in members)
            if len(returns) < min_probes or len(returns) < min_share * max(active, 1):
                continue
            start = group[0][0]
            if merged and start <= statistics.median(merged[-1][1].values()):
                merged[-1] = (merged[-1][0], merged[-1][1] | returns, merged[-1][2])
            else:
                merged.append((start, returns, active))
        found += [Outage(asn, s, statistics.median(b.values()), len(b), n)
                  for s, b, n in merged]
    return found


def _groups(spans: list[tuple[float, float, str]], link_s: float,
            ) -> Iterator[list[tuple[float, float, str]]]:
    group = spans[:1]
    for span in spans[1:]:
        if span[0] - group[-1][0] <= link_s:
            group.append(span)
        else:
            yield group
            group = [span]
    if group:
        yield group


def _connected(changes: list[tuple[float, bool]], at: float) -> bool:
    """Whether a probe was connected at ``at`` (before its first record: the opposite of it)."""
    state = not changes[0][1]
    for t, up in changes:
        if t > at:
            break
        state = up
    return state
