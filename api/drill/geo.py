"""The drill's GeoIP database: each ISP's probe LAN mapped to its ASN and country.

Written as a real MMDB file (``mmdb-writer``), so the collector derives each probe's network
from its source address through ``cutwatch.api.geo`` exactly as in production.
"""

from __future__ import annotations

from pathlib import Path

from cutwatch.api.drill.topology import Plan


def write_geoip(layout: Plan, path: Path) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=4, database_type="Cutwatch-Drill-ASN-Country")
    for place in layout.places:
        for isp, lan in zip(place.country.isps, place.isp_lans, strict=True):
            writer.insert_network(IPSet([lan]), {
                "autonomous_system_number": isp.asn,
                "autonomous_system_organization": f"Drill ISP AS{isp.asn}",
                "country": {"iso_code": place.country.code},
            })
    writer.to_db_file(str(path))
    return path
