"""The shell around ``ip netns``: run a command in a namespace, or move one thread into it.

Moving a thread (``setns``) lets the drill's own HTTP client and webhook receiver live in the
collector's namespace without any link to the machine's real network: sockets belong to the
namespace of the thread that created them.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"


class NetnsUnavailable(Exception):
    """This machine cannot run the drill (not root, no ``ip``, namespaces refused)."""


def check_available(*, nft: bool = False) -> None:
    """Raise ``NetnsUnavailable`` with one line saying why the drill cannot run here."""
    if os.geteuid() != 0:
        raise NetnsUnavailable("the drill needs root (it creates network namespaces)")
    if shutil.which("ip") is None:
        raise NetnsUnavailable("the drill needs iproute2's 'ip' command")
    if shutil.which("tc") is None:
        raise NetnsUnavailable("the drill needs iproute2's 'tc' command")
    if nft and shutil.which("nft") is None:
        raise NetnsUnavailable("the service-block scenarios need nftables: "
                               "apt-get install nftables")
    probe = "cwdrill-check"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise NetnsUnavailable(f"'ip netns add' failed: {done.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)


def ip(*args: str) -> str:
    """Run ``ip ARGS``; a failure raises with ip's own message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def in_ns(ns: str, *argv: str, check: bool = True, stdin: str | None = None) -> str:
    """Run a short command inside namespace ``ns`` and return its output."""
    done = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                          check=False, input=stdin)
    if check and done.returncode != 0:
        raise RuntimeError(f"[{ns}] {' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def namespaces() -> list[str]:
    """Names of the named network namespaces (``ip netns list``)."""
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def enter(ns: str) -> None:
    """Move the calling thread into namespace ``ns`` (only this thread, for good)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({ns}): {os.strerror(errno)}")
    finally:
        os.close(fd)


class NsThread:
    """One worker thread living in a namespace; ``call(f)`` runs ``f`` there and waits."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"netns-{ns}",
                                        initializer=enter, initargs=(ns,))

    def call(self, fn: Callable[[], T]) -> T:
        return self._pool.submit(fn).result()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        return self._pool.submit(fn)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
