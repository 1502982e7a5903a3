"""JSON views of core records for the v1 API."""

from __future__ import annotations

from typing import Any

from tegu_ryu.api.kinds import kind_json
from tegu_ryu.api.kinds.bandwidth import hops_json
from tegu_ryu.reservations.engine import Alarm
from tegu_ryu.reservations.ledger import Peak
from tegu_ryu.reservations.model import Reservation
from tegu_ryu.reservations.policy import Fence
from tegu_ryu.reservations.service import Availability, LinkSchedule
from tegu_ryu.reservations.store import DamagedRecord
from tegu_ryu.tenancy import Principal
from tegu_ryu.timefmt import format_time
from tegu_ryu.topology.model import Link


def reservation_json(reservation: Reservation, enforcement: dict[str, Any]) -> dict[str, Any]:
    """A reservation as the v1 API shows it, with what the switches hold of it."""
    return {
        "enforcement": enforcement,
        "id": reservation.id,
        "type": reservation.type,
        "state": reservation.state.value,
        "owner": reservation.owner,
        "name": reservation.name,
        "start": format_time(reservation.window.start),
        "end": format_time(reservation.window.end),
        "created": format_time(reservation.created),
        "reason": reservation.reason,
        **kind_json(reservation),
    }


def damaged_json(record: DamagedRecord) -> dict[str, Any]:
    """A stored reservation that could not be loaded, as admins see it in listings."""
    return {"id": record.id, "owner": record.owner, "problem": record.problem}


def unshowable_json(reservation: Reservation, error: Exception) -> dict[str, Any]:
    """A loaded reservation whose view failed (a bug, logged): still named to admins."""
    return {
        "id": reservation.id,
        "owner": reservation.owner,
        "problem": f"cannot be shown: {type(error).__name__}: {error}"[:300],
    }


def availability_json(found: Availability) -> dict[str, Any]:
    return {
        "src": found.src,
        "dst": found.dst,
        "start": format_time(found.window.start),
        "end": format_time(found.window.end),
        **{
            direction.value: {
                "max_bps": bps,
                "path": None if route is None else hops_json(route),
            }
            for direction, (bps, route) in found.directions.items()
        },
    }


def link_json(link: Link, usable_bps: int, now: Peak, ahead: Peak) -> dict[str, Any]:
    return {
        "src": link.src.as_json(),
        "dst": link.dst.as_json(),
        "capacity_bps": link.capacity_bps,
        "usable_bps": usable_bps,
        "up": link.up,
        "booked_now_bps": now.amount,
        "peak_next_24h_bps": ahead.amount,
    }


def schedule_json(schedule: LinkSchedule, who: Principal) -> dict[str, Any]:
    return {
        "link": {"src": schedule.link.src.as_json(), "dst": schedule.link.dst.as_json()},
        "capacity_bps": schedule.link.capacity_bps,
        "usable_bps": schedule.usable_bps,
        "from": format_time(schedule.window.start),
        "to": format_time(schedule.window.end),
        "steps": [
            {
                "start": format_time(start),
                "end": format_time(end),
                "booked_bps": booked,
                "free_bps": schedule.usable_bps - booked,
            }
            for start, end, booked in schedule.steps
        ],
        "reservations": [
            {
                "id": r.id if who.admin or r.owner == who.tenant else None,
                "owner": r.owner if who.admin or r.owner == who.tenant else None,
                "direction": direction.value,
                "start": format_time(r.window.start),
                "end": format_time(r.window.end),
                "bps": r.rate(direction),
            }
            for r, direction in schedule.reservations
        ],
    }


def fence_json(tenant: str, fence: Fence, is_default: bool) -> dict[str, Any]:
    return {"tenant": tenant, "default": is_default, **fence.as_json()}


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    return {
        "raised": format_time(alarm.raised),
        "link": {"src": alarm.link.src.as_json(), "dst": alarm.link.dst.as_json()},
        "reservation": alarm.reservation,
        "interval": [format_time(alarm.start), format_time(alarm.end)],
        "booked_bps": alarm.booked_bps,
        "threshold_bps": alarm.threshold_bps,
    }
