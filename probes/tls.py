"""One TLS context per CA bundle for the whole probe: uploads, check-in and HTTP checks.

The OS trust store is used as a hashed directory (``/etc/ssl/certs`` on Debian and Raspberry
Pi OS): OpenSSL then loads only the roots a handshake needs, where reading a whole bundle
(certifi's ~150 roots) costs ~1.5 MB of RAM and ~0.1 s of CPU on a Pi. certifi is the fallback
where the OS has no such directory. Each context is built once and cached.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

import certifi

OS_CA_DIR = Path("/etc/ssl/certs")


@functools.lru_cache(maxsize=8)
def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The trusted roots, plus ``ca_file`` (a private or lab CA) when given."""
    if any(OS_CA_DIR.glob("*.0")):  # c_rehash links: lookups by subject hash work
        context = ssl.create_default_context(capath=str(OS_CA_DIR))
    else:
        context = ssl.create_default_context(cafile=certifi.where())
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context
