"""Probe registration: who may register, what may be declared, and what is stored."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from collector_helpers import ADMIN_TOKEN, LiveServer, register


def issue(server: LiveServer, **body: Any) -> str:
    with server.client(token=ADMIN_TOKEN) as client:
        response = client.post("/v1/enrollment-tokens", json=body)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def test_admin_registration_returns_a_token_stored_only_as_a_hash(
    live: LiveServer, settings: Any
) -> None:
    response = register(live, name="Bago office")
    assert response.status_code == 201
    data = response.json()
    assert data["probe_id"].startswith("p-")
    assert (data["country"], data["subdivision"], data["city"], data["access"]) == (
        "MM", "MM-07", "Bago", "fixed")
    probe_id, secret = data["token"].split(".", 1)
    assert probe_id == data["probe_id"]
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT token_hash, enrolled_by FROM probes").fetchone()
        dump = "\n".join(str(r) for r in conn.execute("SELECT p::text FROM probes p"))
    assert row == (hashlib.sha256(secret.encode()).hexdigest(), "admin")
    assert secret not in dump


@pytest.mark.parametrize(("body", "detail"), [
    ({"country": "XX"}, "unknown ISO 3166-1"),
    ({"subdivision": "MM-99"}, "unknown ISO 3166-2"),
    ({"subdivision": "TH-10"}, "TH-10 is not in MM"),
    ({"access": "cable"}, "access"),
    ({"city": "16.8, 96.1"}, "not coordinates"),
    ({"city": "N16 E96"}, "not coordinates"),
    ({"latitude": 16.8}, "latitude"),
    ({"name": "x" * 65}, "name"),
])
def test_declared_location_is_validated(live: LiveServer, body: dict[str, Any],
                                        detail: str, settings: Any) -> None:
    response = register(live, **body)
    assert response.status_code == 422
    assert detail in response.json()["detail"]
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM probes").fetchone() == (0,)


def test_codes_are_normalised_and_subdivision_and_city_are_optional(live: LiveServer) -> None:
    response = register(live, country="th", subdivision="th-10", city="Bangkok", access="mobile")
    assert response.status_code == 201
    assert (response.json()["country"], response.json()["subdivision"]) == ("TH", "TH-10")
    bare = register(live, subdivision=None, city=None)
    assert bare.status_code == 201
    assert (bare.json()["subdivision"], bare.json()["city"]) == (None, None)


@pytest.mark.parametrize("token", [None, "wrong-admin-token", "enr_abc.def"])
def test_registration_needs_a_valid_token(live: LiveServer, token: str | None,
                                          settings: Any) -> None:
    with live.client(token=token) as client:
        response = client.post("/v1/probes", json={"country": "MM", "access": "fixed"})
    assert response.status_code == 401
    assert response.json()["detail"]


def test_a_two_use_enrollment_token_registers_two_probes(live: LiveServer, settings: Any) -> None:
    token = issue(live, label="Bago volunteers", max_uses=2)
    # A wrong secret for the right id uses nothing up.
    ident = token.split(".", 1)[0]
    assert register(live, token=f"{ident}.{'x' * 43}").status_code == 401
    assert register(live, token=token).status_code == 201
    assert register(live, token=token).status_code == 201
    third = register(live, token=token)
    assert third.status_code == 401
    assert "used-up" in third.json()["detail"]
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT uses, max_uses FROM enrollment_tokens").fetchone() == (2, 2)
        assert conn.execute("SELECT count(*) FROM probes WHERE enrolled_by = %s",
                            (ident,)).fetchone() == (2,)
        stored = conn.execute("SELECT token_hash FROM enrollment_tokens").fetchone()
    assert stored == (hashlib.sha256(token.split(".", 1)[1].encode()).hexdigest(),)


def test_an_expired_enrollment_token_is_refused(live: LiveServer, settings: Any) -> None:
    token = issue(live, max_uses=None)
    assert register(live, token=token).status_code == 201
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE enrollment_tokens SET expires_at = now() - interval '1 second'")
    assert register(live, token=token).status_code == 401


def test_a_single_use_token_registers_once_under_concurrency(
    live: LiveServer, settings: Any
) -> None:
    token = issue(live, max_uses=1)
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(lambda _: register(live, token=token).status_code, range(6)))
    assert statuses == [201, 401, 401, 401, 401, 401]


def test_enrollment_tokens_are_for_the_operator_only(live: LiveServer) -> None:
    token = issue(live)
    with live.client(token=token) as client:
        assert client.post("/v1/enrollment-tokens", json={}).status_code == 401
    with live.client() as client:
        assert client.post("/v1/enrollment-tokens", json={}).status_code == 401
    with live.client(token=ADMIN_TOKEN) as client:
        refused = client.post("/v1/enrollment-tokens", json={"max_uses": 0})
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("max_uses:")


def test_the_operator_revokes_tokens_and_disables_probes(live: LiveServer, settings: Any) -> None:
    token = issue(live, max_uses=None)
    ident = token.split(".", 1)[0]
    probe = register(live, token=token).json()
    with live.client(token=token) as client:
        assert client.delete(f"/v1/enrollment-tokens/{ident}").status_code == 401
    with live.client(token=ADMIN_TOKEN) as admin:
        assert admin.delete(f"/v1/enrollment-tokens/{ident}").status_code == 204
        assert admin.delete("/v1/enrollment-tokens/enr_nothing").status_code == 404
    assert register(live, token=token).status_code == 401
    with live.client(token=probe["token"]) as client:
        assert client.get("/v1/checkin").status_code != 401  # still a valid probe
    with live.client(token=ADMIN_TOKEN) as admin:
        assert admin.delete(f"/v1/probes/{probe['probe_id']}").status_code == 204
        assert admin.delete("/v1/probes/p-nobody").status_code == 404
    with live.client(token=probe["token"]) as client:
        refused = client.get("/v1/checkin")
        listed = client.get("/v1/probes").json()
    assert refused.status_code == 401
    assert listed == []
