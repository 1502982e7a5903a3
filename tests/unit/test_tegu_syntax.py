"""Tegu's request syntax: units, windows, host names, command splitting."""

from __future__ import annotations

import pytest

from tegu_ryu.compat.syntax import (
    SyntaxProblem,
    key_values,
    parse_bandwidth,
    parse_bandwidths,
    parse_host,
    parse_window,
    split_commands,
    split_pair,
)
from tegu_ryu.reservations.window import Window


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("10M", 10_000_000),
        ("10MB", 10_000_000),
        ("1.5G", 1_500_000_000),
        ("2K", 2000),
        ("1k", 1024),
        ("1m", 2**20),
        ("1g", 2**30),
        ("1KiB", 1024),
        ("2MiB", 2 * 2**20),
        ("10.2M", 10_200_000),
        ("1000", 1000),
        ("0", 0),
    ],
)
def test_tegu_units(text: str, bps: int) -> None:
    assert parse_bandwidth(text) == bps


@pytest.mark.parametrize("text", ["", "M", "10X", "ten", "-5M", "10 M"])
def test_bad_units(text: str) -> None:
    with pytest.raises(SyntaxProblem, match="invalid bandwidth"):
        parse_bandwidth(text)


def test_in_comma_out_is_inbound_first() -> None:
    assert parse_bandwidths("5M,20M") == (20_000_000, 5_000_000)  # (out, in)
    assert parse_bandwidths("7M") == (7_000_000, 7_000_000)


def test_windows() -> None:
    now = 1_800_000_000.0
    assert parse_window("+60", now) == Window(now, now + 60)
    assert parse_window(str(int(now) + 100), now) == Window(now, now + 100)
    assert parse_window(f"{int(now) - 50}-{int(now) + 50}", now) == Window(now, now + 50)  # clamped
    assert parse_window(f"{int(now) + 10}-{int(now) + 20}", now) == Window(now + 10, now + 20)
    far = now + 50 * 365 * 86400  # Tegu refused anything after 2026-01-01
    assert parse_window(str(int(far)), now).end == int(far)
    with pytest.raises(SyntaxProblem, match="already expired"):
        parse_window(str(int(now) - 1), now)
    with pytest.raises(SyntaxProblem, match="ends before it starts"):
        parse_window(f"{int(now) + 20}-{int(now) + 10}", now)
    with pytest.raises(SyntaxProblem, match="invalid time window"):
        parse_window("+soon", now)


def test_host_names() -> None:
    full = parse_host("tok/proj/vm1:80{12}")
    assert (full.token, full.project, full.host, full.port, full.vlan) == (
        "tok",
        "proj",
        "vm1",
        80,
        12,
    )
    assert parse_host("proj/10.0.0.1").project == "proj"
    assert (
        parse_host("[fe81::1]:0x50").host == "fe81::1" and parse_host("[fe81::1]:0x50").port == 80
    )
    assert parse_host("vm1:4444/0xffff").port == 4444
    outside = parse_host("!//203.0.113.9")
    assert outside.external and outside.host == "203.0.113.9" and outside.token is None
    assert not parse_host("!/proj/vm1").external  # unvalidated, but inside
    for bad in ("a/b/c/d", "vm1:80/0xfff0", "!//not-an-address", ":80"):
        with pytest.raises(SyntaxProblem):
            parse_host(bad)


def test_pairs_and_commands() -> None:
    assert split_pair("a,b") == ("a", "b")
    assert split_pair("vm-1,vm-2") == ("vm-1", "vm-2")
    assert split_pair("a-b") == ("a", "b")
    with pytest.raises(SyntaxProblem):
        split_pair("a,")
    commands = split_commands('# comment\nauth=t1 ping; listres\n\n  reserve "quoted word" 1\n')
    assert [(c.words, c.token) for c in commands] == [
        (["ping"], "t1"),
        (["listres"], None),
        (["reserve", "quoted word", "1"], None),
    ]
    assert key_values(["proto=udp", "ipv6=true", "10M", "+30"]) == (
        {"proto": "udp", "ipv6": "true"},
        ["10M", "+30"],
    )
