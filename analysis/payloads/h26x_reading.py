"""What reading an H.264/H.265 RTP stream (``analysis.payloads.h26x``) found: access units
whose NAL units are left where the capture holds them, and problems by kind, one kind per
rule of ``analysis.rules.h26x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

import numpy as np

from analysis.payloads.frames import Frame
from analysis.payloads.nal_syntax import H264, NalSyntax

START_CODE = b"\x00\x00\x00\x01"  # H.264/H.265 Annex B byte stream

# Problem kinds, one per rule of analysis.rules.h26x.
HEADER = "header"  # F bit, H.265 TID 0
TYPES = "types"  # payload structure not allowed (mode, nesting, unspecified types)
FRAGMENTS = "fragments"  # FU start/end runs
AGGREGATION = "aggregation"  # aggregation packet sizes
ORDER = "order"  # transmission order is decoding order
MARKER = "marker"  # marker on the access unit's last packet
TIMESTAMP = "timestamp"  # one timestamp per access unit
PARAMETER_SETS = "parameter-sets"  # before the first random access point
PROFILE = "profile"  # SDP profile/level against the SPS
DONL = "donl"  # H.265 DONL/DOND only when sprop-max-don-diff > 0
KINDS = (
    HEADER, TYPES, FRAGMENTS, AGGREGATION, ORDER, MARKER, TIMESTAMP, PARAMETER_SETS, PROFILE, DONL
)  # fmt: skip


class NalSpan(NamedTuple):
    """A NAL unit left in the capture: ``header``, then the bodies of packet rows
    ``first`` to ``stop - 1`` (:meth:`H26xReading.nal_bytes` joins them)."""

    header: bytes
    first: int
    stop: int


Nal = bytes | NalSpan  # a NAL unit: its octets, or where the capture holds them


@dataclass
class H26xReading:
    """A stream read as H.264/H.265: its access units (frames whose ``parts`` are the NAL
    units, :data:`Nal`), the SDP's parameter sets, problems by kind, and counts of what was
    lost. Row ``r``'s NAL unit data is ``source[body_start[r]:body_end[r]]``."""

    syntax: NalSyntax
    frames: list[Frame] = field(default_factory=list)
    sdp_nals: list[bytes] = field(default_factory=list)
    problems: dict[str, list[tuple[int, str]]] = field(
        default_factory=lambda: {k: [] for k in KINDS}
    )
    missing_fragments: int = 0  # fragmented NAL units a loss left unfinished
    incomplete: int = 0  # access units with a NAL unit or packet missing
    source: bytes | memoryview = b""
    body_start: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    body_end: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def nal_bytes(self, nal: Nal) -> bytes:
        """A NAL unit's octets."""
        if isinstance(nal, bytes):
            return nal
        source = self.source
        bodies = zip(
            self.body_start[nal.first : nal.stop].tolist(),
            self.body_end[nal.first : nal.stop].tolist(),
            strict=True,
        )
        return b"".join([nal.header, *(source[a:b] for a, b in bodies)])

    def nal_head(self, nal: NalSpan, count: int) -> bytes:
        """The first ``count`` octets of a NAL unit the capture holds (fewer if it is shorter)."""
        head, row = nal.header, nal.first
        while len(head) < count and row < nal.stop:
            a, b = int(self.body_start[row]), int(self.body_end[row])
            head += self.source[a : min(b, a + count - len(head))]
            row += 1
        return head

    def nal_units(self, frame: Frame) -> list[bytes]:
        """The octets of each NAL unit of an access unit."""
        return [self.nal_bytes(nal) for nal in frame.parts]

    def nal_type(self, nal: Nal) -> int:
        """The type of a NAL unit (read from its header, wherever it is)."""
        header_len = self.syntax.header_len
        return self.syntax.nal_type(
            nal if isinstance(nal, bytes) else self.nal_head(nal, header_len)
        )

    def decodable(self) -> list[Frame]:
        """The access units a decoder can show from the stream as captured: complete ones
        reached from a random access point (H.264 IDR, H.265 IRAP) through complete ones."""
        shown, reached = [], False
        for frame in self.frames:
            reached = frame.complete and (reached or self.is_random_access(frame))
            if reached:
                shown.append(frame)
        return shown

    def is_random_access(self, frame: Frame) -> bool:
        """True when a decoder may start at this access unit (it holds an IDR/IRAP slice)."""
        return any(self.nal_type(nal) in self.syntax.random_access for nal in frame.parts)

    def write_decoding_of(self, out: BinaryIO, frame: Frame) -> int:
        """Write what a decoder needs to show ``frame`` (one of :meth:`decodable`), as
        Annex B: the parameter sets known before it (the SDP's, then those sent in band),
        then the access units from the last random access point up to ``frame``, which is
        the last picture it decodes (cameras send no reordered pictures). Returns the access
        units written."""
        end = next(i for i, f in enumerate(self.frames) if f is frame) + 1
        start = end - 1
        while start >= 0 and not self.is_random_access(self.frames[start]):
            start -= 1
        if start < 0:
            raise ValueError(f"no random access point up to packet {frame.first_pktno}")
        known = [*self.sdp_nals]
        for earlier in self.frames[:start]:
            known += (
                self.nal_bytes(nal)
                for nal in earlier.parts
                if self.nal_type(nal) in self.syntax.parameter_sets
            )
        _write_annex_b(out, known)
        for unit in self.frames[start:end]:
            _write_annex_b(out, self.nal_units(unit))
        return end - start

    @property
    def suffix(self) -> str:
        """The usual file suffix of the elementary stream: ``.h264`` or ``.h265``."""
        return ".h264" if self.syntax is H264 else ".h265"

    def write_elementary_stream(
        self, out: BinaryIO, *, incomplete: bool = False
    ) -> tuple[int, int]:
        """Write the stream as an Annex B byte stream (H.264/H.265 Annex B) that decoders
        read: the SDP's parameter sets first, then each complete access unit (every one with
        ``incomplete``), one at a time: a stream of GB is never held whole. Returns the
        access units written and those left out."""
        _write_annex_b(out, self.sdp_nals)
        written = left_out = 0
        for frame in self.frames:
            if not frame.parts or not (frame.complete or incomplete):
                left_out += 1
                continue
            _write_annex_b(out, self.nal_units(frame))
            written += 1
        return written, left_out


def _write_annex_b(out: BinaryIO, nals: list[bytes]) -> None:
    """NAL units behind start codes, in one write."""
    out.write(b"".join(START_CODE + nal for nal in nals))
