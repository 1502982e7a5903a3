"""Stitched requests: a v1 reservation whose destination is in another domain, and the
bodies peers send to ``/v1/stitches``; checked field by field, before anything is booked."""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Any

from tegu_ryu.errors import InvalidField, RequestError
from tegu_ryu.reservations.model import Bandwidth, Kind, RemoteEnd, StitchRole
from tegu_ryu.reservations.requests import object_fields, parse_bandwidth, window_of
from tegu_ryu.reservations.window import WindowError, requested_window
from tegu_ryu.stitching.protocol import SegmentRequest
from tegu_ryu.timefmt import format_time, parse_time

_STITCHED_FIELDS = {"type", "src", "dst", "bandwidth", "start", "end", "duration", "name"}
MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_HOLD_FIELDS = {"origin_id", "src", "host", "bandwidth", "start", "end", "label", "point", "name"}
_CHANGE_FIELDS = {"change", "step", "end", "bandwidth"}
STEPS = ("hold", "commit")
MAX_TEXT = 256


def remote_of(body: Any) -> RemoteEnd | None:
    """The remote destination a v1 reservation body names (``{"domain", "host"}`` or
    ``"DOMAIN/HOST"``); None when its destination is local (or not there at all)."""
    dst = body.get("dst") if isinstance(body, dict) else None
    if isinstance(dst, dict):
        unknown = sorted(set(dst) - {"domain", "host"})
        if unknown:
            raise InvalidField(f"dst.{unknown[0]}", "unknown field; expected domain and host")
        return RemoteEnd(_text(dst, "domain", "dst.domain"), _text(dst, "host", "dst.host"))
    if isinstance(dst, str) and "/" in dst:
        domain, _, host = dst.strip().partition("/")
        if not domain or not host or len(dst) > MAX_TEXT:
            raise InvalidField("dst", "a remote destination is DOMAIN/HOST")
        return RemoteEnd(domain, host)
    return None


def parse_stitched(body: Any, now: float, remote: RemoteEnd) -> SegmentRequest:
    """A ``POST /v1/reservations`` body whose destination is ``remote`` (see ``remote_of``)."""
    fields = object_fields(body, _STITCHED_FIELDS)
    if fields.get("type", "bandwidth") != "bandwidth":
        raise InvalidField("type", "a reservation to another domain is of type bandwidth")
    name = fields.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 128):
        raise InvalidField("name", "expected a string of 1 to 128 characters")
    return SegmentRequest(
        role=StitchRole.ORIGIN,
        host=_text(fields, "src", "src"),
        remote=remote,
        bandwidth=parse_bandwidth(fields.get("bandwidth"), Kind.BANDWIDTH),
        window=window_of(fields, now),
        name=name,
    )


def hold_body(
    request: SegmentRequest, origin_id: str, label: int, src: dict[str, Any]
) -> dict[str, Any]:
    """What the origin asks its peer to hold (``parse_hold`` on the other side reads it)."""
    body: dict[str, Any] = {
        "origin_id": origin_id,
        "src": src,
        "host": request.remote.host,
        "bandwidth": {"out": request.bandwidth.out, "in": request.bandwidth.in_},
        "start": format_time(request.window.start),
        "end": format_time(request.window.end),
        "label": label,
    }
    if request.name is not None:
        body["name"] = request.name
    return body


def parse_hold(body: Any, peer: str, now: float) -> SegmentRequest:
    """A peer's ``POST /v1/stitches``: hold our side of its reservation."""
    fields = object_fields(body, _HOLD_FIELDS)
    src = fields.get("src")
    if not isinstance(src, dict):
        raise InvalidField("src", "expected {host, mac?, ip?}: the origin's host")
    unknown = sorted(set(src) - {"host", "mac", "ip"})
    if unknown:
        raise InvalidField(f"src.{unknown[0]}", "unknown field; expected host, mac and ip")
    mac, ip = host_address(
        _optional_text(src, "mac", "src.mac"), _optional_text(src, "ip", "src.ip"), "src"
    )
    remote = RemoteEnd(peer, _text(src, "host", "src.host"), mac, ip)
    label = fields.get("label")
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < 2**32:
        raise InvalidField("label", "expected the label the origin chose, an integer")
    for key in ("start", "end"):
        if key not in fields:
            raise InvalidField(key, "is required")
    try:
        window = requested_window(_time(fields, "start"), _time(fields, "end"), None, now)
    except WindowError as exc:
        raise InvalidField(exc.field, exc.message) from exc
    name = _optional_text(fields, "name", "name")
    return SegmentRequest(
        role=StitchRole.PEER,
        host=_text(fields, "host", "host"),
        remote=remote,
        bandwidth=_rates(fields.get("bandwidth")),
        window=window,
        name=name if name is None else name[:128],
        label=label,
        point=_optional_text(fields, "point", "point"),
        peer_id=_text(fields, "origin_id", "origin_id"),
    )


@dataclass(frozen=True)
class ChangeStep:
    """A step of a change across domains: ``hold`` the new end and/or bandwidth, or
    ``commit`` the change held under ``token``."""

    token: str
    step: str
    end: float | None = None
    bandwidth: Bandwidth | None = None


def parse_change(body: Any, now: float) -> ChangeStep:
    """A peer's ``PATCH /v1/stitches/{id}``: hold a change (new end and/or bandwidth, bit/s
    numbers) under the token it names, or commit the one held under it."""
    fields = object_fields(body, _CHANGE_FIELDS)
    token = _text(fields, "change", "change")
    step = fields.get("step")
    if step not in STEPS:
        raise InvalidField("step", f"expected one of {', '.join(STEPS)}")
    if step == "commit":
        if fields.keys() - {"change", "step"}:
            raise InvalidField("step", "a commit names the change only")
        return ChangeStep(token, step)
    if fields.get("end") is None and fields.get("bandwidth") is None:
        raise RequestError("nothing to change: give end and/or bandwidth")
    end = _time(fields, "end") if fields.get("end") is not None else None
    if end is not None and end <= now:
        raise InvalidField("end", "must be in the future")
    rates = _rates(fields["bandwidth"]) if fields.get("bandwidth") is not None else None
    return ChangeStep(token, step, end, rates)


def change_body(token: str, end: float | None, bandwidth: Bandwidth | None) -> dict[str, Any]:
    """What holding a change looks like to the peer (``parse_change`` reads it)."""
    body: dict[str, Any] = {"change": token, "step": "hold"}
    if end is not None:
        body["end"] = format_time(end)
    if bandwidth is not None:
        body["bandwidth"] = {"out": bandwidth.out, "in": bandwidth.in_}
    return body


def commit_body(token: str) -> dict[str, Any]:
    """The peer's commit of the change held under ``token``."""
    return {"change": token, "step": "commit"}


def _rates(value: Any) -> Bandwidth:
    if not isinstance(value, dict) or set(value) != {"out", "in"}:
        raise InvalidField("bandwidth", "expected {out, in} in bit/s")
    rates = [value["out"], value["in"]]
    if any(isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < 2**63 for r in rates):
        raise InvalidField("bandwidth", "out and in are whole bit/s")
    if not rates[0] and not rates[1]:
        raise InvalidField("bandwidth", "must be more than zero one way at least")
    return Bandwidth(rates[0], rates[1])


def _time(fields: dict[str, Any], key: str) -> float:
    try:
        value = parse_time(fields[key])
    except ValueError as exc:
        raise InvalidField(key, str(exc)) from exc
    if not math.isfinite(value):
        raise InvalidField(key, "is not a finite time")
    return value


def _text(fields: dict[str, Any], key: str, field: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidField(field, f"expected a string of 1 to {MAX_TEXT} characters")
    return value.strip()


def _optional_text(fields: dict[str, Any], key: str, field: str) -> str | None:
    return None if fields.get(key) is None else _text(fields, key, field)


def host_address(mac: str | None, ip: str | None, field: str) -> tuple[str | None, str | None]:
    """A far host's MAC and address as a peer reports them, checked and canonical: they end up
    in flows and ARP replies, where a malformed one would break planning for everyone."""
    if mac is not None:
        mac = mac.lower()
        if not MAC.fullmatch(mac) or int(mac[:2], 16) & 1:
            raise InvalidField(f"{field}.mac", "expected a unicast MAC like 02:00:00:00:00:01")
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise InvalidField(f"{field}.ip", "expected an IPv4 or IPv6 address") from None
    return mac, ip
