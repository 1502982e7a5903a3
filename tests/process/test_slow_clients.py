"""Slow, silent, crowding and malformed clients against the real tegu-manager's HTTP server.

Before the hardening issue eight idle connections took the API down (health
included) and a listen backlog of 5 reset connections under 64 clients.
Margins are generous (1 s for an answer that takes milliseconds): these are
correctness tests, not benchmarks.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from controller_process import ControllerProcess
from slow_clients import slow_clients

STATIC = Path(__file__).resolve().parents[2] / "conf" / "static-topology.json"
REQUEST_TIMEOUT = 3  # seconds a request may take to arrive (configured below)
IDLE_TIMEOUT = 5  # seconds a connection may stay silent (configured below)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[ControllerProcess]:
    process = ControllerProcess(
        tmp_path,
        options={
            "static_topology": str(STATIC),
            "api_request_timeout": str(REQUEST_TIMEOUT),
            "api_idle_timeout": str(IDLE_TIMEOUT),
            "api_max_body": "65536",
        },
    )
    process.start()
    yield process
    process.stop()


def connect(controller: ControllerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", controller.api_port), timeout=10)


def exchange(controller: ControllerProcess, data: bytes) -> tuple[int, dict[str, object], bytes]:
    """Send raw bytes, read to the end: status, headers, body."""
    with connect(controller) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # the server may close, after answering, while we still send
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True as soon as the server closes (or resets) ``sock``; False if it has not ``within`` s."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True  # reset: closed as well


def chunked(size: int, piece: int = 0x8000) -> bytes:
    """A chunked POST to /tegu/api whose decoded body is ``size`` spaces."""
    body = b""
    for start in range(0, size, piece):
        length = min(piece, size - start)
        body += f"{length:x}\r\n".encode() + b" " * length + b"\r\n"
    return (
        b"POST /tegu/api HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + body + b"0\r\n\r\n"
    )


def test_a_chunked_body_exactly_at_the_limit_is_taken(controller: ControllerProcess) -> None:
    status, _, body = exchange(controller, chunked(65536))
    assert status == 200 and json.loads(body)["endstate"]["comment"] == "missing command"


def health_latency(controller: ControllerProcess) -> float:
    began = time.monotonic()
    response = requests.get(controller.url + "/v1/health", timeout=5)
    assert response.status_code == 200
    return time.monotonic() - began


def test_idle_and_trickling_sockets_leave_the_api_answering(
    controller: ControllerProcess,
) -> None:
    address = ("127.0.0.1", controller.api_port)
    with slow_clients(address, idle=200, trickling=200) as (idle, trickling):
        latencies = [health_latency(controller) for _ in range(10)]
        created = requests.post(
            controller.url + "/v1/reservations",
            json={"src": "h1", "dst": "h3", "bandwidth": "1M", "duration": 60},
            timeout=5,
        )
        assert created.status_code == 201
        assert max(latencies) < 1.0, latencies
        cut_off = closed_by_server(trickling[0], within=REQUEST_TIMEOUT + 5)
        assert cut_off, "a request that never ends is cut off"
        closed = closed_by_server(idle[0], within=IDLE_TIMEOUT + 3)
        assert closed, "a silent connection is closed after the idle timeout"
    assert health_latency(controller) < 1.0


def test_a_hundred_concurrent_clients_see_no_resets(controller: ControllerProcess) -> None:
    failures: list[str] = []
    answered = []

    def client() -> None:
        for _ in range(10):
            try:
                response = requests.get(
                    controller.url + "/v1/health", timeout=10, headers={"Connection": "close"}
                )
                answered.append(response.status_code)
            except requests.RequestException as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert answered == [200] * 1000


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (
            b"POST /v1/reservations HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            "bad_request",
        ),
        (
            b"POST /v1/reservations HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            b"Content-Length: 6\r\n\r\nabcdef",
            400,
            "bad_request",
        ),
        (
            b"POST /v1/reservations HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\nabcde",
            400,
            "bad_request",
        ),
        (
            b"POST /v1/reservations HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n",
            413,
            "request_too_large",
        ),
        (chunked(2 * 0x10000), 413, "request_too_large"),  # refused by the server
        (chunked(0x10800), 413, "request_too_large"),  # over the limit once decoded: the API
        (
            b"GET /v1/health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
            431,
            "headers_too_large",
        ),
        (b"GET /v1/\xff\xfe HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request"),
        (b"GET /v1/reservations/%FF HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "bad_request"),
        (b"BREW /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n", 405, "method_not_allowed"),
    ],
)
def test_malformed_framing_and_oversize_requests_get_json_errors(
    controller: ControllerProcess, request_bytes: bytes, status: int, code: str
) -> None:
    got, headers, body = exchange(controller, request_bytes)
    assert got == status, body
    assert str(headers["Content-Type"]).startswith("application/json")
    assert json.loads(body)["error"]["code"] == code
    assert controller.get("/v1/reservations")[1] == {"reservations": [], "next": None}


def test_head_is_answered_like_get(controller: ControllerProcess) -> None:
    status, headers, body = exchange(
        controller, b"HEAD /v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    assert status == 200 and body == b"" and int(str(headers["Content-Length"])) > 0


def test_a_megabyte_tegu_line_is_refused_at_once(controller: ControllerProcess) -> None:
    began = time.monotonic()
    reply = requests.post(
        controller.url + "/tegu/api", data=b"reserve " + b"a" * 60000, timeout=10
    ).json()
    assert "command too long" in reply["reqstate"][0]["comment"]
    assert time.monotonic() - began < 2
