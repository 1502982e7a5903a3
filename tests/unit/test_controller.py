"""The controller's view of enforcement: what a reservation's status says, and when."""

from __future__ import annotations

from pathlib import Path

import pytest

from tegu_ryu.assembly import assemble_controller
from tegu_ryu.controller import Controller, ControllerSettings
from tegu_ryu.openflow import messages
from tegu_ryu.openflow.flows import Layer, cookie_layer
from tegu_ryu.openflow.reconcile import InstalledFlow
from tegu_ryu.reservations.memory_store import MemoryStore
from tegu_ryu.reservations.store import ReservationStore
from tegu_ryu.tenancy import ANONYMOUS
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import PortState

STATIC = str(Path(__file__).resolve().parents[2] / "conf" / "static-topology.json")


def connected(store: ReservationStore | None = None, *, reset_dscp: bool = False) -> Controller:
    """The sample static topology with its three switches connected and read (empty).

    The reservations are kept in ``store`` (a fresh one in memory if not given).
    """
    settings = ControllerSettings(
        capacity=CapacityPolicy(),
        state_dir="(unused: the store is given)",
        static_topology=STATIC,
        discovery_settle=0,
        reset_dscp=reset_dscp,
    )
    controller = assemble_controller(settings, now=0, store=store or MemoryStore())
    for dpid in (1, 2, 3):
        controller.switch_connected(dpid, [PortState(port=p) for p in range(1, 5)], now=0)
        controller.read_started(dpid, flow_xid=10 * dpid, meter_xid=10 * dpid + 1, now=0)
        controller.flows_read(dpid, 10 * dpid, [], more=False, now=0)
        controller.meters_read(dpid, 10 * dpid + 1, [], more=False, now=0)
    return controller


def confirm(controller: Controller, now: float) -> None:
    """Play the switches: accept every pass and answer its barriers."""
    xid = 1000
    while work := controller.next_pass(now):
        for dpid, changes in work.items():
            xid += 1
            controller.pass_sent(dpid, changes, xid, now, now)
            controller.barrier_replied(dpid, xid)


def test_status_goes_from_pending_to_installed_once_barriers_confirm() -> None:
    controller = connected()
    made = controller.reservations.create(
        ANONYMOUS,
        {"src": "h1", "dst": "h3", "bandwidth": "10M", "duration": 60},
        now=1,
        reply=lambda r: r,
    )
    assert controller.enforcement(made)["status"] == "pending"
    work = controller.next_pass(1)
    assert work, "the new reservation's flows and meters are sent"
    for dpid, changes in work.items():
        controller.pass_sent(dpid, changes, 7, now=1, sent_at=1)
    assert controller.enforcement(made)["status"] == "pending"  # sent, not yet confirmed
    for dpid in work:
        controller.barrier_replied(dpid, 7)
    confirm(controller, now=1)
    assert controller.enforcement(made) == {
        "status": "installed",
        "detail": "flows and meters confirmed on every switch of the path (enforced with meters)",
    }


def test_a_switch_refusal_shows_on_the_reservation_until_a_fresh_read() -> None:
    controller = connected()
    made = controller.reservations.create(
        ANONYMOUS,
        {"src": "h1", "dst": "h3", "bandwidth": "10M", "duration": 60},
        now=1,
        reply=lambda r: r,
    )
    confirm(controller, now=1)
    controller.switch_error(1, made.serial, "rejected add meter: OpenFlow error type 12 code 5")
    status = controller.enforcement(made)
    assert status["status"] == "error" and "switch 0000000000000001" in status["detail"]
    controller.read_started(1, flow_xid=50, meter_xid=51, now=1)
    controller.flows_read(
        1, 50, [InstalledFlow(f, None) for f in controller.desired.flows[1].values()], False, 1
    )
    controller.meters_read(1, 51, list(controller.desired.meters[1].values()), False, now=1)
    assert controller.enforcement(made)["status"] == "installed"


def test_pausing_withdraws_every_reservation_and_resuming_restores_it() -> None:
    controller = connected()
    made = controller.reservations.create(
        ANONYMOUS,
        {"src": "h1", "dst": "h3", "bandwidth": "10M", "duration": 60},
        now=1,
        reply=lambda r: r,
    )
    confirm(controller, now=1)
    assert controller.reservations.set_paused(True)
    assert not controller.reservations.set_paused(True)
    confirm(controller, now=2)
    held = [f for s in controller.switches.values() for f in s.sync.installed_flows()]
    assert not [f for f in held if cookie_layer(f.cookie) is Layer.RESERVATION]
    assert controller.enforcement(made)["detail"] == "enforcement is paused"
    assert controller.reservations.set_paused(False)
    confirm(controller, now=3)
    assert controller.enforcement(made)["status"] == "installed"


def test_a_restarted_controller_stays_paused() -> None:
    store = MemoryStore()
    first = connected(store)
    made = first.reservations.create(
        ANONYMOUS,
        {"src": "h1", "dst": "h3", "bandwidth": "10M", "duration": 60},
        now=1,
        reply=lambda r: r,
    )
    first.reservations.set_paused(True)
    restarted = connected(store)
    confirm(restarted, now=2)
    held = [f for s in restarted.switches.values() for f in s.sync.installed_flows()]
    assert not [f for f in held if cookie_layer(f.cookie) is Layer.RESERVATION]
    assert restarted.enforcement(made)["detail"] == "enforcement is paused"
    assert restarted.reservations.set_paused(False)
    assert not connected(store).reservations.paused


def test_periodic_re_reads_are_spaced_by_what_the_last_one_took() -> None:
    controller = connected()
    assert 1 in controller.resync_due(now=1)  # reads of empty switches took no time
    controller.read_started(1, flow_xid=90, meter_xid=91, now=100)
    assert 1 not in controller.resync_due(now=101)  # still reading
    controller.flows_read(1, 90, [], more=False, now=102)
    controller.meters_read(1, 91, [], more=False, now=102)
    assert controller.last_read(1) == (0, 2)
    assert 1 not in controller.resync_due(now=115)  # 2 s reading, so 18 s apart
    assert 1 in controller.resync_due(now=120)


def test_echo_round_trips_mark_a_slow_switch_and_its_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    controller = connected()
    assert controller.echo_due(100) == [1, 2, 3]
    controller.echo_answered(1, sent=100, now=100.004)
    controller.echo_answered(2, sent=100, now=101.5)  # took 1.5 s
    views = {s["dpid"]: s for s in controller.topology_view()["switches"]}  # type: ignore[attr-defined]
    assert views["0000000000000001"]["echo_ms"] == 4.0 and not views["0000000000000001"]["slow"]
    assert views["0000000000000002"]["slow"] and "0000000000000002 is slow" in caplog.text
    assert controller.echo_due(103) == [1, 2]  # 3 never answered: slow, and not asked again
    assert {s["dpid"]: s["slow"] for s in controller.topology_view()["switches"]}[  # type: ignore[attr-defined]
        "0000000000000003"
    ]
    controller.echo_answered(2, sent=103, now=103.01)
    assert "0000000000000002 answers promptly again" in caplog.text


def test_echo_requests_carry_their_send_time_and_ignore_others() -> None:
    request = messages.echo_request(1234.5)
    assert messages.echo_sent_at(request.data) == 1234.5
    assert messages.echo_sent_at(b"somebody else's") is None
    assert messages.echo_sent_at(None) is None


def test_a_switch_that_never_confirms_is_read_back_at_once_not_after_the_spacing(
    tmp_path: Path,
) -> None:
    controller = connected()
    controller.switches[1].read_took = 30.0  # its last read took long: periodic reads are rare
    controller.reservations.create(
        ANONYMOUS, {"src": "h1", "dst": "h3", "bandwidth": "10M", "duration": 600}, now=1,
        reply=lambda r: r,
    )  # fmt: skip
    work = controller.next_pass(1)
    for dpid, changes in work.items():
        controller.pass_sent(dpid, changes, 99, now=1, sent_at=5)  # sending took 4 s
    assert 1 in work
    assert 1 not in controller.resync_due(14)  # 9 s after the barrier went out: still patient
    assert 1 in controller.resync_due(16)  # 11 s: distrusted, and read at once


def test_mirrors_and_the_reservations_they_copy_reach_installed() -> None:
    """A best-effort copy crossing a booked link is metered on the switch, and a reservation
    on a mirrored switch continues to the mirror table: both still count as installed."""
    controller = connected()
    made = controller.reservations.create(
        ANONYMOUS,
        {"src": "h1", "dst": "h4", "bandwidth": "10M", "duration": 600},
        now=1,
        reply=lambda r: r,
    )
    mirror = controller.reservations.create(
        ANONYMOUS,
        {"type": "mirror", "ports": ["h1"], "output": "h4", "duration": 600},
        now=1,
        reply=lambda r: r,
    )
    confirm(controller, now=1)
    assert controller.enforcement(made)["status"] == "installed"
    assert controller.enforcement(mirror)["status"] == "installed"
    held = {f.key: f for f in controller.switches[1].sync.installed_flows()}
    copies = [f for f in held.values() if f.table == 2 and f.actions]
    assert copies and all(f.meter is not None for f in copies)  # through a best-effort meter
