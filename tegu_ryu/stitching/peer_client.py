"""HTTP to peer controllers: the one place stitching leaves this process.

Every call has a timeout and is made outside the controller's lock, so a
slow or dead peer delays only the request that needed it. Answers come back
as the peer's JSON; a refusal (4xx) as ``PeerRefused`` carrying the peer's
error code, anything else that is not an answer (refused connection,
timeout, 5xx, garbage) as ``PeerUnreachable``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Protocol
from urllib.parse import quote

from tegu_ryu.stitching.points import Peer
from tegu_ryu.strict_json import BadJson, parse_json


class PeerError(Exception):
    """A call to a peer controller that did not succeed."""


class PeerRefused(PeerError):
    """The peer answered and said no; ``code`` is its machine-readable error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class PeerUnreachable(PeerError):
    """No usable answer from the peer (down, too slow, or broken)."""


class PeerLink(Protocol):
    """What the coordinator needs from a peer; tests put a fake peer behind it."""

    def hold(self, peer: Peer, body: dict[str, Any]) -> dict[str, Any]: ...

    def commit(self, peer: Peer, segment: str) -> dict[str, Any]: ...

    def cancel(self, peer: Peer, segment: str) -> None: ...

    def modify(self, peer: Peer, segment: str, body: dict[str, Any]) -> dict[str, Any]: ...


class PeerClient:
    """``PeerLink`` over the peers' ``/v1/stitches`` endpoints."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def hold(self, peer: Peer, body: dict[str, Any]) -> dict[str, Any]:
        return self._answer(self._call(peer, "POST", "/v1/stitches", body))

    def commit(self, peer: Peer, segment: str) -> dict[str, Any]:
        return self._answer(self._call(peer, "POST", f"/v1/stitches/{quote(segment)}/commit"))

    def cancel(self, peer: Peer, segment: str) -> None:
        self._call(peer, "DELETE", f"/v1/stitches/{quote(segment)}")

    def modify(self, peer: Peer, segment: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._answer(self._call(peer, "PATCH", f"/v1/stitches/{quote(segment)}", body))

    def _call(self, peer: Peer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            peer.url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {peer.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise _refusal(peer, error) from None
        except (OSError, ValueError) as exc:  # URLError, timeouts and resets are OSErrors
            raise PeerUnreachable(f"peer {peer.name} at {peer.url}: {exc}") from None
        if not text:
            return None
        try:
            return parse_json(text, "the peer's answer")
        except BadJson:
            raise PeerUnreachable(f"peer {peer.name} answered with something not JSON") from None

    @staticmethod
    def _answer(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise PeerUnreachable("the peer's answer is not a JSON object")
        return value


def _refusal(peer: Peer, error: urllib.error.HTTPError) -> PeerError:
    """A 4xx as the peer's refusal (with its code and message); a 5xx as no answer."""
    try:
        body = parse_json(error.read(), "the peer's refusal")
        detail = body["error"]
        code, message = str(detail["code"]), str(detail["message"])
    except (BadJson, KeyError, TypeError, OSError):
        code, message = "unknown", f"HTTP {error.code}"
    if error.code >= 500:
        return PeerUnreachable(f"peer {peer.name} failed: {message}")
    return PeerRefused(error.code, code, f"peer {peer.name}: {message}")
