"""Detector benchmark: ``python -m tests.bench.detect [SEEDS] [PROBES] [--full] [--only TEXT]``.

The same as ``cutwatch bench detect``: one line of quality figures per shape (precision,
recall, detection delay, start/end error, kind accuracy, events on must-not-alarm cases),
with the real-data shapes when the shared data is present, then the engine's cost.
``--only TEXT`` runs the shapes whose name contains TEXT (``--only real:`` the real data).
"""

from __future__ import annotations

import sys

from cutwatch.detectors.bench import main
from tests.conftest import SHARED_DATA

if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:] if a.isdigit()][:2]
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv[:-1] else ""
    main(*args, full="--full" in sys.argv,
         data=SHARED_DATA if SHARED_DATA.is_dir() else None, only=only)
