"""How a result is stored in the spool: its wire JSON, deflated with a preset dictionary.

A result is ~400 bytes of JSON, most of it field names and vocabulary every result repeats;
a preset dictionary of those strings lets deflate reference them even in a single small
record (~2.5x smaller), which is what makes seven days offline fit in 20 MB. The first byte is
the codec version: the dictionary must never change under stored rows, only be added to.
"""

from __future__ import annotations

import zlib

from cutwatch.failures import FAILURES
from cutwatch.wire import Result

_WORDS = [
    '{"id":"', '","kind":"', '","target":"', '","scope":"', '","family":"',
    '","measured_at":"', '","duration_ms":', ',"ok":true,"failure":null,"details":{',
    ',"ok":false,"failure":"', '","details":{', "international", "domestic", "lan",
    "ipv4", "ipv6", "dns", "tcp", "http", "gateway", "icmp", "traceroute",
    '"resolver":"', '","query":"', '","qtype":"A"', '","qtype":"AAAA"', ',"rcode":0',
    ',"answers":[{"name":"', '","type":1,"ttl":', '","type":28,"ttl":', ',"data":"',
    '"}],"replies":1,"rtt_ms":', '"host":"', '","port":', ',"address":"', '","connect_ms":',
    ',"eof":false}', '"url":"', '","status":200,"redirects":0,"body_size":',
    ',"body_sha256":"', '","truncated":false,"timings":{"connect_ms":', ',"tls_ms":',
    ',"ttfb_ms":', ',"total_ms":', ',"phase":"', '","error":"', '"gateway":"', '","ports":{"',
    '":"open"', ',"rtt_ms":', "connect", "tls_handshake", "Z\",\"duration_ms\":",
    *sorted(FAILURES), "T00:00:00.000000Z", "127.0.0.1", "2026-",
]
ZDICT = "".join(reversed(_WORDS)).encode()  # deflate prefers matches near the data's start
VERSION = b"\x01"


def encode(result: Result) -> bytes:
    packer = zlib.compressobj(level=9, wbits=-15, zdict=ZDICT)
    return VERSION + packer.compress(result.model_dump_json().encode()) + packer.flush()


def decode(body: bytes) -> Result:
    if body[:1] != VERSION:
        raise ValueError(f"unknown spool codec {body[:1]!r}")
    unpacker = zlib.decompressobj(wbits=-15, zdict=ZDICT)
    return Result.model_validate_json(unpacker.decompress(body[1:]) + unpacker.flush())
