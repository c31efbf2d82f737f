"""The burst signal: many of an entity's probes falling silent within one burst window.

Under usual churn each active probe starts a silence within a burst window with probability
``p``; the null is the fleet's learned churn or, when higher, the burst share outside the
entity's country (a fleet-wide wave, e.g. a mass reboot, makes a burst unsurprising).
"""

from __future__ import annotations

from cutwatch.detectors.decide import Verdict, judge
from cutwatch.detectors.entities import Entity
from cutwatch.detectors.model import Kind
from cutwatch.detectors.signals import silence
from cutwatch.detectors.signals.base import EngineView
from cutwatch.detectors.state import ALIVE


class Burst(silence.SilenceEdges):
    name = "burst"
    raises = "silence"
    kind: Kind = "blackout"
    params = ("min_probes", "open_fraction", "outside_max_fraction", "outside_margin",
              "churn_floor", "max_surprise", "part_fraction", "part_min_probes", "min_asns",
              "network_surprise")

    def judge(self, view: EngineView, ent: Entity, churn: float) -> Verdict | None:
        params = view.params
        if len(ent.burst) < params.min_probes:
            return None
        ents, probes = view.index.entities, view.probes
        country = view.index.countries.get(ent.country or "")
        scope = ents[country] if country is not None else ent
        out_burst = view.burst - len(scope.burst)
        out_active = view.alive + view.burst - scope.active
        out_share = out_burst / out_active if out_active >= params.min_probes else 0.0
        share = len(ent.burst) / ent.active
        if out_share >= params.outside_max_fraction or share - out_share < params.outside_margin:
            return None
        unaffected = (p for p in ent.members if probes[p].liveness == ALIVE)
        # the control group's own burst rate is the null: a fleet-wide wave (mass reboot)
        # makes a burst in one entity unsurprising
        return judge(ent, ent.burst, unaffected, ent.active, max(churn, out_share),
                     lambda i: (len(ents[i].burst), ents[i].active), view.asn_of, params)


SIGNAL = Burst()
