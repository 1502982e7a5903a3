"""Tegu's ``passthru`` command on ``/tegu/api``, mapped onto v1 passthru reservations.

``passthru [proto=[udp|tcp:]address[:port]] {[start-]end|+sec} [token/]project/host [cookie]``:
the host's traffic (optionally one protocol, from one source address, to one
port) keeps its own DSCP marking over the window. The address may be any: it is
the source address of the host's packets that are let through (``src_ip``), as
Tegu's flow matched it. Unlike Tegu's, the filter survives a restart.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from tegu_ryu.compat.pledges import tegu_state
from tegu_ryu.compat.syntax import SyntaxProblem, key_values, parse_host, parse_window
from tegu_ryu.reservations.model import Match, PassthruReservation
from tegu_ryu.reservations.passthru_requests import PassthruRequest

PASSTHRU_PTYPE = 4  # Tegu's PT_PASSTHRU
USAGE = "usage: passthru [proto=[udp|tcp:]address[:port]] window [token/]project/host [cookie]"


class PassthruRefused(Exception):
    """A ``passthru`` command Tegu would have refused; the message is its comment."""


def passthru_request(args: list[str], now: float) -> PassthruRequest:
    """The request a ``passthru`` command asks for. The address of ``proto=`` is the source
    address of the host's packets let through, any address (Tegu matched it so: a host may
    forward for others)."""
    options, positional = key_values(args)
    if len(positional) < 2:
        raise PassthruRefused(
            f"incorrect number of parameters supplied: {USAGE}; received: passthru "
            + " ".join(args)
        )
    window = parse_window(positional[0], now)
    try:
        host = parse_host(positional[1])
    except SyntaxProblem as problem:
        raise PassthruRefused(str(problem)) from problem
    protocol, address, port = _proto(options.get("proto"))
    return PassthruRequest(
        host=host.host,
        match=Match(protocol=protocol, dst_port=port),
        window=window,
        name=None,
        cookie=positional[2] if len(positional) > 2 else None,
        src_ip=address,
    )


def _proto(text: str | None) -> tuple[str | None, str | None, int | None]:
    """``[udp|tcp:]address[:port]`` as (protocol, address, port)."""
    if text is None:
        return None, None, None
    protocol = None
    rest = text
    head, sep, tail = text.partition(":")
    if sep and head in ("tcp", "udp"):
        protocol, rest = head, tail
    address, port = rest, None
    last = rest.rpartition(":")
    if last[1] and last[2].isdigit():
        try:
            ipaddress.ip_address(rest)  # an IPv6 address alone: its last group is no port
        except ValueError:
            address, port = last[0], int(last[2])
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError as exc:
        raise PassthruRefused(f"invalid proto: {text} ([udp|tcp:]address[:port])") from exc
    if port is not None and not 0 < port <= 65535:
        raise PassthruRefused(f"invalid port in proto: {text}")
    if port is not None and protocol is None:
        protocol = "tcp"  # a port without a protocol meant TCP, as for steer
    return protocol, str(ipaddress.ip_address(address.strip("[]"))), port


def passthru_pledge(passthru: PassthruReservation, now: float, project: str) -> dict[str, Any]:
    """A passthru as Tegu showed one (never with its cookie)."""
    word, remaining = tegu_state(passthru, now)
    protocol = passthru.match.protocol or ""
    if protocol and passthru.match.dst_port:
        protocol = f"{protocol}:{passthru.match.dst_port}"
    return {
        "state": word,
        "time": remaining,
        "host": f"{project}/{passthru.host.name or passthru.host.given}",
        "protocol": protocol,
        "id": passthru.id,
        "ptype": PASSTHRU_PTYPE,
    }
