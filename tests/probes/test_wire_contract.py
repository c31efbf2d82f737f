"""What the probe uploads, checked against the published JSON Schema, not against the models
that produced it: docs/wire-format.schema.json is the contract a collector implements, and
this keeps the probe to it whatever the probe builds its batches with.

Real checks of every kind the lab offers fill a real spool; the real uploader sends it to a
loopback collector that only captures the bodies and acknowledges them.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from probe_lab import Lab

from cutwatch.api.lab.tcp import closed_port
from cutwatch.probes.agent import Agent
from cutwatch.probes.checks.base import Context
from cutwatch.probes.config import load_config
from cutwatch.probes.main import spool_for
from cutwatch.probes.uploader import Uploader

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs"
                     / "wire-format.schema.json").read_text())


class Capture:
    """A collector that keeps every batch it is sent and acknowledges it."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(gzip.decompress(
                    self.rfile.read(int(self.headers["Content-Length"]))))
                capture.batches.append(body)
                ack = json.dumps({"batch_id": body.get("batch_id"),
                                  "accepted": len(body.get("results", [])), "duplicates": 0,
                                  "server_time": datetime.now(UTC).isoformat()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(ack)))
                self.end_headers()
                self.wfile.write(ack)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> Capture:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def uploaded(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("contract")
    (tmp / "probe.toml").write_text(f"""
[probe]
state_dir = "{tmp / 'state'}"
checkin = false

[[targets]]
kind = "dns"
name = "dns-ok"
tag = "domestic"
query = "ok.test"
resolver = "{lab.resolver(lab.dns)}"
late_window = 0.05

[[targets]]
kind = "dns"
name = "dns-nxdomain"
tag = "domestic"
query = "no-such-name.test"
resolver = "{lab.resolver(lab.dns)}"
families = ["ipv4"]

[[targets]]
kind = "tcp"
name = "tcp-open"
tag = "international"
host = "127.0.0.1"
port = {lab.held.port}

[[targets]]
kind = "tcp"
name = "tcp-closed"
tag = "international"
host = "127.0.0.1"
port = {closed_port()}

[[targets]]
kind = "http"
name = "http-blocked"
tag = "international"
group = "pulse"
url = "{lab.web.url('/blocked')}"
block_patterns = ["has been restricted"]

[[targets]]
kind = "http"
name = "http-ok"
tag = "domestic"
url = "{lab.web.url('/')}"

[[targets]]
kind = "gateway"
name = "lan-gateway"
address = "127.0.0.1"
ports = [{lab.held.port}]
""")
    config = load_config(tmp / "probe.toml")
    spool = spool_for(config)
    try:
        asyncio.run(Agent(config, Context(), spool).measure_round())
        with Capture() as collector, httpx.Client(timeout=10) as client:
            uploader = Uploader(spool, client, collectors=(collector.url,),
                                probe_id="p-contract", token="p-contract.secret",
                                batch_size=4, fresh_per_batch=1,
                                started_at=datetime.now(UTC), clock_synced=lambda: True)
            done = asyncio.run(uploader.upload())
            assert done.error is None, done.error
            assert spool.depth() == 0  # all acknowledged
        yield collector.batches
    finally:
        spool.close()


def test_every_uploaded_batch_matches_the_published_schema(
        uploaded: list[dict[str, Any]]) -> None:
    validator = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
    assert len(uploaded) >= 2  # batch_size 4: the round's results took several batches
    for batch in uploaded:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(batch)]
        assert errors == []
        for result in batch["results"]:  # date-time is only checked with an extra package
            assert datetime.fromisoformat(result["measured_at"]).tzinfo is not None
    results = [r for b in uploaded for r in b["results"]]
    assert {r["kind"] for r in results} == {"dns", "tcp", "http", "gateway"}
    assert {r["ok"] for r in results} == {True, False}  # successes and failures both checked
    assert [b["heartbeat"]["seq"] for b in uploaded] == list(range(1, len(uploaded) + 1))


@pytest.mark.parametrize(("where", "change"), [
    ("an unknown field in a result", lambda b: b["results"][0].update(rtt=1.0)),
    ("a failure word outside the vocabulary", lambda b: b["results"][0].update(
        ok=False, failure="it broke")),
    ("a scope that does not exist", lambda b: b["results"][0].update(scope="regional")),
    ("a negative spool depth", lambda b: b["heartbeat"].update(spool_depth=-1)),
    ("a result id that is not a UUID", lambda b: b["results"][0].update(id="r-1")),
    ("no heartbeat", lambda b: b.pop("heartbeat")),
])
def test_the_schema_is_strict_enough_to_catch_a_drifting_probe(
        uploaded: list[dict[str, Any]], where: str, change: Any) -> None:
    # The positive control of the test above: each drift a probe could make is refused.
    batch = copy.deepcopy(next(b for b in uploaded if b["results"]))
    change(batch)
    validator = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
    assert list(validator.iter_errors(batch)), where
