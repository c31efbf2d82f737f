"""The probe's hand parser and the collector's pydantic models accept and refuse the same
catalogues and check-in replies, with the same first error.

The collector builds its check-in replies with ``cutwatch.catalogue`` (pydantic); the probe reads
them with ``cutwatch.probes.targets`` (no pydantic, for its memory budget). A catalogue one side
takes and the other refuses would be a probe that silently stops measuring, so every row of the
table below, and every field of every kind set to every value of a list of wrong ones, goes
through both.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest
from pydantic import ValidationError

from cutwatch import catalogue as models
from cutwatch.probes import targets as plain
from cutwatch.probes.config import UNION_TAGS
from cutwatch.probes.validate import Invalid
from cutwatch.validation import describe_errors

GOOD: dict[str, dict[str, Any]] = {
    "dns": {"kind": "dns", "name": "d", "tag": "domestic", "query": "example.org",
            "resolver": "127.0.0.1:53", "late_window": 0.5, "allow_private": True,
            "families": ["ipv4"], "timeout": 2, "group": "service"},
    "tcp": {"kind": "tcp", "name": "t", "tag": "international", "host": "h", "port": 443,
            "payload": "GET /", "linger": 0},
    "http": {"kind": "http", "name": "h", "tag": "lan", "url": "https://x/", "max_body": 0,
             "expect_status": [200, 204], "block_patterns": ["blocked.*"],
             "expect_size": 100_000, "ca_file": "/etc/ca.pem"},
    "gateway": {"kind": "gateway", "name": "g", "tag": "lan", "address": "192.0.2.1",
                "ports": [53]},
    "icmp": {"kind": "icmp", "name": "i", "tag": "lan", "host": "h", "count": 10},
    "traceroute": {"kind": "traceroute", "name": "r", "tag": "lan", "host": "h",
                   "max_hops": 64},
}

# Values each field is set to in turn: wrong types, edges of every bound, lax coercions.
WRONG: list[Any] = [None, "", "x", "5", "1.5", "true", "yes", 0, 1, -1, 0.5, 5.0, 61, 65536,
                    True, False, float("nan"), float("inf"), [], ["ipv4", "ipv5"], ["ipv6"],
                    [1, "2"], ["("], {}, "a" * 300, "http://x", "ftp://x", "@bad", 0.0, 1.0,
                    [0.5], [1.0], "  7 ", "TRUE", "0x10", "1_000", "\uff11", "1e3"]

TABLE: list[tuple[str, Any]] = [
    ("empty", {}),
    ("every kind", {"targets": list(GOOD.values()),
                    "block_pages": [{"name": "b", "pattern": "p"}]}),
    ("defaults only", {"targets": [{"kind": "tcp", "name": "t", "tag": "lan", "host": "h",
                                    "port": 1}]}),
    ("unknown section", {"targets": [], "schedule": {}}),
    ("not a mapping", ["targets"]),
    ("targets not a list", {"targets": {"kind": "tcp"}}),
    ("target not a mapping", {"targets": ["tcp"]}),
    ("no kind", {"targets": [{"name": "t"}]}),
    ("unknown kind", {"targets": [{"kind": "smtp", "name": "t"}]}),
    ("kind not a string", {"targets": [{"kind": 3, "name": "t"}]}),
    ("missing fields", {"targets": [{"kind": "tcp"}]}),
    ("extra field", {"targets": [GOOD["icmp"] | {"colour": "red"}]}),
    ("two errors", {"targets": [GOOD["tcp"] | {"port": 0, "linger": 9}]}),
    ("errors in two targets", {"targets": [GOOD["tcp"] | {"port": 0},
                                           GOOD["dns"] | {"query": ""}]}),
    ("bad block pattern", {"targets": [GOOD["http"] | {"block_patterns": ["ok", "(x"]}]}),
    ("empty families", {"targets": [GOOD["dns"] | {"families": []}]}),
    ("empty ports", {"targets": [GOOD["gateway"] | {"ports": []}]}),
    ("block page without pattern", {"block_pages": [{"name": "b"}]}),
    ("block page name too long", {"block_pages": [{"name": "b" * 65, "pattern": "p"}]}),
    ("block page extra", {"block_pages": [{"name": "b", "pattern": "p", "x": 1}]}),
]


def _plain(data: Any) -> tuple[str, Any]:
    try:
        return "ok", json.loads(json.dumps(asdict(plain.parse_catalogue(data))))
    except Invalid as exc:
        return "refused", describe_errors(exc.errors, skip=UNION_TAGS)


def _pydantic(data: Any) -> tuple[str, Any]:
    try:
        return "ok", models.Catalogue.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        return "refused", describe_errors(exc.errors(), skip=UNION_TAGS)


@pytest.mark.parametrize(("case", "data"), TABLE, ids=[c for c, _ in TABLE])
def test_the_table_is_read_alike(case: str, data: Any) -> None:
    assert _plain(data) == _pydantic(data)


def test_the_table_has_both_outcomes() -> None:
    outcomes = {_pydantic(data)[0] for _, data in TABLE}
    assert outcomes == {"ok", "refused"}


def test_every_field_of_every_kind_with_every_wrong_value() -> None:
    checked = 0
    seen: set[str] = set()
    mismatched = []
    for kind, good in GOOD.items():
        fields = set(good) | {"extra"}
        for field in sorted(fields - {"kind"}):
            for value in WRONG:
                data = {"targets": [good | {field: value}]}
                ours, theirs = _plain(data), _pydantic(data)
                seen.add(theirs[0])
                checked += 1
                if ours != theirs:
                    mismatched.append((kind, field, value, ours, theirs))
    assert seen == {"ok", "refused"}  # the list holds values both taken and refused
    assert checked > 1000
    assert mismatched == []


@pytest.mark.parametrize("body", [
    {"server_time": "2026-12-02T01:00:00Z"},
    {"server_time": "2026-12-02T03:00:00+02:00", "unknown": 1,
     "catalogue": {"targets": [GOOD["tcp"]]}, "schedule": {"pulse": 30}},
    {"server_time": "2026-12-02T01:00:00"},
    {"server_time": "yesterday"},
    {"server_time": 1700000000},
    {"server_time": "2026-12-02T01:00:00Z", "catalogue": []},
    {"catalogue": {}},
    {"server_time": "2026-12-02T01:00:00Z", "schedule": {"pulse": 1}},
    {"server_time": "2026-12-02T01:00:00Z", "schedule": {"nap": 1}},
    {"server_time": "2026-12-02T01:00:00Z", "catalogue": {"targets": [{"kind": "x"}]}},
    [],
])
def test_a_checkin_reply_is_read_alike(body: Any) -> None:
    # A refused reply is only logged by the probe: the same field is named, while the
    # wording of a bad date-time is pydantic's parser's own (``input is too short``, ...).
    text = json.dumps(body)
    ours: tuple[str, Any]
    theirs: tuple[str, Any]
    try:
        ours = ("ok", json.loads(json.dumps(asdict(plain.parse_checkin_reply(text)),
                                            default=str)))
    except Invalid as exc:
        ours = ("refused", describe_errors(exc.errors).partition(": Input should be a valid "
                                                                 "datetime")[0])
    try:
        model = models.CheckinReply.model_validate_json(text)
        theirs = ("ok", json.loads(json.dumps(model.model_dump(), default=str)))
    except ValidationError as exc:
        theirs = ("refused", describe_errors(exc.errors()).partition(": Input should be a "
                                                                    "valid datetime")[0])
    assert ours == theirs


def test_the_probe_reads_the_reply_the_collector_writes() -> None:
    reply = models.CheckinReply.model_validate({
        "server_time": "2026-12-02T01:00:00Z",
        "catalogue": {"targets": list(GOOD.values()),
                      "block_pages": [{"name": "b", "pattern": "p"}]},
        "schedule": {"pulse": 30}})
    read = plain.parse_checkin_reply(reply.model_dump_json())
    assert json.loads(json.dumps(asdict(read), default=str)) == json.loads(
        json.dumps(reply.model_dump(), default=str))
    # What the probe saves (its copy on disk) reads back the same.
    assert plain.parse_checkin_reply(read.to_json()) == read
