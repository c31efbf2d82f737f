"""The blackout drill: its plan and judgement as tables, and one real run in namespaces."""

from __future__ import annotations

import io
import ipaddress
import subprocess
import time

import pytest

from cutwatch.api.drill.cli import SCENARIOS
from cutwatch.api.drill.receiver import Arrival
from cutwatch.api.drill.scenarios import Expect, Outcome, Scenario, judge, scenarios
from cutwatch.api.drill.topology import PREFIX, plan

CADENCE = 5.0


def test_plan_stays_inside_its_own_namespaces_and_ranges() -> None:
    layout = plan()
    assert all(ns.startswith(PREFIX) for ns in layout.namespaces)
    assert len(set(layout.namespaces)) == len(layout.namespaces)
    addresses = [a for link in layout.links for a in (link.a_addr, link.b_addr) if a]
    addresses += [b[2] for b in layout.bridges]
    assert len(set(addresses)) == len(addresses)
    for addr in addresses:
        assert ipaddress.ip_interface(addr) in ipaddress.ip_network("10.0.0.0/8") or \
            ipaddress.ip_interface(addr).ip in ipaddress.ip_network("10.0.0.0/8")
    for link in layout.links:
        assert {link.a, link.b} <= set(layout.namespaces)
    # two countries, two ISPs each, three probe hosts per ISP, one ASN per ISP
    assert len(layout.places) == 2
    assert len(layout.probes) == 12
    assert len({p.asn for p in layout.probes}) == 4


def test_every_scenario_is_offered_by_the_command_line() -> None:
    assert tuple(s.name for s in scenarios(plan())) == SCENARIOS


def arrival(at: float, action: str, entity: str, status: str, kind: str = "blackout",
            start: str | None = None, end: str | None = None, method: str | None = None,
            event: str = "") -> Arrival:
    kind_, code = entity.split(":")
    return Arrival(at, f"msg-{at}-{action}", event or f"evt-{entity}", f"outage.{action}",
                   action, kind, kind_, code, status, start, end, method)


BLACKOUT = Scenario("b", "cut", (), (), expect=(Expect("blackout", "country:MM", True),),
                    forbid_prefixes=("country:KH",))
QUIET = Scenario("q", "kill", (), (), hold=3)
INTL = Scenario("i", "cut", (), (), expect=(Expect("international_cut", "country:MM"),))
BLOCK = Scenario("d", "forge", (), (), expect=(Expect("service_block", "asn:AS64602",
                                                      method="dns"),))
CUT_WALL, REPAIR_WALL = 1_700_000_000.0, 1_700_000_060.0
START, END = "2023-11-14T22:13:22+00:00", "2023-11-14T22:14:21+00:00"


@pytest.mark.parametrize(("scenario", "arrivals", "problems"), [
    (BLACKOUT, [arrival(112, "opened", "country:MM", "suspected"),
                arrival(170, "updated", "country:MM", "confirmed"),
                arrival(180, "resolved", "country:MM", "resolved", start=START, end=END)], []),
    (BLACKOUT, [arrival(117, "opened", "country:MM", "suspected"),
                arrival(170, "updated", "country:MM", "confirmed"),
                arrival(180, "resolved", "country:MM", "resolved", start=START, end=END)],
     ["opened country:MM after 17.0 s > 3 cadences"]),
    (BLACKOUT, [arrival(112, "opened", "country:MM", "suspected"),
                arrival(180, "resolved", "country:MM", "resolved", start=START, end=END)],
     ["country:MM never confirmed"]),
    (BLACKOUT, [arrival(112, "opened", "country:MM", "suspected"),
                arrival(113, "opened", "country:KH", "suspected"),
                arrival(170, "updated", "country:MM", "confirmed"),
                arrival(180, "resolved", "country:MM", "resolved", start=START,
                        end="2023-11-14T22:15:00+00:00")],
     ["unexpected opened blackout country:KH",
      "country:MM end 2023-11-14T22:15:00+00:00 not within one cadence of the repair"]),
    (BLACKOUT, [], ["no opened blackout country:MM"]),
    (QUIET, [arrival(105, "updated", "country:MM", "resolved")], []),
    # opened on silence as a blackout, its kind known once the backlogs came: one event
    (INTL, [arrival(110, "opened", "country:MM", "suspected"),
            arrival(150, "updated", "country:MM", "confirmed", kind="international_cut"),
            arrival(180, "resolved", "country:MM", "resolved", kind="international_cut",
                    start=START, end=END)], []),
    (INTL, [arrival(110, "opened", "country:MM", "suspected"),
            arrival(180, "resolved", "country:MM", "resolved", start=START, end=END)],
     ["no opened international_cut country:MM"]),
    # the same kind on another event (a later one) does not make the first one right
    (INTL, [arrival(110, "opened", "country:MM", "suspected", event="e1"),
            arrival(150, "opened", "country:MM", "suspected", kind="international_cut",
                    event="e2"),
            arrival(180, "resolved", "country:MM", "resolved", kind="international_cut",
                    start=START, end=END, event="e2")],
     ["opened country:MM after 50.0 s > 3 cadences"]),
    (BLOCK, [arrival(110, "opened", "asn:AS64602", "suspected", kind="service_block",
                     method="dns"),
             arrival(180, "resolved", "asn:AS64602", "resolved", kind="service_block",
                     method="dns", start=START, end=END)], []),
    (BLOCK, [arrival(110, "opened", "asn:AS64602", "suspected", kind="service_block",
                     method="tcp"),
             arrival(180, "resolved", "asn:AS64602", "resolved", kind="service_block",
                     method="tcp", start=START, end=END)], ["asn:AS64602 method tcp, not dns"]),
    (QUIET, [arrival(105, "opened", "asn:AS64601", "suspected")],
     ["an event was opened: opened blackout asn:AS64601 suspected"]),
])
def test_judge(scenario: Scenario, arrivals: list[Arrival], problems: list[str]) -> None:
    outcome = Outcome(scenario, arrivals, cut_at=100.0, cut_wall=CUT_WALL,
                      restore_wall=REPAIR_WALL)
    judge(outcome, CADENCE)
    assert outcome.problems == problems


def _netns_missing() -> str | None:
    from cutwatch.api.drill.netns import NetnsUnavailable, check_available

    try:
        check_available()
    except NetnsUnavailable as exc:
        return str(exc)
    return None


def _ours() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


@pytest.mark.netns
@pytest.mark.timeout(420)
def test_drill_in_namespaces() -> None:
    """A country blackout, one ISP cut and a probe's power loss, end to end, as CI runs it."""
    missing = _netns_missing()
    if missing:
        pytest.skip(f"drill skipped: {missing}")
    from cutwatch.api.drill.runner import run_drill
    from cutwatch.api.drill.topology import root_routes

    routes_before = root_routes()
    out = io.StringIO()
    started = time.monotonic()
    outcomes = run_drill(CADENCE, ["country blackout", "one ISP cut", "probe power loss"], out)
    print(out.getvalue(), f"\ndrill took {time.monotonic() - started:.0f} s")
    assert [o.scenario.name for o in outcomes] == ["country blackout", "one ISP cut",
                                                   "probe power loss"]
    failures = {o.scenario.name: o.problems for o in outcomes if not o.passed}
    assert not failures, out.getvalue()
    blackout = outcomes[0]
    assert blackout.delays["country:MM"] is not None
    assert blackout.delays["country:MM"] <= 3 * CADENCE
    assert "scenario" in out.getvalue().splitlines()[-4]  # the table's header
    # torn down: no namespace, no process left, the root namespace's routes untouched
    assert _ours() == []
    assert root_routes() == routes_before
    leftovers = subprocess.run(["pgrep", "-f", "cutwatch probe run --config /tmp/cwdrill-"],
                               capture_output=True, text=True).stdout.split()
    assert leftovers == []


def _drill_processes() -> list[str]:
    found = subprocess.run(["pgrep", "-f", r"api\.drill\.|probe run --config /tmp/cwdrill-"],
                           capture_output=True, text=True).stdout.split()
    return found


@pytest.mark.netns
@pytest.mark.timeout(180)
def test_interrupted_drill_leaves_nothing_behind() -> None:
    """SIGTERM (a CI runner cancelling) while probes run: all removed, status 130.

    Ctrl-C takes the same path: the drill turns SIGTERM into the KeyboardInterrupt that
    SIGINT raises anyway."""
    missing = _netns_missing()
    if missing:
        pytest.skip(f"drill skipped: {missing}")
    import signal
    import sys

    for signum in (signal.SIGTERM,):
        with subprocess.Popen([sys.executable, "-m", "cutwatch", "drill", "--scenario",
                               "country blackout"], stdout=subprocess.PIPE, text=True) as drill:
            assert drill.stdout is not None
            for line in drill.stdout:  # wait until the probes run: the most there is to remove
                if "probes running" in line:
                    break
            assert len(_ours()) > 20
            assert _drill_processes()
            drill.send_signal(signum)
            assert drill.wait(60) == 130
        assert _ours() == []
        deadline = time.monotonic() + 10
        while _drill_processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _drill_processes() == []


def test_drill_without_root_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from cutwatch.cli import main

    # a real non-root run cannot be arranged inside a root test run: the uid is faked
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["drill", "--scenario", "country blackout"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "cutwatch: error: the drill needs root (it creates network namespaces)"
    assert main(["drill", "--cadence", "1"]) == 2


@pytest.mark.netns
def test_drill_refuses_a_link_out_of_its_namespaces() -> None:
    """A veth from a drill namespace to the machine's own namespace: verify() refuses."""
    missing = _netns_missing()
    if missing:
        pytest.skip(f"drill skipped: {missing}")
    from cutwatch.api.drill.netns import ip
    from cutwatch.api.drill.topology import Network

    layout = plan()
    with Network(layout) as net:
        net.verify()  # positive control: the plan as built passes
        ip("link", "add", "cwleak0", "netns", layout.coll, "type", "veth",
           "peer", "name", "cwleak1")  # the peer stays in the root namespace
        with pytest.raises(RuntimeError, match="leads outside the drill's namespaces"):
            net.verify()
    assert _ours() == []
    # deleting the namespace removes the pair, the root end included (the kernel does it
    # asynchronously)
    deadline = time.monotonic() + 10
    while "cwleak1" in ip("-o", "link", "show") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "cwleak1" not in ip("-o", "link", "show")


def test_demo_with_the_drill_without_root_says_so_in_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`serve --demo --drill` where no namespace can be made: one line, then the loopback
    demo (which the caller starts: drill_first only decides)."""
    from cutwatch.api.demo import drill_first
    from cutwatch.cli import main

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert drill_first() is False
    out = capsys.readouterr().out.strip()
    assert out == ("demo: no drill here (the drill needs root (it creates network namespaces));"
                   " the loopback demo instead, where `cutwatch demo cut MM-07` makes an event"
                   " happen")
    assert main(["serve", "--drill"]) == 2
    assert capsys.readouterr().err.strip() == "cutwatch: error: --drill goes with --demo"
