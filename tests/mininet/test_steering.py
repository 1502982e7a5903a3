"""Steering with real traffic: TCP from h1 to h2 through two Linux routers, and back to direct.

s1 - s2 - s3: h1 on s1, the middlebox mb1 on s2 (neither endpoint's switch), h2 and mb2 on
s3. The middleboxes are plain hosts with ``ip_forward=1`` and redirects off, as Tegu's
were. Their kernels count what they forward (``Ip: ForwDatagrams``), which says whether
traffic went through them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_process import ControllerProcess
from mininet.topo import Topo
from testbed import Testbed, running_testbed

IPERF_PORT = 5201


class ChainTopo(Topo):
    def build(self) -> None:  # type: ignore[override]
        s1, s2, s3 = (self.addSwitch(f"s{n}") for n in (1, 2, 3))
        self.addLink(self.addHost("h1"), s1)
        self.addLink(self.addHost("mb1"), s2)
        self.addLink(self.addHost("h2"), s3)
        self.addLink(self.addHost("mb2"), s3)
        self.addLink(s1, s2, bw=50)
        self.addLink(s2, s3, bw=50)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Testbed, ControllerProcess]]:
    with running_testbed(ChainTopo(), tmp_path_factory.mktemp("steering")) as (testbed, controller):
        for name in ("mb1", "mb2"):
            testbed.router(name)
        assert testbed.pingall() == 0
        testbed.iperf_server("h2", IPERF_PORT)
        yield testbed, controller


def forwarded(testbed: Testbed, name: str) -> int:
    """Packets the host's kernel has forwarded so far (Ip: ForwDatagrams)."""
    lines = [ln.split() for ln in testbed.net.get(name).cmd("cat /proc/net/snmp").splitlines()]
    header, values = (ln for ln in lines if ln and ln[0] == "Ip:")
    return int(values[header.index("ForwDatagrams")])


def rx_bytes(testbed: Testbed, name: str) -> int:
    """Bytes the host's one interface has received so far."""
    host = testbed.net.get(name)
    return int(host.cmd(f"cat /sys/class/net/{host.defaultIntf()}/statistics/rx_bytes"))


def chain_flows(testbed: Testbed) -> list[str]:
    """Flows on any switch that pick out the steered TCP (only the steering adds those)."""
    found = []
    for switch in testbed.net.switches:
        dump = switch.cmd(f"ovs-ofctl -O OpenFlow13 dump-flows {switch.name} tcp --no-stats")
        found += [line for line in dump.splitlines() if f"={IPERF_PORT}" in line]
    return found


def steer(controller: ControllerProcess, **fields: object) -> str:
    body = {"type": "steering", "src": "h1", "dst": "h2", "duration": 120, **fields}
    status, made = controller.request("POST", "/v1/reservations?wait=10", body)
    assert status == 201 and made["enforcement"]["status"] == "installed", made
    return str(made["id"])


def test_a_transfer_crosses_the_chain_ping_does_not_and_cancel_goes_direct(
    chain: tuple[Testbed, ControllerProcess], tmp_path: Path
) -> None:
    testbed, controller = chain
    h1, h2 = testbed.net.get("h1"), testbed.net.get("h2")
    rid = steer(controller, protocol="tcp", dst_port=IPERF_PORT, chain=["mb1", "mb2"])
    before = {name: forwarded(testbed, name) for name in ("mb1", "mb2")}
    received_before = {name: rx_bytes(testbed, name) for name in before}
    # A fixed amount, not a fixed time: how much TCP moves in a second depends on spare CPU.
    report = json.loads(h1.cmd(f"iperf3 -c {h2.IP()} -p {IPERF_PORT} -n 2M -J"))
    assert "error" not in report, report.get("error")
    # What h2 got: with -n, iperf3 counts as sent what it wrote, some still unsent at the end.
    got = report["end"]["sum_received"]["bytes"]
    assert got > 1_000_000
    through = {name: forwarded(testbed, name) - before[name] for name in before}
    received = {name: rx_bytes(testbed, name) - received_before[name] for name in before}
    # Every byte h2 got reached both routers first, and both routed it (GRO merges segments
    # into datagrams of up to 64 KiB, so the datagram count says little more than that).
    assert all(received[name] >= got for name in received), (received, got)
    assert all(count > got / 65536 for count in through.values()), (through, got)
    before = {name: forwarded(testbed, name) for name in ("mb1", "mb2")}
    assert "0% packet loss" in h1.cmd(f"ping -n -c 5 -i 0.1 {h2.IP()}")
    assert {name: forwarded(testbed, name) for name in before} == before, "ping is not steered"

    log = tmp_path / "iperf.json"
    client = h1.popen(
        ["iperf3", "-c", h2.IP(), "-p", str(IPERF_PORT), "-t", "8", "-J"], stdout=log.open("w")
    )
    started = time.monotonic()
    time.sleep(1.5)
    assert controller.request("DELETE", f"/v1/reservations/{rid}")[0] == 204
    # Not a latency bound (milliseconds when idle): the chain only has to go, then the rest.
    controller.wait_for(lambda: not chain_flows(testbed), timeout=5, what="the chain's flows gone")
    time.sleep(0.5)  # what the routers already held is forwarded
    after_cancel = {name: forwarded(testbed, name) for name in before}
    direct_from = time.monotonic() - started
    assert client.wait(timeout=30) == 0
    report = json.loads(log.read_text())
    assert "error" not in report and report["end"]["sum_received"]["bytes"] > 1_000_000
    assert {name: forwarded(testbed, name) for name in before} == after_cancel, (
        "after the cancel the transfer went on directly, through neither middlebox"
    )
    # iperf3 counts from its own start, after ours: these intervals all began after the check.
    later = [i["sum"]["bytes"] for i in report["intervals"] if i["sum"]["start"] >= direct_from]
    assert sum(later) > 0, "the transfer was still going when the chain was gone"


def test_a_chain_is_refused_when_a_leg_finds_its_link_full(
    chain: tuple[Testbed, ControllerProcess],
) -> None:
    _, controller = chain
    status, reserved = controller.request(
        "POST",
        "/v1/reservations",
        {"src": "h1", "dst": "h2", "bandwidth": "40M", "duration": 60, "protocol": "udp"},
    )
    assert status == 201, reserved
    body = {
        "type": "steering",
        "src": "h1",
        "dst": "h2",
        "protocol": "tcp",
        "chain": ["mb1"],
        "bandwidth": "20M",
        "duration": 60,
    }
    status, refused = controller.request("POST", "/v1/reservations", body)
    assert status == 409 and refused["error"]["code"] == "no_capacity", refused
    assert "leg 0 (h1 to mb1)" in refused["error"]["message"]
    assert controller.request("DELETE", f"/v1/reservations/{reserved['id']}")[0] == 204
