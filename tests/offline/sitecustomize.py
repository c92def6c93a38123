"""Block network access for every Python process started with this folder on PYTHONPATH.

`make test` runs nbval with it, so a notebook that reaches for the network (a dataset download,
a font or model fetched at run time) fails loudly. Loopback stays open: Jupyter kernels talk to
their client over 127.0.0.1.
"""

import ipaddress
import socket

_connect = socket.socket.connect


class NetworkBlockedError(OSError):
    pass


def _loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _loopback(address):
        raise NetworkBlockedError(f"network access blocked during tests: connect to {address!r}")
    return _connect(self, address)


socket.socket.connect = _guarded_connect
