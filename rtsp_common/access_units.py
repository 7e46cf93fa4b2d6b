"""Access units from H.264/H.265 RTP packets, sans-I/O: payloads in, Annex B access units out.

An access unit is every packet of one RTP timestamp; it ends at the packet with the marker
bit (RFC 6184 §5.1, RFC 7798 §4.1) or, for senders that omit the marker, when the next
timestamp begins. An access unit that may have lost a packet (a gap in sequence numbers before or inside it:
which access unit the lost packets belonged to cannot be told), a fragment
run without its start or end, or a payload that broke the format, is counted in
``frames_dropped`` and never emitted: a decoder given it whole would show a corrupt picture
as a sound one. Packets must arrive in sequence order (the receiver's reorder buffer sees to
that).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from rtsp_common.annex_b import START_CODE
from rtsp_common.errors import ParseError
from rtsp_common.nal_units import NalFragment, PayloadReader
from rtsp_common.rtp import SEQ_MOD, TS_MOD

logger = logging.getLogger(__name__)

DEFAULT_MAX_ACCESS_UNIT_BYTES = 8 * 1024 * 1024


@dataclass
class _OpenUnit:
    """The access unit being gathered: its Annex B bytes so far and what broke it."""

    timestamp: int
    stream: bytearray = field(default_factory=bytearray)
    fragment: bytearray | None = None  # the NAL unit an FU run is building
    broken: str | None = None  # why it cannot be emitted, once something went wrong


class AccessUnitDepacketizer:
    """Reassemble one H.264/H.265 RTP stream into Annex B access units (sans-I/O).

    ``reader`` reads the payload format (``H264PayloadReader``, ``H265PayloadReader``).
    ``push`` returns the access units a packet completed (usually none or one).
    """

    def __init__(
        self, reader: PayloadReader, max_frame_bytes: int = DEFAULT_MAX_ACCESS_UNIT_BYTES
    ) -> None:
        self.reader = reader
        self.max_frame_bytes = max_frame_bytes
        self.frames_complete = 0
        self.frames_dropped = 0
        self.packets_malformed = 0
        self.last_error = ""
        self._unit: _OpenUnit | None = None
        self._next_sequence: int | None = None

    def push(
        self,
        payload: bytes | bytearray | memoryview,
        timestamp: int,
        marker: bool,
        sequence: int | None = None,
    ) -> list[tuple[int, bytes]]:
        """Add one packet's payload; the access units it completed, in order, each with its
        RTP timestamp.

        ``sequence`` (the RTP sequence number) lets a lost packet be noticed; without it only
        broken fragment runs are. A payload that breaks the format is counted in
        ``packets_malformed`` (its reason in ``last_error``) and drops its access unit.
        """
        done: list[tuple[int, bytes]] = []
        timestamp %= TS_MOD
        lost = self._note_sequence(sequence)
        unit = self._unit
        if unit is not None and unit.timestamp != timestamp:
            if lost and unit.broken is None:
                unit.broken = "packets lost at its end"
            done += self._finish()
            unit = None
        if unit is None:
            unit = self._unit = _OpenUnit(timestamp)
        if lost and unit.broken is None:
            # Lost packets right before this one may have been its own first ones (a
            # parameter set, a slice): who owned them cannot be told, so neither is whole.
            unit.broken = "packets lost before or inside it"
        try:
            pieces = self.reader.read(payload)
        except ParseError as exc:
            self.packets_malformed += 1
            self.last_error = str(exc)
            unit.broken = unit.broken or str(exc)
            pieces = []
        for piece in pieces:
            if unit.broken is not None:
                break
            self._add(unit, piece)
        if marker:
            done += self._finish()
        return done

    def push_run(
        self,
        payloads: Sequence[bytes | bytearray | memoryview],
        timestamps: Sequence[int],
        markers: Sequence[bool],
        first_sequence: int,
    ) -> list[tuple[int, int, bytes]]:
        """Packets with consecutive sequence numbers from ``first_sequence``, each through
        ``push``; the access units completed, each as (index of the packet that completed
        it, RTP timestamp, access unit)."""
        return [
            (i, timestamp, unit)
            for i, (payload, packet_timestamp, marker) in enumerate(
                zip(payloads, timestamps, markers, strict=True)
            )
            for timestamp, unit in self.push(
                payload, packet_timestamp, marker, (first_sequence + i) % SEQ_MOD
            )
        ]

    def flush(self) -> list[tuple[int, bytes]]:
        """End of stream: the access unit still open, if it is whole (one that ended without
        its marker is taken as ended)."""
        return self._finish()

    def _note_sequence(self, sequence: int | None) -> bool:
        """True when packets were lost before this one."""
        if sequence is None:
            return False
        expected, self._next_sequence = self._next_sequence, (sequence + 1) % SEQ_MOD
        return expected is not None and sequence != expected

    def _add(self, unit: _OpenUnit, piece: bytes | NalFragment) -> None:
        if isinstance(piece, NalFragment):
            if piece.start:
                if unit.fragment is not None:
                    unit.broken = "a fragment run started before the last one ended"
                    return
                unit.fragment = bytearray(piece.nal_header)
            elif unit.fragment is None:
                unit.broken = "a fragment without the start of its NAL unit"
                return
            unit.fragment += piece.data
            if len(unit.stream) + len(unit.fragment) > self.max_frame_bytes:
                unit.broken = f"larger than {self.max_frame_bytes} bytes"
                unit.fragment = None
                return
            if piece.end:
                unit.stream += START_CODE
                unit.stream += unit.fragment
                unit.fragment = None
            return
        if unit.fragment is not None:
            unit.broken = "a NAL unit inside an unfinished fragment run"
            return
        if len(unit.stream) + len(START_CODE) + len(piece) > self.max_frame_bytes:
            unit.broken = f"larger than {self.max_frame_bytes} bytes"
            return
        unit.stream += START_CODE
        unit.stream += piece

    def _finish(self) -> list[tuple[int, bytes]]:
        unit, self._unit = self._unit, None
        if unit is None:
            return []
        if unit.broken is None and unit.fragment is not None:
            unit.broken = "a fragment run without its end"
        if unit.broken is None and not unit.stream:
            unit.broken = "no NAL unit"
        if unit.broken is not None:
            self.frames_dropped += 1
            logger.debug("access unit at %d dropped: %s", unit.timestamp, unit.broken)
            return []
        self.frames_complete += 1
        return [(unit.timestamp, bytes(unit.stream))]
