"""Serving the WSGI application on waitress, in a thread the os-ken app owns.

Why waitress: it reads every request (headers and body) in one event loop
and hands a worker thread only a request that has fully arrived, so a client
that connects and says nothing, or trickles a header a byte at a time, costs
a socket, not a worker. With a thread-per-connection server, eight such
clients took the whole API down, health checks included.

What a slow or hostile client meets, all in ``ServerLimits``:

* a connection idle (between requests, or before the first) for
  ``idle_timeout`` seconds is closed;
* a request must arrive whole within ``request_timeout`` seconds of its first
  byte, or the connection is closed, however steadily it trickles;
* headers larger than ``max_header_bytes`` get 431, bodies larger than
  ``max_body_bytes`` 413, before the body is read;
* at most ``connection_limit`` connections are open; more wait in the listen
  backlog (``backlog`` long) until some close.

Errors waitress answers itself (malformed requests, the limits above) are
JSON with a ``code``, like the application's own.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

_CODES = {
    400: "bad_request",
    413: "request_too_large",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
}
_MESSAGES = {
    400: "the request is not valid HTTP: {detail}",
    413: "the request body is larger than the limit of {body} bytes",
    431: "the request line and headers are larger than the limit of {header} bytes",
    501: "this server does not support that: {detail}",
}


@dataclass(frozen=True)
class ServerLimits:
    """How much any client may take of the API server; README "Limits and failure behaviour"."""

    threads: int = 8
    connection_limit: int = 1000
    backlog: int = 1024
    idle_timeout: float = 60.0
    request_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 64 * 1024


class _TimedParser(HTTPRequestParser):  # type: ignore[misc]
    """A request being received, knowing since when; refuses ambiguous message framing."""

    def __init__(self, adj: Any) -> None:
        super().__init__(adj)
        self.began = time.monotonic()

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.chunked and "CONTENT_LENGTH" in self.headers:
            # RFC 9112 6.3: a message with both is a request-smuggling attempt, or a bug.
            raise ParsingError("Content-Length given with Transfer-Encoding: chunked")


class _JsonErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's own error answers, as JSON errors like every other answer of the API."""

    def execute(self) -> None:
        error = self.request.error
        server = self.channel.server
        message = _MESSAGES.get(error.code, "{detail}").format(
            detail=error.body,
            body=server.body_limit,
            header=server.adj.max_request_header_size,
        )
        body = json.dumps(
            {"error": {"code": _CODES.get(error.code, "bad_request"), "message": message}}
        ).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):  # type: ignore[misc]
    parser_class = _TimedParser
    error_task_class = _JsonErrorTask


class _Server(TcpWSGIServer):  # type: ignore[misc]
    """waitress's server, closing connections whose request takes too long to arrive."""

    channel_class = _Channel
    request_timeout: float  # ServerLimits', set by ApiServer
    body_limit: int

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        too_old = time.monotonic() - self.request_timeout
        for channel in list(self.active_channels.values()):
            request = channel.request
            if (
                request is not None
                and not request.completed
                and not channel.requests  # never cut off an answer being served
                and request.began < too_old
            ):
                channel.will_close = True


class ApiServer:
    """The API on one address; ``start`` binds at once so a busy port fails loudly."""

    def __init__(self, host: str, port: int, app: Any, limits: ServerLimits | None = None) -> None:
        limits = limits or ServerLimits()
        self._server = _Server(
            app,
            host=host,
            port=port,
            threads=limits.threads,
            connection_limit=limits.connection_limit,
            backlog=limits.backlog,
            channel_timeout=max(1, round(limits.idle_timeout)),
            cleanup_interval=1,
            # waitress counts chunked framing too: leave room for it; the application
            # refuses a decoded body over the limit itself (wsgi.Api, same message).
            max_request_body_size=limits.max_body_bytes + limits.max_body_bytes // 8 + 4097,
            max_request_header_size=limits.max_header_bytes,
            asyncore_use_poll=True,  # select() cannot watch a descriptor numbered over 1023
            ident="tegu_ryu",
            expose_tracebacks=False,
            _start=False,
        )
        self._server.request_timeout = limits.request_timeout
        self._server.body_limit = limits.max_body_bytes
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return str(self._server.effective_host), int(self._server.effective_port)

    def start(self) -> None:
        self._server.accept_connections()
        self._thread = threading.Thread(target=self._server.run, name="tegu-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(self._server._map)
        if self._thread is not None:
            self._thread.join(timeout=5)
