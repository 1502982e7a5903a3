"""Tegu's ``steer`` command on ``/tegu/api``, mapped onto v1 steering chains.

``steer [proto=tcp:80] {[start-]end|+sec} [token/]project ep1 ep2 mb1[,mb2...] [cookie]``:
the endpoints and the middleboxes are names in ``project`` (a middlebox may name
its own ``project/host``), ``L*`` is any host. Tegu's ``E*`` (everything beyond
the project's gateway) has no meaning without OpenStack and is refused. Chains
are symmetric and best effort, as Tegu's were; unlike Tegu's, they are stored,
restored after a restart, listed by ``listres`` and ended by ``cancelres``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tegu_ryu.compat.pledges import tegu_state
from tegu_ryu.compat.syntax import SyntaxProblem, key_values, parse_host, parse_window
from tegu_ryu.reservations.model import Endpoint, SteeringReservation
from tegu_ryu.reservations.steering_requests import SteeringRequest, parse_steering

STEER_PTYPE = 1  # Tegu's PT_STEERING
ANY_HOST = "L*"
USAGE = "usage: steer [start-]end [token/]tenant ep1 ep2 mblist [cookie]"


class SteerRefused(Exception):
    """A ``steer`` command Tegu would have refused; the message is its comment."""


def steer_request(args: list[str], now: float) -> SteeringRequest:
    """The v1 request a ``steer`` command asks for (SteerRefused, SyntaxProblem or the v1
    parser's InvalidField when it is not one)."""
    options, positional = key_values(args)
    if len(positional) < 5:
        raise SteerRefused(
            f"incorrect number of parameters supplied: {USAGE}; received: steer {' '.join(args)}"
        )
    window_text, space, first, second, boxes = positional[:5]
    cookie = positional[5] if len(positional) > 5 else None
    window = parse_window(window_text, now)
    src, src_port = _end(space, first)
    dst, dst_port = _end(space, second)
    body: dict[str, Any] = {
        "type": "steering",
        "src": src,
        "dst": dst,
        "chain": [_name(box if "/" in box else f"{space}/{box}")[0] for box in boxes.split(",")],
        "start": window.start,
        "end": window.end,
    }
    protocol = options.get("proto")
    if protocol is not None:
        name, _, port = protocol.partition(":")
        if name not in ("tcp", "udp"):
            raise SteerRefused(f"invalid protocol: {protocol} (tcp:PORT or udp:PORT)")
        body["protocol"] = name
        if port:
            if not port.isdigit() or not 0 < int(port) <= 65535:
                raise SteerRefused(f"invalid protocol port: {protocol}")
            dst_port = dst_port or int(port)
    if src_port:
        body["src_port"] = src_port
    if dst_port:
        body["dst_port"] = dst_port
    if (src_port or dst_port) and "protocol" not in body:
        body["protocol"] = "tcp"  # Tegu's ports without proto= meant TCP for steering
    return replace(parse_steering(body, now), cookie=cookie)


def _end(space: str, word: str) -> tuple[str, int | None]:
    if word.upper() == ANY_HOST:
        return "any", None
    if word.upper() == "E*":
        raise SteerRefused("E* (beyond the project's gateway) is not supported: name a host")
    return _name(f"{space}/{word}")


def _name(text: str) -> tuple[str, int | None]:
    """The host part of ``[token/]project/host[:port]`` and its port."""
    try:
        host = parse_host(text)
    except SyntaxProblem as problem:
        raise SteerRefused(str(problem)) from problem
    return host.host, host.port


def steer_pledge(
    steering: SteeringReservation, now: float, project_of: Callable[[Endpoint | None], str]
) -> dict[str, Any]:
    """A chain as Tegu showed a steering pledge (never with its cookie); ``project_of`` names
    an end's project."""
    word, remaining = tegu_state(steering, now)

    def host(end: Endpoint | None, port: int | None) -> str:
        name = ANY_HOST if end is None else end.name or end.given
        return f"{project_of(end)}/{name}:{port or 0}"

    protocol = steering.match.protocol or ""
    if protocol and steering.match.dst_port:
        protocol = f"{protocol}:{steering.match.dst_port}"
    pledge: dict[str, Any] = {
        "state": word,
        "time": remaining,
        "host1": host(steering.src, steering.match.src_port),
        "host2": host(steering.dst, steering.match.dst_port),
        "protocol": protocol,
        "id": steering.id,
        "ptype": STEER_PTYPE,
        "mbox_list": [box.given for box in steering.chain],
    }
    if steering.reason:
        pledge["reason"] = steering.reason
    return pledge
