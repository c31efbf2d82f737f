"""Detector benchmark, runnable as ``python -m tests.bench.detect [SEEDS] [PROBES]``.

The same as ``cutwatch bench detect``: quality figures on the simulated suites (precision,
recall, detection delay, start/end error, kind accuracy, false events) and engine cost.
"""

from __future__ import annotations

import sys

from detectors.bench import main

if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
