"""Stitching configuration: stitch points, peers and their tokens."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tegu_ryu.config import separate_vlans
from tegu_ryu.controller import ControllerSettings
from tegu_ryu.errors import ConfigurationError
from tegu_ryu.reservations.mirror_admission import MirrorSettings
from tegu_ryu.stitching.points import StitchSettings, parse_stitch, stitch_settings
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.refs import PortRef


def test_a_vlan_stitch_point() -> None:
    point = parse_stitch("wan1:0000000000000002:3 peer=siteB vlan=100-199 capacity=1G")
    assert (point.name, point.peer, point.port) == ("wan1", "siteB", PortRef(2, 3))
    assert point.handoff.kind == "vlan" and point.handoff.labels == range(100, 200)
    assert not point.handoff.tunnel and point.tunnel_port is None
    assert point.capacity_bps == 10**9


def test_a_tunnel_stitch_point() -> None:
    point = parse_stitch("wan2:2:63000 peer=siteC vxlan=10.99.0.3 keys=1000-1999 capacity=500M")
    assert point.handoff.kind == "vxlan" and point.handoff.remote_ip == "10.99.0.3"
    assert point.handoff.labels == range(1000, 2000) and point.handoff.tunnel
    assert point.port == PortRef(2, 63000) and point.tunnel_port == "tegu-swan2"


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "wan1 peer=siteB vlan=1-2 capacity=1G",
        "wan1:2:3 vlan=1-2 capacity=1G",
        "wan1:2:3 peer=siteB capacity=1G",
        "wan1:2:3 peer=siteB vlan=1-2 gre=10.0.0.1 keys=1-2 capacity=1G",
        "wan1:2:3 peer=siteB vlan=0-2 capacity=1G",
        "wan1:2:3 peer=siteB vlan=5-4095 capacity=1G",
        "wan1:2:3 peer=siteB vlan=x capacity=1G",
        "wan1:2:3 peer=siteB vlan=1-2",
        "wan1:2:3 peer=siteB vlan=1-2 capacity=0",
        "wan1:2:3 peer=siteB gre=nowhere keys=1-2 capacity=1G",
        "wan1:2:3 peer=siteB gre=10.0.0.1 capacity=1G",
        "wan1:2:3 peer=siteB vlan=1-2 keys=1-2 capacity=1G",
        "wan1:2:3 peer=siteB vlan=1-2 capacity=1G colour=red",
        "a/b:2:3 peer=siteB vlan=1-2 capacity=1G",
        "toolongname:2:3 peer=siteB gre=10.0.0.1 keys=1-2 capacity=1G",
        "wan1:2:64000 peer=siteB gre=10.0.0.1 keys=1-2 capacity=1G",
        "wan1:2:65280 peer=siteB vxlan=10.0.0.1 keys=1-2 capacity=1G",
    ],
)
def test_bad_stitch_points_are_refused_by_name(entry: str) -> None:
    with pytest.raises(ConfigurationError, match="stitch"):
        parse_stitch(entry)


def test_settings_with_a_peer_and_its_token(tmp_path: Path) -> None:
    token = tmp_path / "b.token"
    token.write_text("s3cret\n")
    settings = stitch_settings(
        "siteA",
        ["wan:2:3 peer=siteB vlan=100-199 capacity=1G"],
        ["siteB=http://127.0.0.1:29445/"],
        [f"siteB={token}"],
        hold_timeout=5,
    )
    assert settings.enabled and settings.hold_timeout == 5
    assert settings.peers["siteB"].url == "http://127.0.0.1:29445"
    assert settings.peer_by_token("s3cret") == settings.peers["siteB"]
    assert settings.peer_by_token("guess") is None
    assert settings.point_toward("siteB") == settings.points["wan"]
    assert settings.point_toward("siteC") is None
    assert "s3cret" not in repr(settings)


def test_nothing_configured_is_no_stitching() -> None:
    assert not stitch_settings(None, [], [], []).enabled


@pytest.mark.parametrize(
    ("domain", "stitches", "peers", "tokens", "problem"),
    [
        (None, ["w:2:3 peer=B vlan=1-2 capacity=1G"], ["B=http://h:1"], ["B=TOKEN"], "domain"),
        ("A", ["w:2:3 peer=B vlan=1-2 capacity=1G"], [], [], "peer 'B'"),
        ("A", [], ["B=http://h:1"], [], "peer_token_file"),
        ("A", [], ["B=ftp://h"], ["B=TOKEN"], "not an http"),
        ("A", [], ["B"], [], "NAME=VALUE"),
        ("A", [], ["B=http://h:1"], ["B=/nonexistent/token"], "peer_token_file B"),
        ("a/b", [], [], [], "domain"),
        (
            "A",
            ["w:2:3 peer=B vlan=1-2 capacity=1G", "w:2:4 peer=B vlan=1-2 capacity=1G"],
            ["B=http://h:1"],
            ["B=TOKEN"],
            "twice",
        ),
        (
            "A",
            ["w:2:3 peer=B vlan=1-2 capacity=1G", "t:2:3 peer=B gre=10.0.0.1 keys=1-2 capacity=1G"],
            ["B=http://h:1"],
            ["B=TOKEN"],
            "port 0000000000000002:3 is w's",
        ),
        (
            "A",
            [
                "t:2:5 peer=B gre=10.0.0.1 keys=1-2 capacity=1G",
                "u:2:6 peer=B gre=10.0.0.1 keys=3-4 capacity=1G",
            ],
            ["B=http://h:1"],
            ["B=TOKEN"],
            "t already has a gre tunnel to 10.0.0.1",
        ),
    ],
)
def test_bad_settings_name_what_is_wrong(
    tmp_path: Path,
    domain: str | None,
    stitches: list[str],
    peers: list[str],
    tokens: list[str],
    problem: str,
) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    tokens = [t.replace("TOKEN", str(token)) for t in tokens]
    with pytest.raises(ConfigurationError, match=problem):
        stitch_settings(domain, stitches, peers, tokens)


def test_vlan_stitch_points_may_share_a_trunk(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    settings = stitch_settings(
        "A",
        ["v:2:3 peer=B vlan=1-9 capacity=1G", "w:2:3 peer=B vlan=10-19 capacity=1G"],
        ["B=http://h:1"],
        [f"B={token}"],
    )
    assert set(settings.points) == {"v", "w"}


def test_two_peers_with_one_token_are_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("same")
    with pytest.raises(ConfigurationError, match="also peer"):
        stitch_settings("A", [], ["B=http://h:1", "C=http://h:2"], [f"B={token}", f"C={token}"])


def test_vlan_labels_may_not_overlap_the_mirror_tags() -> None:
    point = parse_stitch("wan:0000000000000002:3 peer=siteB vlan=3000-3010 capacity=1G")
    settings = ControllerSettings(
        capacity=CapacityPolicy(),
        state_dir="/nonexistent",
        mirrors=MirrorSettings(tags=range(3005, 4095)),
        stitching=StitchSettings("siteA", {"wan": point}, {}),
    )
    with pytest.raises(ConfigurationError, match="overlap mirror_vlans"):
        separate_vlans(settings)
    apart = replace(settings, mirrors=MirrorSettings(tags=range(3011, 4095)))
    assert separate_vlans(apart) is apart
