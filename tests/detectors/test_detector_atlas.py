"""Real data: the Time Warner Cable outage of 2014-08-27 in the RIPE Atlas connection log."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cutwatch.detectors.atlas import (
    Outage,
    connlog_items,
    network_outages,
    read_connlog,
    shuffle_networks,
)
from cutwatch.detectors.bench import atlas_shape, events_of
from cutwatch.detectors.engine import Engine
from cutwatch.detectors.model import Upload, parse_time
from cutwatch.detectors.replay import drive
from cutwatch.detectors.score import Score

TWC = {7843, 10796, 11351, 11426, 11427, 12271, 20001}
# The outage as the log shows it: TWC probes disconnect 09:24-09:36 UTC and reconnect
# from 10:57 (the earlier 07:38 blip lasted minutes).
OUTAGE = (parse_time("2014-08-27T09:40:00Z"), parse_time("2014-08-27T10:50:00Z"))
# Networks with 20 or more probes outside TWC: no event all day.
LARGE_OTHERS = {3320, 6939, 7922, 12322, 3215, 6830, 5432}


@pytest.mark.slow
def test_twc_outage_found_per_network_and_no_one_else(shared_data: Path) -> None:
    path = shared_data / "ripe-atlas-connlog-2014-08-27" / "connlog.csv"
    with path.open(encoding="utf-8") as source:
        transitions = [t.to_json() for t in drive(Engine(), connlog_items(source))]
    final: dict[str, dict[str, object]] = {}
    for t in transitions:
        final[t["event"]["id"]] = t["event"]

    def asn(event: dict[str, object]) -> int:
        entity = event["entity"]
        assert isinstance(entity, dict)
        assert entity["type"] == "asn"
        return int(entity["asn"])

    def covers_outage(event: dict[str, object]) -> bool:
        start = parse_time(str(event["start"]))
        end = parse_time(str(event["end"])) if event["end"] else float("inf")
        return start <= OUTAGE[0] and end >= OUTAGE[1]

    during = [e for e in final.values() if covers_outage(e)]
    found = {asn(e) for e in during}
    # every TWC network with five or more probes, and nobody else
    assert found == {10796, 11351, 11426, 11427, 12271, 20001}
    big = next(e for e in during if asn(e) == 20001)
    assert big["probes_affected"] >= 12
    assert parse_time(str(big["start"])) == pytest.approx(parse_time("2014-08-27T09:30:00Z"),
                                                          abs=600)
    assert parse_time(str(big["end"])) == pytest.approx(parse_time("2014-08-27T10:58:00Z"),
                                                        abs=600)
    # no other network raises anything while TWC is down, and large networks never do
    overlapping = {asn(e) for e in final.values()
                   if parse_time(str(e["start"])) < OUTAGE[1]
                   and (not e["end"] or parse_time(str(e["end"])) > OUTAGE[0])}
    assert overlapping <= TWC
    assert not {asn(e) for e in final.values()} & LARGE_OTHERS


# Networks of the United States in the log, as their volunteers would declare them: TWC's and
# the large others (Comcast, Hurricane Electric, Charter, Verizon, AT&T, Cox, ...).
US_NETWORKS = TWC | {7922, 6939, 20115, 701, 7018, 22773, 209, 5650, 33363, 3549}


@pytest.mark.slow
def test_twc_outage_found_when_probes_declare_their_country(shared_data: Path) -> None:
    # the country (60 of its 176 probes dark) does not qualify as a whole; waiting for it
    # must not starve the networks: each TWC network opens, within a bounded wait
    path = shared_data / "ripe-atlas-connlog-2014-08-27" / "connlog.csv"
    with path.open(encoding="utf-8") as source:
        items = list(connlog_items(source, countries=dict.fromkeys(US_NETWORKS, "US")))
    transitions = [t.to_json() for t in drive(Engine(), items)]
    opened = {t["event"]["entity"]["code"]: parse_time(t["at"]) for t in transitions
              if t["action"] == "opened" and OUTAGE[0] - 1800 < parse_time(t["at"]) < OUTAGE[1]}
    assert set(opened) == {"AS10796", "AS11351", "AS11426", "AS11427", "AS12271", "AS20001"}
    # AS20001 qualifies at 09:38:45 (its burst); it waits for the US at most two of its
    # probes' cadences (600 s) and its level keeps it qualifying meanwhile
    assert opened["AS20001"] <= parse_time("2014-08-27T09:49:00Z")
    final = {t["event"]["id"]: t["event"] for t in transitions}
    big = next(e for e in final.values() if e["entity"]["code"] == "AS20001"
               and parse_time(e["start"]) < OUTAGE[0])
    assert big["probes_affected"] >= 19
    assert parse_time(str(big["end"])) == pytest.approx(parse_time("2014-08-27T10:58:00Z"),
                                                        abs=600)
    assert not [e for e in final.values() if e["entity"]["type"] == "country"]


@pytest.mark.slow
def test_a_collector_gap_in_real_data_raises_nothing(shared_data: Path) -> None:
    # the collector hears nobody for 10 minutes; every probe's uploads resume afterwards
    gap = (parse_time("2014-08-27T14:00:00Z"), parse_time("2014-08-27T14:10:00Z"))
    path = shared_data / "ripe-atlas-connlog-2014-08-27" / "connlog.csv"
    with path.open(encoding="utf-8") as source:
        items = [i for i in connlog_items(source)
                 if not (isinstance(i, Upload) and gap[0] <= i.received_at < gap[1])]
    transitions = [t.to_json() for t in drive(Engine(), items)]
    near = [t for t in transitions
            if gap[0] - 1800 <= parse_time(t["event"]["start"]) <= gap[1] + 1800]
    assert near == []


def _log(rows: list[tuple[float, str, int, str]]) -> io.StringIO:
    text = "timestamp,prb_id,asn,prefix,event,controller,msm_id,type\n" + "".join(
        f"{t},{p},{a},,{e},ctr,7000,connection\n" for t, p, a, e in rows)
    return io.StringIO(text)


def test_the_logs_own_outages_are_labelled_by_one_rule() -> None:
    t0 = 1_409_097_600.0
    rows = [(t0, f"{a}-{i}", a, "connect") for a, n in ((100, 4), (200, 10), (300, 3),
                                                           (400, 3)) for i in range(n)]
    # AS100: 3 of 4 go within 40 s, back after 10-14 min: an outage
    rows += [(t0 + 3600 + 20 * i, f"100-{i}", 100, "disconnect") for i in range(3)]
    rows += [(t0 + 4200 + 120 * i, f"100-{i}", 100, "connect") for i in range(3)]
    # AS200: the same 3 probes' pattern, but of 10: the network as a whole is up
    rows += [(t0 + 3600 + 20 * i, f"200-{i}", 200, "disconnect") for i in range(3)]
    rows += [(t0 + 4200, f"200-{i}", 200, "connect") for i in range(3)]
    # AS300: all three go, but five minutes apart: not together
    rows += [(t0 + 7200 + 300 * i, f"300-{i}", 300, "disconnect") for i in range(3)]
    rows += [(t0 + 9000, f"300-{i}", 300, "connect") for i in range(3)]
    # AS400: all three go together and are back within two minutes: a blip
    rows += [(t0 + 7200 + i, f"400-{i}", 400, "disconnect") for i in range(3)]
    rows += [(t0 + 7320, f"400-{i}", 400, "connect") for i in range(3)]
    probes = read_connlog(_log(rows))
    assert network_outages(probes) == [Outage(100, t0 + 3600, t0 + 4320, 3, 4)]
    # looser thresholds take the others in, which is what the written ones keep out
    assert {o.asn for o in network_outages(probes, min_share=0.3)} == {100, 200}
    assert {o.asn for o in network_outages(probes, link_s=300)} == {100, 300}
    assert {o.asn for o in network_outages(probes, min_down_s=60)} == {100, 400}


@pytest.mark.slow
def test_atlas_precision_against_the_outages_the_log_shows(shared_data: Path) -> None:
    path = shared_data / "ripe-atlas-connlog-2014-08-27" / "connlog.csv"
    with path.open(encoding="utf-8") as source:
        probes = read_connlog(source)
    outages = network_outages(probes)
    twc = {o.asn for o in outages if o.asn in TWC and OUTAGE[0] <= o.end
           and o.start <= OUTAGE[1]}
    assert twc == {10796, 11351, 11426, 11427, 12271, 20001}  # the rule finds TWC's outage
    # churn alone (probes moved across networks at random) shows almost no outage: the
    # labels are shared causes, not coincidences
    assert sum(len(network_outages(shuffle_networks(probes, s))) for s in range(5)) <= 2
    assert len(outages) >= 20
    items, truth, hours = atlas_shape(shared_data)(1)
    events, entities = events_of(items, None)
    score = Score()
    score.add(events, truth, entities, hours)
    figures = score.figures()
    # against TWC alone the day's other 18 events counted as false (0.25); 19 of 24 events
    # are outages the log shows; the 5 others are 3-5 probes of tiny networks going dark
    # over 2-33 minutes, which the one-minute rule does not link
    assert figures["precision"] >= 0.75
    # missed: TWC's 07:38 blip in AS11426 (10 min) and AS12874 (7 of 12 for 9 min): with
    # 5-minute heartbeats silence needs 7.7 min to show
    assert figures["recall"] >= 0.75
