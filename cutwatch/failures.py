"""The closed failure vocabulary: what a check may say went wrong, written down once.

Strings follow OONI's where the two overlap, so measurements read the same in both worlds.
``probe_error`` is apart from the rest: the probe itself could not measure (no interface, no
route, clock unset, capability missing), which must never count as evidence of a shutdown.
"""

from typing import Final, Literal, get_args

Failure = Literal[
    # transport
    "connection_refused",  # RST in answer to SYN: the host is up, the port is closed
    "connection_reset",  # RST on an established connection (a classic censorship signature)
    "generic_timeout_error",  # nothing came back in time
    "host_unreachable",  # EHOSTUNREACH / ICMP host unreachable
    "network_unreachable",  # ENETUNREACH: no route beyond this point
    "eof_error",  # the peer closed the connection before the exchange ended
    # DNS
    "dns_nxdomain_error",  # the name does not exist (rcode 3)
    "dns_server_failure",  # SERVFAIL (rcode 2)
    "dns_refused_error",  # REFUSED (rcode 5)
    "dns_no_answer",  # NOERROR but no record of the asked type
    "dns_bogon_error",  # an answer in private, loopback or unspecified space: injection
    "dns_injection_error",  # more than one reply, or a reply from an address not asked
    # TLS
    "ssl_invalid_hostname",  # certificate valid but for another name
    "ssl_unknown_authority",  # certificate chain does not lead to a trusted root
    "ssl_invalid_certificate",  # expired, not yet valid, malformed
    "ssl_failed_handshake",  # handshake broken off (often SNI filtering)
    # HTTP
    "http_block_page",  # the body matched a known block-page fingerprint
    "http_too_many_redirects",
    "http_request_failed",  # a status the target is not expected to answer with
    # catch-all for network failures this list does not know yet
    "unknown_failure",
    # the probe could not measure at all: never evidence of a shutdown
    "probe_error",
]

FAILURES: Final[frozenset[str]] = frozenset(get_args(Failure))

# Failures that say nothing about the network beyond the probe.
NOT_NETWORK: Final[frozenset[str]] = frozenset({"probe_error"})
