"""The probe's runtime path does not load pydantic (a third of its 40 MB memory budget).

Checked in a fresh interpreter: every module under ``probes/`` imported, ``cutwatch probe
--help`` and a real ``cutwatch probe once`` against a loopback TCP listener run, then
``sys.modules`` read. The positive control imports the collector's wire models in the same
interpreter and sees pydantic appear, so the check is able to see it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import contextlib, io, json, pkgutil, importlib, sys
import cutwatch.probes
from cutwatch.cli import main

for module in pkgutil.walk_packages(cutwatch.probes.__path__, "cutwatch.probes."):
    importlib.import_module(module.name)
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(["probe", "--help"])
    except SystemExit as exit:
        assert exit.code == 0, exit.code
    for action in ("run", "once", "status", "register"):
        try:
            main(["probe", action, "--help"])
        except SystemExit as exit:
            assert exit.code == 0, exit.code
once = io.StringIO()
with contextlib.redirect_stdout(once):
    status = main(["probe", "once", "--config", sys.argv[1]])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core"))
import cutwatch.wire  # the positive control: the collector's models do load it
control = "pydantic" in sys.modules
print(json.dumps({"status": status, "help": "register" in out.getvalue(),
                  "once": json.loads(once.getvalue()),
                  "loaded": loaded, "control": control}))
"""


def test_the_probe_runs_without_loading_pydantic(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        config = tmp_path / "probe.toml"
        config.write_text(
            f'[probe]\nstate_dir = "{tmp_path / "state"}"\ncheckin = false\n'
            f'[[targets]]\nkind = "tcp"\nname = "tcp-lab"\ntag = "domestic"\n'
            f'host = "127.0.0.1"\nport = {port}\nlinger = 0\n')
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(config)], capture_output=True,
                              text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 0
    assert report["help"]
    assert [(r["target"], r["ok"]) for r in report["once"]] == [("tcp-lab", True)]
    assert report["loaded"] == []
    assert report["control"] is True
