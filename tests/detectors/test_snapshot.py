"""Engine snapshots (detectors/snapshot.py): a restored engine goes on exactly as the one saved,
its probes' time-of-day habits included; anything else is refused, never run or crashed on."""

from __future__ import annotations

import json
import zlib
from functools import lru_cache
from typing import Any

import pytest
from detector_cases import CASES, run, stream

from cutwatch.detectors import snapshot
from cutwatch.detectors.engine import Engine
from cutwatch.detectors.fleet import FleetSpec
from cutwatch.detectors.model import ProbeInfo, Upload
from cutwatch.detectors.params import Params
from cutwatch.detectors.replay import _in_order, _items, drive
from cutwatch.detectors.scenarios import T0, build

PROVINCE = next(c[0] for c in CASES if c[0].name == "province blackout")  # 01:30-02:10

Item = ProbeInfo | Upload


def _split(lines: tuple[str, ...] | list[str], at: float) -> tuple[list[Item], list[Item]]:
    items = list(_in_order(_items(lines, None)))
    head = [i for i in items if isinstance(i, ProbeInfo) or i.received_at <= at]
    tail = [i for i in items if isinstance(i, Upload) and i.received_at > at]
    return head, tail


def _json(transitions: Any) -> list[dict[str, Any]]:
    return [t.to_json() for t in transitions]


def test_a_restored_engine_goes_on_as_the_saved_one_with_an_event_open() -> None:
    lines = stream(PROVINCE)
    at = T0 + 5400 + 1200  # the province has been dark for 20 minutes
    head, tail = _split(lines, at)
    engine = Engine()
    before = _json(drive(engine, head, until=at))
    assert [t["action"] for t in before] == ["opened"]  # the snapshot holds an open event
    data = snapshot.dump(engine)
    restored = snapshot.load(data, Params())
    assert restored is not engine
    assert restored.life.engine is restored
    # the open event is one object, in the lifecycle and in each member's list, as saved
    (event,) = restored.life.open.values()
    assert all(event in restored.life.member_events[m] for m in event.members)
    after_restored = _json(drive(restored, tail))
    after_saved = _json(drive(engine, tail))
    assert after_restored == after_saved
    assert [t["action"] for t in after_restored][-1] == "resolved"
    # and the whole run, cut by the snapshot, says what the uninterrupted one says
    assert before + after_restored == run(lines)


def _doc(data: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(zlib.decompress(data[len(snapshot.MAGIC):]))
    return doc


def _bytes(doc: dict[str, Any]) -> bytes:
    return snapshot.MAGIC + zlib.compress(json.dumps(doc).encode())


@lru_cache(maxsize=1)
def _saved() -> bytes:
    engine = Engine()
    head, _ = _split(stream(PROVINCE), T0 + 5400 + 1200)
    list(drive(engine, head))
    return snapshot.dump(engine)


def test_a_good_snapshot_round_trips_and_its_bytes_are_checked() -> None:
    assert snapshot.load(_bytes(_doc(_saved())), Params()).probes  # the control


@pytest.mark.parametrize("spoil", [
    lambda d: d[:len(d) // 2],  # truncated
    lambda d: d[:40] + bytes(b ^ 0x5A for b in d[40:60]) + d[60:],  # flipped bytes
    lambda d: b"PK\x03\x04" + d[4:],  # not a snapshot
    lambda d: b"",
])
def test_corrupt_bytes_are_refused(spoil: Any) -> None:
    with pytest.raises(snapshot.SnapshotError):
        snapshot.load(spoil(_saved()), Params())


def test_other_params_or_another_format_are_refused() -> None:
    with pytest.raises(snapshot.SnapshotError, match="params"):
        snapshot.load(_saved(), Params(open_fraction=0.9))
    doc = _doc(_saved())
    doc["format"] = snapshot.FORMAT + 1
    with pytest.raises(snapshot.SnapshotError, match="format"):
        snapshot.load(_bytes(doc), Params())


def test_a_class_whose_fields_changed_is_refused() -> None:
    doc = _doc(_saved())
    layout = next(c for c in doc["classes"] if c[1] == "ProbeState")
    layout[2] = layout[2][:-1]
    with pytest.raises(snapshot.SnapshotError, match="ProbeState"):
        snapshot.load(_bytes(doc), Params())
    doc = _doc(_saved())
    engine_layout = next(c for c in doc["classes"] if c[1] == "Engine")
    engine_layout[2].append("added_later")
    with pytest.raises(snapshot.SnapshotError, match="Engine"):
        snapshot.load(_bytes(doc), Params())


def _drop_field(doc: dict[str, Any], cls: str, name: str) -> int:
    """``doc`` as code whose ``cls`` had no field ``name`` would have written it; the number
    of objects changed."""
    cid, layout = next((i, c) for i, c in enumerate(doc["classes"]) if c[1] == cls)
    at = layout[2].index(name)
    del layout[2][at]
    changed = 0
    todo: list[Any] = [doc["engine"]]
    while todo:
        v = todo.pop()
        if type(v) is not list:
            continue
        if v and v[0] == "o" and v[1] == cid:
            del v[2 + at]
            changed += 1
        todo.extend(v[1:])
    return changed


def test_a_snapshot_from_before_slow_runs_had_a_start_is_refused() -> None:
    """Taken before ``TargetState.slow_since`` (and with ``throttle_onset_period_s`` among
    the params): refused, so the leader rebuilds rather than read throttling starts of 0."""
    doc = _doc(_saved())
    assert _drop_field(doc, "TargetState", "slow_since") > 0  # probes measure targets
    with pytest.raises(snapshot.SnapshotError, match="TargetState"):
        snapshot.load(_bytes(doc), Params())
    doc["params"]["throttle_onset_period_s"] = 60.0
    with pytest.raises(snapshot.SnapshotError, match="params"):
        snapshot.load(_bytes(doc), Params())


def test_a_snapshot_naming_other_code_runs_nothing() -> None:
    # what a pickle would do: name a callable with arguments; here only data classes of the
    # detector can be named, and none is built through code the data chooses
    doc = _doc(_saved())
    doc["classes"].append(["os", "system", []])
    with pytest.raises(snapshot.SnapshotError, match="not allowed"):
        snapshot.load(_bytes(doc), Params())
    doc = _doc(_saved())
    doc["classes"].append(["cutwatch.detectors.snapshot", "SnapshotError", []])
    with pytest.raises(snapshot.SnapshotError, match="not allowed"):
        snapshot.load(_bytes(doc), Params())


def test_what_is_not_data_is_not_saved() -> None:
    engine = Engine()
    engine.verdicts[0] = print  # type: ignore[assignment]
    with pytest.raises(snapshot.SnapshotError, match="cannot snapshot"):
        snapshot.dump(engine)


# 70 % of one country's probes go off at 22:00 +- 2 min and back at 06:00 (UTC), every night.
NIGHTS = FleetSpec(probes_per_country=(30, 12, 9), night_off_share=0.7, night_jitter_s=120,
                   night_countries=("MM",), cadence_s=300.0)


@lru_cache(maxsize=1)
def _nights() -> tuple[str, ...]:
    return tuple(build(NIGHTS, [], 56.0, seed=5, churn_per_day=0.0)[0])


@pytest.mark.slow
def test_time_of_day_habits_survive_a_restart_through_the_snapshot() -> None:
    lines = _nights()
    restart = T0 + 40 * 3600  # 16:00 on the second day, after the first night was learned
    head, tail = _split(lines, restart)
    engine = Engine()
    first_night = _json(drive(engine, head, until=restart))
    assert "opened" in [t["action"] for t in first_night]  # the first night cannot be told
    restored = snapshot.load(snapshot.dump(engine), Params())
    second_night = _json(drive(restored, tail))
    assert second_night == []  # the habit came through the restart
    # the control: a leader rebuilt from the last 6 h of history (as without a snapshot)
    # has no habit to go by, and the second night alarms again
    history, _ = _split(lines, restart)
    recent = [i for i in history if isinstance(i, ProbeInfo) or i.received_at > restart - 6 * 3600]
    rebuilt = Engine()
    list(drive(rebuilt, recent, until=restart))
    blind = _json(drive(rebuilt, tail))
    assert [t["action"] for t in blind].count("opened") >= 1
