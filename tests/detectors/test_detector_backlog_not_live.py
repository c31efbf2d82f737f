"""What a probe measured while it was silent is its gap's story, not its present.

The blackout drill raised a false ``service_block`` (and, once one slow result sufficed, could
raise ``throttling``) for a country right after its blackout: the returning probes' backlogs
ended with the round measured during the repair, in which the resolver did not answer yet and
a web page came slowly, and those results fed the live conditions of six probes at once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from cutwatch.detectors.engine import Engine
from cutwatch.detectors.model import ProbeInfo, Upload
from cutwatch.wire import Batch, Heartbeat, Result

T0 = 1_600_000_000.0


def _result(target: str, at: float, ok: bool, ms: float = 30.0) -> Result:
    return Result(id=uuid.uuid4(), kind="tcp", target=target, scope="international",
                  measured_at=datetime.fromtimestamp(at, UTC), duration_ms=ms, ok=ok,
                  failure=None if ok else "generic_timeout_error")


def _round(at: float, *, cut: bool = False, repair: bool = False) -> list[Result]:
    """One measurement round: during the cut everything fails; in the round measured during
    the repair the resolver does not answer yet and the news page comes slowly."""
    return [_result("resolver", at - 10, not (cut or repair)),
            _result("web", at - 8, not cut),
            _result("news", at - 6, not cut, ms=2500.0 if repair else 30.0)]


def _run(*, silent: bool) -> list[dict[str, Any]]:
    """Six probes in AA (two networks), three in BB, a round and an upload a minute. From
    minute 20 AA's uplinks are down for five minutes; ``silent``: its probes cannot upload
    and deliver the rounds as a backlog when the link is back (what happens), else they upload
    each round as it comes (the positive control: the same results, live)."""
    engine = Engine()
    probes = [ProbeInfo(f"a{i}", "AA", "AA-01", asn=1 + i % 2) for i in range(6)]
    probes += [ProbeInfo(f"b{i}", "BB", "BB-01", asn=3) for i in range(3)]
    for p in probes:
        engine.register(p)
    out: list[dict[str, Any]] = []
    held: dict[str, list[Result]] = {p.id: [] for p in probes}
    for k in range(60):
        now = T0 + 60 * k
        out += [t.to_json() for t in engine.evaluate_until(now)]
        for n, p in enumerate(probes):
            in_aa = p.country == "AA"
            cut, repair = in_aa and 20 <= k < 25, in_aa and k == 25
            held[p.id] += _round(now, cut=cut, repair=repair or (not silent and 25 < k < 28))
            if cut and silent:
                continue  # the upload crosses the cut link: spooled
            batch = Batch(schema_version=1, batch_id=uuid.uuid4(), probe_id=p.id,
                          sent_at=datetime.fromtimestamp(now, UTC),
                          heartbeat=Heartbeat(seq=k + 1, spool_depth=0, dropped_total=0),
                          results=held[p.id])
            held[p.id] = []
            engine.upload(Upload(now + n * 0.5, batch))
    out += [t.to_json() for t in engine.evaluate_until(T0 + 60 * 60)]
    return out


def opened(transitions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(t["event"]["kind"], t["event"]["entity"]["code"]) for t in transitions
            if t["action"] == "opened"]


@pytest.mark.parametrize("kind", ["service_block", "throttling"])
def test_the_same_results_live_raise_the_condition(kind: str) -> None:
    # positive control: a resolver failing and a slow page for minutes, measured live
    assert (kind, "AA") in opened(_run(silent=False))


def test_a_backlog_ending_with_the_repair_round_raises_no_condition() -> None:
    kinds = opened(_run(silent=True))
    assert kinds, "the silence of AA's probes raises an event (positive control)"
    assert not [k for k in kinds if k[0] in ("service_block", "throttling")], kinds
