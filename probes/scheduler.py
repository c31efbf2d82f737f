"""When each group of targets runs next: a pure plan over an injected clock, with jitter.

The pulse group (light reachability checks) runs every ``schedule.pulse`` seconds, the
service group (heavier checks) every ``schedule.service``; each next run is pushed by a random
fraction of the interval (``jitter``), so thousands of probes rebooted by one power cut do
not measure and upload in lockstep. Both groups run once at start. While uploads fail
(``offline``), the pulse runs ``OFFLINE_STRETCH`` times less often: the backlog of a long
cut then fits the spool's cap, and every result still reaches the collector afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from cutwatch.probes.targets import Group, Schedule

# The default pulse (30 s) is for speed while the collector listens; offline, a result a
# minute (the pulse of earlier releases) keeps 7 days of backlog under the 20 MB spool cap.
OFFLINE_STRETCH = 2.0


@dataclass
class Plan:
    schedule: Schedule
    clock: Callable[[], float]
    rng: random.Random = field(default_factory=random.Random)
    next_at: dict[Group, float] = field(init=False)  # both groups due at once, from __post_init__
    offline: bool = False  # uploads are failing: see set_offline

    def __post_init__(self) -> None:
        now = self.clock()
        self.next_at = {"pulse": now, "service": now}

    def interval(self, group: Group) -> float:
        if group == "service":
            return self.schedule.service
        return self.schedule.pulse * (OFFLINE_STRETCH if self.offline else 1.0)

    def set_offline(self, offline: bool) -> None:
        """Uploads fail (or work again): back online, the next pulse is due within one
        ordinary interval, so live conditions are measured at full speed at once."""
        if offline == self.offline:
            return
        self.offline = offline
        if not offline:
            self.next_at["pulse"] = min(self.next_at["pulse"],
                                        self.clock() + self.interval("pulse"))

    def due(self) -> list[Group]:
        """The groups due now; each is rescheduled one jittered interval later."""
        now = self.clock()
        groups: list[Group] = [g for g, at in self.next_at.items() if at <= now]
        for group in groups:
            base = self.interval(group)
            spread = self.rng.uniform(-self.schedule.jitter, self.schedule.jitter)
            # From the planned time, not from now, so a slow round does not drift the cadence;
            # but never in the past (a probe that slept through several rounds runs once).
            self.next_at[group] = max(self.next_at[group] + base * (1 + spread), now + 1)
        return groups

    def wait(self) -> float:
        """Seconds until the next group is due."""
        return max(0.0, min(self.next_at.values()) - self.clock())

    def reschedule(self, schedule: Schedule) -> None:
        """A new schedule from check-in: shorter intervals take effect at once."""
        now = self.clock()
        self.schedule = schedule
        for group, at in self.next_at.items():
            self.next_at[group] = min(at, now + self.interval(group))


def backoff(attempt: int, rng: random.Random, *, base: float = 5.0, cap: float = 600.0) -> float:
    """Exponential backoff with full jitter: a random wait up to base * 2^attempt, capped."""
    return rng.uniform(base / 2, min(cap, base * 2 ** min(attempt, 16)))
