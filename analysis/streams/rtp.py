"""RTP streams (RFC 3550): fixed headers read in bulk, packets grouped by SSRC, payloads
located past CSRCs, extension and padding. Their receiver statistics (Appendix A) are
``analysis.streams.statistics``'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from analysis.payloads.frames import (
    Frame,
    PayloadFormat,
)
from analysis.payloads.h26x_reading import H26xReading
from analysis.payloads.seq_columns import RTP_MARKER_SHIFT
from analysis.pcap.byte_columns import byte_rows, column
from analysis.streams.media_format import MediaFormat, media_format
from analysis.wire.flows import Endpoint, UDPFlow, flow_label

log = logging.getLogger(__name__)

RTP_VERSION = 2  # RFC 3550 §5.1
RTP_HEADER_LEN = 12
RTP_CSRC_LEN = 4
RTP_WORD = 4  # §5.3.1: the extension length counts 32-bit words
RTP_EXTENSION_HEADER_LEN = 4  # §5.3.1: profile-defined 16 bits + length in 32-bit words
RTP_PLAIN_FIRST_BYTE = 0x80  # version 2, no padding, no extension, no CSRC
# §5.1 first octet: V (2 bits), P, X, CC (4 bits); second octet: M (RTP_MARKER_SHIFT), PT.
RTP_VERSION_SHIFT = 6
RTP_PADDING_BIT = 0x20
RTP_EXTENSION_BIT = 0x10
RTP_CSRC_COUNT_MASK = 0x0F
RTP_PT_MASK = 0x7F
SEQ_MODULUS = 1 << 16
SEQ_HALF = 1 << 15
TS_MODULUS = 1 << 32
TS_HALF = 1 << 31

# One packet in arrival order: pktno, time, seq, timestamp, second header byte, size, payload.
RtpPacket = tuple[int, float, int, int, int, int, bytes]
_EMPTY = np.zeros(0, dtype=np.int64)


def unwrapped(values: np.ndarray, modulus: int) -> np.ndarray:
    """Sequence numbers or timestamps counted on past their wrap-around (RFC 3550 A.1):
    each step taken as the nearest signed one, from the first value as it is."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    half = modulus // 2
    steps = np.mod(np.diff(values.astype(np.int64)) + half, modulus) - half
    return np.concatenate(([0], np.cumsum(steps))) + int(values[0])


@dataclass
class StreamStats:
    """Receiver statistics of one stream (RFC 3550 A.3 and A.8), in plain numbers.

    Figures that need the media clock (jitter, drift, media fps) are None when the clock
    rate is unknown; frame figures are None for formats without frames (audio, unknown)."""

    packets: int = 0  # received, duplicates included (A.3's "received")
    expected: int = 0  # highest extended sequence - first + 1
    lost: int = 0  # sequence numbers never seen: never negative
    a3_lost: int = 0  # expected - received, as A.3 computes it (negative with duplicates)
    duplicates: int = 0
    reorders: int = 0  # packets arriving after a higher sequence number
    frames: int | None = None
    complete_frames: int | None = None
    jitter_ms: float | None = None  # A.8 estimate after the last packet
    max_jitter_ms: float | None = None  # maximum and mean as Wireshark reports them
    mean_jitter_ms: float | None = None  # (analysis.streams.jitter)
    duration_s: float = 0.0  # first to last arrival
    fps: float | None = None  # frames per second of arrival time
    media_fps: float | None = None  # frames per second of RTP timestamp
    bitrate_bps: float = 0.0  # RTP payload bits per second of arrival time (wire sizes)
    drift_ppm: float | None = None  # media clock vs arrival clock; None when too short
    first_seq: int = 0
    first_timestamp: int = 0
    gso_datagrams: int = 0  # captured UDP GSO super-datagrams split into their packets
    cut_packets: int = 0  # packets the capture's snap length cut short

    @property
    def missing(self) -> int:
        """Sequence numbers never seen (the same as ``lost``)."""
        return self.lost


@dataclass(eq=False)  # identity: columns are arrays, and two streams are never "equal"
class CapturedStream:
    """Every packet of one SSRC on one flow (UDP ports, or an interleaved channel).

    Per-packet fields are columns (numpy arrays, arrival order): ``pktno``, ``time``,
    ``seq``, ``ts``, ``b1`` (marker and payload type byte), ``size`` (whole RTP packet on
    the wire), ``cut`` (the snap length cut it), and the payload's ``pstart``/``pend`` in
    ``buffer``. ``media_format`` says what it carries and on which clock;
    ``segment_starts`` are the times of the PLAY requests that each begin a segment
    (RFC 2326 §12.33: RTP-Info restates the timestamp mapping), within which continuity is
    judged.
    """

    src: Endpoint
    dst: Endpoint
    ssrc: int
    transport: str = "udp"  # "udp" or "tcp" (interleaved)
    channel: int | None = None
    buffer: bytes = b""
    pktno: np.ndarray = field(default_factory=lambda: _EMPTY)
    time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    seq: np.ndarray = field(default_factory=lambda: _EMPTY)
    ts: np.ndarray = field(default_factory=lambda: _EMPTY)
    b1: np.ndarray = field(default_factory=lambda: _EMPTY)
    size: np.ndarray = field(default_factory=lambda: _EMPTY)
    pstart: np.ndarray = field(default_factory=lambda: _EMPTY)
    pend: np.ndarray = field(default_factory=lambda: _EMPTY)
    # Bytes the snap length cut from each packet; empty when it cut none.
    uncaptured: np.ndarray = field(default_factory=lambda: _EMPTY)
    bad_version: list[int] = field(default_factory=list)
    length_problems: list[tuple[int, str]] = field(default_factory=list)
    media_format: MediaFormat | None = None
    segment_starts: list[float] = field(default_factory=list)
    format: PayloadFormat = PayloadFormat.OTHER
    frames: list[Frame] = field(default_factory=list)
    h26x: H26xReading | None = None  # H.264/H.265 streams: access units and problems
    stats: StreamStats = field(default_factory=StreamStats)
    duplicate_pktnos: list[int] = field(default_factory=list)
    reorder_pktnos: list[int] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (pktno after gap, seqs missing)
    session_id: str | None = None  # the RTSP session this stream belongs to, when known
    control: str | None = None  # the URI of the SETUP that negotiated it
    capture_holes: int = 0  # byte ranges of its TCP connection the capture lacks
    jitter: np.ndarray | None = None  # A.8 estimate after each packet, in timestamp units
    _packets: list[RtpPacket] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.pktno)

    @property
    def fmt(self) -> MediaFormat:
        """The media format (from the payload type alone until a session says more)."""
        if self.media_format is None:
            self.media_format = media_format(self.payload_type)
        return self.media_format

    @property
    def clock_rate(self) -> int | None:
        """The media clock in Hz, or None when unknown."""
        return self.fmt.clock_rate

    @property
    def has_frames(self) -> bool:
        """True when the payload format defines frames: video (the marker bit ends each,
        RFC 3551 §5), or JPEG payloads recognised by their bytes."""
        return self.fmt.is_video or self.format is not PayloadFormat.OTHER

    @property
    def cut(self) -> np.ndarray:
        """Which packets the capture's snap length cut short."""
        return self.uncaptured > 0 if len(self.uncaptured) else np.zeros(len(self), dtype=bool)

    def payload_sizes(self) -> np.ndarray:
        """Payload bytes of each packet as sent (the bytes a cut packet lost included)."""
        sizes = self.pend - self.pstart
        return sizes + self.uncaptured if len(self.uncaptured) else sizes

    @property
    def payload_cut(self) -> bool:
        """True when the snap length cut any payload: payload rules cannot judge it."""
        return bool(self.stats.cut_packets)

    def segments(self, times: np.ndarray) -> np.ndarray:
        """The segment (0 before the first PLAY of several) of each time in ``times``."""
        if len(self.segment_starts) < 2:
            return np.zeros(len(times), dtype=np.int64)
        return np.searchsorted(np.asarray(self.segment_starts), times, side="right")

    def jitter_ms_series(self) -> list[float] | None:
        """The A.8 jitter after each packet in milliseconds, or None when the clock is unknown."""
        if self.jitter is None or not self.clock_rate:
            return None
        return (self.jitter * 1000.0 / self.clock_rate).tolist()

    @property
    def label(self) -> str:
        """SSRC and where the stream runs, for evidence texts."""
        return f"SSRC {self.ssrc:#010x} {flow_label(self.src, self.dst, self.channel)}"

    @property
    def payload_type(self) -> int:
        """The payload type of the first packet."""
        return int(self.b1[0]) & RTP_PT_MASK if len(self.b1) else -1

    @property
    def first_pktno(self) -> int:
        """Packet number of the stream's first packet (0 when empty)."""
        return int(self.pktno[0]) if len(self.pktno) else 0

    def payload(self, i: int) -> bytes:
        """The payload of packet ``i`` (arrival order)."""
        return self.buffer[int(self.pstart[i]) : int(self.pend[i])]

    @property
    def packets(self) -> list[RtpPacket]:
        """Per-packet tuples ``(pktno, time, seq, timestamp, b1, size, payload)``."""
        if self._packets is None:
            buf = self.buffer
            self._packets = [
                (pk, t, sq, ts, b1, size, buf[a:b])
                for pk, t, sq, ts, b1, size, a, b in zip(
                    self.pktno.tolist(), self.time.tolist(), self.seq.tolist(),
                    self.ts.tolist(), self.b1.tolist(), self.size.tolist(),
                    self.pstart.tolist(), self.pend.tolist(),
                )
            ]  # fmt: skip
        return self._packets

    def series(self, keep: np.ndarray | None = None) -> dict[str, list]:
        """Per-packet series in arrival order, for plots: time, seq, timestamp, marker, size
        of every packet, or of the packets at indices ``keep``."""
        rows = slice(None) if keep is None else keep
        return {
            "pktno": self.pktno[rows].tolist(),
            "time": self.time[rows].tolist(),
            "seq": self.seq[rows].tolist(),
            "timestamp": self.ts[rows].tolist(),
            "marker": (self.b1[rows] >> RTP_MARKER_SHIFT).tolist(),
            "size": self.size[rows].tolist(),
        }


def split_by_ssrc(
    src: Endpoint, dst: Endpoint, datagrams: UDPFlow | list[tuple[int, float, bytes]], **where
) -> list[CapturedStream]:
    """Read the RTP fixed header of every datagram (all at once) and group them by SSRC.

    Datagrams shorter than an RTP header belong to no stream (``short_datagrams`` lists
    them); a datagram the snap length cut is read as far as it goes (``CapturedStream.cut``)."""
    flow = datagrams if isinstance(datagrams, UDPFlow) else UDPFlow.from_datagrams(datagrams)
    flow, super_datagrams = split_gso(flow)
    starts, ends = flow.starts, flow.ends
    sizes = ends - starts
    long_enough = sizes >= RTP_HEADER_LEN
    keep = np.nonzero(long_enough)[0]
    whole = len(keep) == len(sizes)  # the usual flow: every datagram holds a header
    s = starts if whole else starts[keep]
    wire = flow.wire_lengths if whole else flow.wire_lengths[keep]
    cut = wire > sizes[keep]
    header = byte_rows(flow.buffer, s, RTP_HEADER_LEN)
    b0 = header[:, 0]
    b1 = header[:, 1].copy()  # marker and payload type: one octet a packet, not eight
    seq = column(header, 2, 2)
    ts = column(header, 4, 4)
    ssrc = column(header, 8, 4)
    pstart = s + RTP_HEADER_LEN
    unusual = np.nonzero((b0 != RTP_PLAIN_FIRST_BYTE) | cut)[0]  # padding, extension, CSRCs
    # The flow's payload ends serve as they are unless some are moved (a copy then).
    pend = (ends.copy() if len(unusual) else ends) if whole else ends[keep]
    bad_version: list[int] = []
    problems: list[tuple[int, str]] = []
    for i in unusual.tolist():
        first = int(b0[i])
        pktno = int(flow.pktnos[keep[i]])
        if first >> RTP_VERSION_SHIFT != RTP_VERSION:
            bad_version.append(pktno)
        a, b, problem = _payload_span(
            flow.buffer, int(s[i]), int(pend[i]), first, int(s[i]) + int(wire[i])
        )
        pstart[i], pend[i] = a, b
        if problem:
            problems.append((pktno, problem))
    streams: list[CapturedStream] = []
    if len(keep):
        uniq, first_index, inverse = np.unique(ssrc, return_index=True, return_inverse=True)
        for u in np.argsort(first_index, kind="stable").tolist():
            # One source takes the columns as they are: a view, not a copy (a flow of one
            # stream, the usual one, then shares its columns with it).
            rows: np.ndarray | slice = (
                np.nonzero(inverse.ravel() == u)[0] if len(uniq) > 1 else slice(None)
            )
            flow_rows = rows if whole else keep[rows]
            stream = CapturedStream(
                src, dst, int(uniq[u]), buffer=flow.buffer, pktno=flow.pktnos[flow_rows],
                time=flow.times[flow_rows], seq=seq[rows], ts=ts[rows], b1=b1[rows],
                size=wire[rows], pstart=pstart[rows], pend=pend[rows],
                uncaptured=(wire - sizes[keep])[rows] if cut.any() else _EMPTY, **where,
            )  # fmt: skip
            pks = set(stream.pktno.tolist()) if (bad_version or problems) else set()
            stream.bad_version = [p for p in bad_version if p in pks]
            stream.length_problems = [pr for pr in problems if pr[0] in pks]
            streams.append(stream)
    if super_datagrams and streams:
        streams[0].stats.gso_datagrams = super_datagrams
    return streams


def short_datagrams(flow: UDPFlow) -> list[tuple[int, bytes]]:
    """(packet number, payload) of each datagram too short for an RTP header."""
    short = np.nonzero((flow.ends - flow.starts) < RTP_HEADER_LEN)[0].tolist()
    return [
        (int(flow.pktnos[i]), flow.buffer[int(flow.starts[i]) : int(flow.ends[i])]) for i in short
    ]


GSO_CANDIDATE_MIN = 1500  # larger than any Ethernet-sized datagram: maybe a GSO one


def split_gso(flow: UDPFlow) -> tuple[UDPFlow, int]:
    """Cut UDP GSO super-datagrams (one send of many equal-sized segments, captured on the
    sending host before segmentation) into the RTP packets the receiver gets.

    A datagram is cut only when, at every multiple of one segment size, an RTP header with
    the same SSRC and timestamp and the next sequence number begins.
    """
    sizes = flow.ends - flow.starts
    big = np.nonzero(sizes > GSO_CANDIDATE_MIN)[0].tolist()
    cuts = {}
    for i in big:
        segments = _gso_segments(flow.buffer, int(flow.starts[i]), int(flow.ends[i]))
        if segments:
            cuts[i] = segments
    if not cuts:
        return flow, 0
    pktnos, times, starts, ends, wire = [], [], [], [], []
    for i, (pk, t, a, b, w) in enumerate(
        zip(
            flow.pktnos.tolist(), flow.times.tolist(), flow.starts.tolist(),
            flow.ends.tolist(), flow.wire_lengths.tolist(),
        )
    ):  # fmt: skip
        for start, end in cuts.get(i, ((a, b),)):
            pktnos.append(pk)
            times.append(t)
            starts.append(start)
            ends.append(end)
            wire.append(w if i not in cuts else end - start)
    return UDPFlow(flow.buffer, pktnos, times, starts, ends, wire), len(cuts)


def _gso_segments(buf, start: int, end: int) -> list[tuple[int, int]] | None:
    n = end - start
    if buf[start] >> RTP_VERSION_SHIFT != RTP_VERSION:
        return None
    seq = (buf[start + 2] << 8) | buf[start + 3]
    tail = buf[start + 4 : start + 12]  # timestamp and SSRC: equal in every segment
    found = buf.find(tail[4:], start + RTP_HEADER_LEN + 8, end)
    while found != -1:
        size = found - 8 - start
        count = -(-n // size)
        if (
            count > 1
            and n - (count - 1) * size >= RTP_HEADER_LEN
            and all(
                buf[start + k * size] == buf[start]
                and (buf[start + k * size + 2] << 8 | buf[start + k * size + 3])
                == (seq + k) % SEQ_MODULUS
                and buf[start + k * size + 4 : start + k * size + 12] == tail
                for k in range(1, count)
            )
        ):
            return [(start + k * size, min(start + (k + 1) * size, end)) for k in range(count)]
        found = buf.find(tail[4:], found + 1, end)
    return None


def _payload_span(
    buffer: bytes, start: int, end: int, b0: int, wire_end: int | None = None
) -> tuple[int, int, str]:
    """Where the payload lies after CSRCs and extension and before padding, and any
    length problem (RFC 3550 §5.1, §5.3.1). Lengths are judged against the packet on the
    wire (``wire_end``); a packet the snap length cut has no padding count to read."""
    wire_end = end if wire_end is None else wire_end
    n = wire_end - start
    hdr = RTP_HEADER_LEN + (b0 & RTP_CSRC_COUNT_MASK) * RTP_CSRC_LEN
    if hdr > n:
        return end, end, f"CSRC count {b0 & RTP_CSRC_COUNT_MASK} needs {hdr} bytes, packet has {n}"
    if b0 & RTP_EXTENSION_BIT:
        if start + hdr + RTP_EXTENSION_HEADER_LEN > end:
            if hdr + RTP_EXTENSION_HEADER_LEN > n:
                return end, end, "extension bit set but no room for the extension header"
            return end, end, ""  # cut before the extension header: nothing to judge
        words = (buffer[start + hdr + 2] << 8) | buffer[start + hdr + 3]
        hdr += RTP_EXTENSION_HEADER_LEN + words * RTP_WORD
        if hdr > n:
            return end, end, f"extension of {words} words runs past the end ({hdr} > {n} bytes)"
    if wire_end > end:
        return min(start + hdr, end), end, ""  # the padding count was cut off
    if b0 & RTP_PADDING_BIT:
        pad = buffer[end - 1]
        if pad == 0 or hdr + pad > n:
            return start + hdr, end, f"padding count {pad} does not fit the {n - hdr}-byte payload"
        return start + hdr, end - pad, ""
    return start + hdr, end, ""
