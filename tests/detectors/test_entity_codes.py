"""Entity codes are written and read in one place (detectors/codes.py): every code the
detector writes for a probe reads back as the place, network and city the probe declared."""

from __future__ import annotations

import pytest

from cutwatch.detectors import codes
from cutwatch.detectors.model import ProbeInfo


@pytest.mark.parametrize("info", [
    ProbeInfo("p", "MM", "MM-07", "Bago", 9988, "mobile"),
    ProbeInfo("p", "MM", None, "Yangon", 64500, None),
    ProbeInfo("p", "US", None, None, 20001, None),
])
def test_every_written_code_reads_back(info: ProbeInfo) -> None:
    for key, _ in info.entities():
        parts = codes.parse(key.type, key.code)
        if key.type in ("asn", "asn_subdivision"):
            assert parts.asn == info.asn
        if key.type in ("subdivision", "asn_subdivision") or (
                key.type == "city" and info.subdivision):
            assert parts.subdivision == info.subdivision
        if key.type != "asn":
            assert parts.country == info.country
        if key.type == "city":
            assert parts.city == info.city
        assert codes.parse_ref(f"{key.type}:{key.code}") == (key.type, key.code)


def test_references_and_networks() -> None:
    assert codes.parse_ref("MM-07") == (None, "MM-07")
    assert codes.parse_ref("city:MM-07/Bago") == ("city", "MM-07/Bago")
    assert [codes.parse_asn(t) for t in ("AS9988", "as9988", " 9988 ", "AS", "9988x")] == [
        9988, 9988, 9988, None, None]
    assert codes.parse("asn_subdivision", "AS9988") == codes.Parts(asn=9988)
