"""Serving the WSGI application on cheroot, in a thread the os-ken app owns."""

from __future__ import annotations

import threading
from typing import Any

from cheroot import wsgi


class ApiServer:
    """A threaded cheroot server; ``start`` binds at once so a busy port fails loudly."""

    def __init__(self, host: str, port: int, app: Any, threads: int = 8) -> None:
        self._server = wsgi.Server((host, port), app, numthreads=threads, server_name="tegu_ryu")
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.bind_addr[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve, name="tegu-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
