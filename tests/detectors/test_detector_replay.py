"""``cutwatch replay`` at its edges: bad lines, stdin, --until, --skip-bad, --set."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from detector_cases import CASES, run, stream

from cutwatch.cli import main
from cutwatch.detectors.model import iso, parse_time

PROVINCE = next(c[0] for c in CASES if c[0].name == "province blackout")
BLOCK = next(c[0] for c in CASES if c[0].name == "DNS block")


@pytest.fixture
def stream_file(tmp_path: Path) -> Path:
    path = tmp_path / "stream.jsonl"
    path.write_text("\n".join(stream(PROVINCE)) + "\n", encoding="utf-8")
    return path


def _transitions(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_replay_prints_design_shaped_transitions(stream_file: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(stream_file)]) == 0
    out = _transitions(capsys.readouterr().out)
    assert [t["action"] for t in out][:1] == ["opened"]
    assert out[-1]["action"] == "resolved"
    event = out[0]["event"]
    assert isinstance(event, dict)
    assert set(event) == {"id", "status", "kind", "entity", "start", "end", "detected_at",
                          "confidence", "probes_affected", "probes_total", "asns_affected",
                          "single_source",
                          "evidence"}
    assert event["entity"] == {"type": "subdivision", "code": "MM-01", "name": "Sagaing",
                               "subdivision": "MM-01", "country": "MM"}
    assert str(out[0]["at"]).endswith("Z")
    assert event["end"] is None


def test_until_stops_the_clock(stream_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(stream_file), "--until", "2021-02-15T01:50:00Z"]) == 0
    out = _transitions(capsys.readouterr().out)
    assert [t["action"] for t in out] == ["opened"]


def test_stdin(stream_file: Path, capsys: pytest.CaptureFixture[str],
               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stream_file.read_text(encoding="utf-8")))
    assert main(["replay", "-"]) == 0
    assert len(_transitions(capsys.readouterr().out)) >= 3


def test_bad_line_names_its_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = list(stream(PROVINCE)[:60])
    lines[40] = '{"type": "upload", "received_at": "2021-02-15T00:10:00Z"}'
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cutwatch: error: line 41: batch")
    assert "\n" not in err


def test_a_line_that_is_not_utf8_names_its_number(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    lines = [line.encode() for line in stream(PROVINCE)[:60]]
    lines[40] = b'{"type": "probe", "probe": {"id": "caf\xe9"}}'
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cutwatch: error: line 41: ")
    assert "\n" not in err


def test_skip_bad_counts_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = list(stream(PROVINCE))
    lines[45] = "not json"
    lines[46] = '{"type": "probe", "probe": {"id": ""}}'
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["replay", "--skip-bad", str(path)]) == 0
    captured = capsys.readouterr()
    assert "line 46" in captured.err
    assert "line 47" in captured.err
    assert "2 bad line(s) skipped" in captured.err
    assert _transitions(captured.out)[0]["action"] == "opened"


def test_parameters_can_be_set(stream_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--set", "min_probes=100", str(stream_file)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["replay", "--set", "nonsense=1", str(stream_file)]) == 2
    assert "nonsense=1" in capsys.readouterr().err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "/nonexistent/stream.jsonl"]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.slow
def test_simulate_writes_a_stream_and_truth_that_replay_reads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "negative.jsonl"
    assert main(["simulate", str(out), "--suite", "negative", "--seed", "3"]) == 0
    truth = json.loads((tmp_path / "negative.truth.json").read_text(encoding="utf-8"))
    assert {case["name"] for case in truth} == {
        "one probe loses power", "mass reboot after an update", "target down for everyone",
        "collector down", "every path slow (a congested target side)"}
    assert all(case["kind"] is None for case in truth)
    capsys.readouterr()
    assert main(["replay", str(out)]) == 0
    assert capsys.readouterr().out == ""  # the negative cases raise nothing


def test_a_retried_batch_counts_once() -> None:
    # the collector's log holds a batch twice when its ack was lost and the probe sent it
    # again (20 s later here); the collector stored it once, so the detector must see it once
    lines = list(stream(BLOCK))
    probes = [line for line in lines if json.loads(line)["type"] == "probe"]
    uploads = []
    for line in lines[len(probes):]:
        upload = json.loads(line)
        at = parse_time(upload["received_at"])
        uploads.append((at, line))
        uploads.append((at + 20, json.dumps({**upload, "received_at": iso(at + 20)})))
    retried = probes + [line for _, line in sorted(uploads, key=lambda u: u[0])]
    assert len(retried) == 2 * len(lines) - len(probes)
    assert run(retried) == run(lines)
