"""Collector test fixtures (the helpers live in collector_helpers, importable by name)."""

from collector_helpers import geoip_db, live, settings

__all__ = ["geoip_db", "live", "settings"]
