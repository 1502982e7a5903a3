"""Bit-rate strings and switch/port references."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tegu_ryu.topology.refs import LinkId, PortRef, RefError, parse_dpid, parse_port_ref
from tegu_ryu.units import MAX_BITRATE, UnitError, format_bitrate, parse_bitrate


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("50M", 50_000_000),
        ("1.5G", 1_500_000_000),
        ("10K", 10_000),
        ("10k", 10_000),
        ("1Ki", 1024),
        ("2Mi", 2 * 2**20),
        ("1Gi", 2**30),
        ("1200", 1200),
        (1200, 1200),
        ("20 Mbps", 20_000_000),
        ("0", 0),
    ],
)
def test_bitrates_parse(text: str | int, bps: int) -> None:
    assert parse_bitrate(text) == bps


@pytest.mark.parametrize("text", ["", "M", "fast", "-5M", "5X", "1.2.3M", "5 M M", True, -1, 2.5])
def test_bad_bitrates_are_refused_with_a_hint(text: object) -> None:
    with pytest.raises(UnitError, match=r"bit-rate|negative"):
        parse_bitrate(text)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=MAX_BITRATE))
def test_formatted_rates_parse_back_exactly(bps: int) -> None:
    assert parse_bitrate(format_bitrate(bps)) == bps


@pytest.mark.parametrize("value", [MAX_BITRATE + 1, 2**70, "4.1T", "1180591620717411303424"])
def test_rates_beyond_what_a_meter_can_express_are_refused(value: int | str) -> None:
    with pytest.raises(UnitError, match="more than the largest rate"):
        parse_bitrate(value)


@pytest.mark.parametrize(
    ("text", "dpid"),
    [("0000000000000001", 1), ("00:00:00:00:00:00:00:0a", 10), ("0x1f", 31), ("ff", 255)],
)
def test_dpids_parse(text: str, dpid: int) -> None:
    assert parse_dpid(text) == dpid


@pytest.mark.parametrize("text", ["", "xyz", "1" * 17])
def test_bad_dpids_are_refused(text: str) -> None:
    with pytest.raises(RefError):
        parse_dpid(text)


def test_port_refs_round_trip() -> None:
    ref = parse_port_ref("0000000000000002:3")
    assert ref == PortRef(2, 3)
    assert str(ref) == "0000000000000002:3"
    assert parse_port_ref("00:00:00:00:00:00:00:02:3") == ref
    assert LinkId(ref, PortRef(1, 1)).reversed() == LinkId(PortRef(1, 1), ref)


@pytest.mark.parametrize("text", ["0000000000000002", "2:x", "2:0", "zz:1"])
def test_bad_port_refs_are_refused(text: str) -> None:
    with pytest.raises(RefError):
        parse_port_ref(text)
