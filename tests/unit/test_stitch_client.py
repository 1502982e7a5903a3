"""The peer client against a small HTTP server on loopback: answers, refusals, silence."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tegu_ryu.stitching.peer_client import PeerClient, PeerRefused, PeerUnreachable
from tegu_ryu.stitching.points import Peer

SEEN: list[tuple[str, str, str | None, object]] = []


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        SEEN.append((self.command, self.path, self.headers.get("Authorization"), body))
        if "slow" in self.path:
            time.sleep(1.0)
        status, reply = {
            "/v1/stitches": (201, {"id": "b-1", "host": {}}),
            "/v1/stitches/b-1/commit": (200, {"id": "b-1"}),
            "/v1/stitches/gone": (404, {"error": {"code": "not_found", "message": "no b"}}),
            "/v1/stitches/full/commit": (409, {"error": {"code": "hold_expired", "message": "x"}}),
            "/v1/stitches/broken/commit": (500, {"error": {"code": "internal", "message": "y"}}),
            "/v1/stitches/odd/commit": (200, ["not", "an", "object"]),
        }.get(self.path, (204, None))
        data = b"" if reply is None else json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_DELETE = do_PATCH = _answer  # noqa: N815 (http.server names them so)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    yield Peer("siteB", f"http://127.0.0.1:{server.server_address[1]}", "shared")
    server.shutdown()
    server.server_close()


def test_calls_carry_the_token_and_the_body(peer: Peer) -> None:
    client = PeerClient(timeout=2)
    assert client.hold(peer, {"label": 100})["id"] == "b-1"
    assert client.commit(peer, "b-1") == {"id": "b-1"}
    client.cancel(peer, "b-1")
    assert SEEN[0] == ("POST", "/v1/stitches", "Bearer shared", {"label": 100})
    assert [(m, p) for m, p, _, _ in SEEN[1:]] == [
        ("POST", "/v1/stitches/b-1/commit"),
        ("DELETE", "/v1/stitches/b-1"),
    ]


def test_refusals_carry_the_peers_code_and_failures_are_unreachable(peer: Peer) -> None:
    client = PeerClient(timeout=0.3)
    with pytest.raises(PeerRefused) as refused:
        client.commit(peer, "full")
    assert (refused.value.status, refused.value.code) == (409, "hold_expired")
    with pytest.raises(PeerRefused) as gone:
        client.cancel(peer, "gone")
    assert gone.value.status == 404
    for segment in ("broken", "odd", "slow"):
        with pytest.raises(PeerUnreachable):
            client.commit(peer, segment)


def test_a_peer_that_is_not_there_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PeerUnreachable):
        PeerClient(timeout=0.5).cancel(Peer("siteB", f"http://127.0.0.1:{port}", "t"), "x")
