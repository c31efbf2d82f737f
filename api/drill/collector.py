"""The drill's collector: ``cutwatch serve`` with the detector's clock scaled to the cadence.

The service's detector worker runs with the production ``Params`` (60 s cadences, minutes of
hold and backlog wait). The drill's probes report every few seconds, so this entry point runs
the same app with the same workers, except that the detector gets ``drill_params(cadence)``.
Settings come from the environment like ``cutwatch serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
from pathlib import Path

from cutwatch.api import leader
from cutwatch.api.state import AppState
from cutwatch.detectors.params import Params


def drill_params(cadence: float) -> Params:
    """Every duration of the detector scaled from a 60 s cadence to ``cadence``."""
    k = cadence / 60.0
    base = Params()
    return Params(
        eval_interval_s=max(1.0, base.eval_interval_s * k),
        default_cadence_s=cadence,
        silence_margin_s=max(1.0, base.silence_margin_s * k),
        burst_window_s=base.burst_window_s * k,
        hold_s=base.hold_s * k,
        backlog_wait_s=base.backlog_wait_s * k,
        refine_min_shift_s=max(1.0, base.refine_min_shift_s * k),
        settle_s=base.settle_s * k,
        live_window_s=base.live_window_s * k,
    )


def drill_online_config(cadence: float) -> leader.OnlineConfig:
    # rebuild_s: a leader learns each probe's cadence from the last few steady uploads (see
    # ``_detector``), not from a probe's start-up burst.
    return leader.OnlineConfig(poll_s=min(2.0, cadence / 5), settle_s=min(2.0, cadence / 5),
                               probes_refresh_s=cadence, rebuild_s=4 * cadence)


async def _detector(state: AppState, *, cadence: float, start_file: Path | None) -> None:
    dsn = state.settings.database_url
    if not dsn:
        raise RuntimeError("the detector needs the service's database URL")
    # A probe that starts uploads three small batches within a second (an empty heartbeat,
    # then results as its first round finishes); the detector learns a 1 s cadence from them
    # and learns it again only after three steady uploads, so with the drill's scaled margin
    # fresh probes flap silent/alive for a few cadences. The drill starts the leader once
    # the probes are steady, and it rebuilds from recent history only.
    while start_file is not None and not await asyncio.to_thread(start_file.exists):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), 0.5)
        if state.stopping.is_set():
            return
    # On a thread with its own event loop, as `cutwatch serve --detector thread` runs it.
    await leader.in_thread(
        lambda stop: leader.run(dsn, stop, params=drill_params(cadence),
                                config=drill_online_config(cadence), name="drill"),
        state.stopping)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cutwatch.api.drill.collector")
    parser.add_argument("--cadence", type=float, required=True)
    parser.add_argument("--detector-start-file", type=Path,
                        help="the detector leader starts once this file exists")
    args = parser.parse_args(argv)
    from cutwatch.api import app
    from cutwatch.api.server import serve
    from cutwatch.api.settings import Settings

    # This process is the drill's collector and nothing else: swapping the one worker here
    # leaves every other stage of the service exactly as `cutwatch serve` runs it.
    detector = functools.partial(_detector, cadence=args.cadence,
                                 start_file=args.detector_start_file)
    app.WORKERS[:] = [detector if w is leader.worker else w for w in app.WORKERS]
    serve(Settings(), log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
