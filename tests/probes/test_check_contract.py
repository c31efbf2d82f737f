"""The contract every registered check keeps, run over the whole registry.

For each kind: a target that works gives ok with no failure; a target that cannot work gives a
failure from the closed vocabulary instead of an exception; the result is a valid wire Result
that survives a JSON round trip, with the target's tag as scope and the asked family.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest
from probe_lab import Lab

from cutwatch import wire
from cutwatch.api.lab.tcp import SilentPort, closed_port
from cutwatch.failures import FAILURES
from cutwatch.probes.checks import CHECKS
from cutwatch.probes.checks.base import Context, raw_sockets_allowed
from cutwatch.probes.records import Result
from cutwatch.probes.runner import measure
from cutwatch.probes.targets import parse_target
from cutwatch.vocab import CheckKind

pytestmark = pytest.mark.anyio


def working(kind: str, lab: Lab) -> dict[str, Any]:
    return {
        "dns": {"query": "ok.test", "resolver": lab.resolver(lab.dns), "timeout": 1},
        "tcp": {"host": "127.0.0.1", "port": lab.held.port},
        "http": {"url": lab.web.url("/")},
        "gateway": {"address": "127.0.0.1", "ports": [lab.held.port]},
        "icmp": {"host": "127.0.0.1", "count": 1, "timeout": 1},
        "traceroute": {"host": "127.0.0.1", "max_hops": 3, "timeout": 1},
    }[kind]


def broken(kind: str, silent_port: int) -> dict[str, Any]:
    port = closed_port()
    return {
        "dns": {"query": "ok.test", "resolver": f"127.0.0.1:{port}", "timeout": 0.3},
        "tcp": {"host": "127.0.0.1", "port": port},
        "http": {"url": f"http://127.0.0.1:{port}/"},
        "gateway": {"address": "127.0.0.1", "ports": [silent_port], "timeout": 0.3},
        # Unresolvable on purpose (.invalid is reserved): fails before any packet is sent.
        "icmp": {"host": "nowhere.invalid", "count": 1, "timeout": 0.3},
        "traceroute": {"host": "nowhere.invalid", "max_hops": 1, "timeout": 0.3},
    }[kind]


def test_registry_covers_every_wire_kind() -> None:
    assert set(CHECKS) == set(get_args(CheckKind))


def _valid(result: Result, target: Any) -> None:
    # The collector's wire model reads what the probe wrote, and reads the same values back.
    again = wire.Result.model_validate_json(result.to_json())
    assert again.model_dump(mode="json") == result.to_wire()
    assert Result.from_wire(result.to_wire()) == result
    assert (result.kind, result.target, result.scope, result.family) == (
        target.kind, target.name, target.tag, "ipv4")
    assert result.ok == (result.failure is None)
    assert result.failure is None or result.failure in FAILURES


@pytest.mark.parametrize("kind", sorted(get_args(CheckKind)))
async def test_every_check_keeps_the_contract(kind: str, lab: Lab) -> None:
    with SilentPort() as silent:
        await _contract(kind, lab, silent.port)


async def _contract(kind: str, lab: Lab, silent_port: int) -> None:
    context = Context(raw_sockets=raw_sockets_allowed())
    good = parse_target({"kind": kind, "name": f"good-{kind}", "tag": "domestic"}
                                  | working(kind, lab))
    bad = parse_target({"kind": kind, "name": f"bad-{kind}", "tag": "international"}
                                 | broken(kind, silent_port))
    ok = await measure(good, "ipv4", context)
    failed = await measure(bad, "ipv4", context)
    _valid(ok, good)
    _valid(failed, bad)
    if kind in ("icmp", "traceroute") and not context.raw_sockets:
        assert ok.failure == "probe_error"
    else:
        assert ok.ok, ok.details
    assert not failed.ok
    assert failed.failure != "probe_error" or kind in ("icmp", "traceroute")


@pytest.mark.parametrize("kind", ["icmp", "traceroute"])
async def test_raw_checks_unavailable_without_cap_net_raw(kind: str, lab: Lab) -> None:
    target = parse_target({"kind": kind, "name": kind, "tag": "lan"} | working(kind, lab))
    result = await measure(target, "ipv4", Context(raw_sockets=False))
    assert (result.ok, result.failure) == (False, "probe_error")
    assert result.details["reason"].startswith("unavailable: needs CAP_NET_RAW")


async def test_a_crashing_check_becomes_probe_error(lab: Lab, tmp_path: Any) -> None:
    target = parse_target({"kind": "http", "name": "h", "tag": "lan",
                                     "url": lab.web.url("/"), "ca_file": str(tmp_path / "no")})
    result = await measure(target, "ipv4", Context())
    assert (result.ok, result.failure) == (False, "probe_error")
    assert result.details["reason"] == "check crashed: FileNotFoundError"
