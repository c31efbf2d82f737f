"""``cutwatch drill``: registered by api/cli.py; only the standard library at import time."""

from __future__ import annotations

import argparse

from cutwatch.cli import CliError

SCENARIOS = ("country blackout", "one ISP cut", "international cut", "DNS injection",
             "TCP reset", "throttling", "probe power loss",
             "target down for everyone", "collector restarted", "staggered reboot")


NEED_NFT = {"DNS injection", "TCP reset", "target down for everyone"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drill = commands.add_parser(
        "drill", help="cut a real network in namespaces and check the webhooks (root)",
        description="Build two countries of ISPs of probe hosts as network namespaces, run "
        "the real collector and probes inside them, cut links (ip, tc) and check that the "
        "right signed webhooks arrive, in time. Needs root and 'ip netns'; everything it "
        "builds is removed on exit, Ctrl-C included. Nothing leaves the namespaces.",
    )
    drill.add_argument("--cadence", type=float, default=5.0,
                       help="seconds between a probe's rounds and uploads (5-30, default 5)")
    drill.add_argument("--scenario", action="append", choices=SCENARIOS, default=[],
                       metavar="NAME", help="run only this scenario (repeatable): "
                       + ", ".join(SCENARIOS))
    drill.add_argument("--sweep", action="store_true",
                       help="only remove what an interrupted drill left behind")
    drill.set_defaults(handler=_drill)


def _drill(args: argparse.Namespace) -> int:
    from cutwatch.api.drill.netns import NetnsUnavailable, check_available

    if not 5 <= args.cadence <= 30:
        raise CliError("--cadence must be between 5 and 30 seconds")
    try:
        chosen = args.scenario or SCENARIOS
        check_available(nft=bool(set(chosen) & NEED_NFT))
    except NetnsUnavailable as exc:
        raise CliError(str(exc)) from None
    from cutwatch.api.drill.topology import sweep

    if args.sweep:
        print(f"removed {len(sweep())} namespaces")
        return 0
    try:
        from cutwatch.api.drill.runner import run_drill

        outcomes = run_drill(args.cadence, args.scenario)
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    except ModuleNotFoundError as exc:
        if exc.name not in ("mmdb_writer", "netaddr", "trustme"):
            raise
        raise CliError("the drill needs the 'drill' extra: "
                       "pip install 'cutwatch[service,drill]'") from None
    return 0 if all(o.passed for o in outcomes) else 1
