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
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from tegu_ryu.errors import clipped
from tegu_ryu.reservations.window import Window, WindowError, requested_window
from tegu_ryu.units import MAX_BITRATE

_BANDWIDTH = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[KMG]B?|[kmg]|KiB|MiB|GiB)?$")
_UNITS = {
    None: 1,
    "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
    "k": 2**10, "KiB": 2**10, "m": 2**20, "MiB": 2**20, "g": 2**30, "GiB": 2**30,
}  # fmt: skip
_HOST = re.compile(
    r"^(?P<host>\[[^\]]+\]|[^:{}]+?)"
    r"(?::(?P<port>0x[0-9a-fA-F]{1,8}|\d{1,8}))?(?:\{(?P<vlan>\d{1,8})\})?$"
)
_MASK = re.compile(
    r"(:(?:0x[0-9a-fA-F]{1,8}|\d{1,8}))/(?P<mask>0x[0-9a-fA-F]{1,8}|\d{1,8})(?=\{\d+\}$|$)"
)
# A word: unquoted runs and quoted strings ("..." or '...', which may hold spaces), joined.
# A quote left standing alone by the first alternative is one that is never closed.
_WORD = re.compile(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+|["']""")
MAX_COMMAND_LENGTH = 4096  # characters in one command; Tegu's longest are about 200
MAX_COMMANDS = 1000  # commands in one request body


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
    """Commands separated by newlines or ``;``, without blank lines and ``#`` comments.

    Linear in the body's length, and bounded: a command longer than
    MAX_COMMAND_LENGTH or a body of more than MAX_COMMANDS commands is refused
    whole, before any command runs.
    """
    commands: list[Command] = []
    for line in re.split(r"[;\n]", body):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if len(text) > MAX_COMMAND_LENGTH:
            raise SyntaxProblem(
                f"command too long: {len(text)} characters (at most {MAX_COMMAND_LENGTH}): "
                f"{clipped(text)}"
            )
        if len(commands) == MAX_COMMANDS:
            raise SyntaxProblem(f"too many commands: send at most {MAX_COMMANDS} in one request")
        words = split_words(text)
        token = None
        if words and words[0].startswith("auth="):
            token = words.pop(0).removeprefix("auth=")
        if words:
            commands.append(Command(words=words, token=token, text=text))
    return commands


def split_words(text: str) -> list[str]:
    """Words separated by white space; quotes group words and are removed, as Tegu's tokeniser."""
    words = []
    for word in _WORD.findall(text):
        if word in ('"', "'"):
            raise SyntaxProblem(f"cannot parse {clipped(text)}: no closing quotation")
        words.append(word.replace('"', "") if '"' in word else word.replace("'", ""))
    return words


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
    match = _BANDWIDTH.match(text.strip()) if len(text) <= 64 else None
    if match is None:
        raise SyntaxProblem(f"invalid bandwidth: {clipped(text)}")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:
        raise SyntaxProblem(f"invalid bandwidth: {clipped(text)}") from exc
    bps = int(number * _UNITS[match["unit"]])
    if bps > MAX_BITRATE:
        raise SyntaxProblem(f"invalid bandwidth: {clipped(text)} is more than 4T")
    return bps


def parse_bandwidths(text: str) -> tuple[int, int]:
    """``bw`` or ``in,out``; returns (out, in): out is host1 to host2."""
    if "," in text:
        inbound, _, out = text.partition(",")
        return parse_bandwidth(out), parse_bandwidth(inbound)
    value = parse_bandwidth(text)
    return value, value


def parse_window(text: str, now: float) -> Window:
    """``+seconds``, ``end`` or ``start-end`` (Unix seconds), bounded as v1 windows are."""
    start: float | None = None
    end: float | None = None
    duration: float | None = None
    try:
        if text.startswith("+"):
            duration = float(text[1:])
        elif "-" in text:
            first, _, second = text.partition("-")
            start, end = float(first), float(second)
        else:
            end = float(text)
    except ValueError as exc:
        raise SyntaxProblem(f"invalid time window: {clipped(text)}") from exc
    if end is not None and math.isfinite(end) and end <= now:
        raise SyntaxProblem(f"bad expiry submitted, already expired: {clipped(text)}")
    if end is not None and start is not None and end <= start:
        raise SyntaxProblem(f"bad window submitted, it ends before it starts: {clipped(text)}")
    try:
        return requested_window(start, end, duration, now)
    except WindowError as exc:
        raise SyntaxProblem(f"invalid time window: {clipped(text)}: {exc.message}") from exc


def parse_host(text: str) -> HostName:
    """``[token/][project/]host[:port[/mask]][{vlan}]`` or ``!//address``."""
    unvalidated = text.startswith("!")
    mask = _MASK.search(text)
    if mask is not None:
        if _number(mask["mask"]) != 0xFFFF:
            raise SyntaxProblem(f"port masks are not supported: {clipped(text)}")
        text = text[: mask.start()] + mask.group(1) + text[mask.end() :]
    parts = text.lstrip("!").split("/")
    if len(parts) > 3:
        raise SyntaxProblem(f"invalid host name: {clipped(text)}")
    token = project = None
    if len(parts) == 3:
        token, project = parts[0] or None, parts[1] or None
    elif len(parts) == 2:
        project = parts[0] or None
    match = _HOST.match(parts[-1])
    if match is None or not match["host"]:
        raise SyntaxProblem(f"invalid host name: {clipped(text)}")
    host = match["host"].strip("[]")
    port = _number(match["port"]) if match["port"] else None
    if port is not None and port > 65535:
        raise SyntaxProblem(f"invalid host name: {clipped(text)}: port {port} is not 0 to 65535")
    vlan = int(match["vlan"]) if match["vlan"] else None
    if vlan is not None and not 1 <= vlan <= 4094:
        raise SyntaxProblem(f"invalid host name: {clipped(text)}: VLAN {vlan} is not 1 to 4094")
    external = unvalidated and not project
    if external:
        try:
            ipaddress.ip_address(host)
        except ValueError as exc:
            raise SyntaxProblem(f"an external host must be an address: {clipped(text)}") from exc
    return HostName(
        token=None if unvalidated else token,
        project=project,
        host=host,
        port=port or None,
        vlan=vlan,
        external=external,
    )


def _number(text: str) -> int:
    """A decimal or ``0x`` hexadecimal number (a leading zero is still decimal)."""
    return int(text, 16) if text.lower().startswith("0x") else int(text, 10)


def split_pair(text: str) -> tuple[str, str]:
    """``host1,host2`` (or ``host1-host2`` when neither name has a dash)."""
    if "," in text:
        first, _, second = text.partition(",")
    elif text.count("-") == 1:
        first, _, second = text.partition("-")
    else:
        raise SyntaxProblem(f"invalid host pair (use host1,host2): {clipped(text)}")
    if not first or not second:
        raise SyntaxProblem(f"bad host2 name submitted: {clipped(text)}")
    return first, second
