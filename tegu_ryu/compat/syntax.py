"""Tegu's request syntax: command lines, bandwidths, windows and host names, as tegu_req sends them.

Kept faithful where scripts depend on it, fixed where Tegu was wrong:

* bandwidths: ``K``/``M``/``G`` (and ``KB``/``MB``/``GB``) are powers of ten,
  ``k``/``m``/``g`` (and ``KiB``/``MiB``/``GiB``) powers of two, decimals allowed;
  ``in,out`` gives the two directions (``in`` is host2 to host1);
* windows: ``+SECONDS``, ``END`` or ``START-END`` in Unix seconds; a start in
  the past means now. Unlike Tegu, an empty window is refused and there is no
  last allowed date (Tegu refused any expiry after 2026-01-01);
* hosts: ``[token/][project/]host[:port[/mask]][{vlan}]``, IPv6 in brackets
  when a port follows; ``!//address`` is an address outside the network.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_BANDWIDTH = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[KMG]B?|[kmg]|KiB|MiB|GiB)?$")
_UNITS = {
    None: 1,
    "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
    "k": 2**10, "KiB": 2**10, "m": 2**20, "MiB": 2**20, "g": 2**30, "GiB": 2**30,
}  # fmt: skip
_HOST = re.compile(
    r"^(?P<host>\[[^\]]+\]|[^:{}]+?)(?::(?P<port>0x[0-9a-fA-F]+|\d+))?(?:\{(?P<vlan>\d+)\})?$"
)
_MASK = re.compile(r"(:(?:0x[0-9a-fA-F]+|\d+))/(?P<mask>0x[0-9a-fA-F]+|\d+)(?=\{\d+\}$|$)")


class SyntaxProblem(ValueError):
    """A request line Tegu's grammar does not accept; the message is Tegu-style."""


@dataclass(frozen=True)
class Command:
    """One request line: its words, and the token given with ``auth=`` on it."""

    words: list[str]
    token: str | None
    text: str


@dataclass(frozen=True)
class HostName:
    """A parsed Tegu host name."""

    token: str | None
    project: str | None
    host: str
    port: int | None
    vlan: int | None
    external: bool  # ``!//address``: outside the network, not validated


def split_commands(body: str) -> list[Command]:
    """Commands separated by newlines or ``;``, without blank lines and ``#`` comments."""
    commands = []
    for line in re.split(r"[;\n]", body):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise SyntaxProblem(f"cannot parse {text!r}: {exc}") from exc
        token = None
        if words and words[0].startswith("auth="):
            token = words.pop(0).removeprefix("auth=")
        if words:
            commands.append(Command(words=words, token=token, text=text))
    return commands


def key_values(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading ``key=value`` words (Tegu's options) and the positional words after them."""
    options: dict[str, str] = {}
    rest = list(words)
    while rest and "=" in rest[0] and not rest[0].startswith("="):
        key, _, value = rest.pop(0).partition("=")
        options[key] = value
    return options, rest


def parse_bandwidth(text: str) -> int:
    """One Tegu bandwidth, in bit/s."""
    match = _BANDWIDTH.match(text.strip())
    if match is None:
        raise SyntaxProblem(f"invalid bandwidth: {text}")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:
        raise SyntaxProblem(f"invalid bandwidth: {text}") from exc
    return int(number * _UNITS[match["unit"]])


def parse_bandwidths(text: str) -> tuple[int, int]:
    """``bw`` or ``in,out``; returns (out, in): out is host1 to host2."""
    if "," in text:
        inbound, _, out = text.partition(",")
        return parse_bandwidth(out), parse_bandwidth(inbound)
    value = parse_bandwidth(text)
    return value, value


def parse_window(text: str, now: float) -> tuple[float, float]:
    """``+seconds``, ``end`` or ``start-end`` (Unix seconds) as (start, end)."""
    try:
        if text.startswith("+"):
            start, end = now, now + float(text[1:])
        elif "-" in text:
            first, _, second = text.partition("-")
            start, end = max(float(first), now), float(second)
        else:
            start, end = now, float(text)
    except ValueError as exc:
        raise SyntaxProblem(f"invalid time window: {text}") from exc
    if end <= now:
        raise SyntaxProblem(f"bad expiry submitted, already expired: {text}")
    if end <= start:
        raise SyntaxProblem(f"bad window submitted, it ends before it starts: {text}")
    return start, end


def parse_host(text: str) -> HostName:
    """``[token/][project/]host[:port[/mask]][{vlan}]`` or ``!//address``."""
    unvalidated = text.startswith("!")
    mask = _MASK.search(text)
    if mask is not None:
        if int(mask["mask"], 0) != 0xFFFF:
            raise SyntaxProblem(f"port masks are not supported: {text}")
        text = text[: mask.start()] + mask.group(1) + text[mask.end() :]
    parts = text.lstrip("!").split("/")
    if len(parts) > 3:
        raise SyntaxProblem(f"invalid host name: {text}")
    token = project = None
    if len(parts) == 3:
        token, project = parts[0] or None, parts[1] or None
    elif len(parts) == 2:
        project = parts[0] or None
    match = _HOST.match(parts[-1])
    if match is None or not match["host"]:
        raise SyntaxProblem(f"invalid host name: {text}")
    host = match["host"].strip("[]")
    port = int(match["port"], 0) if match["port"] else None
    external = unvalidated and not project
    if external:
        try:
            ipaddress.ip_address(host)
        except ValueError as exc:
            raise SyntaxProblem(f"an external host must be an address: {text}") from exc
    return HostName(
        token=None if unvalidated else token,
        project=project,
        host=host,
        port=port or None,
        vlan=int(match["vlan"]) if match["vlan"] else None,
        external=external,
    )


def split_pair(text: str) -> tuple[str, str]:
    """``host1,host2`` (or ``host1-host2`` when neither name has a dash)."""
    if "," in text:
        first, _, second = text.partition(",")
    elif text.count("-") == 1:
        first, _, second = text.partition("-")
    else:
        raise SyntaxProblem(f"invalid host pair (use host1,host2): {text}")
    if not first or not second:
        raise SyntaxProblem(f"bad host2 name submitted: {text}")
    return first, second
