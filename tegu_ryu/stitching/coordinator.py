"""The two-phase protocol across domains: this side's steps under the lock, the peer's
over HTTP outside it.

Origin (a tenant asked here for ``dst: siteB/hB``): hold locally, ask the
peer to hold the same label, bandwidth and window, commit the peer, commit
locally. Any refusal or silence aborts what was held on both sides; what the
peer may still hold and cannot be told now is owed to it (``peer_pending``,
stored with the reservation) and retried until it answers, so a restart
forgets nothing. A hold nobody commits lapses by itself on either side.

Cancel and changes of end or bandwidth go to the peer too; a change the
peer refuses is undone here. The peer endpoint (``/v1/stitches``) runs the
same local steps for a peer, which may act only on segments stitched to it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tegu_ryu.auth import CHALLENGE
from tegu_ryu.errors import Conflict, InvalidField, NotFound, RequestError, Unauthorized
from tegu_ryu.reservations.model import Bandwidth, Kind, RemoteEnd, Reservation, StitchReservation
from tegu_ryu.reservations.requests import parse_modification
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.stitching import protocol
from tegu_ryu.stitching.peer_client import PeerError, PeerLink, PeerRefused
from tegu_ryu.stitching.points import Peer, StitchSettings
from tegu_ryu.stitching.protocol import SegmentRequest
from tegu_ryu.stitching.requests import (
    change_body,
    commit_body,
    hold_body,
    host_address,
    parse_change,
    parse_hold,
)
from tegu_ryu.tenancy import Principal

LOG = logging.getLogger(__name__)
CANCEL = "cancel"
LABEL_TRIES = 4  # labels offered to a peer that says the one offered is busy there


class PeerUnavailable(RequestError):
    """The peer domain's controller did not answer; nothing is held on this side."""

    status = 502
    code = "peer_unreachable"


class Stitcher:
    """Stitched reservations: this domain's segment and the peer's, kept in step."""

    def __init__(
        self,
        service: ReservationService,
        settings: StitchSettings,
        client: PeerLink,
        clock: Callable[[], float],
    ) -> None:
        self.service = service
        self.settings = settings
        self.client = client
        self.clock = clock
        self._in_flight: set[str] = set()  # tokens of changes a request thread is deciding

    # ---------------------------------------------------------------- origin

    def reserve(self, principal: Principal, request: SegmentRequest) -> StitchReservation:
        """Hold here, hold there, commit there, commit here; or leave nothing held."""
        if request.remote.domain == self.settings.domain:
            raise NotFound(
                f"{request.remote.given} names this domain; give the host alone",
                code="unknown_domain",
            )
        peer = self._peer(request.remote.domain)
        engine = self.service.engine
        held, answer = self._held_on_both_sides(principal, request, peer)
        try:
            remote = _remote_from(request.remote, answer)
            peer_id = _text(answer, "id")
        except ValueError as exc:
            self._abort(held.id, f"the peer's answer is unusable: {exc}", owed=False)
            raise PeerUnavailable(f"peer {peer.name} answered the hold badly: {exc}") from None
        with self.service.lock:
            current = protocol.stitch_of(engine, held.id)
            recorded = replace(current, peer_id=peer_id, remote=remote)
            engine.put(recorded)
            self._save(current, recorded)
        try:
            self.client.commit(peer, peer_id)
        except PeerError as failure:
            self._abort(held.id, f"the peer did not commit: {failure}", owed=True)
            raise _refused(peer, failure) from None
        try:
            with self.service.lock:
                before = protocol.stitch_of(engine, held.id)
                committed = protocol.commit(engine, self.clock(), held.id)
                self._save(before, committed)
        except Conflict:
            self._abort(held.id, "the hold lapsed here before the commit", owed=True)
            raise
        self.service.on_change()
        return committed

    def _held_on_both_sides(
        self, principal: Principal, request: SegmentRequest, peer: Peer
    ) -> tuple[StitchReservation, dict[str, Any]]:
        """Hold here, then ask the peer to hold the same label; the peer's answer.

        A label free here can be busy there (a cancel it has not heard yet still
        holds it): then the next free label is tried, up to ``LABEL_TRIES``.
        """
        avoid: set[int] = set()
        busy: PeerRefused | None = None  # the peer's last "that label is busy here"
        while True:
            attempt = replace(request, avoid=frozenset(avoid))
            try:
                with self.service.lock:
                    held = protocol.hold(
                        self.service.engine, self.settings, self.clock(), principal.tenant, attempt
                    )
                    self._save(None, held)
            except Conflict as refused:
                if busy is not None and refused.code == "no_label":  # the rest is busy there
                    raise _refused(peer, busy) from None
                raise
            src = {"host": held.local.name or held.local.given, "mac": held.local.mac}
            src["ip"] = held.local.ip
            try:
                return held, self.client.hold(peer, hold_body(request, held.id, held.label, src))
            except PeerError as failure:
                self._abort(held.id, f"the peer did not hold its side: {failure}", owed=False)
                avoid.add(held.label)
                if not isinstance(failure, PeerRefused) or failure.code != "no_label":
                    raise _refused(peer, failure) from None
                busy = failure
                if len(avoid) >= LABEL_TRIES:
                    raise _refused(peer, busy) from None

    # ---------------------------------------------------- either side, tenants

    def cancel(self, principal: Principal, reservation_id: str) -> StitchReservation:
        """Cancel here, then tell the peer (or owe it the cancel until it answers)."""
        engine = self.service.engine
        with self.service.lock:
            before = self.service.get(principal, reservation_id)
            assert isinstance(before, StitchReservation)
            cancelled = engine.cancel(self.clock(), reservation_id)
            assert isinstance(cancelled, StitchReservation)
            owed = replace(
                cancelled, peer_pending=CANCEL if cancelled.peer_id else None, change=None
            )
            engine.put(owed)
            self._save(before, owed)
        self.service.on_change()
        self.deliver(owed)
        return protocol.stitch_of(engine, reservation_id)

    def modify(self, principal: Principal, reservation_id: str, body: Any) -> StitchReservation:
        """A new end and/or bandwidth here and at the peer, or at neither: held on both
        sides (the larger terms booked), then committed at the peer, then here.

        The peer's commit (or its hold lapsing first) decides the change, once; this
        side follows it. A peer silent at the commit leaves the change held here and
        owed (``peer_pending`` ``change``): asked again until the peer says which.
        """
        engine = self.service.engine
        token = uuid.uuid4().hex
        with self.service.lock:
            before = self.service.get(principal, reservation_id)
            assert isinstance(before, StitchReservation)
            change = parse_modification(body, self.clock(), Kind.BANDWIDTH)
            peer = self._peer(before.remote.domain)
            if before.peer_id is None:
                raise Conflict(
                    f"stitched reservation {before.id} has no segment at the peer yet",
                    code="not_stitched",
                )
            held = protocol.hold_change(
                engine,
                self.settings,
                self.clock(),
                reservation_id,
                (change.end, change.bandwidth),
                token=token,
                hold_until=None,
            )
            held = self._store_pending(before, replace(held, peer_pending="change"))
            self._in_flight.add(token)
        try:
            return self._change_both(peer, held, token, change_body(token, *held_terms(held)))
        finally:
            with self.service.lock:
                self._in_flight.discard(token)

    def _change_both(
        self, peer: Peer, held: StitchReservation, token: str, hold: dict[str, Any]
    ) -> StitchReservation:
        assert held.peer_id is not None
        try:
            self.client.modify(peer, held.peer_id, hold)
        except PeerError as failure:  # the peer holds nothing, or a hold that lapses there
            self._settle(held.id, token, commit=False)
            raise _refused(peer, failure) from None
        with self.service.lock:
            current = protocol.stitch_of(self.service.engine, held.id)
            if current.change is None or current.change.token != token:
                raise Conflict(f"stitched reservation {held.id} ended meanwhile", code="ended")
            decided = replace(current, change=replace(current.change, committing=True))
            self._store_pending(current, decided)
        try:
            self.client.modify(peer, held.peer_id, commit_body(token))
        except PeerRefused as refused:
            if not _not_committed(refused):
                raise self._in_doubt(peer, held.id, refused) from None
            self._settle(held.id, token, commit=False)
            raise _refused(peer, refused) from None
        except PeerError as failure:
            raise self._in_doubt(peer, held.id, failure) from None
        return self._settle(held.id, token, commit=True)

    def _in_doubt(self, peer: Peer, reservation_id: str, failure: PeerError) -> RequestError:
        LOG.warning(
            "change of %s: no word from %s on its commit (%s); asking again",
            reservation_id,
            peer.name,
            failure,
        )
        return PeerUnavailable(
            f"domain {peer.name} did not answer the commit of the change: it is held on "
            f"both sides until {peer.name} says whether it committed it, and then settled "
            "the same way here (stitch.peer_pending is change until then)",
            details={"domain": peer.name, "pending": "change"},
        )

    def _settle(self, reservation_id: str, token: str, *, commit: bool) -> StitchReservation:
        """The held change ``token`` settled here as the peer settled it; nothing owed."""
        engine = self.service.engine
        with self.service.lock:
            before = protocol.stitch_of(engine, reservation_id)
            settled = protocol.settle_change(
                engine, self.clock(), reservation_id, token, commit=commit
            )
            if settled.peer_pending == "change":
                settled = replace(settled, peer_pending=None)
                engine.put(settled)
            if settled is not before:
                self._save(before, settled)
        if settled is not before:
            self.service.on_change()
        return settled

    def _store_pending(
        self, before: StitchReservation, after: StitchReservation
    ) -> StitchReservation:
        self.service.engine.put(after)
        self._save(before, after)
        return after

    # ------------------------------------------------------------ peer side

    def peer_hold(self, peer: Peer, body: Any) -> StitchReservation:
        """Hold our side of ``peer``'s reservation (the origin commits or aborts it)."""
        now = self.clock()
        request = parse_hold(body, peer.name, now)
        with self.service.lock:
            replayed = protocol.held_for(self.service.engine, peer.name, request.peer_id)
            if replayed is not None:  # the origin did not hear our answer and asks again
                return replayed
            held = protocol.hold(
                self.service.engine, self.settings, now, f"peer:{peer.name}", request
            )
            self._save(None, held)
        return held

    def peer_segment(self, peer: Peer, reservation_id: str) -> StitchReservation:
        """A segment stitched to ``peer``; to it, any other reservation does not exist."""
        with self.service.lock:
            segment = self.service.engine.reservations.get(reservation_id)
        if not isinstance(segment, StitchReservation) or segment.remote.domain != peer.name:
            raise NotFound(f"no segment {reservation_id} stitched to {peer.name}")
        return segment

    def peer_commit(self, peer: Peer, reservation_id: str) -> StitchReservation:
        self.peer_segment(peer, reservation_id)
        engine = self.service.engine
        with self.service.lock:
            before = protocol.stitch_of(engine, reservation_id)
            try:
                committed = protocol.commit(engine, self.clock(), reservation_id)
            except Conflict:
                after = protocol.stitch_of(engine, reservation_id)
                if after is not before:  # the hold lapsed just now: that is stored too
                    self._save(before, after)
                    self.service.on_change()
                raise
            if committed is not before:
                self._save(before, committed)
        self.service.on_change()
        return committed

    def peer_cancel(self, peer: Peer, reservation_id: str) -> StitchReservation:
        """The peer aborted or cancelled: end our side (nothing to tell it back)."""
        self.peer_segment(peer, reservation_id)
        engine = self.service.engine
        with self.service.lock:
            before = protocol.stitch_of(engine, reservation_id)
            ended = protocol.abort(
                engine, self.clock(), reservation_id, f"cancelled by domain {peer.name}"
            )
            if ended is not before:
                self._save(before, ended)
        self.service.on_change()
        return ended

    def peer_modify(self, peer: Peer, reservation_id: str, body: Any) -> StitchReservation:
        """The peer's change: hold it (until ``hold_timeout``, then it lapses) or commit it."""
        self.peer_segment(peer, reservation_id)
        engine = self.service.engine
        with self.service.lock:
            now = self.clock()
            step = parse_change(body, now)
            before = protocol.stitch_of(engine, reservation_id)
            if step.step == "commit":
                try:
                    after = protocol.commit_change(engine, now, reservation_id, step.token)
                except Conflict:  # a change that lapsed just now is stored so
                    lapsed = protocol.stitch_of(engine, reservation_id)
                    self._save_changed(before, lapsed)
                    if lapsed is not before:
                        self.service.on_change()
                    raise
            else:
                after = protocol.hold_change(
                    engine,
                    self.settings,
                    now,
                    reservation_id,
                    (step.end, step.bandwidth),
                    token=step.token,
                    hold_until=now + self.settings.hold_timeout,
                )
            self._save_changed(before, after)
        self.service.on_change()
        return after

    def peer_of(self, authorization: str | None) -> Peer:
        """The peer a ``/v1/stitches`` request comes from, by its token; 401 with a
        challenge, as every other endpoint, when there is none or it is no peer's."""
        scheme, _, token = (authorization or "").partition(" ")
        peer = (
            self.settings.peer_by_token(token.strip())
            if scheme.lower() == "bearer" and token.strip()
            else None
        )
        if peer is None:
            raise Unauthorized(
                "the stitching endpoint needs a peer controller's token "
                "(Authorization: Bearer TOKEN)",
                headers=CHALLENGE,
            )
        return peer

    # -------------------------------------------------------------- retries

    def owed(self, peer: str | None = None) -> list[StitchReservation]:
        """Segments (stitched to ``peer``, or to any) with something the peer has not
        acknowledged yet: a cancel, or the outcome of a change."""
        with self.service.lock:
            return [
                r
                for r in self.service.engine.reservations.values()
                if isinstance(r, StitchReservation)
                and r.peer_pending is not None
                and (peer is None or r.remote.domain == peer)
            ]

    def retry(self) -> int:
        """``retry_peer`` for every peer in turn; how many things are still owed."""
        return sum(self.retry_peer(name) for name in self.settings.peers)

    def retry_peer(self, peer: str) -> int:
        """Lapse the changes held for ``peer`` past their hold, and deliver what is owed to
        it while it answers; returns how many are still owed to it."""
        self._lapse_changes(peer)
        return sum(not self.deliver(segment) for segment in self.owed(peer))

    def run_retries(self, peer: str, stopping: threading.Event) -> None:
        """Retry what is owed to ``peer`` every ``retry_interval`` until ``stopping``: one
        such loop per peer, so that a dead peer's timeouts delay only what is owed to it."""
        while not stopping.wait(self.settings.retry_interval):
            try:
                self.retry_peer(peer)
            except Exception:
                LOG.exception("retrying what is owed to peer domain %s failed", peer)

    def deliver(self, segment: StitchReservation) -> bool:
        """Send the peer what is owed for ``segment``; True once it has it (or knows
        nothing of it: then there is nothing there to cancel or change)."""
        if segment.peer_pending is None or segment.peer_id is None:
            return True
        peer = self.settings.peers.get(segment.remote.domain)
        if peer is None:
            LOG.warning(
                "segment %s: peer %s is no longer configured", segment.id, segment.remote.domain
            )
            return False
        if segment.peer_pending == "change":
            return self._resolve_change(peer, segment)
        try:
            self.client.cancel(peer, segment.peer_id)
        except PeerRefused as refused:
            if refused.status != 404:
                LOG.warning("peer %s refused the cancel of %s: %s", peer.name, segment.id, refused)
                return False
        except PeerError as failure:
            LOG.info("cancel of %s owed to %s: %s", segment.id, peer.name, failure)
            return False
        with self.service.lock:
            current = protocol.stitch_of(self.service.engine, segment.id)
            delivered = replace(current, peer_pending=None)
            self.service.engine.put(delivered)
            self._save(current, delivered)
        return True

    def _resolve_change(self, peer: Peer, segment: StitchReservation) -> bool:
        """Ask the peer again for the commit of a change it may have committed; settle it
        here as it says. A change not yet decided (this controller stopped before asking
        for the commit) was never committed there: it is undone (its hold there lapses)."""
        change = segment.change
        with self.service.lock:
            if change is not None and change.token in self._in_flight:
                return False  # a request thread is deciding it right now
        if change is None:
            self._settle(segment.id, "", commit=False)
            return True
        if not change.committing:
            self._settle(segment.id, change.token, commit=False)
            return True
        assert segment.peer_id is not None
        try:
            self.client.modify(peer, segment.peer_id, commit_body(change.token))
        except PeerRefused as refused:
            if not _not_committed(refused):
                LOG.warning("peer %s refused the commit of %s: %s", peer.name, segment.id, refused)
                return False
            settled = self._settle(segment.id, change.token, commit=False)
        except PeerError as failure:
            LOG.info("the change of %s is owed to %s: %s", segment.id, peer.name, failure)
            return False
        else:
            settled = self._settle(segment.id, change.token, commit=True)
        LOG.info(
            "change of %s settled with %s: end %s, bandwidth %s",
            segment.id,
            peer.name,
            settled.window.end,
            settled.bandwidth,
        )
        return True

    def _lapse_changes(self, peer: str) -> None:
        """Changes ``peer`` asked to hold and never committed go back to the terms before."""
        engine = self.service.engine
        with self.service.lock:
            now = self.clock()
            lapsed_ids = protocol.lapsed_changes(engine, now, peer)
            for reservation_id in lapsed_ids:
                before = protocol.stitch_of(engine, reservation_id)
                assert before.change is not None
                lapsed = protocol.settle_change(
                    engine, now, reservation_id, before.change.token, commit=False
                )
                self._save(before, lapsed)
                LOG.info("the change %s held for %s lapsed", reservation_id, peer)
        if lapsed_ids:
            self.service.on_change()

    # -------------------------------------------------------------- helpers

    def _peer(self, domain: str) -> Peer:
        peer = self.settings.peers.get(domain)
        if peer is None or self.settings.point_toward(domain) is None:
            raise NotFound(
                f"no stitch point toward domain {domain!r} is configured here",
                code="unknown_domain",
                details={"domain": domain},
            )
        return peer

    def _abort(self, reservation_id: str, reason: str, *, owed: bool) -> None:
        """End the local hold; ``owed``: the peer may hold its side, tell it (now or later)."""
        engine = self.service.engine
        with self.service.lock:
            before = protocol.stitch_of(engine, reservation_id)
            ended = protocol.abort(engine, self.clock(), reservation_id, reason)
            if owed and before.peer_id is not None:
                ended = replace(ended, peer_pending=CANCEL)
                engine.put(ended)
            self._save(before, ended)
        LOG.warning("stitched reservation %s aborted: %s", reservation_id, reason)
        if owed:
            self.deliver(ended)

    def _save_changed(self, before: StitchReservation, after: StitchReservation) -> None:
        if after is not before:
            self._save(before, after)

    def _save(self, before: Reservation | None, after: Reservation) -> None:
        """Store ``after``; if the store fails, the engine goes back to ``before``."""
        engine = self.service.engine
        try:
            self.service.store.save_reservations([after])
        except Exception:
            engine.forget(after.id)
            if before is not None:
                engine.restore([before])
            raise


def _refused(peer: Peer, failure: PeerError) -> RequestError:
    """How a peer's failure reaches the client here: its refusal as a 409 naming its code."""
    if isinstance(failure, PeerRefused):
        return Conflict(
            f"domain {peer.name} refused: {failure.message}",
            code="peer_refused",
            details={"domain": peer.name, "peer_code": failure.code},
        )
    return PeerUnavailable(f"domain {peer.name} did not answer: {failure}")


def _not_committed(refused: PeerRefused) -> bool:
    """A refusal of a commit that says the peer did not and will not commit the change."""
    return refused.status == 404 or refused.code in ("change_lapsed", "ended")


def held_terms(segment: StitchReservation) -> tuple[float | None, Bandwidth | None]:
    """The new end and bandwidth of the change ``segment`` holds, as the peer is asked."""
    assert segment.change is not None
    return segment.change.end, segment.change.bandwidth


def _remote_from(asked: RemoteEnd, answer: dict[str, Any]) -> RemoteEnd:
    """The far host as the peer described it in its hold's answer."""
    host = answer.get("host")
    if not isinstance(host, dict):
        raise ValueError("no host in the answer")
    mac, ip = host.get("mac"), host.get("ip")
    if not all(v is None or isinstance(v, str) for v in (mac, ip)):
        raise ValueError("the host's mac and ip must be strings")
    try:
        mac, ip = host_address(mac, ip, "host")
    except InvalidField as exc:
        raise ValueError(exc.message) from None
    return RemoteEnd(asked.domain, asked.host, mac, ip)


def _text(answer: dict[str, Any], key: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"no {key} in the answer")
    return value


def peer_view(segment: StitchReservation) -> dict[str, Any]:
    """A segment as ``/v1/stitches`` shows it to the peer."""
    return {
        "id": segment.id,
        "state": segment.state.value,
        "label": segment.label,
        "handoff": segment.handoff,
        "point": segment.point,
        "hold_until": segment.hold_until,
        "bandwidth": {"out": segment.bandwidth.out, "in": segment.bandwidth.in_},
        "start": segment.window.start,
        "end": segment.window.end,
        "host": {"name": segment.local.name, "mac": segment.local.mac, "ip": segment.local.ip},
    }
