"""How the command line words a refusal (the API's 409 body in, one paragraph out)."""

from __future__ import annotations

from typing import Any

from tegu_ryu.cli.render import explanation


def refusal(src: tuple[str, int], dst: tuple[str, int], code: str = "no_capacity") -> Any:
    return {
        "code": code,
        "message": "...",
        "details": {
            "direction": "out",
            "link": {
                "src": {"dpid": src[0], "port": src[1]},
                "dst": {"dpid": dst[0], "port": dst[1]},
            },
            "interval": ["2027-01-15T08:00:00Z", "2027-01-15T09:00:00Z"],
            "requested_bps": 20_000_000,
            "available_bps": 10_000_000,
        },
    }


HOST = ("0000000000000000", 0)


def test_a_full_switch_link_suggests_another_path() -> None:
    text = explanation(refusal(("0000000000000001", 3), ("0000000000000002", 3)))
    assert "0000000000000001:3 -> 0000000000000002:3 has only 10Mbit/s free" in text
    assert "--path widest" in text


def test_a_full_host_port_names_the_port_and_suggests_no_other_path() -> None:
    down = explanation(refusal(("0000000000000002", 1), HOST))
    assert "port 0000000000000002:1 (down to the host) has only 10Mbit/s free" in down
    assert "--path widest" not in down and "0000000000000000" not in down
    up = explanation(refusal(HOST, ("0000000000000001", 4), code="fence"))
    assert "your tenant's fence on port 0000000000000001:4 (up from the host)" in up
