"""Simulator: probes measuring, spooling and uploading through scenarios, as a replay stream.

Each probe measures a small catalogue every cadence (gateway, domestic and international
targets), spools the results and uploads them; uploads that fail are retried with backoff and
the backlog arrives when they succeed again, exactly as the real agent behaves. Churn (power
cuts of single probes, lost uploads), probes switched off at night and the scenarios of
``scenarios.py`` shape what each probe sees. Output: stream lines plus the ground truth.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cutwatch.detectors.fleet import SimProbe
from cutwatch.detectors.model import iso

# (target, kind, scope, base duration ms)
CATALOGUE = (
    ("gw", "gateway", "lan", 2.0),
    ("dom-dns", "dns", "domestic", 15.0),
    ("dom-web", "http", "domestic", 120.0),
    ("intl-web", "http", "international", 300.0),
    ("intl-tcp", "tcp", "international", 180.0),
    ("social", "http", "international", 350.0),
)
FAILURE_OF = {"dns": "dns_bogon_error", "tcp": "connection_reset",
              "tls": "ssl_failed_handshake", "http": "http_block_page"}


@dataclass(frozen=True, slots=True)
class Effect:
    """What a scenario does to one probe between ``start`` and ``end``."""

    start: float
    end: float
    what: str  # off | upload_fail | domestic_fail | international_fail | block | slow | down
    target: str = ""
    method: str = ""


@dataclass(slots=True)
class Uploader:
    spool: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    failing_since: float | None = None
    failures: int = 0
    next_attempt: float = 0.0
    started_at: float = 0.0
    off: bool = False


def _result(rng: random.Random, target: tuple[str, str, str, float], t: float,
            effects: list[Effect]) -> dict[str, Any]:
    name, kind, scope, base = target
    ok, failure, duration = True, None, base * rng.uniform(0.8, 1.3)
    for e in effects:
        if (e.what == "domestic_fail" and scope != "lan") or \
                (e.what == "international_fail" and scope == "international") or \
                (e.what == "down" and name == e.target):
            ok, failure, duration = False, "generic_timeout_error", 5000.0
        elif e.what == "block" and name == e.target:
            ok, failure, duration = False, FAILURE_OF[e.method], base
        elif e.what == "slow" and scope != "lan" and ok:
            duration = base * rng.uniform(7, 10)
    return {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "kind": kind,
            "target": name, "scope": scope, "family": "ipv4", "measured_at": iso(t),
            "duration_ms": round(duration, 1), "ok": ok, "failure": failure, "details": {}}


def _batch(rng: random.Random, probe: str, up: Uploader, sent: float,
           results: list[dict[str, Any]], depth: int) -> dict[str, Any]:
    up.seq += 1
    return {"schema_version": 1, "batch_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "probe_id": probe, "sent_at": iso(sent), "clock": {"synced": True, "offset_ms": 0.0},
            "heartbeat": {"seq": up.seq, "spool_depth": depth, "dropped_total": 0,
                          "started_at": iso(up.started_at), "software": "cutwatch-sim"},
            "results": results}


def probe_lines(sp: SimProbe, effects: list[Effect], t0: float, t1: float, cadence: float,
                seed: int, measure_every: int = 1) -> Iterator[tuple[float, str]]:
    """(received_at, line) of one probe's uploads over [t0, t1)."""
    rng = random.Random(seed)
    up = Uploader(started_at=t0 - 86_400)
    t = t0 + sp.phase
    rounds = 0
    while t < t1:
        rounds += 1
        now = [e for e in effects if e.start <= t < e.end]
        off = any(e.what == "off" for e in now) or _night(sp, t)
        if off:
            up.off = True
            t += cadence + rng.uniform(-1, 1)
            continue
        if up.off:
            up.off, up.started_at = False, t - rng.uniform(5, 40)
        if rounds % measure_every == 0:
            for target in CATALOGUE:
                measured = t - rng.uniform(1, 20)
                # slow only when measured inside the throttling: its start is read from the
                # slow results' own times (other effects follow the round, as they did)
                shaping = [e for e in effects
                           if e.start <= (measured if e.what == "slow" else t) < e.end]
                up.spool.append(_result(rng, target, measured, shaping))
        attempt = t + rng.uniform(0.2, 3.0)
        failed = any(e.what == "upload_fail" for e in now)
        if not failed and rng.random() < 0.005:
            attempt += rng.uniform(5, 30)  # one lost upload, retried after a short backoff
        if up.failing_since is not None and attempt < up.next_attempt:
            pass
        elif failed:
            if up.failing_since is None:
                up.failing_since = attempt
            up.failures += 1
            up.next_attempt = attempt + min(300.0, 15.0 * 2 ** min(up.failures, 5)) * rng.uniform(
                0.8, 1.2)
        else:
            sent = up.failing_since if up.failing_since is not None else attempt
            chunks = [up.spool[i:i + 2000] for i in range(0, len(up.spool), 2000)] or [[]]
            for n, chunk in enumerate(chunks):
                depth = sum(len(c) for c in chunks[n + 1:])
                batch = _batch(rng, sp.info.id, up, sent if n == 0 else attempt + n, chunk,
                               depth)
                received = attempt + n * 0.5
                yield received, json.dumps({"type": "upload", "received_at": iso(received),
                                            "batch": batch}, separators=(",", ":"))
            up.spool, up.failing_since, up.failures = [], None, 0
        t += cadence + rng.uniform(-1, 1)


def _night(sp: SimProbe, t: float) -> bool:
    if sp.night_off is None:
        return False
    off, on = sp.night_off
    sec = t % 86_400
    return sec >= off or sec < on - 86_400 if on > 86_400 else off <= sec < on


def probe_line(sp: SimProbe, collector_abroad: bool = True) -> str:
    i = sp.info
    probe: dict[str, object] = {
        "id": i.id, "country": i.country, "subdivision": i.subdivision, "city": i.city,
        "asn": i.asn, "access": i.access}
    if not collector_abroad:
        probe["collector_abroad"] = False
    return json.dumps({"type": "probe", "probe": probe}, separators=(",", ":"))


def churn_effects(rng: random.Random, t0: float, t1: float, per_day: float) -> list[Effect]:
    """A single probe's own power cuts and router faults: the usual churn."""
    out: list[Effect] = []
    t = t0
    while per_day > 0:
        t += rng.expovariate(per_day / 86_400)
        if t >= t1:
            return out
        out.append(Effect(t, t + rng.uniform(300, 5400), "off"))
    return out
