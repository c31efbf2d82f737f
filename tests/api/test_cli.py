"""`cutwatch serve`, `cutwatch db migrate` and `cutwatch admin enroll` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from cutwatch.cli import main

CUTWATCH = Path(sys.executable).parent / "cutwatch"


def test_db_migrate_applies_then_reports_up_to_date(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "migrate", "--database-url", database_url]) == 0
    assert capsys.readouterr().out.startswith("applied: 0001_core.sql")
    assert main(["db", "migrate", "--database-url", database_url]) == 0
    assert capsys.readouterr().out.strip() == "database is up to date"


def test_admin_enroll_prints_a_token_stored_hashed(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["admin", "enroll", "--database-url", database_url, "--uses", "3",
                 "--label", "Bago volunteers", "--expires-in", "2"])
    assert code == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["token"].startswith(issued["id"] + ".")
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT label, max_uses, uses, expires_at > now() + interval '1 hour',"
                           " expires_at < now() + interval '3 hours', token_hash"
                           " FROM enrollment_tokens").fetchone()
    assert row is not None
    assert row[:5] == ("Bago volunteers", 3, 0, True, True)
    assert issued["token"].split(".", 1)[1] not in row[5]


@pytest.mark.parametrize("argv", [
    ["admin", "enroll", "--uses", "0"],
    ["admin", "enroll", "--expires-in", "-1"],
])
def test_admin_enroll_refuses_nonsense(argv: list[str], database_url: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--database-url", database_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cutwatch: error: --")
    assert err.count("\n") == 1


def test_an_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    assert main(["db", "migrate", "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cutwatch: error: database unreachable:")
    assert err.count("\n") == 1


def test_serve_names_a_missing_geoip_database(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUTWATCH_GEOIP_ASN_DB", str(tmp_path / "GeoLite2-ASN.mmdb"))
    assert main(["serve", "--data-dir", str(tmp_path / "var")]) == 2
    assert capsys.readouterr().err == (
        f"cutwatch: error: GeoIP database not found: {tmp_path / 'GeoLite2-ASN.mmdb'}\n")
    assert not (tmp_path / "var").exists()  # refused before starting anything


def _serve_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """`cutwatch serve` refused at start: status 2 and exactly one line on stderr."""
    assert main(["serve", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert captured.out == ""
    return captured.err.removeprefix("cutwatch: error: ").strip()


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1/cutwatch", "127.0.0.1:5432/cutwatch"])
def test_serve_refuses_a_database_url_that_is_not_postgresql(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = _serve_error(capsys, "--database-url", url, "--data-dir", str(tmp_path / "var"))
    assert error.startswith("DATABASE_URL must be a postgresql:// URL, got ")
    assert "root" not in error  # the URL, which may hold a password, is not echoed
    assert not (tmp_path / "var").exists()


def test_serve_says_a_refused_database_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()  # nothing listens there: connection refused
    started = time.monotonic()
    error = _serve_error(capsys, "--database-url", f"postgresql://nobody@127.0.0.1:{port}/x",
                         "--port", str(_free_port()))
    assert time.monotonic() - started < 5
    assert error.startswith("database unreachable within 5 s: ")
    assert "Connection refused" in error


def test_serve_gives_up_on_a_silent_database_after_5_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A peer that accepts the connection and never answers (a hung server, a firewall
    # that lets SYN through): before, the pool waited 30 s and printed a traceback.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        started = time.monotonic()
        error = _serve_error(capsys, "--database-url",
                             f"postgresql://nobody@127.0.0.1:{port}/x", "--port",
                             str(_free_port()))
        waited = time.monotonic() - started
    assert 4 < waited < 20, waited
    assert error.startswith("database unreachable within 5 s: ")


def test_serve_refuses_a_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     database_url: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        error = _serve_error(capsys, "--database-url", database_url, "--port", str(port))
    assert error == (f"cannot listen on 127.0.0.1:{port}: Address already in use "
                     "(CUTWATCH_PORT or --port)")


@pytest.mark.parametrize(("content", "expected"), [
    (None, "catalogue not found: {path} (CUTWATCH_CATALOGUE)"),
    ("[[targets]\n", "catalogue {path}: "),
    ('[[targets]]\nkind = "tcp"\nname = "x"\nhost = "a.example"\n',
     "catalogue {path}: targets.0."),
])
def test_serve_names_a_missing_or_broken_catalogue(
    content: str | None, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "catalogue.toml"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("CUTWATCH_CATALOGUE", str(path))
    error = _serve_error(capsys, "--data-dir", str(tmp_path / "var"))
    assert error.startswith(expected.format(path=path)), error
    assert not (tmp_path / "var").exists()


def test_serve_names_a_geoip_file_that_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "GeoLite2-Country.mmdb"
    path.write_bytes(b"not a MaxMind database at all" * 10)
    monkeypatch.setenv("CUTWATCH_GEOIP_COUNTRY_DB", str(path))
    error = _serve_error(capsys, "--data-dir", str(tmp_path / "var"))
    assert error.startswith(f"GeoIP database {path} is not a readable MaxMind DB file: ")


@pytest.mark.parametrize("argv", [["serve"], ["db"], ["db", "migrate"], ["admin"],
                                  ["admin", "enroll"]])
def test_every_level_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    assert "usage: cutwatch" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",
                                                             "CUTWATCH_DATABASE_URL")}
    env["CUTWATCH_ADMIN_TOKEN"] = "embedded-admin"
    return subprocess.Popen(
        [str(CUTWATCH), "serve", "--data-dir", str(data_dir), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        # As in a terminal, whatever started the tests: a run from a background script
        # (nohup, `trap "" INT`) hands down an ignored SIGINT, and Python keeps it ignored.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("cutwatch serve did not become ready")


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _postgres_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


@pytest.mark.slow
def test_serve_without_database_url_embeds_postgresql_and_keeps_data(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "var", _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(data_dir, port)
    try:
        _wait_ready(url, proc)
        registered = httpx.post(f"{url}/v1/probes", headers={"Authorization":
                                "Bearer embedded-admin"}, json={"country": "MM",
                                "access": "mobile"}, timeout=10)
        assert registered.status_code == 201
    finally:
        _stop(proc, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM
    assert not _postgres_running(data_dir / "pgdata"), "embedded PostgreSQL outlived serve"
    proc = _serve(data_dir, port)
    try:
        _wait_ready(url, proc)
        listed = httpx.get(f"{url}/v1/probes", timeout=10, headers={  # the operator's list
            "Authorization": "Bearer embedded-admin"}).json()
    finally:
        _stop(proc, signal.SIGINT)
    assert proc.returncode == 130  # 128 + SIGINT, as for Ctrl-C
    assert not _postgres_running(data_dir / "pgdata")
    assert [p["id"] for p in listed] == [registered.json()["probe_id"]]
