"""OpenFlow-basic OXM fields: os-ken's names and value forms, to and from the wire.

One table serves the lean flow-stats decoder and the lean flow-mod encoder,
so that both agree with each other and with os-ken (their tests compare
them with os-ken's own parser and serializer, byte for byte).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

from os_ken.lib import addrconv
from os_ken.ofproto import ofproto_v1_3 as ofp

_HEADER = struct.Struct("!I")


Decoder = Callable[[bytes], int | str]
Encoder = Callable[[int | str], bytes]


def _int_decode(raw: bytes) -> int | str:
    return int.from_bytes(raw, "big")


def _int_codec(size: int) -> tuple[Decoder, Encoder]:
    return _int_decode, lambda value: int(value).to_bytes(size, "big")


def _mac_decode(raw: bytes) -> int | str:
    return raw.hex(":")


def _mac_encode(value: int | str) -> bytes:
    return bytes.fromhex(str(value).replace(":", ""))


def _ipv4_decode(raw: bytes) -> int | str:
    return socket.inet_ntoa(raw)


def _ipv4_encode(value: int | str) -> bytes:
    return socket.inet_aton(str(value))


def _ipv6_decode(raw: bytes) -> int | str:
    return str(addrconv.ipv6.bin_to_text(raw))  # os-ken's own text form (netaddr's)


def _ipv6_encode(value: int | str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, str(value))


_MAC: tuple[Decoder, Encoder] = (_mac_decode, _mac_encode)
_IPV4: tuple[Decoder, Encoder] = (_ipv4_decode, _ipv4_encode)
_IPV6: tuple[Decoder, Encoder] = (_ipv6_decode, _ipv6_encode)

# field number -> (os-ken's name, size in bytes, (decode, encode))
FIELDS: dict[
    int, tuple[str, int, tuple[Callable[[bytes], int | str], Callable[[int | str], bytes]]]
]
FIELDS = {
    0: ("in_port", 4, _int_codec(4)), 1: ("in_phy_port", 4, _int_codec(4)),
    2: ("metadata", 8, _int_codec(8)), 3: ("eth_dst", 6, _MAC), 4: ("eth_src", 6, _MAC),
    5: ("eth_type", 2, _int_codec(2)), 6: ("vlan_vid", 2, _int_codec(2)),
    7: ("vlan_pcp", 1, _int_codec(1)), 8: ("ip_dscp", 1, _int_codec(1)),
    9: ("ip_ecn", 1, _int_codec(1)), 10: ("ip_proto", 1, _int_codec(1)),
    11: ("ipv4_src", 4, _IPV4), 12: ("ipv4_dst", 4, _IPV4),
    13: ("tcp_src", 2, _int_codec(2)), 14: ("tcp_dst", 2, _int_codec(2)),
    15: ("udp_src", 2, _int_codec(2)), 16: ("udp_dst", 2, _int_codec(2)),
    17: ("sctp_src", 2, _int_codec(2)), 18: ("sctp_dst", 2, _int_codec(2)),
    19: ("icmpv4_type", 1, _int_codec(1)), 20: ("icmpv4_code", 1, _int_codec(1)),
    21: ("arp_op", 2, _int_codec(2)), 22: ("arp_spa", 4, _IPV4), 23: ("arp_tpa", 4, _IPV4),
    24: ("arp_sha", 6, _MAC), 25: ("arp_tha", 6, _MAC),
    26: ("ipv6_src", 16, _IPV6), 27: ("ipv6_dst", 16, _IPV6),
    28: ("ipv6_flabel", 4, _int_codec(4)), 29: ("icmpv6_type", 1, _int_codec(1)),
    30: ("icmpv6_code", 1, _int_codec(1)), 31: ("ipv6_nd_target", 16, _IPV6),
    32: ("ipv6_nd_sll", 6, _MAC), 33: ("ipv6_nd_tll", 6, _MAC),
    34: ("mpls_label", 4, _int_codec(4)), 35: ("mpls_tc", 1, _int_codec(1)),
    36: ("mpls_bos", 1, _int_codec(1)), 37: ("pbb_isid", 3, _int_codec(3)),
    38: ("tunnel_id", 8, _int_codec(8)), 39: ("ipv6_exthdr", 2, _int_codec(2)),
}  # fmt: skip
NUMBERS = {name: number for number, (name, _, _) in FIELDS.items()}


class UnknownField(ValueError):
    """A field this table does not describe (os-ken's slower path handles it)."""


def decode(number: int, raw: bytes) -> tuple[str, int | str]:
    """A field's name and value, as os-ken gives them, from its number and value bytes."""
    try:
        name, _, (decoder, _) = FIELDS[number]
    except KeyError as exc:
        raise UnknownField(f"OXM field {number}") from exc
    return name, decoder(raw)


def encode(name: str, value: int | str) -> tuple[int, bytes]:
    """(field number, TLV bytes) for one unmasked field."""
    try:
        number = NUMBERS[name]
    except KeyError as exc:
        raise UnknownField(name) from exc
    _, size, (_, encoder) = FIELDS[number]
    return number, _HEADER.pack((ofp.OFPXMC_OPENFLOW_BASIC << 16) | (number << 9) | size) + encoder(
        value
    )
