"""Limits before work (api.limits) and errors as JSON (api.errors), through a real socket."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import psycopg
import pytest
from collector_helpers import ADMIN_TOKEN, LiveServer, make_batch, new_probe

from cutwatch.api.settings import Settings


def raw_exchange(server: LiveServer, head: str, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    """Send only ``head`` (request line and headers, no body) and read the answer.

    An answer that arrives although the announced body was never sent proves the server
    decided without reading it.
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not _complete(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    body = data.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(body)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


# (Authorization header, 401 detail): refused from the headers alone; the announced body is
# never sent, so an answer proves the server did not wait for it.
UNREAD: list[tuple[str, str]] = [
    ("", "missing bearer token"),
    ("Authorization: Basic eDp5\n", "missing bearer token"),
    ("Authorization: Bearer .no-id\n", "malformed token"),
    ("Authorization: Bearer sbr_0123.wrong\n", "invalid subscriber API key"),
    ("Authorization: Bearer enr_0123.wrong\n", "invalid, expired or used-up token"),
    ("Authorization: Bearer p-0123.wrong\n", "invalid probe token"),
]


@pytest.mark.parametrize(("authorization", "detail"), UNREAD)
def test_a_body_without_a_valid_credential_is_refused_unread(
    live: LiveServer, authorization: str, detail: str
) -> None:
    status, body = raw_exchange(live, "POST /v1/subscriptions HTTP/1.1\nHost: x\n"
                                f"{authorization}Content-Type: application/json\n"
                                "Content-Length: 60000\n")
    assert (status, body) == (401, {"detail": detail})


def test_a_valid_credential_gets_its_body_read(live: LiveServer) -> None:
    # Positive control for the table above: a real subscriber key passes the gate (the
    # route itself then refuses the private URL).
    with live.client(token=ADMIN_TOKEN) as admin:
        key = admin.post("/v1/subscribers", json={"name": "s"}).json()["api_key"]
    with live.client(token=key) as client:
        response = client.post("/v1/subscriptions", json={"url": "https://127.0.0.1/"})
    assert response.status_code == 422
    assert "loopback" in response.json()["detail"]


def test_an_oversized_declared_body_is_refused_before_it_is_read(live: LiveServer) -> None:
    # The hostile test's 256 MiB POST /v1/subscriptions without a token took 950 MiB.
    status, body = raw_exchange(live, "POST /v1/subscriptions HTTP/1.1\nHost: x\n"
                                "Content-Type: application/json\n"
                                f"Content-Length: {256 * 1024 * 1024}\n")
    assert status == 413
    assert body == {"detail": f"body larger than {live.settings.max_request_bytes} bytes"}


def test_a_streamed_body_is_cut_off_at_the_cap(live: LiveServer) -> None:
    def chunks() -> Any:
        for _ in range(1000):
            yield b" " * 8192  # 8 MB if it were all read

    with live.client(token=ADMIN_TOKEN) as client:
        response = client.post("/v1/subscribers", content=chunks(),
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("body larger than")
    with live.client(token=ADMIN_TOKEN) as client:
        assert client.post("/v1/subscribers", json={"name": "ok"}).status_code == 201


def test_every_route_has_a_cap_the_upload_a_larger_one(settings: Settings) -> None:
    with LiveServer(settings.model_copy(update={"max_request_bytes": 8192})) as live:
        probe_id, token = new_probe(live)
        body = json.dumps(make_batch(probe_id, 100)).encode()
        assert live.settings.max_request_bytes < len(body) < live.settings.max_body_bytes
        with live.client(token=token) as client:
            assert client.post("/v1/batches", content=body,
                               headers={"Content-Type": "application/json"}).status_code == 200
        with live.client(token=ADMIN_TOKEN) as client:
            response = client.post("/v1/enrollment-tokens", content=body,
                                   headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "body larger than 8192 bytes"}


@pytest.fixture
def limited(settings: Settings) -> Any:
    with LiveServer(settings.model_copy(update={"rate_limit_per_minute": 5})) as server:
        yield server


def test_a_credential_over_its_rate_gets_429_with_retry_after(limited: LiveServer) -> None:
    _, token = new_probe(limited)  # one admin request
    with limited.client(token=token) as client:
        answers = [client.get("/v1/checkin") for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert answers[5].status_code == 429
    assert 1 <= int(answers[5].headers["retry-after"]) <= 60
    assert answers[5].json()["detail"].startswith("rate limit of 5 requests per minute")
    # Another credential has its own budget; the admin token has used one request of five.
    _, other = new_probe(limited)
    with limited.client(token=other) as client:
        assert client.get("/v1/checkin").status_code == 200


def test_anonymous_reads_are_limited_per_address_and_health_never(limited: LiveServer) -> None:
    with limited.client(source="127.0.0.21") as client:
        codes = [client.get("/v1/events").status_code for _ in range(6)]
        assert [client.get("/healthz").status_code for _ in range(10)] == [200] * 10
    assert codes == [200] * 5 + [429]
    with limited.client(source="127.0.0.22") as client:
        assert client.get("/v1/events").status_code == 200


def test_the_database_down_is_a_quick_json_503(live: LiveServer, settings: Any,
                                               postgres_url: str) -> None:
    probe_id, token = new_probe(live)
    with live.client(token=token) as client:
        assert client.post("/v1/batches", json=make_batch(probe_id, 1)).status_code == 200
    name = psycopg.conninfo.conninfo_to_dict(settings.database_url)["dbname"]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    with live.client(token=token) as client:
        for _ in range(3):  # a broken pooled connection, then none to be had
            started = time.monotonic()
            response = client.post("/v1/batches", json=make_batch(probe_id, 1))
            took = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert response.json() == {"detail": "database unavailable, retry later"}
            assert response.headers["retry-after"] == "1"
            assert took < 1.0, took
        public = client.get("/v1/events")
    assert public.status_code == 503
    assert public.json()["detail"] == "database unavailable, retry later"
