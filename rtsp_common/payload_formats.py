"""The RTP payload formats a receiver can reassemble, chosen by the SDP's a=rtpmap name.

Each format gives a ``FrameDepacketizer``: payloads in, whole frames out (a JPEG file for
RFC 2435, an Annex B access unit for RFC 6184/7798), what it dropped counted. A new format
is one module with its depacketizer and one entry in ``PAYLOAD_FORMATS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from rtsp_common import h264, h265
from rtsp_common.access_units import AccessUnitDepacketizer
from rtsp_common.annex_b import join_nal_units
from rtsp_common.errors import ParseError
from rtsp_common.jpeg_depacketizer import Depacketizer as JPEGDepacketizer
from rtsp_common.rtp import TS_MOD
from rtsp_common.status import Status


class UnsupportedPayloadFormat(ParseError):
    """A stream whose RTP payload format no depacketizer here reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=Status.UNSUPPORTED_MEDIA_TYPE)


class FrameDepacketizer(Protocol):
    """Reassembles one RTP stream's payloads into frames (sans-I/O)."""

    # Read-only here: a depacketizer may keep its counts as properties.
    @property
    def frames_complete(self) -> int: ...
    @property
    def frames_dropped(self) -> int:
        """Frames given up: a lost or broken packet, a limit exceeded."""
        ...

    packets_malformed: int  # payloads that broke the format (each also drops its frame)
    last_error: str  # why the last malformed payload was refused
    stream_header: bytes  # what a recording starts with (parameter sets from the SDP)

    def push(
        self,
        payload: bytes | bytearray | memoryview,
        timestamp: int,
        marker: bool,
        sequence: int | None = None,
    ) -> list[tuple[int, bytes]]:
        """One packet's payload, in sequence order; the frames it completed, each with its
        RTP timestamp."""
        ...  # pragma: no cover

    def push_run(
        self,
        payloads: Sequence[bytes | bytearray | memoryview],
        timestamps: Sequence[int],
        markers: Sequence[bool],
        first_sequence: int,
    ) -> list[tuple[int, int, bytes]]:
        """Packets with consecutive sequence numbers from ``first_sequence``, as ``push``
        would take them one by one; the frames they completed, each as (index of the packet
        that completed it, RTP timestamp, frame)."""
        ...  # pragma: no cover

    def flush(self) -> list[tuple[int, bytes]]:
        """End of stream: the frame still open, when whole, with its RTP timestamp."""
        ...  # pragma: no cover


@dataclass(frozen=True)
class PayloadFormat:
    """One payload format: its rtpmap name, clock, depacketizer and random access test."""

    encoding: str  # a=rtpmap encoding name, upper case
    clock_rate: int
    depacketizer: Callable[[Mapping[str, str], int], FrameDepacketizer]
    random_access: Callable[[bytes], bool]  # a frame a decoder can start from

    @property
    def is_jpeg(self) -> bool:
        """RFC 2435: frames are whole JPEG files."""
        return self.encoding == "JPEG"


class JPEGFrames:
    """RFC 2435 through ``rtsp_common.jpeg_depacketizer.Depacketizer``, as a FrameDepacketizer."""

    stream_header = b""

    def __init__(self, max_frame_bytes: int) -> None:
        self._depacketizer = JPEGDepacketizer(max_frame_bytes)
        self.packets_malformed = 0
        self.last_error = ""

    @property
    def frames_complete(self) -> int:
        return self._depacketizer.frames_complete

    @property
    def frames_dropped(self) -> int:
        return self._depacketizer.frames_dropped

    def push(
        self,
        payload: bytes | bytearray | memoryview,
        timestamp: int,
        marker: bool,
        sequence: int | None = None,
    ) -> list[tuple[int, bytes]]:
        """One RFC 2435 payload (fragments are placed by offset, so ``sequence`` is unused)."""
        try:
            jpeg = self._depacketizer.push(payload, timestamp, marker)
        except ParseError as exc:
            self.packets_malformed += 1
            self.last_error = str(exc)
            return []
        return [] if jpeg is None else [(timestamp % TS_MOD, jpeg)]

    def push_run(
        self,
        payloads: Sequence[bytes | bytearray | memoryview],
        timestamps: Sequence[int],
        markers: Sequence[bool],
        first_sequence: int,
    ) -> list[tuple[int, int, bytes]]:
        """Packets in sequence order (see ``FrameDepacketizer.push_run``): a frame they
        hold whole, as a server usually sends it, is built in one step; any other packet
        goes through ``push``."""
        completed = []
        take_whole_frame, push = self._depacketizer.take_whole_frame, self.push
        i, count = 0, len(payloads)
        while i < count:
            whole = take_whole_frame(payloads, timestamps, markers, i)
            if whole is not None:
                i, jpeg = whole
                if jpeg is not None:
                    completed.append((i, timestamps[i] % TS_MOD, jpeg))
            else:
                for timestamp, jpeg in push(payloads[i], timestamps[i], markers[i]):
                    completed.append((i, timestamp, jpeg))
            i += 1
        return completed

    def flush(self) -> list[tuple[int, bytes]]:
        """Incomplete JPEGs are never whole: count them dropped."""
        self._depacketizer.flush()
        return []


class NalUnitFrames(AccessUnitDepacketizer):
    """H.264/H.265 access units, with the SDP's parameter sets as the recording's start."""

    def __init__(self, reader, parameter_sets: tuple[bytes, ...], max_frame_bytes: int) -> None:
        super().__init__(reader, max_frame_bytes)
        self.stream_header = join_nal_units(parameter_sets)


def _jpeg(fmtp: Mapping[str, str], max_frame_bytes: int) -> FrameDepacketizer:
    return JPEGFrames(max_frame_bytes)


def _h264(fmtp: Mapping[str, str], max_frame_bytes: int) -> FrameDepacketizer:
    params = h264.H264Parameters.from_fmtp(dict(fmtp))
    if params.packetization_mode == h264.INTERLEAVED_MODE:
        raise UnsupportedPayloadFormat(
            "H.264 packetization-mode=2 (interleaved) is not supported; "
            "ask the camera for mode 0 or 1"
        )
    return NalUnitFrames(h264.H264PayloadReader(), params.parameter_sets, max_frame_bytes)


def _h265(fmtp: Mapping[str, str], max_frame_bytes: int) -> FrameDepacketizer:
    params = h265.H265Parameters.from_fmtp(dict(fmtp))
    reader = h265.H265PayloadReader(donl=params.donl)
    return NalUnitFrames(reader, params.parameter_sets, max_frame_bytes)


def _every_frame(frame: bytes) -> bool:
    return True  # every JPEG stands alone


PAYLOAD_FORMATS: dict[str, PayloadFormat] = {
    "JPEG": PayloadFormat("JPEG", 90000, _jpeg, _every_frame),  # RFC 2435, 3551 §6
    h264.ENCODING: PayloadFormat(h264.ENCODING, h264.CLOCK_RATE, _h264, h264.is_random_access),
    h265.ENCODING: PayloadFormat(h265.ENCODING, h265.CLOCK_RATE, _h265, h265.is_random_access),
}


def payload_format(encoding: str) -> PayloadFormat:
    """The format named by an a=rtpmap encoding (any case); UnsupportedPayloadFormat, naming
    the ones there are, when none reads it."""
    found = PAYLOAD_FORMATS.get(encoding.upper())
    if found is None:
        raise UnsupportedPayloadFormat(
            f"RTP payload format {encoding!r} is not supported; "
            f"this client reads {', '.join(PAYLOAD_FORMATS)}"
        )
    return found
