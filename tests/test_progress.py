"""Long offline jobs show progress on a terminal and stay quiet when piped."""

from __future__ import annotations

import fcntl
import itertools
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path

import pytest

CUTWATCH = Path(sys.executable).parent / "cutwatch"


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 6000 lines of the default simulation: a few MB, a few seconds to replay."""
    from cutwatch.detectors.bench import SUITES
    from cutwatch.detectors.scenarios import build

    spec, scenarios, hours, churn = SUITES["positive"]()
    lines, _ = build(spec, scenarios, hours, seed=1, churn_per_day=churn)
    path = tmp_path_factory.mktemp("progress") / "stream.jsonl"
    path.write_text("".join(line + "\n" for line in itertools.islice(lines, 6000)))
    return path


def _on_terminal(*argv: str) -> tuple[int, bytes, bytes]:
    """Run with stderr on an 80-column pseudo-terminal (an interactive shell), stdout to a file."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen([str(CUTWATCH), *argv], stdout=out, stderr=slave,
                                    stdin=subprocess.DEVNULL)
            os.close(slave)
            seen = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            code = proc.wait(timeout=120)
        finally:
            os.close(master)
        out.seek(0)
        return code, out.read(), seen


def test_replay_shows_a_bar_on_a_terminal_only(stream: Path) -> None:
    code, out, terminal = _on_terminal("replay", str(stream))
    assert code == 0
    assert b"replay: 100%" in terminal  # by bytes of the file, to the end
    piped = subprocess.run([str(CUTWATCH), "replay", str(stream)], capture_output=True,
                           timeout=120)
    assert piped.returncode == 0
    assert piped.stderr == b""  # nothing but the transitions when redirected
    assert piped.stdout == out  # the bar never touches the output itself


def test_simulate_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    # The 'sparse' suite is the shortest; the count of written lines ticks on the terminal.
    code, _, terminal = _on_terminal("simulate", str(tmp_path / "s.jsonl"), "--suite", "sparse")
    assert code == 0
    assert b"simulate: " in terminal
    assert b"line" in terminal
    piped = subprocess.run([str(CUTWATCH), "simulate", str(tmp_path / "p.jsonl"), "--suite",
                            "sparse"], capture_output=True, timeout=300, text=True)
    assert piped.returncode == 0
    assert piped.stderr.startswith("wrote ")
    assert piped.stderr.count("\n") == 1
    assert (tmp_path / "p.jsonl").read_bytes() == (tmp_path / "s.jsonl").read_bytes()


@pytest.mark.parametrize(("argv", "says"), [
    (["simulate", "--help"], ["about 30 s", "nothing on stdout"]),
    (["replay", "--help"], ["About 30 s", "on stdout"]),
    (["bench", "detect", "--help"], ["About 4 minutes", "Figures on stdout"]),
])
def test_help_says_how_long_and_where_output_goes(argv: list[str], says: list[str]) -> None:
    text = " ".join(subprocess.run([str(CUTWATCH), *argv], capture_output=True, text=True,
                                   timeout=60).stdout.split())
    for phrase in says:
        assert phrase in text
