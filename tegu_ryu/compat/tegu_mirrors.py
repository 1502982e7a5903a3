"""Tegu's mirror API (``/tegu/mirrors/``) on the same mirrors as ``/v1/reservations``.

Scripts written for Tegu keep working: ``POST /tegu/mirrors/`` with Tegu's
JSON (``start_time``, ``end_time`` as Unix seconds, ``+N`` or ``unbounded``,
``output``, ``port`` list, ``vlan`` as ``"1,2"``, ``cookie``, ``name``,
``options``) answers 201 with one entry per mirror; ``GET`` lists the
caller's mirrors or shows one; ``DELETE`` ends one (204); every error is
``{"error": "..."}`` with Tegu's status and words. As Tegu made one mirror
per physical host, ports on several switches make one mirror per switch,
named ``NAME_0``, ``NAME_1``, ...

What differs: the token is a tegu_ryu token (``X-Auth-Tegu: TOKEN`` or
``TOKEN/project``; with ``auth_mode = none`` none is needed); ``output`` is a
host or ``DPID:PORT`` of this fabric, or, as in Tegu, an IP address that is no
host's (copies tunnelled over GRE to it) or ``label:NAME`` (a remote collector
named by ``mirror_label`` in the configuration); tunnel targets must lie in
``mirror_allowed_remotes``. ``options`` (which tuned Tegu's GRE ports) are
checked and otherwise have no effect;
``unbounded`` means ``MirrorSettings.unbounded`` from now, not Tegu's fixed
2025 date; admins may see and end every tenant's mirrors; another tenant's
mirror is ``404 Not found.`` (Tegu's 401 told that the name was in use).
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tegu_ryu.auth import Authenticator
from tegu_ryu.controller import Controller
from tegu_ryu.errors import Conflict, RequestError, Unauthorized
from tegu_ryu.reservations.mirror_admission import MirrorSettings, resolve_port
from tegu_ryu.reservations.mirror_requests import MirrorRequest, TunnelRequest
from tegu_ryu.reservations.model import (
    Match,
    MirrorDirection,
    MirrorReservation,
    State,
)
from tegu_ryu.reservations.window import Window, WindowError, requested_window
from tegu_ryu.strict_json import BadJson, parse_json
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.refs import dpid_str

NAME = re.compile(r"^[A-Za-z0-9_-]+$")
OPTIONS = {"flowmod", "df_default=true", "df_default=false", "df_inherit=true", "df_inherit=false"}
NO_TOKEN = (
    "A valid token with a tegu_admin or tegu_mirror role is required to execute mirroring commands"
)


@dataclass(frozen=True)
class MirrorCall:
    """One HTTP request to ``/tegu/mirrors/``; ``base_url`` is how the client reached us."""

    method: str
    name: str | None
    query: dict[str, str]
    body: bytes
    header: str | None  # X-Auth-Tegu
    base_url: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # JSON, or None for no content


class TeguMirrors:
    """Handles ``/tegu/mirrors/`` requests; ``base_url`` is how clients reach this server."""

    def __init__(
        self,
        controller: Controller,
        authenticator: Authenticator,
        super_cookie: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.controller = controller
        self.service = controller.reservations
        self.authenticator = authenticator
        self.super_cookie = super_cookie
        self.clock = clock
        self._names = threading.Lock()
        self._last_generated = 0

    def handle(self, request: MirrorCall) -> Reply:
        """Tegu's reply to one request (its status, and JSON or no content)."""
        method, name = request.method, request.name
        cookie = request.query.get("cookie", "")
        try:
            who = self._principal(request.header)
            if method == "POST" and name is None:
                return self._post(who, request.body, request.base_url)
            if method == "GET" and name is None:
                return self._list(who, cookie, request.base_url)
            if method == "GET" and name is not None:
                return self._show(who, name, cookie, request.base_url)
            if method == "DELETE" and name is not None:
                return self._delete(who, name, cookie)
            if method == "PUT":
                return _error(405, "PUT /tegu/mirrors/ requests are unsupported")
            return _error(405, f"unrecognised method: {method}")
        except _Failed as failed:
            return _error(failed.status, failed.message)

    # ----------------------------------------------------------- requests

    def _principal(self, header: str | None) -> Principal:
        if not header:
            if self.authenticator.required:
                raise _Failed(405, NO_TOKEN)
            return self.authenticator.authenticate(None)
        try:
            return self.authenticator.authenticate(f"Bearer {header.split('/')[0]}")
        except Unauthorized as exc:
            raise _Failed(401, NO_TOKEN) from exc

    def _post(self, who: Principal, body: bytes, base_url: str) -> Reply:
        fields = _request_fields(body)
        now = self.clock()
        settings = self.service.mirrors
        window = _window(fields["start_time"], fields["end_time"], now, settings)
        vlans = _vlans(fields["vlan"])
        options = [o for o in fields["options"].split(",") if o] if fields["options"] else []
        for option in options:
            if option not in OPTIONS:
                raise _Failed(400, f"Invalid option: {option}")
        name = fields["name"] or self._generated_name(now)
        if not NAME.match(name):
            raise _Failed(400, f"Invalid mirror name: {name}")
        groups, bad = self._ports_by_switch(who, fields["port"])
        if not groups:
            raise _Failed(400, "No valid ports found.")
        output = self._output(who, fields["output"], settings)
        names = [name] if len(groups) == 1 else [f"{name}_{n}" for n in range(len(groups))]
        results = []
        for mirror_name, ports in zip(names, groups.values(), strict=True):
            entry: dict[str, Any] = {"name": mirror_name, "port": ports}
            try:
                self._refuse_name_in_use(who, mirror_name)
                request = MirrorRequest(
                    ports=tuple(ports),
                    direction=MirrorDirection.BOTH,
                    output=output,
                    vlans=vlans,
                    match=Match(),
                    src=None,
                    dst=None,
                    bandwidth=None,
                    window=window,
                    name=mirror_name,
                    cookie=fields["cookie"] or None,
                )
                self.service.admit_mirror(who, request, now, lambda r: r)
                entry["url"] = _url(base_url, mirror_name)
            except RequestError as error:
                entry["error"] = _tegu_words(error)
            results.append(entry)
        if bad:
            results.append({"name": "_badports_", "port": bad, "error": "Invalid ports found."})
        return Reply(201, results)

    def _output(self, who: Principal, given: str, settings: MirrorSettings) -> str | TunnelRequest:
        """A collector port of this fabric, or a tunnel to a remote collector (Tegu's address or
        ``label:NAME``)."""
        if given.startswith("label:"):
            label = settings.labels.get(given.removeprefix("label:"))
            if label is None:
                raise _Failed(400, f"output {given}: no such label (mirror_label)")
            return label
        try:
            return resolve_port(self.service.engine, who, given, "output").given
        except RequestError as exc:
            if exc.code == "unknown_endpoint" and _is_address(given):
                return TunnelRequest("gre", str(ipaddress.ip_address(given)), None)
            raise _Failed(400, _output_problem(given, exc)) from exc

    def _list(self, who: Principal, cookie: str, base_url: str) -> Reply:
        mirrors = [
            m for m in self._mirrors(who) if not m.state.final and self._cookie_ok(m, cookie)
        ]
        return Reply(
            200, [{"name": m.name, "url": _url(base_url, m.name or m.id)} for m in mirrors]
        )

    def _show(self, who: Principal, name: str, cookie: str, base_url: str) -> Reply:
        mirror = self._named(who, name)
        if not self._cookie_ok(mirror, cookie):
            raise _Failed(401, "Unauthorized: cookie not valid.")
        now = self.clock()
        state = mirror.state_at(now)
        body: dict[str, Any] = {
            "name": name,
            "start_time": int(mirror.window.start),
            "end_time": int(mirror.window.end),
            "start_time_ascii": _ascii(mirror.window.start),
            "end_time_ascii": _ascii(mirror.window.end),
            "port": [choice.given for choice in mirror.ports],
            "output": mirror.output.given,
        }
        if mirror.vlans:
            body["vlan"] = ",".join(str(v) for v in mirror.vlans)
        body.update(
            {
                "physical_host": dpid_str(mirror.switch),
                "pushed": self.controller.enforcement(mirror)["status"] == "installed",
                "paused": self.service.paused,
                "pending": state is State.PENDING,
                "active": state is State.ACTIVE,
                "expired": state.final,
                "url": _url(base_url, name),
            }
        )
        return Reply(200, body)

    def _delete(self, who: Principal, name: str, cookie: str) -> Reply:
        mirror = self._named(who, name)
        if not self._cookie_ok(mirror, cookie):
            raise _Failed(401, "Unauthorized.")
        if not mirror.state.final:
            self.service.cancel(who, mirror.id, self.clock())
        return Reply(204, None)

    # ------------------------------------------------------------ helpers

    def _mirrors(self, who: Principal) -> list[MirrorReservation]:
        return [
            r for r in self.service.visible(who, kind="mirror") if isinstance(r, MirrorReservation)
        ]

    def _named(self, who: Principal, name: str) -> MirrorReservation:
        """The caller's newest mirror called ``name`` (an admin's: anyone's); 404 if none.

        Another tenant's mirror of the same name is as unknown as a missing one
        (Tegu answered 401, which told that it existed); an admin naming a
        mirror several tenants use must give its id.
        """
        with self.service.lock:
            named = [
                r
                for r in self.service.engine.reservations.values()
                if isinstance(r, MirrorReservation)
                and name in (r.name, r.id)
                and (who.admin or r.owner == who.tenant)
            ]
        if not named:
            raise _Failed(404, "Not found.")
        if len({r.owner for r in named}) > 1:
            raise _Failed(409, f"several tenants have a mirror called {name}; give its id instead")
        return max(named, key=lambda r: (not r.state.final, r.created))

    def _cookie_ok(self, mirror: MirrorReservation, cookie: str) -> bool:
        return (self.super_cookie is not None and cookie == self.super_cookie) or (
            mirror.cookie_matches(cookie)
        )

    def _refuse_name_in_use(self, who: Principal, name: str) -> None:
        for mirror in self._mirrors(who):
            if mirror.name == name and not mirror.state.final:
                raise Conflict(f"mirror name {name} is in use by {mirror.id}", code="duplicate")

    def _ports_by_switch(
        self, who: Principal, ports: list[str]
    ) -> tuple[dict[int, list[str]], list[str]]:
        groups: dict[int, list[str]] = {}
        bad = []
        for n, given in enumerate(ports):
            try:
                choice = resolve_port(self.service.engine, who, given, f"port[{n}]")
            except RequestError:
                bad.append(given)
                continue
            groups.setdefault(choice.port.dpid, []).append(given)
        return dict(sorted(groups.items())), bad

    def _generated_name(self, now: float) -> str:
        """``mir-<hex Unix time>``, one second later than the last if it would repeat (Tegu's)."""
        with self._names:
            stamp = max(int(now), self._last_generated + 1)
            self._last_generated = stamp
        return f"mir-{stamp:x}"


class _Failed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


def _request_fields(body: bytes) -> dict[str, Any]:
    try:
        document = parse_json(body)
    except BadJson as exc:
        raise _Failed(400, f"Bad JSON: {exc.message}") from exc
    if not isinstance(document, dict):
        raise _Failed(400, "Bad JSON: expected an object")
    fields: dict[str, Any] = {}
    for key in ("start_time", "end_time", "output", "vlan", "cookie", "name", "options"):
        value = document.get(key, "")
        if not isinstance(value, str):
            raise _Failed(400, f"Bad JSON: {key} must be a string")
        fields[key] = value.strip()
    ports = document.get("port", [])
    if not isinstance(ports, list) or not all(isinstance(p, str) for p in ports):
        raise _Failed(400, "Bad JSON: port must be a list of strings")
    fields["port"] = [p.strip() for p in ports if p.strip()]
    if not fields["end_time"] or not fields["output"] or not fields["port"]:
        raise _Failed(400, "Missing a required field.")
    return fields


def _window(start_text: str, end_text: str, now: float, settings: MirrorSettings) -> Window:
    try:
        start = float(int(start_text, 0)) if start_text else now
        start = max(start, now)
        if end_text == "unbounded":
            end = now + settings.unbounded
        elif end_text.startswith("+"):
            end = start + int(end_text[1:], 0)
        else:
            end = float(int(end_text, 0))
    except ValueError as exc:
        raise _Failed(400, f"invalid time: {exc}") from exc
    if end <= start:
        raise _Failed(400, f"end_time ({int(end)}) <= start_time, ({int(start)})")
    if end - start < settings.min_duration:
        raise _Failed(
            400,
            f"end_time - start_time ({int(end - start)}) is less than the minimum interval "
            f"({int(settings.min_duration)})",
        )
    try:
        return requested_window(start, end, None, now)
    except WindowError as exc:
        raise _Failed(400, f"invalid time window: {exc.message}") from exc


def _vlans(text: str) -> tuple[int, ...]:
    if not text:
        return ()
    vlans: list[int] = []
    for word in text.split(","):
        try:
            vlan = int(word, 10)
        except ValueError:
            vlan = -1
        if not 1 <= vlan <= 4094:
            raise _Failed(400, f"VLAN id is out of range: {word}")
        if vlan not in vlans:
            vlans.append(vlan)
    return tuple(vlans)


def _output_problem(given: str, error: RequestError) -> str:
    if error.code == "unknown_endpoint":
        return (
            f"output {given}: not a host or DPID:PORT of this network, an IP address (GRE) "
            "or label:NAME"
        )
    return f"output {given}: {error.message}"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _tegu_words(error: RequestError) -> str:
    details = error.details or {}
    if error.code == "duplicate" and details.get("reservation"):
        return f"reservation duplicates existing reservation: {details['reservation']}"
    return error.message


def _url(base_url: str, name: str) -> str:
    return f"{base_url}/tegu/mirrors/{name}/"


def _ascii(seconds: float) -> str:
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(seconds))
