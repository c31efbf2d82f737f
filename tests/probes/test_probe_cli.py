"""`cutwatch probe once` and `status` as a volunteer runs them, against lab peers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from probe_lab import Lab

from cutwatch.api.lab.dns import DnsServer
from cutwatch.api.lab.tcp import closed_port
from cutwatch.wire import Result  # the collector's model reads the probe's output


def cutwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutwatch", *args], capture_output=True,
                          text=True, timeout=120)


def test_once_prints_distinct_failures(tmp_path: Path, lab: Lab) -> None:
    with DnsServer(mode="silent") as silent:
        config = tmp_path / "probe.toml"
        config.write_text(f"""
[probe]
state_dir = "{tmp_path / 'state'}"

[[targets]]
kind = "dns"
name = "dns-ok"
tag = "domestic"
query = "ok.test"
resolver = "127.0.0.1:{lab.dns.port}"

[[targets]]
kind = "dns"
name = "dns-nxdomain"
tag = "domestic"
query = "no-such-name.test"
resolver = "127.0.0.1:{lab.dns.port}"
families = ["ipv4"]

[[targets]]
kind = "dns"
name = "dns-silent"
tag = "international"
query = "ok.test"
resolver = "127.0.0.1:{silent.port}"
families = ["ipv4"]
timeout = 1

[[targets]]
kind = "tcp"
name = "tcp-closed"
tag = "domestic"
host = "127.0.0.1"
port = {closed_port()}

[[targets]]
kind = "http"
name = "http-ok"
tag = "international"
url = "{lab.web.url('/')}"
""")
        done = cutwatch("probe", "once", "--config", str(config))
    assert done.returncode == 0, done.stderr
    results = [Result.model_validate(r) for r in json.loads(done.stdout)]
    seen = {(r.target, r.family): (r.kind, r.ok, r.failure) for r in results}
    assert seen == {
        ("dns-ok", "ipv4"): ("dns", True, None),
        ("dns-ok", "ipv6"): ("dns", True, None),
        ("dns-nxdomain", "ipv4"): ("dns", False, "dns_nxdomain_error"),
        ("dns-silent", "ipv4"): ("dns", False, "generic_timeout_error"),
        ("tcp-closed", "ipv4"): ("tcp", False, "connection_refused"),
        ("http-ok", "ipv4"): ("http", True, None),
    }
    assert not (tmp_path / "state" / "spool.sqlite3").exists()  # once stores nothing


def test_status_before_and_after_a_spool(tmp_path: Path) -> None:
    config = tmp_path / "probe.toml"
    config.write_text(f'[probe]\nstate_dir = "{tmp_path}"\n')
    empty = cutwatch("probe", "status", "--config", str(config))
    assert empty.returncode == 0
    assert "no spool yet" in empty.stdout
    from probe_results import result

    from cutwatch.probes.spool import Spool

    spool = Spool(tmp_path / "spool.sqlite3")
    spool.add(result(0, target="dns-x"))
    spool.record_failure("http://127.0.0.1:9: ConnectError: refused")
    spool.close()
    shown = cutwatch("probe", "status", "--config", str(config), "--json")
    state = json.loads(shown.stdout)
    assert state["spool"]["waiting"] == 1
    assert state["last_upload_error"] == "http://127.0.0.1:9: ConnectError: refused"
    assert state["last_results"][0]["failure"] == "connection_refused"
    text = cutwatch("probe", "status", "--config", str(config)).stdout
    assert "1 results waiting" in text
    assert "connection_refused" in text


def test_register_refuses_a_non_http_collector_before_sending(tmp_path: Path) -> None:
    refused = cutwatch("probe", "register", "--collector", "ftp://127.0.0.1/", "--token", "t",
                       "--country", "MM", "--access", "fixed", "--state-dir", str(tmp_path))
    assert refused.returncode != 0
    assert refused.stderr.count("\n") == 1
    assert "collector URL must start with http:// or https://: ftp://127.0.0.1/" in refused.stderr
    assert not (tmp_path / "credentials.json").exists()


def test_register_writes_no_config_when_registration_fails(tmp_path: Path) -> None:
    config = tmp_path / "probe.toml"
    refused = cutwatch("probe", "register", "--collector", f"http://127.0.0.1:{closed_port()}",
                       "--token", "t", "--country", "MM", "--access", "fixed",
                       "--config", str(config))
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "cannot reach http://127.0.0.1:" in refused.stderr
    assert not config.exists()  # nothing half-done: the next attempt starts clean
    assert not (tmp_path / "probe-state" / "credentials.json").exists()


def test_register_refuses_a_state_dir_that_contradicts_the_config(tmp_path: Path) -> None:
    config = tmp_path / "probe.toml"
    config.write_text(f'[probe]\nstate_dir = "{tmp_path / "state"}"\n')
    refused = cutwatch("probe", "register", "--collector", "http://127.0.0.1:9", "--token", "t",
                       "--country", "MM", "--access", "fixed", "--config", str(config),
                       "--state-dir", str(tmp_path / "elsewhere"))
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "differs from state_dir" in refused.stderr
