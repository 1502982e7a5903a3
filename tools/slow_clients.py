"""Silent and trickling connections: the clients a hardened API server must outlast.

Shared by the slow-client tests and ``bench_slow_clients.py``, so that the
figures in README come from the same clients the tests hold the server to.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

TRICKLE_EVERY = 0.2  # seconds between the bytes of a trickled header


@contextlib.contextmanager
def slow_clients(
    address: tuple[str, int], idle: int, trickling: int
) -> Iterator[tuple[list[socket.socket], list[socket.socket]]]:
    """``idle`` connections that say nothing, ``trickling`` ones that send a header byte
    every TRICKLE_EVERY seconds and never finish it; all closed on leaving."""
    silent = [socket.create_connection(address, timeout=10) for _ in range(idle)]
    slow = [socket.create_connection(address, timeout=10) for _ in range(trickling)]
    for sock in slow:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\n")
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(TRICKLE_EVERY):
            for sock in slow:
                with contextlib.suppress(OSError):  # closed by the request deadline, rightly
                    sock.sendall(b"X")

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        yield silent, slow
    finally:
        stop.set()
        feeder.join()
        for sock in silent + slow:
            sock.close()
