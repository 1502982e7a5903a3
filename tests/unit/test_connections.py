"""Connection identity: events of a switch's replaced connection never act on the current one."""

from __future__ import annotations

from tegu_ryu.openflow.connections import Connections


class FakeDatapath:
    """Stands for an os-ken Datapath: only its identity matters here."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_connect_then_disconnect() -> None:
    connections: Connections[FakeDatapath] = Connections()
    first = FakeDatapath("first")
    assert connections.connected(1, first) is None
    assert connections.is_current(1, first)
    assert connections.disconnected(1, first)
    assert connections.current(1) is None and len(connections) == 0


def test_a_late_disconnect_of_a_replaced_connection_disconnects_nothing() -> None:
    connections: Connections[FakeDatapath] = Connections()
    old, new = FakeDatapath("old"), FakeDatapath("new")
    connections.connected(1, old)
    assert connections.connected(1, new) is old  # the switch came back before the old one died
    assert not connections.is_current(1, old)  # its late replies, errors, barriers: dropped
    assert not connections.disconnected(1, old)  # its disconnect, processed late: ignored
    assert connections.current(1) is new and connections.is_current(1, new)


def test_disconnect_first_then_the_new_connection() -> None:
    connections: Connections[FakeDatapath] = Connections()
    old, new = FakeDatapath("old"), FakeDatapath("new")
    connections.connected(1, old)
    assert connections.disconnected(1, old)
    assert connections.connected(1, new) is None
    assert not connections.disconnected(1, old)  # a duplicate disconnect of the old one
    assert connections.current(1) is new


def test_switches_are_independent_and_unknown_ids_are_never_current() -> None:
    connections: Connections[FakeDatapath] = Connections()
    a, b = FakeDatapath("a"), FakeDatapath("b")
    connections.connected(1, a)
    connections.connected(2, b)
    assert not connections.is_current(1, b) and not connections.is_current(None, a)
    assert connections.disconnected(2, b) and connections.current(1) is a
