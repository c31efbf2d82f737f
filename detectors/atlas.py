"""RIPE Atlas connection log -> replay inputs: real disconnections as probe silences.

Each Atlas probe becomes a probe of its origin AS that uploads an empty heartbeat batch every
``cadence_s`` while it is connected to its controller and stays silent while disconnected
(README of the 2014-08-27 data set). A probe whose first record is a disconnect was connected
from the start of the log. The log holds no location: without ``countries`` only ``asn``
entities exist; with it, each probe of a listed network declares that network's country, as
a volunteer declares where the probe is.
"""

from __future__ import annotations

import csv
import heapq
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import TextIO

from cutwatch.detectors.model import ProbeInfo, Upload, heartbeat_upload


def read_connlog(source: TextIO) -> dict[str, tuple[int | None, list[tuple[float, bool]]]]:
    """prb_id -> (asn, [(time, connected)...] in time order)."""
    probes: dict[str, tuple[int | None, list[tuple[float, bool]]]] = {}
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
    countries = countries or {}
    probes = read_connlog(source)
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
