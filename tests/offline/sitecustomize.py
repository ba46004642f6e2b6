"""Switch the network off for this Python process: only loopback and Unix sockets work.

Python imports ``sitecustomize`` at startup from ``sys.path``, so putting this folder first on
``PYTHONPATH`` guards a process and every Python process it starts with that environment: the
Sphinx build and the Jupyter kernels it launches (they talk to Sphinx over loopback, which stays
allowed). Connecting to any other address, or resolving any name other than ``localhost``,
raises :class:`NetworkDisabled` before anything is sent.

If ``GRADMODES_NETLOG`` names a file, each guarded process appends ``on <its command line>``
to it, and every refused attempt ``refused <what>``: a test reads it to see that the guard
was on everywhere and that nothing tried the network, even where the error was swallowed.
``REAL`` holds the functions the guard wraps; a test may replace them to prove that a refused
call never reaches them. Being first on the path, this module hides any other
``sitecustomize`` of the environment from the guarded processes.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from typing import Any

LOG = os.environ.get("GRADMODES_NETLOG", "")
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
REAL: dict[str, Any] = {
    "connect": socket.socket.connect,
    "connect_ex": socket.socket.connect_ex,
    "sendto": socket.socket.sendto,
    "getaddrinfo": socket.getaddrinfo,
    "gethostbyname": socket.gethostbyname,
    "gethostbyname_ex": socket.gethostbyname_ex,
}


class NetworkDisabled(OSError):
    """A network access outside this machine, refused."""


def _log(line: str) -> None:
    if LOG:
        with open(LOG, "a", encoding="utf-8") as handle:
            handle.write(f"{line}\n")


def is_local(host: object) -> bool:
    """Whether ``host`` is this machine's loopback: ``localhost``, 127.0.0.0/8 or ::1."""
    if host in (None, "") or (isinstance(host, str) and host.lower() in LOCAL_NAMES):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: Any, what: str) -> None:
    if sock.family == getattr(socket, "AF_UNIX", None):
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if sock.family in (socket.AF_INET, socket.AF_INET6) and is_local(host):
        return
    _log(f"refused {what} {address!r}")
    raise NetworkDisabled(f"the network is switched off for this build: {what} {address!r}")


def connect(sock: socket.socket, address: Any) -> None:
    _check(sock, address, "connect to")
    return REAL["connect"](sock, address)


def connect_ex(sock: socket.socket, address: Any) -> int:
    _check(sock, address, "connect to")
    return REAL["connect_ex"](sock, address)


def sendto(sock: socket.socket, data: Any, *args: Any) -> int:
    _check(sock, args[-1], "send to")
    return REAL["sendto"](sock, data, *args)


def _resolver(name: str) -> Any:
    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local(host) and not _is_address(host):
            _log(f"refused {name} {host!r}")
            raise NetworkDisabled(f"the network is switched off for this build: {name} {host!r}")
        return REAL[name](host, *args, **kwargs)

    return resolve


def _is_address(host: object) -> bool:
    """A numeric address needs no name lookup (connecting to it is checked separately)."""
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host))
    except ValueError:
        return False
    return True


socket.socket.connect = connect  # type: ignore[method-assign]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
socket.socket.sendto = sendto  # type: ignore[method-assign, assignment]
socket.getaddrinfo = _resolver("getaddrinfo")
socket.gethostbyname = _resolver("gethostbyname")
socket.gethostbyname_ex = _resolver("gethostbyname_ex")
_log("on " + " ".join(sys.orig_argv))
