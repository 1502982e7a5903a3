"""The agent wire protocol: frames round-trip, and no peer can make a reader allocate much."""

from __future__ import annotations

import socket
import struct
import time
import tracemalloc
from collections.abc import Iterator

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tegu_ryu.agents import protocol
from tegu_ryu.agents.protocol import Interface, InventoryBridge, ProtocolError
from tegu_ryu.ovsdb.rows import BridgeRows, PortQueues, QueueRow, TunnelPort

ROWS = BridgeRows(
    frozenset({TunnelPort("tegu-t1", "vxlan", "10.9.0.2", None, 64001, "r-1")}),
    {3: PortQueues(3, 10**9, (QueueRow(1, 10**6, 10**7, "r-2"),))},
)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    b.settimeout(0.05)
    yield a, b
    a.close()
    b.close()


def soon() -> float:
    return time.monotonic() + 2


def test_messages_round_trip_through_frames(pair: tuple[socket.socket, socket.socket]) -> None:
    writer, reader = pair
    bridges = [
        InventoryBridge(
            "br-int", 0xABC, (Interface("tap1", 4, "fe:00:00:00:00:01", vm_name="web"),)
        )
    ]
    for message in (
        protocol.hello("s3cret", "compute-1", "0.1.0"),
        protocol.inventory(bridges),
        protocol.rows({0xABC: ROWS}),
        protocol.applied(0xABC, 2, None),
    ):
        protocol.write_message(writer, message)
    assert protocol.parse_hello(protocol.read_message(reader, soon()) or {}).host == "compute-1"
    assert protocol.parse_inventory(protocol.read_message(reader, soon()) or {}) == tuple(bridges)
    assert protocol.parse_rows(protocol.read_message(reader, soon()) or {}) == {0xABC: ROWS}
    applied = protocol.parse_applied(protocol.read_message(reader, soon()) or {})
    assert applied == protocol.Applied(0xABC, 2, None)
    writer.close()
    assert protocol.read_message(reader, soon()) is None  # closed between messages


@given(st.binary(max_size=2000))
def test_random_bytes_are_a_protocol_error_or_a_map(data: bytes) -> None:
    try:
        message = protocol.decode(data)
    except ProtocolError:
        return
    assert isinstance(message, dict) and isinstance(message["type"], str)


@pytest.mark.parametrize(
    "body",
    [msgpack.packb([1, 2]), msgpack.packb("hello"), msgpack.packb({"type": 3}), b"\xc1", b""],
)
def test_not_a_typed_map_is_refused(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode(body)


def test_a_huge_header_is_refused_without_allocating_it(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    writer, reader = pair
    writer.sendall(struct.pack(">I", 100 * 1024 * 1024) + b"\x80" * 1000)
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match="104857600 bytes announced"):
            protocol.read_message(reader, soon())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_a_trickle_runs_out_of_time(pair: tuple[socket.socket, socket.socket]) -> None:
    writer, reader = pair
    frame = protocol.encode({"type": "heartbeat"})
    deadline = time.monotonic() + 0.3
    idles = []
    writer.send(frame[:3])
    with pytest.raises(TimeoutError):
        protocol.read_message(reader, deadline, on_idle=lambda: idles.append(1))
    assert idles  # the reader could send while it waited


def test_a_frame_cut_short_is_a_protocol_error(pair: tuple[socket.socket, socket.socket]) -> None:
    writer, reader = pair
    writer.sendall(protocol.encode({"type": "heartbeat"})[:-1])
    writer.close()
    with pytest.raises(ProtocolError, match="inside a frame"):
        protocol.read_message(reader, soon())


def test_bad_hello_and_inventory_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="expected hello"):
        protocol.parse_hello({"type": "heartbeat"})
    with pytest.raises(ProtocolError, match="strings"):
        protocol.parse_hello({"type": "hello", "token": 1, "host": "h", "version": "1"})
    with pytest.raises(ProtocolError, match="bad inventory"):
        protocol.parse_inventory({"type": "inventory", "bridges": [{"name": "x" * 300}]})
    with pytest.raises(ProtocolError, match="bad rows"):
        protocol.parse_rows({"type": "rows", "bridges": {"zz": {}}})


def test_a_message_too_large_to_send_is_refused() -> None:
    with pytest.raises(ProtocolError, match="too large"):
        protocol.encode({"type": "inventory", "blob": b"x" * (protocol.MAX_FRAME + 1)})
