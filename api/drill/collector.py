"""The drill's collector settings: ``cutwatch serve`` as in production, its clock scaled.

The service's detector assumes 60 s cadences (minutes of hold, backlog wait, burst window).
The drill's probes report every few seconds, so the collector gets the production settings
``CUTWATCH_DETECTOR_PARAMS`` (every duration of ``cutwatch.detectors.params.Params`` multiplied by
cadence/60) and ``CUTWATCH_DETECTOR_ONLINE`` (the leader's poll and rebuild window); nothing
else differs from ``cutwatch serve``. Pure: the drill's fleet puts these into the collector's
environment.
"""

from __future__ import annotations

import json

from cutwatch.detectors.params import Params

# Durations of ``Params`` that follow the probes' cadence. Counts (but one, below), fractions
# and the time-of-day and level windows (hours to days of history, which a drill never has)
# stay.
SCALED = ("eval_interval_s", "silence_margin_s", "burst_window_s", "hold_s", "backlog_wait_s",
          "refine_min_shift_s", "settle_s", "live_window_s", "condition_hold_s",
          "gap_bucket_min_s")
# Scaled values the detector's own clock cannot go below.
FLOORS = {"eval_interval_s": 0.5, "silence_margin_s": 1.0, "refine_min_shift_s": 1.0}


def drill_params(cadence: float) -> dict[str, float]:
    """``Params`` overrides: every duration scaled from a 60 s cadence to ``cadence``."""
    k = cadence / 60.0
    base = Params()
    out = {name: max(FLOORS.get(name, 0.0), getattr(base, name) * k) for name in SCALED}
    out["default_cadence_s"] = cadence
    return out


def drill_online(cadence: float) -> dict[str, float]:
    """``OnlineConfig`` overrides: the leader polls ten times per cadence and a new leader
    rebuilds from the last few cadences (the drill's collector restarts within the run)."""
    return {"poll_s": cadence / 10, "settle_s": cadence / 10, "probes_refresh_s": cadence / 2,
            "rebuild_s": 4 * cadence}


def collector_env(cadence: float) -> dict[str, str]:
    """The detector's part of the collector's environment."""
    return {"CUTWATCH_DETECTOR_PARAMS": json.dumps(drill_params(cadence), sort_keys=True),
            "CUTWATCH_DETECTOR_ONLINE": json.dumps(drill_online(cadence), sort_keys=True)}
