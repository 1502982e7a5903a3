"""The agent's life: connect out to the controller, say hello, report, keep rows, reconnect.

One thread does everything on one connection (the socket is polled every
``POLL`` seconds), so there is no locking. Between messages it sends a
heartbeat every ``heartbeat`` seconds (the controller answers each, so a
controller gone silent is noticed too), re-reads the OVSDB inventory every
``poll`` seconds and reports it when it changed, and every ``resync``
seconds checks the bridges against the rows last asked for. A lost or
refused connection is retried with exponential backoff (``BACKOFF_FIRST``
doubling to ``BACKOFF_CAP`` seconds, each wait drawn from its upper half so
that many agents do not reconnect in step); a successful welcome resets it.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tegu_agent.inventory import read_inventory
from tegu_agent.keeper import Keeper
from tegu_ryu import __version__
from tegu_ryu.agents import protocol
from tegu_ryu.agents.protocol import InventoryBridge
from tegu_ryu.ovsdb.rows import BridgeRows, RowChanges

LOG = logging.getLogger(__name__)
POLL = 0.25
WELCOME_TIMEOUT = 10.0
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 30.0


class Ovsdb(Protocol):
    """What the agent needs of its OVSDB connection (``OvsdbClient``)."""

    def read(self, reader: Callable[[Any], Any]) -> Any: ...

    def held(self, bridge: str) -> tuple[BridgeRows, frozenset[int]]: ...

    def ofports(self, bridge: str) -> frozenset[int]: ...

    def apply(self, changes: RowChanges) -> None: ...

    def purge_orphans(self) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Settings:
    controller: tuple[str, int]
    token: str
    host: str
    heartbeat: float = 10.0
    poll: float = 3.0
    resync: float = 10.0
    tls: ssl.SSLContext | None = None
    tls_server_name: str | None = None


class Refused(Exception):
    """The controller said no (a wrong token); retried all the same, at the slowest pace."""


class OvsdbUnavailable(Exception):
    """The local OVSDB cannot be reached (yet); retried like the controller."""


class Stopping(Exception):
    """Asked to stop while connected."""


class Backoff:
    def __init__(self, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> None:
        self.first, self.cap = first, cap
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    def slowest(self) -> None:
        self._next = self.cap

    def delay(self) -> float:
        """The wait before the next attempt (jittered), doubling the one after."""
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return random.uniform(delay / 2, delay)


class Agent:
    def __init__(
        self, settings: Settings, ovsdb: Callable[[], Ovsdb], stopping: threading.Event
    ) -> None:
        """``ovsdb`` connects to the local OVSDB (called again after it failed)."""
        self.settings = settings
        self._connect_ovsdb = ovsdb
        self._stopping = stopping
        self.keeper = Keeper()
        self.backoff = Backoff()
        self._ovsdb: Ovsdb | None = None

    def run(self) -> None:
        """Until stopped: keep a connection to the controller, waiting between attempts."""
        failing: str | None = None
        while not self._stopping.is_set():
            try:
                if self._ovsdb is None:
                    self._ovsdb = self._local_ovsdb()
                with self._connect() as sock:
                    self._converse(sock)
            except Stopping:
                break
            except Refused as refusal:
                LOG.error("the controller refused this agent: %s", refusal)
                self.backoff.slowest()
            except Exception as exc:  # any failure: say it once per streak, try again later
                problem = f"{type(exc).__name__}: {exc}"
                if problem != failing:
                    LOG.warning("%s; retrying", problem)
                failing = problem
            else:
                failing = None
            delay = self.backoff.delay()
            LOG.info("reconnecting in %.1f s", delay)
            self._stopping.wait(delay)
        if self._ovsdb is not None:
            self._ovsdb.close()

    def _local_ovsdb(self) -> Ovsdb:
        try:
            return self._connect_ovsdb()
        except Exception as exc:
            raise OvsdbUnavailable(f"the local OVSDB: {exc}") from exc

    def _connect(self) -> socket.socket:
        """A connection to the controller; OSError says why there is none."""
        host, port = self.settings.controller
        try:
            sock = socket.create_connection((host, port), timeout=WELCOME_TIMEOUT)
        except OSError as exc:
            raise ConnectionError(f"controller {host}:{port}: {exc}") from exc
        if self.settings.tls is not None:
            name = self.settings.tls_server_name or self.settings.controller[0]
            sock = self.settings.tls.wrap_socket(sock, server_hostname=name)
        sock.settimeout(POLL)
        return sock

    def _converse(self, sock: socket.socket) -> None:
        settings = self.settings
        protocol.write_message(sock, protocol.hello(settings.token, settings.host, __version__))
        welcome = protocol.read_message(sock, time.monotonic() + WELCOME_TIMEOUT)
        if welcome is None or welcome["type"] == "refused":
            reason = "closed the connection" if welcome is None else welcome.get("reason")
            raise Refused(str(reason))
        if welcome["type"] != "welcome":
            raise protocol.ProtocolError(f"expected welcome, got {welcome['type']!r}")
        LOG.info(
            "connected to controller %s:%d (tegu_ryu %s) as host %s",
            *settings.controller,
            welcome.get("version"),
            settings.host,
        )
        self.backoff.reset()
        Connection(self, sock, heartbeat_interval(settings.heartbeat, welcome)).run()

    def inventory(self) -> tuple[InventoryBridge, ...]:
        assert self._ovsdb is not None
        result: tuple[InventoryBridge, ...] = self._ovsdb.read(read_inventory)
        return result

    def write_rows(self, names: dict[int, str], quiet: bool) -> list[protocol.Applied]:
        assert self._ovsdb is not None
        return self.keeper.apply(self._ovsdb, names, quiet)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()


class Connection:
    """One welcomed connection: the timers and the messages on it."""

    def __init__(self, agent: Agent, sock: socket.socket, heartbeat: float) -> None:
        self.agent = agent
        self.sock = sock
        self.heartbeat = heartbeat
        self.reported: tuple[InventoryBridge, ...] | None = None
        now = time.monotonic()
        self.next_heartbeat = now + heartbeat
        self.next_poll = now
        self.next_resync = now + agent.settings.resync

    def run(self) -> None:
        self.report_inventory()
        silence = 3 * self.heartbeat  # the controller answers every heartbeat
        while True:
            message = protocol.read_message(self.sock, time.monotonic() + silence, self.tick)
            if message is None:
                raise ConnectionError("the controller closed the connection")
            if message["type"] == "rows":
                self.agent.keeper.want(protocol.parse_rows(message))
                self.write_rows(quiet=False)
            elif message["type"] != "heartbeat":
                raise protocol.ProtocolError(f"unknown message type {message['type'][:40]!r}")
            self.tick()

    def tick(self) -> None:
        if self.agent.stopping:
            raise Stopping
        now = time.monotonic()
        settings = self.agent.settings
        if now >= self.next_heartbeat:
            self.next_heartbeat = now + self.heartbeat
            protocol.write_message(self.sock, {"type": "heartbeat"})
        if now >= self.next_poll:
            self.next_poll = now + settings.poll
            self.report_inventory()
        if now >= self.next_resync:
            self.next_resync = now + settings.resync
            self.write_rows(quiet=True)

    def report_inventory(self) -> None:
        bridges = self.agent.inventory()
        if bridges != self.reported:
            protocol.write_message(self.sock, protocol.inventory(list(bridges)))
            LOG.info(
                "reported %d bridges, %d interfaces",
                len(bridges),
                sum(len(b.interfaces) for b in bridges),
            )
            self.reported = bridges

    def write_rows(self, quiet: bool) -> None:
        names = {b.dpid: b.name for b in self.reported or ()}
        for result in self.agent.write_rows(names, quiet):
            protocol.write_message(
                self.sock, protocol.applied(result.dpid, result.written, result.error)
            )


def heartbeat_interval(configured: float, welcome: dict[str, Any]) -> float:
    """The configured interval, but at most a third of the controller's timeout (it says it in
    its welcome): a slower heartbeat would have the controller drop the agent over and over."""
    timeout = welcome.get("heartbeat_timeout")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
        return min(configured, timeout / 3)
    return configured
