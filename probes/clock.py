"""The probe's clock state: is the OS clock synchronised, and how far from the collector's.

Synchronisation comes from the kernel (adjtimex, read-only call): NTP daemons such as
systemd-timesyncd or chrony clear STA_UNSYNC when they discipline the clock. The offset to the
collector is measured on each acknowledged upload (the midpoint of the request against the
collector's ``server_time``), so the detector can correct a Pi without a real-time clock.
"""

from __future__ import annotations

import ctypes
from datetime import datetime

TIME_ERROR = 5  # adjtimex() return value: the clock is not synchronised
STA_UNSYNC = 0x40


def clock_synced() -> bool | None:
    """True/False from the kernel, None where it cannot be asked."""
    try:
        # The process's own symbols, as probes.agent and probes.main reach glibc:
        # find_library() would run ldconfig in a subprocess on every batch.
        libc = ctypes.CDLL(None)
        # struct timex is ~208 bytes; modes = 0 (first field) makes the call read-only.
        buffer = ctypes.create_string_buffer(512)
        state = libc.adjtimex(buffer)
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    status = int.from_bytes(buffer.raw[_STATUS_OFFSET:_STATUS_OFFSET + 4], "little")
    return state != TIME_ERROR and not status & STA_UNSYNC


# struct timex on Linux/glibc: unsigned int modes (padded to a long); long offset, freq,
# maxerror, esterror; int status: status sits 5 longs in, on 64-bit and 32-bit (armhf) alike.
_STATUS_OFFSET = 8 * 5 if ctypes.sizeof(ctypes.c_long) == 8 else 4 * 5


def offset_ms(sent: datetime, received: datetime, server_time: datetime) -> float:
    """Probe clock minus collector clock, taking the request's midpoint as the server's moment."""
    midpoint = sent + (received - sent) / 2
    return round((midpoint - server_time).total_seconds() * 1000, 3)
