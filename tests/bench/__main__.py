"""``make bench`` / ``python -m tests.bench``: every benchmark in turn, each printing its figures.

One process per benchmark so that one's memory and threads do not colour the next. Names
on the command line run a subset: ``python -m tests.bench ingest detect``.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("ingest", "webhooks", "detect", "probe_footprint", "series")


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"bench: unknown benchmark {', '.join(unknown)} "
              f"(choose from {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        if subprocess.run([sys.executable, "-m", f"tests.bench.{name}"], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
