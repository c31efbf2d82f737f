"""How a result is stored in the spool: its wire JSON, deflated with a preset dictionary.

A result is ~400 bytes of JSON, most of it field names and vocabulary every result repeats;
a preset dictionary of those strings lets deflate reference them even in a single small
record (~2.5x smaller), which is what makes seven days offline fit in 20 MB. The first byte is
the codec version: rows stored by one release are read by the next, so the dictionary's
bytes never change under a version (any edit, even an addition, is a new VERSION; the test
pins its digest). Hence the failure strings are spelled out here, frozen, rather than taken
from ``cutwatch.failures``, which grows.
"""

from __future__ import annotations

import json
import zlib

from cutwatch.probes.records import Result

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
    # cutwatch.failures as of codec version 1, sorted
    "connection_refused", "connection_reset", "dns_bogon_error", "dns_injection_error",
    "dns_no_answer", "dns_nxdomain_error", "dns_refused_error", "dns_server_failure",
    "eof_error", "generic_timeout_error", "host_unreachable", "http_block_page",
    "http_request_failed", "http_too_many_redirects", "network_unreachable", "probe_error",
    "ssl_failed_handshake", "ssl_invalid_certificate", "ssl_invalid_hostname",
    "ssl_unknown_authority", "unknown_failure",
    "T00:00:00.000000Z", "127.0.0.1", "2026-",
]
ZDICT = "".join(reversed(_WORDS)).encode()  # deflate prefers matches near the data's start
VERSION = b"\x01"


def encode(result: Result) -> bytes:
    packer = zlib.compressobj(level=9, wbits=-15, zdict=ZDICT)
    return VERSION + packer.compress(result.to_json().encode()) + packer.flush()


def decode(body: bytes) -> Result:
    if body[:1] != VERSION:
        raise ValueError(f"unknown spool codec {body[:1]!r}")
    unpacker = zlib.decompressobj(wbits=-15, zdict=ZDICT)
    return Result.from_wire(json.loads(unpacker.decompress(body[1:]) + unpacker.flush()))
