"""Offer and answer (RFC 3264) for a G.711 telephone call, on aiosipua's SDP model: which
codec, where RTP goes, whether keypad events are carried, and who may send (hold)."""

from __future__ import annotations

from aiosipua import SdpMessage
from aiosipua.sdp import MediaDescription, SdpNegotiationError, build_sdp, negotiate_sdp

from app.channels.sip_media import PAYLOAD_ENCODINGS, MediaPath

SUPPORTED_PAYLOADS = [0, 8]  # PCMU first, then PCMA
DTMF_PAYLOAD = 101
_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_HOLD_ADDRESSES = ("0.0.0.0", "::")  # RFC 2543 hold: "send nothing here"


class MediaNegotiationError(Exception):
    """The peer's SDP offers nothing we can speak (no audio, no G.711)."""


def _direction(sdp: SdpMessage, media: MediaDescription) -> str:
    """The media's direction attribute, else the session's, else sendrecv."""
    for attributes in (media.attributes, sdp.attributes):
        for direction in _DIRECTIONS:
            if direction in attributes:
                return direction
    return "sendrecv"


def _telephone_event(media: MediaDescription) -> int | None:
    for codec in media.codecs:
        if codec.encoding_name.lower() == "telephone-event" and codec.clock_rate in (0, 8000):
            return codec.payload_type
    return None


def _path(sdp: SdpMessage, payload_type: int, dtmf: int | None) -> MediaPath:
    """The media path described by the peer's ``sdp`` (its address and direction)."""
    media, address = sdp.audio, sdp.rtp_address
    if media is None or address is None or media.port == 0:
        raise MediaNegotiationError("no audio stream")
    direction = _direction(sdp, media)
    held = address[0] in _HOLD_ADDRESSES
    return MediaPath(remote=address, payload_type=payload_type, dtmf_payload_type=dtmf,
                     send=direction in ("sendrecv", "recvonly") and not held,
                     receive=direction in ("sendrecv", "sendonly"))


def answer(offer: SdpMessage, host: str, port: int, session_id: str,
           version: int = 1) -> tuple[SdpMessage, MediaPath]:
    """Our answer to the peer's offer, and the path it sets up. The peer's own
    telephone-event payload type is kept, so its key presses are understood. Answers to
    re-INVITEs keep ``session_id`` and count ``version`` up (RFC 3264 section 8)."""
    media = offer.audio
    if media is None:
        raise MediaNegotiationError("the offer has no audio stream")
    dtmf = _telephone_event(media)
    try:
        sdp, payload_type = negotiate_sdp(offer, local_ip=host, rtp_port=port,
                                          supported_codecs=SUPPORTED_PAYLOADS,
                                          dtmf_payload_type=dtmf or 0,
                                          session_id=session_id)
    except SdpNegotiationError as error:
        raise MediaNegotiationError(str(error)) from None
    sdp.origin.session_version = str(version)
    return sdp, _path(offer, payload_type, dtmf)


def offer(host: str, port: int, session_id: str) -> SdpMessage:
    """Our offer for an outbound call: PCMU, PCMA and telephone-events, 20 ms packets."""
    sdp = build_sdp(host, port, payload_type=0, codec_name="PCMU",
                    dtmf_payload_type=DTMF_PAYLOAD, session_id=session_id)
    media = sdp.media[0]
    media.formats.insert(1, "8")  # PCMA as the second choice
    media.attributes["rtpmap"].insert(1, "8 PCMA/8000")
    return sdp


def path_from_answer(sdp: SdpMessage | None) -> MediaPath:
    """The path the peer's answer to our offer sets up."""
    media = sdp.audio if sdp is not None else None
    if sdp is None or media is None:
        raise MediaNegotiationError("the answer has no audio stream")
    chosen = next((c.payload_type for c in media.codecs
                   if c.payload_type in PAYLOAD_ENCODINGS), None)
    if chosen is None:
        raise MediaNegotiationError("the answer accepted no G.711 codec")
    return _path(sdp, chosen, _telephone_event(media))
