"""Public reads never show a group of fewer than min_publishable_probes probes (api.publish);
the operator sees everything and can turn the public list off. A trusted proxy's garbage
X-Forwarded-For does not clear a probe's network."""

from __future__ import annotations

from typing import Any

from collector_helpers import (
    ABROAD_ADDRESS,
    ABROAD_ASN,
    ADMIN_TOKEN,
    HOME_ADDRESS,
    HOME_ASN,
    LiveServer,
    make_batch,
    new_probe,
)

from cutwatch.api.publish import Counts, generalise
from cutwatch.api.settings import Settings


def public(live: LiveServer) -> dict[str, dict[str, Any]]:
    with live.client() as client:
        response = client.get("/v1/probes")
    assert response.status_code == 200, response.text
    return {p["id"]: p for p in response.json()}


def upload(live: LiveServer, probe_id: str, token: str, source: str = HOME_ADDRESS,
           headers: dict[str, str] | None = None, seq: int = 1) -> None:
    with live.client(source, token) as client:
        response = client.post("/v1/batches", json=make_batch(probe_id, 1, seq=seq),
                               headers=headers or {})
    assert response.status_code == 200, response.text


def test_small_groups_are_generalised_away(live: LiveServer) -> None:
    yangon = [new_probe(live, subdivision="MM-06", city="Yangon", name=f"y{i}")
              for i in range(3)]
    bago = new_probe(live, subdivision="MM-07", city="Bago", name="lonely")
    lone_thai = new_probe(live, country="TH", subdivision=None, city="Chiang Mai")
    for probe_id, token in [*yangon, bago]:
        upload(live, probe_id, token)
    listed = public(live)
    assert lone_thai[0] not in listed  # alone in its country: not published at all
    assert set(listed) == {p[0] for p in [*yangon, bago]}
    for probe_id, _ in yangon:
        assert (listed[probe_id]["subdivision"], listed[probe_id]["city"]) == ("MM-06", "Yangon")
        assert listed[probe_id]["asn"] == HOME_ASN  # four probes on that network in MM
        assert listed[probe_id]["name"] is None  # a volunteer's own words are never public
    assert (listed[bago[0]]["subdivision"], listed[bago[0]]["city"]) == (None, None)
    assert listed[bago[0]]["country"] == "MM"
    with live.client() as client:
        assert client.get(f"/v1/probes/{lone_thai[0]}/results").status_code == 404
        assert client.get(f"/v1/probes/{bago[0]}/results").status_code == 200
    # The operator sees every probe with every field.
    with live.client(token=ADMIN_TOKEN) as admin:
        full = {p["id"]: p for p in admin.get("/v1/probes").json()}
        assert admin.get(f"/v1/probes/{lone_thai[0]}/results").status_code == 200
    assert full[bago[0]]["city"] == "Bago"
    assert full[lone_thai[0]]["name"] is None
    assert full[yangon[0][0]]["name"] == "y0"


def test_the_operator_can_turn_the_public_list_off(settings: Settings) -> None:
    with LiveServer(settings.model_copy(update={"public_probe_list": False})) as live:
        probe_id, _ = new_probe(live)
        with live.client() as client:
            off = client.get("/v1/probes")
        with live.client(token=ADMIN_TOKEN) as admin:
            assert [p["id"] for p in admin.get("/v1/probes").json()] == [probe_id]
    assert off.status_code == 404
    assert off.json() == {"detail": "the public probe list is turned off by the operator"}


def test_the_minimum_is_a_setting(settings: Settings) -> None:
    with LiveServer(settings.model_copy(update={"min_publishable_probes": 1})) as live:
        probe_id, _ = new_probe(live, city="Bago")
        assert public(live)[probe_id]["city"] == "Bago"


def test_counts_are_per_group_not_per_name() -> None:
    from cutwatch.api.probes_read import ProbeView

    def view(ident: str, city: str | None, asn: int | None) -> ProbeView:
        return ProbeView.model_validate({
            "id": ident, "name": "n", "country": "MM", "subdivision": "MM-07", "city": city,
            "access": "fixed", "asn": asn, "network_mismatch": False,
            "registered_at": "2026-01-01T00:00:00Z", "last_seen_at": None, "status": "silent"})

    views = [view("a", "Bago", 1), view("b", "Bago", 1), view("c", "Pyay", 2)]
    counts = Counts.of(views, 2)
    shown = [generalise(v, counts) for v in views]
    assert [(v.subdivision, v.city, v.asn, v.name) for v in shown] == [
        ("MM-07", "Bago", 1, None), ("MM-07", "Bago", 1, None), ("MM-07", None, None, None)]


def test_forwarded_for_garbage_keeps_the_probes_network(settings: Settings) -> None:
    trusting = settings.model_copy(update={"forwarded_allow_ips": HOME_ADDRESS})
    with LiveServer(trusting) as live:
        probe_id, token = new_probe(live)
        upload(live, probe_id, token, seq=1)
        with live.client(token=ADMIN_TOKEN) as admin:
            assert admin.get("/v1/probes").json()[0]["asn"] == HOME_ASN
        upload(live, probe_id, token, headers={"X-Forwarded-For": "garbage"}, seq=2)
        with live.client(token=ADMIN_TOKEN) as admin:
            assert admin.get("/v1/probes").json()[0]["asn"] == HOME_ASN
        # Positive control: a real forwarded address does move the probe.
        upload(live, probe_id, token, headers={"X-Forwarded-For": ABROAD_ADDRESS}, seq=3)
        with live.client(token=ADMIN_TOKEN) as admin:
            assert admin.get("/v1/probes").json()[0]["asn"] == ABROAD_ASN
