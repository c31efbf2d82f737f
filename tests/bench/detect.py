"""Detector benchmark, runnable as ``python -m tests.bench.detect [SEEDS] [PROBES] [--full]``.

The same as ``cutwatch bench detect``: one line of quality figures per shape (precision,
recall, detection delay, start/end error, kind accuracy, events on must-not-alarm cases),
with the real-data shapes when the shared data is present, then the engine's cost.
"""

from __future__ import annotations

import sys

from cutwatch.detectors.bench import main
from tests.conftest import SHARED_DATA

if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:] if a.isdigit()][:2]
    main(*args, full="--full" in sys.argv,
         data=SHARED_DATA if SHARED_DATA.is_dir() else None)
