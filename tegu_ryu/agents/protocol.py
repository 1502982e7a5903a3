"""The controller <-> agent wire protocol: msgpack maps in length-prefixed frames.

A frame is a 4-byte big-endian length and that many bytes of one msgpack
map with a ``"type"``. The length is checked against ``MAX_FRAME`` before
anything is read, so a peer claiming 100 MB costs nothing but the dropped
connection. Messages (both sides are checked by the parsers here):

* agent -> controller: ``hello {token, host, version}`` (first, once),
  ``inventory {bridges: [{name, dpid, interfaces: [...]}]}``, ``heartbeat``,
  ``applied {bridge, written, error}``;
* controller -> agent: ``welcome {version, heartbeat_timeout}`` or
  ``refused {reason}`` (then the connection closes), ``rows {bridges:
  {dpid_hex: rows_to_wire(...)}}``: the whole desired state of the agent's
  bridges, which replaces what it held.

Every message must arrive whole before its deadline (``read_message``), so a
peer trickling bytes cannot hold a connection open for ever.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from tegu_ryu.ovsdb.rows import BridgeRows, rows_from_wire, rows_to_wire

MAX_FRAME = 1024 * 1024  # bytes of one message; an inventory of thousands of ports fits
MAX_HELLO = 4096  # bytes of a hello: before its token is checked, a peer gets no more
HEADER = struct.Struct(">I")
PROTOCOL_VERSION = 1
MAX_TEXT = 256  # characters of a name, id or MAC in an inventory


class ProtocolError(Exception):
    """The peer broke the protocol (oversized frame, not msgpack, not a known message)."""


def encode(message: dict[str, Any]) -> bytes:
    """One frame carrying ``message``."""
    body: bytes = msgpack.packb(message, use_bin_type=True)
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"a {message.get('type')} message of {len(body)} bytes is too large")
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    """The message in one frame's body; ProtocolError unless it is a map with a string type."""
    try:
        message = msgpack.unpackb(body, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise ProtocolError(f"not msgpack: {type(exc).__name__}") from exc
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError(f"a message must be a map with a type, not {type(message).__name__}")
    return message


def frame_length(header: bytes, limit: int = MAX_FRAME) -> int:
    """The body length a header announces; ProtocolError when it exceeds ``limit``."""
    (length,) = HEADER.unpack(header)
    if length > limit:
        raise ProtocolError(f"a frame of {length} bytes announced; the limit is {limit}")
    return int(length)


def read_message(
    sock: socket.socket,
    deadline: float,
    on_idle: Callable[[], None] | None = None,
    limit: int = MAX_FRAME,
) -> dict[str, Any] | None:
    """The next message from ``sock``, whole by ``deadline`` (``time.monotonic``).

    ``sock`` must have a timeout (its poll interval): each time a read waits
    that long, ``on_idle`` runs (the caller's chance to send). None when the
    peer closed the connection between messages; TimeoutError past the
    deadline; ProtocolError for a bad frame; OSError from the socket.
    """
    header = _read_exactly(sock, HEADER.size, deadline, on_idle)
    if header is None:
        return None
    body = _read_exactly(sock, frame_length(header, limit), deadline, on_idle)
    if body is None:
        raise ProtocolError("the connection closed inside a frame")
    return decode(body)


def write_message(sock: socket.socket, message: dict[str, Any], timeout: float = 30.0) -> None:
    """Send one message whole within ``timeout`` s, whatever the socket's (poll) timeout."""
    data = memoryview(encode(message))
    deadline = time.monotonic() + timeout
    while data:
        try:
            data = data[sock.send(data) :]
        except TimeoutError:
            if time.monotonic() > deadline:
                raise TimeoutError("the peer took no message for too long") from None


def _read_exactly(
    sock: socket.socket, size: int, deadline: float, on_idle: Callable[[], None] | None
) -> bytes | None:
    """``size`` bytes; None if the connection closes before the first (a frame's header)."""
    chunks = bytearray()
    while len(chunks) < size:
        if time.monotonic() >= deadline:  # checked per read too: a trickle never times out
            raise TimeoutError("the peer sent no whole message in time")
        try:
            chunk = sock.recv(min(size - len(chunks), 65536))
        except TimeoutError:
            if on_idle is not None:
                on_idle()
            continue
        if not chunk:
            if not chunks:
                return None
            raise ProtocolError("the connection closed inside a frame")
        chunks.extend(chunk)
    return bytes(chunks)


# ------------------------------------------------------------- messages


@dataclass(frozen=True)
class Interface:
    """One OVSDB interface of a host, as its agent reports it (empty string = not set)."""

    name: str
    ofport: int
    mac: str  # mac_in_use
    iface_id: str = ""  # external_ids:iface-id (Neutron's port id)
    attached_mac: str = ""  # external_ids:attached-mac (the VM's side)
    vm_uuid: str = ""  # external_ids:vm-uuid, else vm-id
    vm_name: str = ""  # external_ids:vm-name

    @property
    def endpoint_mac(self) -> str:
        """The MAC traffic of what sits on this interface carries: the VM's, else the port's."""
        return (self.attached_mac or self.mac).lower()


@dataclass(frozen=True)
class InventoryBridge:
    name: str
    dpid: int
    interfaces: tuple[Interface, ...] = field(default=())


INTERFACE_FIELDS = ("name", "ofport", "mac", "iface_id", "attached_mac", "vm_uuid", "vm_name")


def hello(token: str, host: str, version: str) -> dict[str, Any]:
    return {"type": "hello", "token": token, "host": host, "version": version}


def inventory(bridges: list[InventoryBridge]) -> dict[str, Any]:
    return {
        "type": "inventory",
        "bridges": [
            {
                "name": b.name,
                "dpid": f"{b.dpid:016x}",
                "interfaces": [
                    {key: getattr(i, key) for key in INTERFACE_FIELDS} for i in b.interfaces
                ],
            }
            for b in bridges
        ],
    }


def rows(bridges: dict[int, BridgeRows]) -> dict[str, Any]:
    return {
        "type": "rows",
        "bridges": {f"{dpid:016x}": rows_to_wire(r) for dpid, r in sorted(bridges.items())},
    }


def applied(dpid: int, written: int, error: str | None) -> dict[str, Any]:
    return {"type": "applied", "bridge": f"{dpid:016x}", "written": written, "error": error}


@dataclass(frozen=True)
class Hello:
    token: str
    host: str
    version: str


def parse_hello(message: dict[str, Any]) -> Hello:
    if message["type"] != "hello":
        raise ProtocolError(f"expected hello first, got {_clip(message['type'])}")
    token, host, version = (message.get(k) for k in ("token", "host", "version"))
    if not (isinstance(token, str) and isinstance(host, str) and isinstance(version, str)):
        raise ProtocolError("hello needs token, host and version as strings")
    if not host or len(host) > MAX_TEXT or len(version) > MAX_TEXT:
        raise ProtocolError("hello: host must be 1 to 256 characters, version at most 256")
    return Hello(token, host, version)


def parse_inventory(message: dict[str, Any]) -> tuple[InventoryBridge, ...]:
    try:
        return tuple(_bridge(entry) for entry in message["bridges"])
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"bad inventory: {type(exc).__name__} {_clip(str(exc))}") from exc


def _bridge(entry: dict[str, Any]) -> InventoryBridge:
    interfaces = tuple(
        Interface(
            name=_text(i["name"]),
            ofport=int(i["ofport"]),
            mac=_text(i["mac"]),
            **{key: _text(i.get(key) or "") for key in INTERFACE_FIELDS[3:]},
        )
        for i in entry["interfaces"]
    )
    return InventoryBridge(_text(entry["name"]), int(_text(entry["dpid"]), 16), interfaces)


def parse_rows(message: dict[str, Any]) -> dict[int, BridgeRows]:
    try:
        return {int(dpid, 16): rows_from_wire(r) for dpid, r in message["bridges"].items()}
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"bad rows: {_clip(str(exc))}") from exc


@dataclass(frozen=True)
class Applied:
    dpid: int
    written: int
    error: str | None


def parse_applied(message: dict[str, Any]) -> Applied:
    try:
        error = message["error"]
        return Applied(
            int(_text(message["bridge"]), 16),
            int(message["written"]),
            None if error is None else _clip(str(error), 1000),
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"bad applied: {_clip(str(exc))}") from exc


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"expected a string of at most {MAX_TEXT} characters")
    return value


def _clip(text: Any, limit: int = 80) -> str:
    shown = str(text)
    return shown if len(shown) <= limit else shown[:limit] + "..."
