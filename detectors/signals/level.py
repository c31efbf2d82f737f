"""The level signal: an entity's silent share far above its own baseline, however slowly it
fell (a national shutdown unfolding network by network over hours, which no burst window
sees whole). Its verdicts carry ``path="level"``.
"""

from __future__ import annotations

import dataclasses

from cutwatch.detectors.decide import Verdict, judge
from cutwatch.detectors.entities import Entity
from cutwatch.detectors.model import Kind
from cutwatch.detectors.signals import silence
from cutwatch.detectors.signals.base import EngineView
from cutwatch.detectors.state import ALIVE


class Level(silence.SilenceEdges):
    name = "level"
    raises = "silence"
    kind: Kind = "blackout"
    params = ("min_probes", "level_margin", "outside_max_fraction", "outside_margin",
              "churn_floor", "open_fraction", "max_surprise", "part_fraction",
              "part_min_probes", "min_asns", "network_surprise")

    def judge(self, view: EngineView, ent: Entity, churn: float) -> Verdict | None:
        params = view.params
        silent = len(ent.burst) + len(ent.old)
        if silent < params.min_probes or not ent.old:
            return None  # (no old silence: the burst signal has judged it already)
        share, base = ent.silent_share(), ent.level_base
        if share - base < params.level_margin:
            return None
        ents, probes = view.index.entities, view.probes
        country = view.index.countries.get(ent.country or "")
        scope = ents[country] if country is not None else ent
        out_expected = view.alive + view.burst + view.old - scope.expected
        out_share = (view.burst + view.old - len(scope.burst) - len(scope.old)) / out_expected \
            if out_expected >= params.min_probes else 0.0
        if out_share >= params.outside_max_fraction or share - out_share < params.outside_margin:
            return None
        unaffected = (p for p in ent.members if probes[p].liveness == ALIVE)
        # the null: each probe silent as often as the entity's probes usually are
        verdict = judge(ent, ent.burst | ent.old, unaffected, ent.expected,
                        max(base, out_share, params.churn_floor),
                        lambda i: (len(ents[i].burst) + len(ents[i].old), ents[i].expected),
                        view.asn_of, params)
        return None if verdict is None else dataclasses.replace(verdict, path="level")


SIGNAL = Level()
