"""Every tunable number of the detector, in one frozen object (documented in docs/events.md).

The engine, the replay command, the online worker and the benchmark all take a ``Params``;
nothing else in ``detectors/`` hard-codes a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Params:
    # --- evaluation clock -------------------------------------------------------------
    eval_interval_s: float = 5.0
    """The engine is evaluated at least this often (replay time); at most 30 s. An event
    opens at the second evaluation that finds it (``confirm_cadences``), so this is paid about
    one and a half times in every delay: at 15 s the default schedule opened service blocks
    in 68 s (median) and blackouts in 60 s, at 5 s in 55 s and 40 s, with the negative,
    churny and heartbeat suites still silent. An evaluation only visits what changed (a few
    ms at 10,000 probes when nothing happens)."""

    # --- liveness (silence) -----------------------------------------------------------
    default_cadence_s: float = 60.0
    """Upload cadence assumed for a probe until it has shown its own."""
    learn_arrivals: int = 3
    """Arrivals a probe needs before its silence can count (its cadence is learned first)."""
    cadence_alpha: float = 0.1
    """EWMA weight of one new inter-arrival gap in the learned cadence."""
    silence_factor: float = 1.5
    """A probe is silent after ``silence_factor`` x its cadence + 3 x its jitter + margin."""
    silence_margin_s: float = 10.0
    """Seconds added to every silence threshold (upload jitter, clock granularity)."""
    max_cadence_s: float = 3600.0
    """Cadences above this are clipped: such a probe is hardly a liveness signal."""
    burst_window_s: float = 900.0
    """Silences that began within this window of each other form one burst; older silences
    leave the burst's denominator (the level signal keeps them for ``level_window_s``)."""

    level_window_s: float = 14_400.0
    """Silences younger than this count in an entity's level (the share of its probes not
    reporting); older ones (dead probes) leave it. Longer than the slowest staggered onset
    the level signal must still see whole."""
    level_sample_s: float = 900.0
    """How often each entity's level is sampled into its baseline."""
    level_history: int = 96
    """Samples in an entity's baseline (96 x 15 min: the last day); the baseline is their
    median, so an outage lasting less than half of it does not become normal."""
    level_margin: float = 0.3
    """An entity's silent share must exceed its baseline silent share by this much for the
    level signal (a slow fall that no burst window sees whole) to open an event."""

    # --- evidence thresholds ----------------------------------------------------------
    min_probes: int = 3
    """An entity-level claim needs at least this many affected probes."""
    min_asns: int = 2
    """Areas wider than one ISP need affected probes in at least this many networks."""
    min_operators: int = 2
    """An event whose probes (the ones whose silence or failures make its evidence) belong to
    fewer operators than this is flagged ``single_source`` (one volunteer group could have
    staged it); applies to every entity kind."""
    min_networks: int = 2
    """An area event (country, province, city) whose probes lie in fewer networks than this
    is flagged ``single_source``; network events (one ASN) are judged on operators only."""
    network_surprise: float = 0.01
    """Without its most affected network, an area's remaining affected probes must still be
    this unlikely under churn (binomial tail): more than one network is really down."""
    open_fraction: float = 0.5
    """Share of an entity's active probes that must be affected to open an event."""
    close_fraction: float = 0.3
    """An open event resolves when the share of its affected probes still affected falls to
    this (hysteresis: open at 0.5, close at 0.3)."""
    part_fraction: float = 0.34
    """A wider entity is down "as a whole" only when every part of it with at least
    ``part_min_probes`` active probes has at least this share affected."""
    part_min_probes: int = 2
    """Parts with fewer active probes than this are not asked to be affected."""
    hold_s: float = 60.0
    """A qualifying entity waits up to this long (or two cadences of its probes) while a
    wider one containing it is being affected beyond it (so a country going dark province by
    province raises the country)."""
    rising_surprise: float = 0.2
    """Binomial tail under which the rest of a wider entity counts as affected too."""
    churn_floor: float = 0.01
    """Lowest per-probe chance of a silence beginning within one burst window by churn."""
    max_surprise: float = 1e-4
    """Binomial tail P(K >= k | n, churn) an entity's burst must fall under."""
    outside_max_fraction: float = 0.5
    """Open nothing while this share of the probes outside the entity's country are in a
    burst too (the collector, not a region, went dark)."""
    outside_margin: float = 0.4
    """The entity's burst share must exceed the outside share by this much."""
    global_fraction: float = 0.5
    """A burst covering this share of the fleet in at least ``global_min_countries``
    countries is a global arrival gap (collector down, mass reboot): its silences are set
    aside until the probes return."""
    global_min_countries: int = 2
    """Countries a burst must span to be taken for a global arrival gap."""

    # --- time of day --------------------------------------------------------------------
    tod_slot_s: int = 900
    """Width of one time-of-day slot of a probe's activity profile (UTC)."""
    tod_min_days: int = 1
    """Days a slot must have been observed before it can excuse a silence."""
    tod_presence: float = 0.5
    """A silence starting in a slot where the probe was present on fewer than this share of
    observed days is the probe's usual off time, not evidence."""

    # --- backlogs -----------------------------------------------------------------------
    gap_coverage_power: float = 0.3
    """A probe that measured during less than this share of its gap was off (power)."""
    backlog_wait_s: float = 600.0
    """How long after a probe returns its backlog may still be arriving."""
    confirm_share: float = 0.5
    """Share of reporting probes whose backlog must agree for a kind to be taken."""
    refine_min_shift_s: float = 20.0
    """Start/end moves smaller than this do not produce an ``updated`` transition."""
    settle_s: float = 1800.0
    """A resolved event still takes refinements from late backlogs for this long."""

    # --- in-probe signals -------------------------------------------------------------
    condition_hold_s: float = 1800.0
    """A live-condition event (international, block, throttling) resolves only once its
    condition has stayed below threshold this long (one episode, one event); its end is
    when it first fell below."""
    live_window_s: float = 300.0
    """Results measured within this window of the clock describe the probe's present."""
    throttle_factor: float = 3.0
    """Latency (or 1/throughput) this many times the probe's own baseline is throttling."""
    throttle_min_extra_ms: float = 50.0
    """...and at least this much slower than the baseline, in ms of latency or, for a
    throughput, ms more per megabit transferred (1/throughput in ns per bit reads as ms per
    megabit: a gigabit line counts as throttled below about 20 Mbit/s, not at a congested
    evening's quarter of its speed). Three times a few milliseconds is a busy CPU or a
    household's own traffic, not an operator throttling: the blackout drill's probes, a few ms
    from their targets, showed "slow" runs on every busy second of the host and kept a
    throttling event open (and widened it to the country) a minute after the link was
    restored. On loopback DNS under load a fifth of single results tripled their baseline,
    0.3 % were also 50 ms above it (docs/benchmarks.md); 100 ms cut into the simulated
    throttling's own slow results and ended its events half an hour early."""
    throttle_min_results: int = 1
    """Consecutive slow results of one target before a probe counts as throttled. One: a
    result slow by ``throttle_factor`` and ``throttle_min_extra_ms`` is rare on its own (a
    household's own upload, a busy probe), and an event needs ``min_probes`` probes of one
    entity slow together while controls elsewhere are not. With two, throttling opened in
    75 s at the default 30 s pulse (the target is 60 s); the blackout drill's false throttling
    with one came from millisecond baselines, which the margin now rules out."""
    baseline_alpha: float = 0.05
    """EWMA weight of one result in a per-target latency baseline."""
    baseline_min_results: int = 5
    """Successful results a per-target baseline needs before slowness is judged."""
    control_min_probes: int = 2
    """Probes outside the area that must reach a target for its failures to be a block."""
    control_ok_fraction: float = 0.8
    """Share of the controls measuring a target that must reach it (else it is down)."""

    # --- edges, brackets and bookkeeping -----------------------------------------------
    fail_min_results: int = 2
    """Consecutive failures of one target before it counts as failing (a gateway down, a
    blocked target, an international cut)."""
    edge_quantile: float = 0.1
    """Event edges are read between the ``edge_quantile`` and ``1 - edge_quantile`` ranks of
    the probes' brackets (onsets, ends, returns), so one probe's extreme does not set them."""
    end_return_quantile: float = 0.2
    """Without backlogs, a silence event ends half a cadence before this rank of its
    probes' returns."""
    silence_jitters: float = 3.0
    """A probe is silent after ``silence_factor`` x cadence + this many jitters + margin."""
    silence_gap_cadences: float = 3.0
    """An inter-arrival gap over this many cadences is a silence, not a cadence sample."""
    backlog_burst_share: float = 0.25
    """Arrivals closer than this share of the cadence to the previous one are a backlog
    burst: they do not teach the cadence."""
    backlog_edge_cadences: float = 3.0
    """A backlog is complete when the spool is empty and its newest result lies within this
    many cadences of the probe's return."""
    gap_bucket_min_s: float = 60.0
    """Smallest bucket in which a gap's measurement coverage is counted."""
    gap_bucket_measures: float = 1.2
    """A gap's coverage bucket spans at least this many of the probe's measurement periods."""
    gap_lan_fail_power: float = 0.5
    """A gap whose gateway checks failed more often than this share was a power (or LAN)
    outage."""
    gap_fail_span: float = 0.3
    """Failures spanning less than this share of a gap are no shutdown (a blip)."""
    gap_down_share: float = 0.8
    """A scope failing at least this share of its results over the failure period was down."""
    gap_up_max_fail: float = 0.5
    """Domestic targets failing at most this share were up (an international cut)."""
    churn_window_s: float = 21_600.0
    """The fleet's churn (new silences per burst window) is learned over this window."""
    confirm_cadences: float = 0.25
    """A candidate must keep qualifying for this share of its probes' median cadence (and at
    least one evaluation more) before it opens."""
    hold_cadences: float = 2.0
    """The wait for a wider entity is ``hold_s`` or this many cadences, whichever is longer."""
