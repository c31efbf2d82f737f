"""Socket errors -> the failure vocabulary, shared by the checks that open connections."""

from __future__ import annotations

import errno
import socket

from cutwatch.failures import Failure

_ERRNO: dict[int, Failure] = {
    errno.ECONNREFUSED: "connection_refused",
    errno.ECONNRESET: "connection_reset",
    errno.ECONNABORTED: "connection_reset",
    errno.EPIPE: "connection_reset",
    errno.ETIMEDOUT: "generic_timeout_error",
    errno.EHOSTUNREACH: "host_unreachable",
    errno.EHOSTDOWN: "host_unreachable",
    errno.ENETUNREACH: "network_unreachable",
    errno.ENETDOWN: "network_unreachable",
    # The probe itself cannot use this family or address: no evidence about the network.
    errno.EAFNOSUPPORT: "probe_error",
    errno.EADDRNOTAVAIL: "probe_error",
}

_GAI: dict[int, Failure] = {
    socket.EAI_NONAME: "dns_nxdomain_error",
    socket.EAI_AGAIN: "generic_timeout_error",
    socket.EAI_FAIL: "dns_server_failure",
}


def classify_os_error(exc: BaseException) -> Failure:
    if isinstance(exc, TimeoutError):
        return "generic_timeout_error"
    if isinstance(exc, socket.gaierror):
        if exc.errno in (socket.EAI_NODATA, socket.EAI_ADDRFAMILY):
            return "dns_no_answer"
        return _GAI.get(exc.errno or 0, "unknown_failure")
    if isinstance(exc, OSError) and exc.errno is not None:
        return _ERRNO.get(exc.errno, "unknown_failure")
    return "unknown_failure"
