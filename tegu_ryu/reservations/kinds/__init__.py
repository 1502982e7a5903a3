"""The registry of reservation kinds: what each ``type`` is made of in the core.

A kind is a subclass of ``Reservation`` (the shared envelope) and, per layer,
the functions that know its own part. The store keeps the envelope in one
shape for every kind and hands the kind-specific ``spec`` to the kind's codec;
so adding a kind is a new module here and a line in ``KINDS``, not an edit of
the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tegu_ryu.reservations.kinds import bandwidth, mirror, passthru, steering, stitch
from tegu_ryu.reservations.model import (
    BandwidthReservation,
    MirrorReservation,
    PassthruReservation,
    Reservation,
    SteeringReservation,
    StitchReservation,
)


@dataclass(frozen=True)
class KindCodec:
    """How one kind's own part is stored.

    ``encode`` gives the JSON of the kind-specific fields; ``decode`` builds
    the record from the envelope's fields and that JSON (KeyError, TypeError
    or ValueError when it is not one); ``problems`` names the fields of a
    decoded record that have the wrong type, so that a damaged record is left
    out at load instead of breaking a listing later.
    """

    record: type[Reservation]
    encode: Callable[[Any], dict[str, Any]]
    decode: Callable[[dict[str, Any], dict[str, Any]], Reservation]
    problems: Callable[[Any], list[str]]


_BANDWIDTH = KindCodec(
    record=BandwidthReservation,
    encode=bandwidth.encode_spec,
    decode=bandwidth.decode,
    problems=bandwidth.problems,
)

KINDS: dict[str, KindCodec] = {
    "bandwidth": _BANDWIDTH,
    "oneway": _BANDWIDTH,
    "mirror": KindCodec(
        record=MirrorReservation,
        encode=mirror.encode_spec,
        decode=mirror.decode,
        problems=mirror.problems,
    ),
    "steering": KindCodec(
        record=SteeringReservation,
        encode=steering.encode_spec,
        decode=steering.decode,
        problems=steering.problems,
    ),
    "passthru": KindCodec(
        record=PassthruReservation,
        encode=passthru.encode_spec,
        decode=passthru.decode,
        problems=passthru.problems,
    ),
    "stitch": KindCodec(
        record=StitchReservation,
        encode=stitch.encode_spec,
        decode=stitch.decode,
        problems=stitch.problems,
    ),
}


def codec_of(type_name: str) -> KindCodec:
    """The codec of a stored ``type``; ValueError for a kind this version does not know."""
    try:
        return KINDS[type_name]
    except KeyError:
        raise ValueError(f"unknown reservation type {type_name!r}") from None
