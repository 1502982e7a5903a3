"""Admission of passthru reservations: a host's traffic keeps its own DSCP marking.

Tegu reset the DSCP of traffic entering the network unless a reservation
claimed it, and a passthru let one VM's traffic through with its marking.
Here that only means something when the network resets markings
(``dscp_policy = reset``); otherwise every host's marking is kept already and
a passthru is refused saying so. As in Tegu, a tenant whose fence is 0 may
not have one. Nothing is booked: the traffic is forwarded as usual.
"""

from __future__ import annotations

from dataclasses import replace

from tegu_ryu.errors import Conflict, Forbidden
from tegu_ryu.reservations.engine import Engine
from tegu_ryu.reservations.model import PassthruReservation, State, cookie_digest
from tegu_ryu.reservations.passthru_requests import PassthruRequest
from tegu_ryu.reservations.refusals import clash
from tegu_ryu.reservations.traffic import by_protocol
from tegu_ryu.tenancy import Principal

NOT_RESET = "passthru reservations not allowed: dscp_policy is keep, so no marking is reset"
FENCED_OUT = "user link capacity <= 0"


def admit_passthru(
    engine: Engine,
    now: float,
    principal: Principal,
    request: PassthruRequest,
    reset_dscp: bool,
) -> PassthruReservation:
    """Admit ``request`` for ``principal``, or raise saying why (nothing changes)."""
    if not reset_dscp:
        raise Conflict(NOT_RESET, code="dscp_policy")
    fence = engine.fence_of(principal.tenant)
    if fence.bps == 0 or fence.percent == 0:
        raise Conflict(f"{FENCED_OUT}: tenant {principal.tenant}'s fence is 0", code="fence")
    host = engine.resolve(request.host, "host", external_ok=False)
    known = engine.topology.host_by_mac(host.mac or "")
    if not principal.admin and (known is None or known.tenant != principal.tenant):
        raise Forbidden(
            f"host: {request.host} is not a host of tenant {principal.tenant} "
            "(a host's tenant is set in the static topology)"
        )
    passthru = PassthruReservation(
        id="",
        owner=principal.tenant,
        window=request.window,
        created=now,
        state=State.PENDING,
        name=request.name,
        cookie_digest=None if request.cookie is None else cookie_digest(request.cookie),
        host=host,
        match=request.match,
        src_ip=request.src_ip,
    )
    _refuse_duplicate(engine, passthru)
    return engine.admitted(now, passthru)


def modify_passthru(
    engine: Engine, now: float, passthru: PassthruReservation, end: float | None
) -> PassthruReservation:
    """A new end (a passthru has nothing else to change)."""
    changed = replace(passthru, window=engine.changed_window(passthru, end))
    _refuse_duplicate(engine, changed)
    return engine.rebooked(now, changed)


def _refuse_duplicate(engine: Engine, candidate: PassthruReservation) -> None:
    """409 ``duplicate`` for a live passthru of any owner, on the same host, that lets some of
    the same traffic through over an overlapping window: both would be the same entries at
    the host's port, and only one could be enforced (another owner's is not named)."""
    selected = set(by_protocol(candidate.match))
    for other in engine.reservations.values():
        if (
            isinstance(other, PassthruReservation)
            and other.id != candidate.id
            and not other.state.final
            and other.host.identity == candidate.host.identity
            and other.src_ip == candidate.src_ip
            and selected.intersection(by_protocol(other.match))
            and other.window.overlaps(candidate.window)
        ):
            raise clash(
                other,
                candidate.owner,
                "passthru",
                "already lets the same traffic of this host through over an overlapping window",
                "duplicate",
            )
