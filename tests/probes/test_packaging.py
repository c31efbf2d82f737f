"""The Pi installer and the systemd unit agree with the CLI and the config defaults."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from cutwatch.cli import build_parser
from cutwatch.probes.cli import DEFAULT_CONFIG
from cutwatch.probes.config import ProbeSection

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "systemd" / "cutwatch-probe.service"
INSTALL = DEPLOY / "pi" / "install.sh"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_unit_runs_the_cli_unprivileged_with_hardening() -> None:
    service = unit()["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/venv/bin/cutwatch")
    args = build_parser().parse_args(argv[1:])
    assert (args.command, args.probe_command, args.config) == ("probe", "run", DEFAULT_CONFIG)
    assert service["User"] == "cutwatch-probe"
    assert service["Restart"] == "always"
    assert service["StateDirectory"] == "cutwatch-probe"
    assert Path("/var/lib") / service["StateDirectory"] == ProbeSection().state_dir
    assert (service["NoNewPrivileges"], service["ProtectSystem"]) == ("yes", "strict")
    assert service["CapabilityBoundingSet"] == ""
    assert "AF_INET6" in service["RestrictAddressFamilies"]
    raw = (UNIT.parent / "cutwatch-probe.service.d" / "raw-sockets.conf").read_text()
    assert "AmbientCapabilities=CAP_NET_RAW" in raw


def test_unit_lets_the_probe_read_the_clock_state() -> None:
    # probes.clock.clock_synced() calls adjtimex() for every batch: systemd keeps it in @clock,
    # outside @system-service, and ProtectClock= blocks it even when it only reads.
    lines = [line.strip() for line in UNIT.read_text().splitlines()]
    allowed = [word for line in lines if line.startswith("SystemCallFilter=")
               for word in line.partition("=")[2].split()]
    assert "@system-service" in allowed
    assert "adjtimex" in allowed
    assert not any(line.startswith("ProtectClock=") for line in lines)


def test_install_script_parses_and_matches_the_unit() -> None:
    subprocess.run(["bash", "-n", str(INSTALL)], check=True)
    text = INSTALL.read_text()
    install = 'CUTWATCH_DIST=probe "$PREFIX/venv/bin/pip" install --quiet --upgrade "$package"'
    assert install in text
    assert 'package="$(cd "$HERE/../.." && pwd)[probe]"' in text  # this checkout, probe extra only
    assert "STATE_DIR=/var/lib/cutwatch-probe" in text
    assert f"CONFIG=\"$CONFIG_DIR/{DEFAULT_CONFIG.name}\"" in text
    assert "PREFIX=/opt/cutwatch-probe" in text
    assert "/opt/cutwatch-probe/venv/bin/cutwatch" in unit()["Service"]["ExecStart"]
    for flag in ("--collector", "--token", "--country", "--subdivision", "--city", "--access"):
        assert f"{flag} \"$" in text or f"({flag} \"$" in text  # passed on to `probe register`
    wrong = subprocess.run(["bash", str(INSTALL), "--bogus"], capture_output=True, text=True)
    assert (wrong.returncode, wrong.stderr.strip()) == (
        2, "install.sh: error: unknown option --bogus (see --help)")


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_install_script_passes_shellcheck() -> None:
    subprocess.run(["shellcheck", str(INSTALL)], check=True)
