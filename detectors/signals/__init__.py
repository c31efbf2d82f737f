"""Every signal of the detector, one module each, registered here (``REGISTRY``).

A new signal is one module with a ``SIGNAL`` object keeping the ``base.Signal`` protocol
(``base.LiveSignal`` for a condition the probes measure live) plus one line below; the contract
test runs over the whole registry. Order matters where two signals raise the same event
signal (the earlier wins a tie) and for a probe's live conditions (``probe.conditions``).
"""

from __future__ import annotations

from cutwatch.detectors.signals import block, burst, international, level, throttling
from cutwatch.detectors.signals.base import LiveSignal, Signal

LIVE: tuple[LiveSignal, ...] = (international.SIGNAL, block.SIGNAL, throttling.SIGNAL)
REGISTRY: tuple[Signal, ...] = (burst.SIGNAL, level.SIGNAL, *LIVE)

# event signal -> the signals that raise it (silence: burst and level)
RAISING: dict[str, tuple[Signal, ...]] = {}
for _signal in REGISTRY:
    RAISING[_signal.raises] = (*RAISING.get(_signal.raises, ()), _signal)
LIVE_BY: dict[str, LiveSignal] = {s.raises: s for s in LIVE}
