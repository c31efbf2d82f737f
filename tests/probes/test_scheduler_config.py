"""Schedule over an injected clock; config errors in one line; CLI flags."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cutwatch.probes.agent import Agent
from cutwatch.probes.checks.base import Context
from cutwatch.probes.config import ConfigError, ProbeConfig, load_config, write_state_file
from cutwatch.probes.scheduler import Plan, backoff
from cutwatch.probes.spool import Spool
from cutwatch.probes.targets import Schedule
from cutwatch.probes.uploader import Uploader


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_plan_runs_both_groups_at_start_then_on_their_intervals() -> None:
    clock = FakeClock()
    plan = Plan(Schedule(pulse=60, service=900, jitter=0.1), clock, random.Random(7))
    assert sorted(plan.due()) == ["pulse", "service"]
    runs: dict[str, list[float]] = {"pulse": [], "service": []}
    while clock.now < 1000 + 3600:
        clock.now += plan.wait()
        for group in plan.due():
            runs[group].append(clock.now)
    gaps = [b - a for a, b in zip(runs["pulse"], runs["pulse"][1:], strict=False)]
    assert 55 <= len(runs["pulse"]) <= 66
    assert all(54 <= gap <= 66 for gap in gaps)
    assert len(set(gaps)) > 10  # jittered, not lockstep
    assert 3 <= len(runs["service"]) <= 5


def test_plan_does_not_burst_after_a_long_sleep() -> None:
    clock = FakeClock()
    plan = Plan(Schedule(pulse=60, jitter=0), clock)
    plan.due()
    clock.now += 3600  # suspended for an hour
    assert sorted(plan.due()) == ["pulse", "service"]
    assert plan.due() == []


def test_reschedule_shortens_at_once() -> None:
    clock = FakeClock()
    plan = Plan(Schedule(service=3600), clock)
    plan.due()
    plan.reschedule(Schedule(service=300))
    assert plan.next_at["service"] == pytest.approx(1300)


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    waits = [backoff(n, rng, base=5, cap=600) for n in range(12)]
    assert all(2.5 <= w <= 600 for w in waits)
    assert max(waits[:2]) <= 10
    assert max(waits[8:]) > 100


@pytest.mark.parametrize(("text", "message"), [
    ("[probe\n", "is not valid TOML"),
    ("[[targets]]\nkind = 'tcp'\nname = 'x'\ntag = 'domestic'\nhost = 'h'\nport = 99999\n",
     "targets.0.port: Input should be less than or equal to 65535"),
    ("[[targets]]\nkind = 'smtp'\nname = 'x'\n", "targets.0: Input tag 'smtp' found"),
    ("[schedule]\npulse = 1\n", "schedule.pulse: Input should be greater than or equal to 5"),
    ("[probe]\ncollectors = ['ftp://x']\n", "must start with http:// or https://"),
    ("[spool]\nmax_mb = 20\nsurprise = 1\n", "spool.surprise: Extra inputs are not permitted"),
])
def test_broken_config_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "probe.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_cli_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    def cutwatch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cutwatch", *args], capture_output=True,
                              text=True, timeout=60)

    missing = cutwatch("probe", "once", "--config", str(tmp_path / "nope.toml"))
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1)
    assert "config file not found" in missing.stderr
    flag = cutwatch("probe", "register", "--collector", "http://127.0.0.1:9", "--token", "t",
                    "--country", "MM", "--access", "cable")
    assert (flag.returncode, flag.stderr.count("\n")) == (2, 1)
    assert "argument --access: invalid choice: 'cable'" in flag.stderr
    unknown = cutwatch("probe", "status", "--bogus")  # refused by the top-level parser
    assert unknown.returncode == 2
    assert "unrecognized arguments: --bogus" in unknown.stderr
    for action in ("run", "once", "status", "register"):
        helped = cutwatch("probe", action, "--help")
        assert helped.returncode == 0
        assert "usage: cutwatch probe" in helped.stdout


def test_state_files_are_private_and_replace_a_leftover(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    (tmp_path / "catalogue.tmp").write_text("half")  # a power cut mid-write
    write_state_file(path, "one")
    write_state_file(path, "two")
    assert path.read_text() == "two"
    assert path.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "catalogue.tmp").exists()


def test_offline_pulse_runs_half_as_often_and_resumes_at_once() -> None:
    clock = FakeClock()
    plan = Plan(Schedule(pulse=30, service=900, jitter=0), clock)
    plan.due()
    plan.set_offline(True)  # uploads failing: the backlog must fit the spool
    runs = []
    while clock.now < 1000 + 600:
        clock.now += plan.wait()
        if "pulse" in plan.due():
            runs.append(clock.now)
    # the first pulse was planned online (30 s), every later one offline (60 s)
    assert [b - a for a, b in itertools.pairwise(runs)] == [60.0] * (len(runs) - 1)
    clock.now += 5
    plan.set_offline(False)  # the collector answers again: full speed within one pulse
    assert plan.wait() <= 30
    clock.now += plan.wait()
    assert plan.due() == ["pulse"]
    clock.now += plan.wait()
    assert plan.due() == ["pulse"]
    assert plan.next_at["pulse"] - clock.now == 30


def test_the_agent_slows_its_pulse_while_uploads_fail(tmp_path: Path) -> None:
    # a loopback port nobody listens on: every upload is refused
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = Agent(ProbeConfig(), Context())
    spool = Spool(tmp_path / "spool.sqlite3")

    async def scenario() -> bool:
        stop = asyncio.Event()
        with httpx.Client(timeout=5) as client:
            uploader = Uploader(spool, client, collectors=(f"http://127.0.0.1:{port}",),
                                probe_id="p-1", token="p-1.secret")
            task = asyncio.create_task(agent.upload_loop(stop, uploader))
            deadline = time.monotonic() + 20  # the first refused upload is at once
            for _ in range(400):
                if agent.plan.offline or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await task
        return agent.plan.offline

    assert not agent.plan.offline
    try:
        assert asyncio.run(scenario())
    finally:
        spool.close()
    assert agent.plan.interval("pulse") == 2 * Schedule().pulse
