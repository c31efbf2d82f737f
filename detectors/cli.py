"""``cutwatch replay``, ``simulate`` and ``bench detect``: the detector offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay", help="run the detector over a replay stream",
        description="Print the event transitions of a replay stream as JSON Lines on stdout. "
        "About 30 s for the 120 MB stream 'simulate' writes by default; a progress bar on "
        "stderr when it is a terminal.")
    replay.add_argument("stream", help="replay stream (JSON Lines), or - for stdin")
    replay.add_argument("--until", help="evaluate up to this time (RFC 3339); default: the "
                        "last line")
    replay.add_argument("--skip-bad", action="store_true",
                        help="skip unreadable lines (counted on stderr) instead of stopping")
    replay.add_argument("--from-atlas-connlog", action="store_true",
                        help="STREAM is a RIPE Atlas connection log CSV, converted on the fly")
    replay.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="override one detector parameter (see docs/events.md)")
    replay.set_defaults(handler=_replay)

    simulate = commands.add_parser(
        "simulate", help="write a simulated replay stream and its ground truth",
        description="Simulate a fleet through scenarios; writes STREAM and a truth JSON "
        "(nothing on stdout). The default suite takes about 30 s and writes about 120 MB; "
        "a progress bar on stderr when it is a terminal.")
    simulate.add_argument("stream", help="output replay stream path")
    simulate.add_argument("--truth", help="ground-truth JSON path (default: STREAM.truth.json)")
    simulate.add_argument("--suite", default="positive",
                          choices=("positive", "negative", "night", "churny", "large", "sparse"),
                          help="which scenario set")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.set_defaults(handler=_simulate)

    bench = commands.add_parser("bench", help="benchmarks")
    bench_commands = bench.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    detect = bench_commands.add_parser(
        "detect", help="detector quality and cost on simulated scenarios",
        description="Detector quality and cost: one line per shape (staggered onsets, partial "
        "restoration, mass reboots, flickering throttling, night slots, the positive and "
        "negative suites) and the engine's cost. About 4 minutes on 2 cores with the defaults "
        "(--seeds 1 --probes 100000); --full adds the long suites, --data the real data sets. "
        "Figures on stdout as each part finishes, the elapsed time on stderr when it is a "
        "terminal.")
    detect.add_argument("--seeds", type=int, default=1, help="simulated runs per shape")
    detect.add_argument("--probes", type=int, default=100_000,
                        help="fleet size of the engine-cost measurement")
    detect.add_argument("--full", action="store_true",
                        help="also the long suites (nights, churny, large, sparse fleets)")
    detect.add_argument("--data", type=Path, metavar="DIR",
                        help="directory holding the real data sets (ioda-iran-2026-01, "
                        "ripe-atlas-connlog-2014-08-27): adds their shapes")
    detect.set_defaults(handler=_bench)


def _params(pairs: list[str]) -> Any:
    from dataclasses import fields, replace

    from cutwatch.cli import CliError
    from cutwatch.detectors.params import Params

    params = Params()
    types = {f.name: f.type for f in fields(Params)}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in types:
            raise CliError(f"--set {pair!r}: expected PARAM=VALUE with a known parameter")
        try:
            cast = int if types[name] in (int, "int") else float
            changes: dict[str, Any] = {name: cast(value)}
            params = replace(params, **changes)
        except ValueError:
            raise CliError(f"--set {pair!r}: {value!r} is not a number") from None
    return params


def _replay(args: argparse.Namespace) -> int:
    import io
    import json

    from cutwatch.cli import CliError
    from cutwatch.detectors.model import parse_time
    from cutwatch.detectors.replay import ReplayError, replay

    params = _params(args.set)
    try:
        until = parse_time(args.until) if args.until else None
    except ValueError:
        raise CliError(f"--until {args.until!r} is not an RFC 3339 time") from None
    bad: list[ReplayError] = []

    def on_bad(exc: ReplayError) -> None:
        bad.append(exc)
        print(f"cutwatch: skipped {exc}", file=sys.stderr)

    # bytes that are not UTF-8 reach the line parser (surrogateescape), which names their line
    try:
        if args.stream == "-":
            source = sys.stdin
            if isinstance(source, io.TextIOWrapper):
                source.reconfigure(errors="surrogateescape")
        else:
            source = open(args.stream, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot read {args.stream}: {exc.strerror}") from None
    with source:
        try:
            if args.from_atlas_connlog:
                from cutwatch.detectors.atlas import connlog_items
                from cutwatch.detectors.engine import Engine
                from cutwatch.detectors.replay import drive

                transitions = drive(Engine(params), connlog_items(source), until)
            else:
                transitions = replay(_with_progress(source, args.stream), params, until,
                                     on_bad if args.skip_bad else None)
            for transition in transitions:
                sys.stdout.write(json.dumps(transition.to_json(), separators=(",", ":")) + "\n")
        except (ReplayError, ValueError) as exc:
            raise CliError(str(exc)) from None
    sys.stdout.flush()
    if bad:
        print(f"cutwatch: {len(bad)} bad line(s) skipped", file=sys.stderr)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import json

    from cutwatch import progress
    from cutwatch.detectors.bench import SUITES, VARIANTS
    from cutwatch.detectors.scenarios import build

    spec, scenarios, hours, churn = (SUITES | VARIANTS)[args.suite]()
    lines, truth = build(spec, scenarios, hours, seed=args.seed, churn_per_day=churn)
    out = Path(args.stream)
    with out.open("w", encoding="utf-8") as f:
        for line in progress.items(lines, desc="simulate"):
            f.write(line + "\n")
    truth_path = Path(args.truth) if args.truth else out.with_suffix(".truth.json")
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} and {truth_path} ({len(truth)} scenarios)", file=sys.stderr)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from cutwatch import progress
    from cutwatch.detectors.bench import main

    with progress.elapsed("bench detect"):
        main(seeds=args.seeds, probes=args.probes, full=args.full, data=args.data)
    return 0


def _with_progress(source: Any, stream: str) -> Any:
    """The stream's lines with a progress bar on a terminal (by bytes for a file)."""
    import os

    from cutwatch import progress

    if stream == "-":
        return progress.items(source, desc="replay")
    return progress.lines(source, total_bytes=os.path.getsize(stream), desc="replay")
