"""Subscriber keys and the subscriptions API, through the real service and a real receiver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from live_service import LiveService
from standardwebhooks.webhooks import Webhook

from cutwatch.api.webhooks import outbox
from cutwatch.detectors.model import Transition

from .factory import transition
from .receiver import Receiver
from .service import ADMIN, settings_for


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[LiveService]:
    with LiveService(settings_for(database_url, tmp_path)) as running:
        yield running


def new_key(service: LiveService, name: str = "Newsroom") -> str:
    with service.client(ADMIN) as admin:
        response = admin.post("/v1/subscribers", json={"name": name})
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


def wait_until(check: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def enqueue(database_url: str, item: Transition) -> int:
    async def go() -> int:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            count = await outbox.enqueue(conn, item)
            await conn.commit()
            return count
    return asyncio.run(go())


def test_only_the_operator_issues_keys_and_keys_are_stored_hashed(
    service: LiveService, database_url: str,
) -> None:
    with service.client() as anonymous:
        assert anonymous.post("/v1/subscribers", json={"name": "x"}).status_code == 401
    with service.client("not-the-admin-token") as wrong:
        denied = wrong.post("/v1/subscribers", json={"name": "x"})
    assert denied.status_code == 401
    assert denied.json() == {"detail": "admin token required"}
    key = new_key(service)
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT key_hash FROM subscribers").fetchall()
    assert len(stored) == 1
    assert key.split(".", 1)[1] not in stored[0][0]
    with service.client(key) as client:
        assert client.get("/v1/subscriptions").json() == []
    with service.client(key + "x") as client:
        assert client.get("/v1/subscriptions").status_code == 401


def test_subscription_lifecycle_and_isolation(service: LiveService) -> None:
    key, other = new_key(service, "A"), new_key(service, "B")
    body = {"url": "http://127.0.0.1:9/hook", "description": "alerts",
            "filters": {"entities": [{"type": "country", "code": "MM", "children": True}],
                        "kinds": ["blackout"], "min_status": "confirmed",
                        "min_confidence": 0.5}}
    with service.client(key) as client, service.client(other) as stranger:
        created = client.post("/v1/subscriptions", json=body)
        assert created.status_code == 201, created.text
        sub = created.json()
        assert sub["secret"].startswith("whsec_")
        assert sub["status"] == "active"
        assert sub["filters"]["entities"] == [{"type": "country", "code": "MM",
                                               "children": True}]
        sid = sub["id"]
        shown = client.get(f"/v1/subscriptions/{sid}").json()
        assert "secret" not in shown
        assert [s["id"] for s in client.get("/v1/subscriptions").json()] == [sid]
        # Another subscriber neither sees nor touches it.
        assert stranger.get("/v1/subscriptions").json() == []
        assert stranger.get(f"/v1/subscriptions/{sid}").status_code == 404
        assert stranger.delete(f"/v1/subscriptions/{sid}").status_code == 404
        assert stranger.post(f"/v1/subscriptions/{sid}/pause").status_code == 404

        updated = client.patch(f"/v1/subscriptions/{sid}", json={"description": "desk"})
        assert updated.json()["description"] == "desk"
        assert client.post(f"/v1/subscriptions/{sid}/pause").json()["status"] == "paused"
        assert client.post(f"/v1/subscriptions/{sid}/resume").json()["status"] == "active"

        bad = client.patch(f"/v1/subscriptions/{sid}",
                           json={"filters": {"min_status": "resolved"}})
        assert bad.status_code == 422
        assert bad.json()["detail"].startswith("filters.min_status: ")
        assert "\n" not in bad.json()["detail"]
        empty = client.patch(f"/v1/subscriptions/{sid}", json={})
        assert empty.json() == {"detail": "nothing to update: give url, description or filters"}

        assert client.delete(f"/v1/subscriptions/{sid}").status_code == 204
        assert client.get(f"/v1/subscriptions/{sid}").json() == {
            "detail": f"no subscription {sid}"}


REFUSED = [
    ("http://example.org/hook", "webhook URL must use https"),
    ("https://127.0.0.1/hook",
     "webhook host 127.0.0.1 resolves to 127.0.0.1, a loopback address; "
     "only public addresses are allowed"),
    ("https://localhost:8443/hook", "a loopback address"),
    ("https://10.1.2.3/hook", "10.1.2.3, a private address"),
    ("https://192.168.1.1/hook", "a private address"),
    ("https://100.64.0.7/hook", "a carrier-grade NAT address"),
    ("https://169.254.169.254/latest/meta-data", "a cloud metadata address"),
    ("https://[fd00:ec2::254]/", "a cloud metadata address"),
    ("https://[::1]/hook", "a loopback address"),
    ("https://[::ffff:10.0.0.1]/hook", "a private address"),
    ("https://224.0.0.1/hook", "a multicast address"),
    ("https://240.0.0.1/hook", "a reserved address"),
    ("https://user:pw@93.184.215.14/hook", "webhook URL must not carry credentials"),
]


def test_private_targets_are_refused_without_the_operator_setting(
    database_url: str, tmp_path: Path,
) -> None:
    with LiveService(settings_for(database_url, tmp_path, webhook_allow_private=False)) as service:
        key = new_key(service)
        with service.client(key) as client:
            # A public IP literal is accepted (no name to resolve). Paused at once, so nothing
            # could ever be sent to it from this test.
            public = client.post("/v1/subscriptions", json={"url": "https://93.184.215.14/h"})
            assert public.status_code == 201
            sid = public.json()["id"]
            assert client.post(f"/v1/subscriptions/{sid}/pause").json()["status"] == "paused"
            for url, detail in REFUSED:
                response = client.post("/v1/subscriptions", json={"url": url})
                assert response.status_code == 422, url
                assert detail in response.json()["detail"], url
                changed = client.patch(f"/v1/subscriptions/{sid}", json={"url": url})
                assert changed.status_code == 422, url
            assert [s["url"] for s in client.get("/v1/subscriptions").json()] == [
                "https://93.184.215.14/h"]


def test_test_delivery_log_redeliver_and_secret_rotation(
    service: LiveService, database_url: str,
) -> None:
    receiver = Receiver(secret="").start()
    try:
        key = new_key(service)
        with service.client(key) as client:
            sub = client.post("/v1/subscriptions", json={"url": receiver.url}).json()
            sid, receiver.secret = sub["id"], sub["secret"]

            queued = client.post(f"/v1/subscriptions/{sid}/test")
            assert queued.status_code == 202
            test_id = queued.json()["delivery_id"]
            wait_until(lambda: receiver.accepted_ids() == [test_id])
            assert receiver.requests[0].verified["type"] == "webhook.test"

            def log() -> list[dict[str, Any]]:
                entries: list[dict[str, Any]] = client.get(
                    f"/v1/subscriptions/{sid}/deliveries").json()
                return entries

            wait_until(lambda: log()[0]["status"] == "succeeded")
            [entry] = log()
            assert (entry["id"], entry["attempts"], entry["last_status_code"],
                    entry["last_error"]) == (test_id, 1, 200, None)

            again = client.post(f"/v1/subscriptions/{sid}/deliveries/{test_id}/redeliver")
            assert again.status_code == 202
            wait_until(lambda: receiver.ids() == [test_id, test_id])  # same webhook-id
            missing = client.post(f"/v1/subscriptions/{sid}/deliveries/msg_nope/redeliver")
            assert missing.json() == {"detail": "no delivery msg_nope"}

            # Rotation: for the window both signatures are sent; each secret verifies alone.
            old = receiver.secret
            rotated = client.post(f"/v1/subscriptions/{sid}/rotate-secret").json()
            new = rotated["secret"]
            assert new.startswith("whsec_")
            assert new != old
            assert client.get(f"/v1/subscriptions/{sid}").json()[
                "previous_secret_valid_until"] == rotated["previous_secret_valid_until"]
            assert enqueue(database_url, transition()) == 1
            wait_until(lambda: len(receiver.requests) == 3)
            last = receiver.requests[-1]
            assert len(last.headers["webhook-signature"].split(" ")) == 2
            for secret in (old, new):
                assert Webhook(secret).verify(last.body, last.headers)["type"] == "outage.opened"
    finally:
        receiver.stop()


def test_a_disabled_endpoint_says_so_and_resumes(service: LiveService, database_url: str) -> None:
    gone = True
    receiver = Receiver(secret="", respond=lambda _r: (410, {}) if gone else (200, {})).start()
    try:
        key = new_key(service)
        with service.client(key) as client:
            sub = client.post("/v1/subscriptions", json={"url": receiver.url}).json()
            sid, receiver.secret = sub["id"], sub["secret"]
            assert enqueue(database_url, transition()) == 1

            def status() -> dict[str, Any]:
                shown: dict[str, Any] = client.get(f"/v1/subscriptions/{sid}").json()
                return shown

            wait_until(lambda: status()["status"] == "disabled")
            assert status()["disabled_reason"] == "the endpoint answered 410 Gone"
            assert status()["disabled_at"] is not None
            assert enqueue(database_url, transition("updated")) == 0
            gone = False
            resumed = client.post(f"/v1/subscriptions/{sid}/resume").json()
            assert (resumed["status"], resumed["disabled_reason"]) == ("active", None)
            # The delivery held while disabled goes out once resumed.
            wait_until(lambda: len(receiver.accepted_ids()) == 1)
            assert receiver.ids()[0] == receiver.ids()[-1]
    finally:
        receiver.stop()


def test_subscriptions_per_key_are_bounded(service: LiveService,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from cutwatch.api.webhooks import subscriptions

    monkeypatch.setattr(subscriptions, "MAX_SUBSCRIPTIONS", 2)
    key = new_key(service)
    with service.client(key) as client:
        for _ in range(2):
            assert client.post("/v1/subscriptions",
                               json={"url": "http://127.0.0.1:9/x"}).status_code == 201
        refused = client.post("/v1/subscriptions", json={"url": "http://127.0.0.1:9/x"})
        assert refused.status_code == 409
        assert refused.json() == {"detail": "subscription limit reached (2)"}
        assert len(client.get("/v1/subscriptions").json()) == 2



def test_the_bound_holds_under_concurrent_creates(service: LiveService,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from cutwatch.api.webhooks import subscriptions

    monkeypatch.setattr(subscriptions, "MAX_SUBSCRIPTIONS", 2)
    key = new_key(service)
    with service.client(key) as client, ThreadPoolExecutor(8) as threads:
        codes = list(threads.map(
            lambda _: client.post("/v1/subscriptions",
                                  json={"url": "http://127.0.0.1:9/x"}).status_code,
            range(8)))
        assert sorted(codes) == [201, 201] + [409] * 6
        assert len(client.get("/v1/subscriptions").json()) == 2

@pytest.mark.slow
def test_whole_service_restart_mid_schedule_loses_nothing(
    database_url: str, tmp_path: Path,
) -> None:
    receiver = Receiver(secret="").start()
    receiver.stop()  # down: nothing listens on its port
    settings = settings_for(database_url, tmp_path,
                            webhook_retry_schedule=(0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 60, 60))
    with LiveService(settings) as first:
        key = new_key(first)
        with first.client(key) as client:
            sub = client.post("/v1/subscriptions", json={"url": receiver.url}).json()
            sid, receiver.secret = sub["id"], sub["secret"]
            for n in range(3):
                assert enqueue(database_url, transition(event_id=f"ev-{n}")) == 1

            def attempts() -> list[int]:
                log = client.get(f"/v1/subscriptions/{sid}/deliveries").json()
                return [d["attempts"] for d in log if d["status"] == "pending"]

            wait_until(lambda: len(attempts()) == 3 and min(attempts()) >= 2)
    # The service is gone mid-schedule; the receiver comes back; a new service starts.
    receiver.start()
    try:
        with LiveService(settings) as second, second.client(key) as client:
            wait_until(lambda: len(set(receiver.accepted_ids())) == 3)
            wait_until(lambda: {d["status"] for d in client.get(
                f"/v1/subscriptions/{sid}/deliveries").json()} == {"succeeded"})
        assert sorted(receiver.accepted_ids()) == sorted(set(receiver.accepted_ids()))
    finally:
        receiver.stop()
