"""The drill's probes run from an install with the ``probe`` extra only, as on a Pi.

The drill itself needs the service (the collector, the detector, the webhook library); its
probe processes must not: a probe that imported FastAPI or psycopg by mistake would work in
the full virtualenv and fail on a volunteer's Pi. So the drill builds a second virtualenv
once, as deploy/pi/install.sh does: ``CUTWATCH_DIST=probe pip install -c constraints.txt
'<checkout>[probe]'``, the probe's wheel (the core and the probe, no service or detector code)
with the pinned versions of the probe extra only. pip uses its configured index, so ``make
test`` builds it in its set-up (``python -m cutwatch.api.drill.probe_env``) and the tests
find it ready. It is cached by the checkout, the pins and the probe's own sources, so a
change to the probe's code builds it again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAMP = ".installed"


def cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cutwatch"


def venv_for(root: Path = ROOT, cache: Path | None = None) -> Path:
    """Where the probe-only virtualenv of this checkout (and its pins) lives."""
    digest = hashlib.sha256(str(root).encode())
    for name in ("pyproject.toml", "constraints.txt", "setup.py"):
        if (root / name).exists():
            digest.update((root / name).read_bytes())
    # what the probe's wheel carries: the core's modules and the probe's package
    for path in sorted([*(root / "cutwatch").glob("*.py"), *(root / "probes").rglob("*.py")]):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return (cache or cache_home()) / f"drill-probe-{digest.hexdigest()[:12]}"


def probe_python(root: Path = ROOT, cache: Path | None = None,
                 say: Callable[[str], None] = print) -> Path:
    """The Python of the probe-only virtualenv, built on first use (a minute or so)."""
    if not (root / "pyproject.toml").exists():
        raise RuntimeError("drill: the probe-only install is built from the source "
                           f"checkout, and {root} is not one")
    venv = venv_for(root, cache)
    python = venv / "bin" / "python"
    if (venv / STAMP).exists():
        return python
    say(f"building the probes' install (the probe extra only) in {venv}")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run([sys.executable, "-m", "venv", str(venv)])
        _run([str(python), "-m", "pip", "install", "--quiet", "-c",
              str(root / "constraints.txt"), f"{root}[probe]"],
             env={**os.environ, "CUTWATCH_DIST": "probe"})
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    (venv / STAMP).touch()
    return python


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["?"]
        raise RuntimeError(f"drill: building the probes' install failed: {last[0]}")


if __name__ == "__main__":
    # `make test` builds it in its set-up, where installing from the index belongs
    print(probe_python(say=lambda line: print(line, file=sys.stderr)))
