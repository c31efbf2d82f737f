"""The drill's detector settings: the production settings carry them, the detector honours
them, and a fleet at the drill's cadence gets its events at the right times."""

from __future__ import annotations

import json

import pytest

from cutwatch.api.drill.collector import collector_env, drill_online, drill_params
from cutwatch.api.leader import OnlineConfig, overridden
from cutwatch.api.settings import Settings
from cutwatch.detectors.fleet import FleetSpec
from cutwatch.detectors.model import parse_time
from cutwatch.detectors.params import Params
from cutwatch.detectors.replay import replay
from cutwatch.detectors.scenarios import T0, Scenario, build

CADENCE = 5.0


def test_the_collector_settings_carry_the_scaled_detector() -> None:
    settings = Settings(**{k.removeprefix("CUTWATCH_").lower(): json.loads(v)
                           for k, v in collector_env(CADENCE).items()})
    params = overridden(Params, settings.detector_params)
    online = overridden(OnlineConfig, settings.detector_online)
    assert params.hold_s == Params().hold_s / 12
    assert params.condition_hold_s == Params().condition_hold_s / 12
    assert params.default_cadence_s == CADENCE
    assert params.eval_interval_s >= 0.5  # the floor of the scaled clock
    # counts and fractions are not durations: they stay the production ones, all of them
    assert params.min_probes == Params().min_probes
    assert params.open_fraction == Params().open_fraction
    assert params.throttle_min_results == Params().throttle_min_results
    assert online.poll_s == CADENCE / 10
    assert online.rebuild_s == 4 * CADENCE
    assert online.page == OnlineConfig().page
    # unset: the published defaults
    assert overridden(Params, Settings().detector_params) == Params()


@pytest.mark.parametrize(("env", "message"), [
    ({"detector_params": {"hold_sec": 5}}, "unknown Params field(s): hold_sec"),
    ({"detector_params": {"min_probes": 2.5}}, "Params.min_probes is a count"),
    ({"detector_online": {"poll_s": -1}}, "OnlineConfig.poll_s must not be negative"),
])
def test_bad_detector_settings_are_refused_in_one_line(env: dict[str, dict[str, float]],
                                                       message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings(**env)  # type: ignore[arg-type]


def test_the_environment_reaches_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in collector_env(CADENCE).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.detector_params == drill_params(CADENCE)
    assert settings.detector_online == drill_online(CADENCE)


def test_throttling_at_the_drill_cadence_starts_at_the_cut() -> None:
    """A throttled province measured every 5 s: the event's start lies near the onset, not
    three minutes before it (the start used to assume 60 s between measurements)."""
    spec = FleetSpec(probes_per_country=(12, 6, 6), night_off_share=0.0, cadence_s=CADENCE)
    scenario = Scenario("throttling", "throttling", "throttling", "country", "MM",
                        start_h=0.5, minutes=3)
    lines, _ = build(spec, [scenario], hours=0.6, seed=3, churn_per_day=0.0)
    params = overridden(Params, drill_params(CADENCE))
    transitions = [t.to_json() for t in replay(lines, params)]
    opened = [t for t in transitions if t["action"] == "opened"
              and t["event"]["kind"] == "throttling"]
    assert opened, [(t["action"], t["event"]["kind"]) for t in transitions]
    onset = T0 + scenario.start_h * 3600
    assert abs(parse_time(opened[0]["event"]["start"]) - onset) <= 3 * CADENCE
