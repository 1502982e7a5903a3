"""Mirrors with real traffic: tcpdump in the collector's namespace while h1 pings h2.

s1 - s2 - s3: h1 and h2 on s1, the collector c and h3 on s3, two switches away.
The mirror selects what s1 receives on h1's port (h1's echo requests, not h2's
replies to it): the collector must see exactly those while the mirror lasts
and nothing from a second after it is cancelled or expires, and h2 must
lose no ping. Both directions of h1's port, while h1 pings h3, copy each
request and each reply once: the replies arrive on the trunk the copies
leave by, which a switch only allows through ``OFPP_IN_PORT``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from controller_process import ControllerProcess
from mininet.topo import Topo
from testbed import Testbed, running_testbed, wait_until


class MirrorTopo(Topo):
    def build(self) -> None:  # type: ignore[override]
        s1, s2, s3 = (self.addSwitch(f"s{n}") for n in (1, 2, 3))
        self.addLink(self.addHost("h1"), s1)
        self.addLink(self.addHost("h2"), s1)
        self.addLink(self.addHost("c"), s3)
        self.addLink(self.addHost("h3"), s3)
        self.addLink(s1, s2)
        self.addLink(s2, s3)


@pytest.fixture(scope="module")
def fabric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Testbed, ControllerProcess]]:
    workdir, options = tmp_path_factory.mktemp("mirrors"), {"mirror_min_duration": "2"}
    with running_testbed(MirrorTopo(), workdir, options) as (testbed, controller):
        assert testbed.pingall() == 0
        yield testbed, controller


class Capture:
    """tcpdump of ICMP on the collector's interface; (time, kind, src, dst) per packet."""

    def __init__(self, testbed: Testbed, workdir: Path) -> None:
        self.host = testbed.net.get("c")
        self.file = workdir / "collector.txt"
        self.process = self.host.popen(
            ["tcpdump", "-i", str(self.host.defaultIntf()), "-n", "-l", "-tt", "icmp"],
            stdout=self.file.open("w"),
            stderr=subprocess.PIPE,
        )
        assert self.process.stderr is not None
        self.process.stderr.readline()  # "listening on ...": it is capturing
        time.sleep(0.2)

    def packets(self) -> list[tuple[float, str, str, str]]:
        found = []
        for line in self.file.read_text().splitlines():
            words = line.split()
            if "ICMP" in words and "echo" in words:
                kind = words[words.index("echo") + 1].rstrip(",")
                found.append((float(words[0]), kind, words[2], words[4].rstrip(":")))
        return found

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=5)


def pings_lost(testbed: Testbed, count: int, interval: float, to: str = "h2") -> int:
    h1, target = testbed.net.get("h1"), testbed.net.get(to)
    out = h1.cmd(f"ping -n -c {count} -i {interval} -W 1 {target.IP()}")
    received = int(out.split(" received")[0].split(",")[-1])
    return count - received


def mirror(controller: ControllerProcess, **fields: object) -> str:
    body = {"type": "mirror", "ports": ["h1"], "direction": "ingress", "output": "c", **fields}
    status, made = controller.request("POST", "/v1/reservations", body)
    assert status == 201, made
    rid = str(made["id"])
    controller.wait_for(
        lambda: (
            controller.get(f"/v1/reservations/{rid}")[1]["enforcement"]["status"] == "installed"
        ),
        timeout=10,
        what="mirror installed",
    )
    return rid


def test_the_collector_sees_exactly_the_selected_direction_until_cancel(
    fabric: tuple[Testbed, ControllerProcess], tmp_path: Path
) -> None:
    testbed, controller = fabric
    h1, h2 = testbed.net.get("h1").IP(), testbed.net.get("h2").IP()
    rid = mirror(controller, duration=120)
    capture = Capture(testbed, tmp_path)
    try:
        assert pings_lost(testbed, count=20, interval=0.05) == 0
        time.sleep(0.3)
        seen = capture.packets()
        assert [(kind, src, dst) for _, kind, src, dst in seen] == [("request", h1, h2)] * 20
        assert controller.request("DELETE", f"/v1/reservations/{rid}")[0] == 204
        cancelled = time.time()
        assert pings_lost(testbed, count=40, interval=0.05) == 0
        late = [p for p in capture.packets() if p[0] > cancelled + 1.0]
        assert late == [], "copies more than a second after the cancel"
    finally:
        capture.stop()


def test_nothing_reaches_the_collector_a_second_after_the_mirror_expires(
    fabric: tuple[Testbed, ControllerProcess], tmp_path: Path
) -> None:
    testbed, controller = fabric
    rid = mirror(controller, duration=3)
    end = datetime.fromisoformat(controller.get(f"/v1/reservations/{rid}")[1]["end"]).timestamp()
    capture = Capture(testbed, tmp_path)
    try:
        assert pings_lost(testbed, count=5, interval=0.05) == 0
        assert wait_until(lambda: len(capture.packets()) == 5, timeout=2)
        time.sleep(max(0.0, end - 0.5 - time.time()))
        assert pings_lost(testbed, count=50, interval=0.05) == 0  # across the end
        assert controller.get(f"/v1/reservations/{rid}")[1]["state"] == "expired"
        assert [p for p in capture.packets() if p[0] > end + 1.0] == []
    finally:
        capture.stop()


def test_both_directions_copy_each_request_and_each_reply_arriving_by_the_copy_s_way_out(
    fabric: tuple[Testbed, ControllerProcess], tmp_path: Path
) -> None:
    testbed, controller = fabric
    h1, h3 = testbed.net.get("h1").IP(), testbed.net.get("h3").IP()
    rid = mirror(controller, direction="both", duration=120)
    capture = Capture(testbed, tmp_path)
    try:
        assert pings_lost(testbed, count=10, interval=0.05, to="h3") == 0
        wanted = [("request", h1, h3), ("reply", h3, h1)] * 10
        assert wait_until(lambda: len(capture.packets()) >= len(wanted), timeout=2)
        time.sleep(0.3)
        assert [(kind, src, dst) for _, kind, src, dst in capture.packets()] == wanted
    finally:
        capture.stop()
        assert controller.request("DELETE", f"/v1/reservations/{rid}")[0] == 204
