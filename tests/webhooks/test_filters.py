"""The filter vocabulary as a table: (filter, transition, already told?) -> delivered?"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cutwatch.api.webhooks.filters import Filters, matches

from .factory import transition

MM = {"type": "country", "code": "MM", "name": "Myanmar"}
MM07 = {"type": "subdivision", "code": "MM-07", "name": "Bago"}
MM_CITY = {"type": "city", "code": "MM-07/Bago", "name": "Bago"}
MM_CITY_NO_SUB = {"type": "city", "code": "MM/Yangon", "name": "Yangon"}
AS9988 = {"type": "asn", "code": "AS9988", "name": "AS9988", "asn": 9988}
AS9988_MM07 = {"type": "asn_subdivision", "code": "AS9988/MM-07", "name": "x", "asn": 9988}
AS1_MM07 = {"type": "asn_subdivision", "code": "AS1/MM-07", "name": "x", "asn": 1}
IR = {"type": "country", "code": "IR", "name": "Iran"}
MM_MOBILE = {"type": "country", "code": "MM", "name": "Myanmar", "access": "mobile"}
BARE_ASN_SUB = {"type": "asn_subdivision", "code": "AS9988/MM-07", "name": "x"}  # no "asn" key


def country(code: str, children: bool) -> dict[str, Any]:
    return {"entities": [{"type": "country", "code": code, "children": children}]}


ROWS: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], bool, bool]] = [
    # name, filter, entity, transition overrides, already told, expected
    ("no filter takes all", {}, IR, {}, False, True),
    ("country exact", country("MM", False), MM, {}, False, True),
    ("country lower-case code", country("mm", False), MM, {}, False, True),
    ("country without children skips its subdivision", country("MM", False), MM07, {}, False,
     False),
    ("country with children: subdivision", country("MM", True), MM07, {}, False, True),
    ("country with children: city", country("MM", True), MM_CITY, {}, False, True),
    ("country with children: city without subdivision", country("MM", True), MM_CITY_NO_SUB,
     {}, False, True),
    ("country with children: asn_subdivision", country("MM", True), AS9988_MM07, {}, False,
     True),
    ("country with children: not an ASN (may span countries)", country("MM", True), AS9988, {},
     False, False),
    ("other country", country("MM", True), IR, {}, False, False),
    ("access-scoped country event", country("MM", False), MM_MOBILE, {}, False, True),
    ("subdivision exact", {"entities": [{"type": "subdivision", "code": "MM-07"}]}, MM07, {},
     False, True),
    ("subdivision with children: city",
     {"entities": [{"type": "subdivision", "code": "MM-07", "children": True}]}, MM_CITY, {},
     False, True),
    ("subdivision without children: city",
     {"entities": [{"type": "subdivision", "code": "MM-07"}]}, MM_CITY, {}, False, False),
    ("city exact", {"entities": [{"type": "city", "code": "MM-07/Bago"}]}, MM_CITY, {}, False,
     True),
    ("asn exact, number form", {"entities": [{"type": "asn", "code": "9988"}]}, AS9988, {},
     False, True),
    ("asn without children skips asn_subdivision",
     {"entities": [{"type": "asn", "code": "AS9988"}]}, AS9988_MM07, {}, False, False),
    ("asn with children: its asn_subdivision",
     {"entities": [{"type": "asn", "code": "AS9988", "children": True}]}, AS9988_MM07, {},
     False, True),
    ("asn with children: asn from the code alone",
     {"entities": [{"type": "asn", "code": "AS9988", "children": True}]}, BARE_ASN_SUB, {},
     False, True),
    ("asn with children: another ASN's",
     {"entities": [{"type": "asn", "code": "AS9988", "children": True}]}, AS1_MM07, {}, False,
     False),
    ("any of several entities", {"entities": [{"type": "country", "code": "IR"},
                                              {"type": "asn", "code": "AS9988"}]}, AS9988, {},
     False, True),
    ("kind listed", {"kinds": ["blackout", "throttling"]}, MM, {}, False, True),
    ("kind not listed", {"kinds": ["service_block"]}, MM, {}, False, False),
    ("suspected passes min suspected", {"min_status": "suspected"}, MM, {}, False, True),
    ("suspected fails min confirmed", {"min_status": "confirmed"}, MM, {}, False, False),
    ("confirmed passes min confirmed", {"min_status": "confirmed"}, MM,
     {"status": "confirmed"}, False, True),
    ("confidence below minimum", {"min_confidence": 0.95}, MM, {"confidence": 0.9}, False,
     False),
    ("confidence at minimum", {"min_confidence": 0.9}, MM, {"confidence": 0.9}, False, True),
    ("resolved, never told", {}, MM, {"status": "resolved", "action": "resolved"}, False,
     False),
    ("resolved, told before", {"min_status": "confirmed"}, MM,
     {"status": "resolved", "action": "resolved"}, True, True),
    ("retracted, told before", {}, MM, {"status": "retracted", "action": "retracted"}, True,
     True),
    ("kind revised after being told", {"kinds": ["blackout"]}, MM,
     {"kind": "power_outage", "action": "updated"}, True, True),
]


@pytest.mark.parametrize(("name", "wanted", "entity", "changes", "told", "expected"), ROWS,
                         ids=[row[0] for row in ROWS])
def test_filter_table(name: str, wanted: dict[str, Any], entity: dict[str, Any],
                      changes: dict[str, Any], told: bool, expected: bool) -> None:
    action = changes.pop("action", "opened")
    item = transition(action, entity=entity, **changes)
    assert matches(Filters.model_validate(wanted), item, already_told=told) is expected, name


@pytest.mark.parametrize("bad", [
    {"entities": [{"type": "planet", "code": "X"}]},
    {"entities": [{"type": "country", "code": ""}]},
    {"kinds": ["earthquake"]},
    {"min_status": "resolved"},
    {"min_confidence": 1.5},
    {"countries": ["MM"]},
])
def test_bad_filters_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Filters.model_validate(bad)
