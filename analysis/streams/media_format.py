"""What an RTP stream carries and on which clock: from the SDP's ``a=rtpmap``, else the
static payload types of RFC 3551 §6, else unknown.

A stream whose clock rate is unknown (a dynamic payload type with no SDP in the capture)
has no jitter, drift or timestamp-step figures: rules that need the clock say "not
applicable" and why, never a number computed on a guessed 90 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.wire.sdp import SDPMedia

AUDIO = "audio"
VIDEO = "video"
VIDEO_CLOCK_RATE = 90000  # RFC 3551 §5: the clock of JPEG and most video payload formats
DYNAMIC_PT_FIRST = 96  # RFC 3551 §6: 96-127 are bound by out-of-band means (SDP)

# RFC 3551 §6, Tables 4 and 5: payload type -> (encoding, media, clock rate, channels).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, str, int, int | None]] = {
    0: ("PCMU", AUDIO, 8000, 1),
    3: ("GSM", AUDIO, 8000, 1),
    4: ("G723", AUDIO, 8000, 1),
    5: ("DVI4", AUDIO, 8000, 1),
    6: ("DVI4", AUDIO, 16000, 1),
    7: ("LPC", AUDIO, 8000, 1),
    8: ("PCMA", AUDIO, 8000, 1),
    9: ("G722", AUDIO, 8000, 1),  # §4.5.2: an 8000 Hz clock for 16 kHz sampling
    10: ("L16", AUDIO, 44100, 2),
    11: ("L16", AUDIO, 44100, 1),
    12: ("QCELP", AUDIO, 8000, 1),
    13: ("CN", AUDIO, 8000, 1),
    14: ("MPA", AUDIO, 90000, None),
    15: ("G728", AUDIO, 8000, 1),
    16: ("DVI4", AUDIO, 11025, 1),
    17: ("DVI4", AUDIO, 22050, 1),
    18: ("G729", AUDIO, 8000, 1),
    25: ("CelB", VIDEO, VIDEO_CLOCK_RATE, None),
    26: ("JPEG", VIDEO, VIDEO_CLOCK_RATE, None),
    28: ("nv", VIDEO, VIDEO_CLOCK_RATE, None),
    31: ("H261", VIDEO, VIDEO_CLOCK_RATE, None),
    32: ("MPV", VIDEO, VIDEO_CLOCK_RATE, None),
    33: ("MP2T", VIDEO, VIDEO_CLOCK_RATE, None),  # audio and video: frames are TS packets
    34: ("H263", VIDEO, VIDEO_CLOCK_RATE, None),
}

# Video formats that send each picture whole, in presentation order. Others (H.264, H.265,
# MPEG-4, MPEG-2: RFC 6184 §5.1, RFC 7798 §4.1, RFC 6416 §5.1, RFC 2250 §3.4) may send
# in decoding order with B-frames, their timestamps stepping back without fault.
IN_ORDER_VIDEO_ENCODINGS = {"JPEG", "CELB", "NV", "H261", "H263", "H263-1998", "VP8", "RAW"}


@dataclass(frozen=True)
class MediaFormat:
    """A stream's encoding, media kind and clock rate, and where they were learnt."""

    payload_type: int
    encoding: str | None = None  # "PCMU", "H264", ... (upper case); None when unknown
    media: str | None = None  # "audio" or "video"; None when unknown
    clock_rate: int | None = None  # Hz; None when unknown
    source: str = ""  # "SDP a=rtpmap", "SDP m= line", "RFC 3551 static payload type" or ""
    parameters: tuple[tuple[str, str], ...] = ()  # the SDP's a=fmtp for this payload type
    ptime: float | None = None  # the SDP's a=ptime, milliseconds

    def parameter(self, name: str) -> str | None:
        """The fmtp parameter ``name`` (lower case), or None when the SDP has none."""
        return dict(self.parameters).get(name)

    @property
    def unknown_clock_reason(self) -> str:
        """Why figures that need the clock are not given."""
        if self.payload_type >= DYNAMIC_PT_FIRST:
            return f"clock rate unknown (dynamic payload type {self.payload_type} without SDP)"
        return f"clock rate unknown (payload type {self.payload_type} is not assigned by RFC 3551)"

    @property
    def is_video(self) -> bool:
        """True for video: frames end with the marker bit (RFC 3551 §5)."""
        return self.media == VIDEO

    @property
    def may_reorder(self) -> bool:
        """True unless the format is known to send frames in presentation order."""
        if self.media == AUDIO:
            return False
        return (self.encoding or "").upper() not in IN_ORDER_VIDEO_ENCODINGS

    def describe(self) -> str:
        """``PCMU/8000 (RFC 3551 static payload type)`` or ``PT 96, clock unknown``."""
        if self.encoding is None and self.clock_rate is None:
            return f"PT {self.payload_type}, clock unknown"
        name = self.encoding or f"PT {self.payload_type}"
        rate = f"/{self.clock_rate}" if self.clock_rate else ", clock unknown"
        return f"{name}{rate} ({self.source})"


def media_format(payload_type: int, sdp_media: SDPMedia | None = None) -> MediaFormat:
    """The format of ``payload_type``: the SDP's rtpmap wins (RFC 4566 §6), then the static
    table (RFC 3551 §6); the SDP's m= line still names the media kind of a dynamic type."""
    kind = sdp_media.kind if sdp_media is not None and sdp_media.kind in (AUDIO, VIDEO) else None
    if sdp_media is not None and payload_type in sdp_media.rtpmap:
        encoding, rate = sdp_media.rtpmap[payload_type]
        static = STATIC_PAYLOAD_TYPES.get(payload_type)
        media = kind or (static[1] if static else None)
        return MediaFormat(
            payload_type,
            encoding.upper(),
            media,
            rate if rate > 0 else None,
            "SDP a=rtpmap",
            tuple(sdp_media.fmtp.get(payload_type, {}).items()),
            sdp_media.ptime,
        )
    if payload_type in STATIC_PAYLOAD_TYPES:
        encoding, media, rate, _channels = STATIC_PAYLOAD_TYPES[payload_type]
        fmtp = sdp_media.fmtp.get(payload_type, {}) if sdp_media is not None else {}
        return MediaFormat(
            payload_type,
            encoding.upper(),
            media,
            rate,
            "RFC 3551 static payload type",
            tuple(fmtp.items()),
            sdp_media.ptime if sdp_media is not None else None,
        )
    return MediaFormat(payload_type, None, kind, None, "SDP m= line" if kind else "")
