"""Property-based fuzzing of Tegu's ``/tegu/api`` text protocol, in-process.

Bodies are drawn from Tegu's grammar (commands, bandwidths, windows, host
names with tokens, projects, ports and VLANs, cookies, DSCP classes), mixed
with junk words, separators, quotes and extreme numbers. Whatever comes in:
HTTP 200 with a well-formed envelope, one state per command, and every
reservation that was stored is one the switches can enforce (a finite window
within reach, ports and VLANs in range, rates a meter can express), and loads
back after a restart.
"""

from __future__ import annotations

import json
import math
from contextlib import closing
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webob import Request

from tegu_ryu.api.wsgi import Api
from tegu_ryu.assembly import assemble_controller
from tegu_ryu.auth import Authenticator
from tegu_ryu.controller import ControllerSettings
from tegu_ryu.reservations.model import Reservation
from tegu_ryu.reservations.store import Store
from tegu_ryu.reservations.window import MAX_AHEAD
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.units import MAX_BITRATE

STATIC = str(Path(__file__).resolve().parents[2] / "conf" / "static-topology.json")
NOW = 1_800_000_000.0
TOKENS = {"admintok": Principal("ops", admin=True), "acmetok": Principal("acme", admin=False)}

numbers = st.one_of(
    st.integers(-5, 10**6).map(str),
    st.sampled_from(["0", "1e400", "inf", "-inf", "nan", "1" + "0" * 30, "0x1f", "0123", "1.5"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
units = st.sampled_from(["", "K", "M", "G", "k", "GiB"])
bandwidths = st.one_of(
    st.sampled_from(["1M", "10M", "500K", "2M,1M", "64k"]),
    st.builds(lambda n, u: f"{n}{u}", numbers, units),
    st.builds(lambda a, b: f"{a},{b}", st.sampled_from(["1M", "0", "5k"]), st.just("x")),
)
windows = st.one_of(
    st.sampled_from(["+60", "+3600", f"{NOW + 10:.0f}-{NOW + 100:.0f}", f"{NOW + 50:.0f}"]),
    st.builds(lambda n: f"+{n}", numbers),
    st.builds(lambda a, b: f"{a}-{b}", numbers, numbers),
    st.builds(lambda d: str(int(NOW) + d), st.integers(-100, 10**10)),
)
names = st.sampled_from(["h1", "h2", "h3", "h4", "10.0.0.1", "[fd00::3]", "10.9.9.9", "", "a-b"])


def hosts(near: list[str]) -> st.SearchStrategy[str]:
    """Host names: mostly well-formed ones from ``near``, sometimes anything Tegu allows."""
    return st.one_of(
        st.builds(
            lambda n, p: f"{n}{p}", st.sampled_from(near), st.sampled_from(["", ":80", "{7}"])
        ),
        st.builds(
            lambda prefix, name, port, vlan: f"{prefix}{name}{port}{vlan}",
            st.sampled_from(
                ["", "acmetok/acme/", "admintok/", "bad/acme/", "a/b/c/d/", "!//", "!"]
            ),
            names,
            st.one_of(st.just(""), st.builds(lambda p: f":{p}", numbers), st.just(":80/0xffff")),
            st.one_of(st.just(""), st.builds(lambda v: f"{{{v}}}", numbers)),
        ),
    )


junk = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
commands = st.one_of(
    st.builds(
        lambda auth, verb, opts, bw, window, a, b, cookie, dscp: (
            f"{auth}{verb} {opts}{bw} {window} {a},{b} {cookie} {dscp}"
        ),
        st.one_of(st.just("auth=acmetok "), st.sampled_from(["", "auth=bad ", "auth=admintok "])),
        st.sampled_from(["reserve", "ow_reserve", "owreserve"]),
        st.sampled_from(["", "proto=tcp ", "proto=udp ", "proto=sctp ", "=x "]),
        bandwidths,
        windows,
        hosts(["h1", "h2"]),
        hosts(["h3", "h4"]),
        st.sampled_from(["c", "'quoted cookie'", '"', ""]),
        st.sampled_from(["voice", "global_data", "0", "gold", ""]),
    ),
    st.builds(
        lambda auth, verb, words: auth + " ".join([verb, *words]),
        st.sampled_from(["auth=admintok ", "auth=acmetok ", "", "auth= ", "auth=bad "]),
        st.sampled_from(
            [
                "ping",
                "listres",
                "listhosts",
                "listconns",
                "graph",
                "listulcaps",
                "setulcap",
                "setdiscount",
                "qdump",
                "cancelres",
                "refresh",
                "verbose",
                "pause",
                "resume",
                "chkpt",
                "bogus",
            ]
        ),
        st.lists(st.one_of(junk, numbers, hosts(["h1"]), st.just("all")), max_size=4),
    ),
    junk,
)
bodies = st.builds(
    lambda parts, seps: "".join(f"{part}{sep}" for part, sep in zip(parts, seps, strict=False)),
    st.lists(commands, min_size=1, max_size=6),
    st.lists(st.sampled_from(["\n", ";", " ; ", "\n# comment\n", "\r\n"]), min_size=6, max_size=6),
)


class InProcess:
    """One controller and API for a whole property test; fresh state directory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        settings = ControllerSettings(
            capacity=CapacityPolicy(), state_dir=str(self.folder / "state"), static_topology=STATIC
        )
        self.controller = assemble_controller(settings, now=NOW)
        self.api = Api(self.controller, Authenticator(TOKENS), clock=lambda: NOW)

    def post(self, body: str, header: str | None) -> tuple[int, Any]:
        request = Request.blank("/tegu/api", method="POST", body=body.encode("utf-8"))
        if header is not None:
            request.headers["X-Auth-Tegu"] = header
        response = request.get_response(self.api)
        return response.status_int, json.loads(response.body)


def test_any_body_gets_a_well_formed_envelope_and_stores_only_enforceable_reservations(
    tmp_path: Path,
) -> None:
    api = InProcess(tmp_path)

    @settings(
        max_examples=1000,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=bodies, header=st.sampled_from([None, "", "acmetok", "admintok", "/", "/acme"]))
    def one_body(body: str, header: str | None) -> None:
        status, reply = api.post(body, header)
        assert status == 200, reply
        assert set(reply) == {"reqstate", "endstate"}
        assert reply["endstate"]["status"] in ("OK", "ERROR")
        for state in reply["reqstate"]:
            assert state["status"] in ("OK", "ERROR", "WARN")
            assert len(state["comment"]) < 2000, "a reply must not echo a body back"
        for reservation in api.controller.reservations.engine.reservations.values():
            assert enforceable(reservation)

    one_body()
    live = api.controller.reservations.engine.reservations
    assert live, "the grammar never produced an admitted reservation"
    api.controller.reservations.store.close()
    with closing(Store(api.folder / "state")) as store:
        loaded = store.load()
    assert loaded.damaged == []
    assert {r.id for r in loaded.reservations} == set(live)


def enforceable(reservation: Reservation) -> bool:
    """What a switch can be told: finite times within reach, ranges a flow and a meter hold."""
    window, match, bandwidth = reservation.window, reservation.match, reservation.bandwidth
    return (
        math.isfinite(window.start)
        and math.isfinite(window.end)
        and window.end - NOW <= MAX_AHEAD
        and 0 < bandwidth.out <= MAX_BITRATE
        and 0 <= bandwidth.in_ <= MAX_BITRATE
        and all(port is None or 1 <= port <= 65535 for port in (match.src_port, match.dst_port))
        and (match.vlan is None or 1 <= match.vlan <= 4094)
    )
