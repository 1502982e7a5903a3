"""Two domains, each on its own private ovs-vswitchd under its own controller, stitched over a
real GRE tunnel: traffic between their hosts crosses it both ways, and a cancel on either side
takes both tunnel ports and all keyed flows away.

siteA: h1 on a1, a1 - a2 (border), underlay bridge ``ua`` holding 10.99.0.1; siteB: hB on b1
(border), underlay ``ub`` holding 10.99.0.3. The two underlays are joined by a dummy port
pair streamed over a unix socket (the WAN). Each ovs-vswitchd knows only its own address, as
two real sites would (in one ovs-vswitchd, Open vSwitch prefers its local route to the far
end's address over any route added for it, so one switch daemon cannot be both ends).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from controller_process import ControllerProcess, free_port
from privateovs import PrivateOvs

from .test_stitching import H1, HB, carrying, installed, udp_frame

pytestmark = pytest.mark.ovs

TUNNEL_PORT = 63000
UNDERLAY = {"siteA": ("ua", "10.99.0.1"), "siteB": ("ub", "10.99.0.3")}
BORDER = {"siteA": "0000000000000092", "siteB": "0000000000000093"}
SITE_A = {
    "switches": ["0000000000000091", BORDER["siteA"]],
    "hosts": [{"name": "h1", "mac": H1[0], "ips": [H1[1]], "attach": "0000000000000091:1"}],
}
SITE_B = {
    "switches": [BORDER["siteB"]],
    "hosts": [{"name": "hB", "mac": HB[0], "ips": [HB[1]], "attach": f"{BORDER['siteB']}:1"}],
}


@dataclass
class Site:
    ovs: PrivateOvs
    controller: ControllerProcess
    host: Path  # what the site's host receives
    border: str

    def ports(self) -> set[str]:
        return set(self.ovs.vsctl("list-ports", self.border).split())

    def tunnel_up(self) -> bool:
        """The stitch point's tunnel port is in OVSDB and ovs-vswitchd has made it (its
        ``ofport`` is what vswitchd writes back once the port exists)."""
        return "tegu-swan" in self.ports() and self.ovs.vsctl(
            "get", "interface", "tegu-swan", "ofport"
        ).strip() == str(TUNNEL_PORT)

    def keyed_flows(self) -> list[str]:
        return [f.text for f in self.ovs.flows(self.border) if "tun_id" in f.text]


def settings(me: str, other: str, ovs: PrivateOvs, token: Path, port: int) -> dict[str, str]:
    return {
        "domain": me,
        "stitch": f"wan:{BORDER[me]}:{TUNNEL_PORT} peer={other} gre={UNDERLAY[other][1]} "
        "keys=5000-5099 capacity=100M",
        "peer": f"{other}=http://127.0.0.1:{port}",
        "peer_token_file": f"{other}={token}",
        "ovsdb_remotes": f"unix:{ovs.rundir / 'db.sock'}",
        "resync_interval": "1",
        "discovery_settle": "1",
    }


def underlay(ovs: PrivateOvs, me: str, wan: dict[str, str]) -> None:
    """The bridge holding this site's tunnel address, its port to the WAN and a route."""
    bridge, address = UNDERLAY[me]
    ovs.vsctl("add-br", bridge, "--", "set", "bridge", bridge, "datapath_type=dummy")
    ovs.vsctl(
        "add-port", bridge, f"{bridge}-wan", "--", "set", "interface", f"{bridge}-wan",
        "type=dummy", "ofport_request=1", *(f"options:{k}={v}" for k, v in wan.items()),
    )  # fmt: skip
    ovs.appctl("netdev-dummy/ip4addr", bridge, f"{address}/24")
    ovs.appctl("ovs/route/add", "10.99.0.0/24", bridge)


@pytest.fixture(scope="module")
def sites(ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Site]]:
    """``ovs`` only for its checks (root, Open vSwitch): each site has an ovs-vswitchd of its
    own whose GRE ports really encapsulate."""
    workdir = tmp_path_factory.mktemp("two-sites")
    token = workdir / "shared.token"
    token.write_text("a-b\n")
    ovs_a = PrivateOvs(workdir / "ovs-a", dummy_tunnels=False)
    ovs_b = PrivateOvs(workdir / "ovs-b", dummy_tunnels=False)
    api_a, api_b = free_port(), free_port()
    a = ControllerProcess(
        workdir / "a", api_port=api_a, topology=SITE_A,
        options=settings("siteA", "siteB", ovs_a, token, api_b),
    )  # fmt: skip
    b = ControllerProcess(
        workdir / "b", api_port=api_b, topology=SITE_B,
        options=settings("siteB", "siteA", ovs_b, token, api_a),
    )  # fmt: skip
    ovs_a.start()
    ovs_b.start()
    try:
        underlay(ovs_a, "siteA", {"pstream": f"punix:{workdir / 'wan.sock'}"})
        underlay(ovs_b, "siteB", {"stream": f"unix:{workdir / 'wan.sock'}"})
        ends = ((ovs_a, "siteA", ovs_b, "siteB"), (ovs_b, "siteB", ovs_a, "siteA"))
        for near, me, far, other in ends:  # each end knows the other's MAC: no ARP needed
            (bridge, _), (far_bridge, far_ip) = UNDERLAY[me], UNDERLAY[other]
            mac = far.vsctl("get", "interface", far_bridge, "mac_in_use").strip().strip('"')
            near.appctl("tnl/arp/set", bridge, far_ip, mac)
        a.start()
        b.start()
        ovs_a.add_bridge("a1", 0x91, a.of_port)
        ovs_a.add_bridge("a2", 0x92, a.of_port)
        h1 = ovs_a.add_host_port("a1", "a-h1", 1)
        ovs_a.add_patch("a1", 2, "a2", 2)
        ovs_b.add_bridge("b1", 0x93, b.of_port)
        hb = ovs_b.add_host_port("b1", "b-hB", 1)
        a.wait_for_sync(2, 2)
        b.wait_for_sync(1, 0)
        yield Site(ovs_a, a, h1, "a2"), Site(ovs_b, b, hb, "b1")
    finally:
        a.stop()
        b.stop()
        ovs_a.stop()
        ovs_b.stop()


def test_two_sites_reach_each_other_through_the_gre_tunnel_and_a_cancel_clears_both(
    sites: tuple[Site, Site],
) -> None:
    site_a, site_b = sites
    a, b = site_a.controller, site_b.controller
    status, made = a.request(
        "POST",
        "/v1/reservations",
        {"src": "h1", "dst": "siteB/hB", "bandwidth": "10M", "duration": 600},
    )
    assert status == 201, made
    theirs = made["stitch"]["peer_reservation"]
    a.wait_for(lambda: installed(a, made["id"]), timeout=10, what="installed on A")
    b.wait_for(lambda: installed(b, theirs), timeout=10, what="installed on B")
    for site in sites:
        site.controller.wait_for(site.tunnel_up, 10, "the tunnel port made")

    site_a.ovs.inject("a-h1", udp_frame(H1, HB, b"a to b", None))
    b.wait_for(lambda: bool(carrying(site_b.host, b"a to b")), 5, "hB reached through GRE")
    site_b.ovs.inject("b-hB", udp_frame(HB, H1, b"b to a", None))
    a.wait_for(lambda: bool(carrying(site_a.host, b"b to a")), 5, "h1 reached through GRE")

    assert b.request("DELETE", f"/v1/reservations/{theirs}")[0] == 204
    for site in sites:
        site.controller.wait_for(
            lambda s=site: "tegu-swan" not in s.ports() and not s.keyed_flows(),
            10,
            "the tunnel port and keyed flows gone",
        )
    assert a.get(f"/v1/reservations/{made['id']}")[1]["state"] == "cancelled"
