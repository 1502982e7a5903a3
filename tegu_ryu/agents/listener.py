"""The controller's agent port: agents connect here, prove the token, report, and get rows.

One thread per connection does all of that connection's reading and writing
(so a TLS session is never used from two threads); it polls its socket every
``POLL`` seconds and sends, between reads, what is waiting for the agent.
Every message must arrive whole within ``hello_timeout`` of the connection
(the hello) or ``heartbeat_timeout`` of the previous message (afterwards), so
a silent, slow or stuck peer is dropped and marked gone; anything that
breaks the protocol drops that connection alone, logged with the peer's
address. Frames are bounded (``protocol.MAX_FRAME``), connections too
(``max_connections``), so no peer can make the controller allocate much.

Rows: an agent holds, for each bridge it reported with a datapath id, what
``desired_rows(dpid)`` says (None: not a bridge of this controller's, left
alone). It is sent the whole set when its inventory arrives and again
whenever the set differs from what it was last sent (``refresh``, called
when desired rows may have changed, and every ``REFRESH_PERIOD`` seconds).
``desired_rows`` is called from the listener's threads.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from tegu_ryu import __version__
from tegu_ryu.agents import protocol
from tegu_ryu.agents.registry import AgentRegistry
from tegu_ryu.ovsdb.rows import BridgeRows

LOG = logging.getLogger(__name__)
POLL = 0.25  # seconds a connection thread waits on its socket before looking at its outbox
REFRESH_PERIOD = 10.0  # seconds between checks of every agent's rows even unasked
REFRESH_SPACING = 0.1  # seconds at least between checks: a burst of changes costs one


def parse_listen(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[V6]:PORT`` for IPv6) as a bind address; None for ''. ValueError else."""
    text = text.strip()
    if not text:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def read_token(path: str) -> bytes:
    """The shared secret in ``path`` (surrounding whitespace ignored); ValueError if empty."""
    with open(path, "rb") as f:
        token = f.read().strip()
    if not token:
        raise ValueError(f"{path} holds no token")
    return token


class _Session:
    """One authenticated agent connection: its record key and what waits to be sent."""

    def __init__(self, sock: socket.socket, peer: str, host: str, number: int) -> None:
        self.sock = sock
        self.peer = peer
        self.host = host
        self.number = number
        self.lock = threading.Lock()
        self.outbox: dict[str, Any] | None = None  # the latest rows message, not yet sent
        self.last_rows: dict[int, BridgeRows] | None = None  # what the outbox/agent holds

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already closed by the peer
            self.sock.shutdown(socket.SHUT_RDWR)


class AgentListener:
    def __init__(
        self,
        address: tuple[str, int],
        token: bytes,
        registry: AgentRegistry,
        desired_rows: Callable[[int], BridgeRows | None],
        *,
        tls: ssl.SSLContext | None = None,
        hello_timeout: float = 10.0,
        heartbeat_timeout: float = 30.0,
        max_connections: int = 256,
    ) -> None:
        self.registry = registry
        self._token = token
        self._desired_rows = desired_rows
        self._tls = tls
        self.hello_timeout = hello_timeout
        self.heartbeat_timeout = heartbeat_timeout
        self._max_connections = max_connections
        self._connections = threading.BoundedSemaphore(max_connections)
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._server = socket.create_server(address, reuse_port=False, backlog=128)
        self._server.settimeout(POLL)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        LOG.info("agents: listening on %s:%d%s", *self.address, " (TLS)" if self._tls else "")
        threading.Thread(target=self._accept_loop, name="agent-accept", daemon=True).start()
        threading.Thread(target=self._refresh_loop, name="agent-rows", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._server.close()
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.close()

    def refresh(self) -> None:
        """Desired rows may have changed: send each agent its rows where they differ."""
        self._wake.set()

    # ------------------------------------------------------------ accepting

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, address = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._stopping.is_set():
                    LOG.exception("agents: accepting failed; no more agent connections")
                return
            peer = _peer(address)
            if not self._connections.acquire(blocking=False):
                LOG.warning(
                    "agents: %s refused: already %d connections", peer, self._max_connections
                )
                sock.close()
                continue
            threading.Thread(
                target=self._serve, args=(sock, peer), name=f"agent {peer}", daemon=True
            ).start()

    def _serve(self, sock: socket.socket, peer: str) -> None:
        session = None
        try:
            sock.settimeout(POLL)
            if self._tls is not None:
                sock = self._handshake(sock)
            session = self._welcome(sock, peer)
            if session is not None:
                self._converse(session)
        except protocol.ProtocolError as problem:
            LOG.warning("agents: %s dropped: %s", _who(peer, session), problem)
        except TimeoutError:
            what = "no hello" if session is None else "no message (heartbeat)"
            timeout = self.hello_timeout if session is None else self.heartbeat_timeout
            LOG.warning("agents: %s dropped: %s within %.0f s", _who(peer, session), what, timeout)
        except (OSError, ssl.SSLError) as problem:
            LOG.warning("agents: %s dropped: %s", _who(peer, session), problem)
        finally:
            if session is not None:
                self._forget(session)
            sock.close()
            self._connections.release()

    def _handshake(self, sock: socket.socket) -> socket.socket:
        assert self._tls is not None
        sock.settimeout(self.hello_timeout)
        wrapped = self._tls.wrap_socket(sock, server_side=True)
        wrapped.settimeout(POLL)
        return wrapped

    def _welcome(self, sock: socket.socket, peer: str) -> _Session | None:
        """Read the hello and check its token; the session, or None when refused."""
        deadline = time.monotonic() + self.hello_timeout
        message = protocol.read_message(sock, deadline, on_idle=None, limit=protocol.MAX_HELLO)
        if message is None:
            LOG.info("agents: %s closed before its hello", peer)
            return None
        hello = protocol.parse_hello(message)
        if not hmac.compare_digest(hello.token.encode(), self._token):
            LOG.warning("agents: %s refused: wrong token (it says it is host %r)", peer, hello.host)
            protocol.write_message(sock, {"type": "refused", "reason": "wrong token"})
            return None
        number = self.registry.connected(hello.host, hello.version, peer, time.time())
        session = _Session(sock, peer, hello.host, number)
        with self._lock:
            replaced = self._sessions.get(hello.host)
            self._sessions[hello.host] = session
        if replaced is not None:
            LOG.info("agents: %s replaces the connection from %s", hello.host, replaced.peer)
            replaced.close()
        try:  # registered first, so that a welcomed agent is known; gone, it is forgotten
            protocol.write_message(
                sock,
                {
                    "type": "welcome",
                    "version": __version__,
                    "heartbeat_timeout": self.heartbeat_timeout,
                },
            )
        except BaseException:
            self._forget(session)
            raise
        LOG.info("agents: %s (agent %s) connected from %s", hello.host, hello.version, peer)
        return session

    def _converse(self, session: _Session) -> None:
        def flush() -> None:
            with session.lock:
                outgoing, session.outbox = session.outbox, None
            if outgoing is not None:
                protocol.write_message(session.sock, outgoing)

        while not self._stopping.is_set():
            deadline = time.monotonic() + self.heartbeat_timeout
            message = protocol.read_message(session.sock, deadline, on_idle=flush)
            if message is None:
                LOG.info("agents: %s closed the connection", _who(session.peer, session))
                return
            self._handle(session, message)
            flush()

    def _handle(self, session: _Session, message: dict[str, Any]) -> None:
        kind = message["type"]
        now = time.time()
        if kind == "heartbeat":
            self.registry.heartbeat(session.host, session.number, now)
            protocol.write_message(
                session.sock, {"type": "heartbeat"}
            )  # so the agent knows we are alive
        elif kind == "inventory":
            bridges = protocol.parse_inventory(message)
            self.registry.inventory(session.host, session.number, bridges)
            self.registry.heartbeat(session.host, session.number, now)
            LOG.info(
                "agents: %s reports %d bridges, %d interfaces",
                session.host,
                len(bridges),
                sum(len(b.interfaces) for b in bridges),
            )
            self._queue_rows(session)
        elif kind == "applied":
            result = protocol.parse_applied(message)
            self.registry.applied(session.host, session.number, result, now)
            if result.error is not None:
                LOG.error(
                    "agents: %s could not write bridge %016x: %s",
                    session.host,
                    result.dpid,
                    result.error,
                )
            elif result.written:
                LOG.info(
                    "agents: %s wrote %d changes to bridge %016x",
                    session.host,
                    result.written,
                    result.dpid,
                )
        else:
            raise protocol.ProtocolError(f"unknown message type {kind[:40]!r}")

    def _forget(self, session: _Session) -> None:
        with self._lock:
            if self._sessions.get(session.host) is session:
                del self._sessions[session.host]
        self.registry.gone(session.host, session.number)
        session.close()

    # ----------------------------------------------------------------- rows

    def _refresh_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(REFRESH_PERIOD)
            self._wake.clear()
            with self._lock:
                sessions = list(self._sessions.values())
            for session in sessions:
                self._queue_rows(session)
            self._stopping.wait(REFRESH_SPACING)

    def _queue_rows(self, session: _Session) -> None:
        """Put the agent's rows in its outbox if they differ from what it was last sent."""
        dpids = sorted(b.dpid for b in self.registry.bridges_of(session.host))
        try:
            desired = {dpid: self._desired_rows(dpid) for dpid in dpids}
            wanted = {dpid: rows for dpid, rows in desired.items() if rows is not None}
        except Exception:
            LOG.exception("agents: the desired rows of %s cannot be worked out", session.host)
            return
        with session.lock:
            if wanted != session.last_rows:
                session.last_rows = wanted
                session.outbox = protocol.rows(wanted)


def _peer(address: Any) -> str:
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _who(peer: str, session: _Session | None) -> str:
    return f"{session.host} at {peer}" if session is not None else peer
