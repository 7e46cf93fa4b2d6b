"""Video frames rebuilt from an RTP stream, with what went wrong in each.

Three payload formats are told apart: RFC 2435 fragments, the lab's whole-JPEG
payloads (an RTP payload that begins with a JPEG SOI and carries no RFC 2435 header),
and anything else (frames delimited by timestamp and marker only).
Facts are gathered here in one pass; rules judge them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import cast

import numpy as np

from analysis.payloads import jpeg as rfc2435
from analysis.payloads.jpeg_tables import scaled_tables
from analysis.payloads.seq_columns import RTP_MARKER_SHIFT, SeqPacket, sequence_rows
from analysis.pcap.byte_columns import byte_rows, column

log = logging.getLogger(__name__)

JPEG_SOI_PREFIX = b"\xff\xd8\xff"
FORMAT_SAMPLE = 50  # payloads looked at to tell whole JPEGs from RFC 2435


class PayloadFormat(Enum):
    """How a stream's payloads carry video."""

    RFC2435 = "rfc2435"
    WHOLE_JPEG = "whole-jpeg"  # the lab's format
    H264 = "h264"  # RFC 6184, named by the SDP's rtpmap
    H265 = "h265"  # RFC 7798, named by the SDP's rtpmap
    OTHER = "other"

    @property
    def is_jpeg(self) -> bool:
        """True for the JPEG formats, whose frames go in presentation order."""
        return self in (PayloadFormat.RFC2435, PayloadFormat.WHOLE_JPEG)


# rtpmap encoding names (upper case) of the formats chosen by the SDP alone.
FORMATS_BY_ENCODING = {"H264": PayloadFormat.H264, "H265": PayloadFormat.H265}


@dataclass(slots=True, eq=False)
class Frame:
    """One video frame: where it came from, and the problems of its packets."""

    timestamp: int
    first_pktno: int
    time: float
    first_ext: int = 0  # extended sequence numbers of the first and last packet
    last_ext: int = 0
    last_pktno: int = 0
    end_time: float = 0.0
    packets: int = 0
    size: int = 0  # bytes of JPEG data (RFC 2435 scan data, or the whole JPEG)
    complete: bool = True  # no packet of it lost, first and last present
    marker_last: bool = False
    marker_inside: list[int] = field(default_factory=list)  # pktnos marked but not last
    timestamp_changes: list[int] = field(default_factory=list)  # pktnos with another timestamp
    header_problems: list[tuple[int, str]] = field(default_factory=list)
    fragment_problems: list[tuple[int, str]] = field(default_factory=list)
    table_problems: list[tuple[int, str]] = field(default_factory=list)
    restart_problems: list[tuple[int, str]] = field(default_factory=list)
    jpeg_type: int = -1
    q: int = -1
    width: int = 0
    height: int = 0
    dri: int = 0
    tables: bytes | None = None
    precision: int = 0
    # RFC 2435 scan data pieces; H.264/H.265 NAL units (``analysis.payloads.h26x.Nal``).
    parts: list = field(default_factory=list)
    whole: bytes | None = None  # the lab's format: the payload is the JPEG
    # The scan data as spans of a capture buffer, when the vectorized path built the frame.
    source: bytes | memoryview | None = None
    # (starts, ends, first, stop): the frame's packets are rows first..stop-1 of the
    # stream's scan starts and ends in ``source``, columns every frame of the stream shares
    # (8 bytes a packet, not a Python int each: a capture of a million packets keeps
    # every frame).
    spans: tuple[np.ndarray, np.ndarray, int, int] | None = None

    def scan_parts(self) -> list:
        """The frame's scan data pieces."""
        if self.spans is not None:
            source = self.source
            assert source is not None  # spans are always given with their source
            starts, ends, first, stop = self.spans
            return [
                source[a:b]
                for a, b in zip(starts[first:stop].tolist(), ends[first:stop].tolist(), strict=True)
            ]
        return self.parts

    def header(self) -> bytes | None:
        """The JPEG headers rebuilt for this frame (None for the lab's whole JPEGs, or when
        no tables are known)."""
        if self.whole is not None or self.tables is None or self.jpeg_type < 0:
            return None
        return rfc2435.jfif_header(
            self.jpeg_type, self.width, self.height, self.tables, self.precision, self.dri
        )

    @property
    def structurally_sound(self) -> bool:
        """Complete and free of header, fragment, table and restart problems."""
        return (
            self.complete
            and not self.header_problems
            and not self.fragment_problems
            and not self.table_problems
            and not self.restart_problems
        )

    def jpeg(self) -> bytes | None:
        """The frame as a JPEG file, or None when it cannot be rebuilt."""
        if self.whole is not None:
            return self.whole
        parts = self.scan_parts()
        header = self.header()
        if header is None or not parts:
            return None
        ends = bytes(parts[-1][-2:]) if len(parts[-1]) >= 2 else b"".join(parts)[-2:]
        tail = [] if ends == rfc2435.EOI else [rfc2435.EOI]  # RFC 2435 senders may leave it out
        return b"".join([header, *parts, *tail])  # one copy of the scan data


def detect_format(
    payload_type: int, payloads: list[bytes], encoding: str | None = None
) -> PayloadFormat:
    """Whole JPEGs when most payloads start with an SOI; RFC 2435 for PT 26 or SDP JPEG;
    H.264/H.265 when the SDP's rtpmap names them."""
    if encoding in FORMATS_BY_ENCODING:
        return FORMATS_BY_ENCODING[encoding]
    sample = payloads[:FORMAT_SAMPLE]
    if sample and sum(p.startswith(JPEG_SOI_PREFIX) for p in sample) * 2 > len(sample):
        return PayloadFormat.WHOLE_JPEG
    if payload_type == rfc2435.PT_JPEG or encoding == "JPEG":
        return PayloadFormat.RFC2435
    return PayloadFormat.OTHER


def assemble(packets: list[SeqPacket], fmt: PayloadFormat) -> list[Frame]:
    """Frames of a stream from its packets in sequence order (duplicates removed)."""
    if fmt is PayloadFormat.RFC2435:
        return _assemble_rfc2435(packets)
    if fmt is PayloadFormat.WHOLE_JPEG:
        return _assemble_whole(packets)
    return _assemble_generic(packets)


def _assemble_whole(packets: list[SeqPacket]) -> list[Frame]:
    frames = []
    for ext, pktno, t, ts, marker, payload in packets:
        frame = Frame(ts, pktno, t, ext, ext, pktno, t, 1, len(payload), True, marker)
        frame.whole = payload
        frames.append(frame)
    return frames


def _assemble_generic(packets: list[SeqPacket]) -> list[Frame]:
    frames: list[Frame] = []
    cur = None
    prev_ext = None
    prev_marker = False
    for ext, pktno, t, ts, marker, payload in packets:
        lost = prev_ext is not None and ext != prev_ext + 1
        if cur is None or prev_marker or ts != cur.timestamp:
            if cur is not None and lost and not prev_marker:
                cur.complete = False
            cur = Frame(ts, pktno, t, ext, complete=not lost or prev_marker)
            frames.append(cur)
        elif lost:
            cur.complete = False
        cur.packets += 1
        cur.size += len(payload)
        cur.last_pktno, cur.end_time, cur.marker_last, cur.last_ext = pktno, t, marker, ext
        prev_ext, prev_marker = ext, marker
    if cur is not None and not cur.marker_last:
        cur.complete = False  # the capture ends inside it
    return frames


def _assemble_rfc2435(packets: list[SeqPacket]) -> list[Frame]:
    frames: list[Frame] = []
    cur: Frame | None = None
    next_offset = 0
    prev_ext = None
    prev_marker = False
    prev_pktno = 0
    cached_tables: dict[int, tuple[bytes, int]] = {}  # Q -> tables seen (Q 128..254)
    for ext, pktno, t, ts, marker, payload in packets:
        lost = prev_ext is not None and ext != prev_ext + 1
        header = rfc2435.parse_main(payload)
        offset = header[0] if header else -1
        new = cur is None or offset == 0 or (ts != cur.timestamp and (prev_marker or lost))
        if new:
            if cur is not None:
                if lost and not prev_marker:
                    cur.complete = False  # its last packet(s) are missing
                _finish(cur)
            cur = Frame(ts, pktno, t, ext)
            frames.append(cur)
            next_offset = 0
            if header:
                cur.jpeg_type, cur.q, cur.width, cur.height = header[1:]
                _check_main(cur, pktno, header)
            if offset != 0:
                if lost or cur is frames[0] and prev_ext is None and offset > 0:
                    cur.complete = False  # began before the loss or before the capture
                else:
                    cur.fragment_problems.append(
                        (pktno, f"first fragment has offset {offset}, not 0")
                    )
        else:
            assert cur is not None  # ``new`` holds while there is no frame yet
            if lost:
                cur.complete = False
            if prev_marker:
                cur.marker_inside.append(prev_pktno)
            if ts != cur.timestamp:
                cur.timestamp_changes.append(pktno)
            if header and header[1:] != (cur.jpeg_type, cur.q, cur.width, cur.height):
                cur.header_problems.append(
                    (
                        pktno,
                        f"type/Q/size {header[1]}/{header[2]}/{header[3]}x{header[4]} changed "
                        f"within the frame (was {cur.jpeg_type}/{cur.q}/{cur.width}x{cur.height})",
                    )
                )
            if (
                header
                and offset != next_offset
                and next_offset >= 0
                and not lost
                and not cur.header_problems  # the layout hangs on type and Q
            ):
                what = "overlaps" if offset < next_offset else "leaves a gap after"
                cur.fragment_problems.append(
                    (pktno, f"fragment offset {offset} {what} the previous end {next_offset}")
                )
        cur.packets += 1
        cur.last_pktno, cur.end_time, cur.marker_last, cur.last_ext = pktno, t, marker, ext
        prev_ext, prev_marker, prev_pktno = ext, marker, pktno
        if header is None:
            cur.header_problems.append(
                (pktno, f"payload of {len(payload)} bytes has no 8-byte JPEG header")
            )
            continue
        pos = rfc2435.MAIN_HEADER_LEN
        jtype, q = header[1], header[2]
        if rfc2435.TYPE_RESTART_FIRST <= jtype <= rfc2435.TYPE_RESTART_LAST:
            if len(payload) < pos + rfc2435.RESTART_HEADER_LEN:
                cur.restart_problems.append((pktno, f"type {jtype} needs a Restart Marker header"))
                continue
            interval = (payload[pos] << 8) | payload[pos + 1]
            if interval == 0:
                cur.restart_problems.append((pktno, f"type {jtype} with restart interval 0"))
            elif cur.dri and interval != cur.dri:
                cur.restart_problems.append(
                    (pktno, f"restart interval {interval} changed from {cur.dri}")
                )
            cur.dri = interval
            pos += rfc2435.RESTART_HEADER_LEN
        if offset == 0 and q >= rfc2435.Q_INBAND_FIRST:
            pos = _read_tables(cur, pktno, payload, pos, q, cached_tables)
            if pos < 0:
                next_offset = -1  # where the data starts is unknown: offsets cannot be judged
                continue
        elif offset == 0 and 1 <= q <= rfc2435.Q_TABLE_LAST:
            cur.tables = scaled_tables(q)
        data = payload[pos:]
        cur.parts.append(data)
        cur.size += len(data)
        next_offset = offset + len(data)
    if cur is not None:
        if not cur.marker_last:
            cur.complete = False  # the capture ends inside it
        _finish(cur)
    return frames


def _check_main(frame: Frame, pktno: int, header: tuple[int, int, int, int, int]) -> None:
    _offset, jtype, q, width, height = header
    base = jtype % rfc2435.TYPE_RESTART_FIRST
    if jtype >= rfc2435.TYPE_DYNAMIC_FIRST:
        frame.header_problems.append(
            (pktno, f"type {jtype} is dynamic: needs an out-of-band definition")
        )
    elif base not in rfc2435.BASE_TYPES:
        frame.header_problems.append((pktno, f"type {jtype} is reserved (§3.1.3)"))
    if q == 0 or q in rfc2435.Q_RESERVED:
        frame.header_problems.append((pktno, f"Q {q} is reserved (§3.1.4)"))
    if width == 0 or height == 0:
        frame.header_problems.append((pktno, f"size {width}x{height} has a zero dimension"))


def _read_tables(
    frame: Frame,
    pktno: int,
    payload: bytes,
    pos: int,
    q: int,
    cache: dict[int, tuple[bytes, int]],
) -> int:
    """Read a Quantization Table header; returns the data position, or -1 on failure."""
    if len(payload) < pos + rfc2435.QT_HEADER_LEN:
        frame.table_problems.append(
            (pktno, f"Q {q} needs a Quantization Table header: payload too short")
        )
        return -1
    mbz, precision = payload[pos], payload[pos + 1]
    length = (payload[pos + 2] << 8) | payload[pos + 3]
    if mbz != 0:
        frame.table_problems.append(
            (pktno, f"Q {q} but no Quantization Table header (MBZ byte is {mbz:#04x})")
        )
        return -1
    start = pos + rfc2435.QT_HEADER_LEN
    if length == 0:
        if q == rfc2435.Q_ALWAYS_INBAND or q not in cache:
            frame.table_problems.append(
                (pktno, f"Q {q} with table length 0 and no tables sent before for this Q")
            )
            return -1
        frame.tables, frame.precision = cache[q]
        return start
    one, two = rfc2435.table_bytes(precision, 1), rfc2435.table_bytes(precision, 2)
    if start + length > len(payload):
        frame.table_problems.append(
            (pktno, f"table length {length} exceeds the {len(payload) - start} bytes left")
        )
        return -1
    if length < one:
        frame.table_problems.append(
            (pktno, f"table length {length} is less than the {one} bytes of one table")
        )
        return -1
    # One table serves every component (ffmpeg sends one when luma and chroma share it).
    frame.tables, frame.precision = (
        payload[start : start + (two if length >= two else one)],
        precision,
    )
    cache[q] = (frame.tables, precision)
    return start + length


def _finish(frame: Frame) -> None:
    if frame.header_problems:
        return  # without a valid type and Q there is no knowing which tables apply
    if frame.tables is None and frame.complete and not frame.table_problems and frame.q > 0:
        if frame.q < rfc2435.Q_INBAND_FIRST and frame.q not in rfc2435.Q_RESERVED:
            return
        frame.table_problems.append((frame.first_pktno, f"no quantization tables for Q {frame.q}"))


def fast_rfc2435(stream, order: np.ndarray, ext: np.ndarray) -> list[Frame] | None:
    """Frames of an RFC 2435 stream in one vectorized pass, or None when anything is
    irregular (loss, restart markers, a bad offset or header...): the packet-by-packet
    reader then runs and names each problem. Regular means exactly what
    ``_assemble_rfc2435`` would accept without a problem."""
    n = len(order)
    if n == 0 or (n > 1 and not (np.diff(ext) == 1).all()):
        return None
    rows = sequence_rows(order, len(stream.pstart))
    p = stream.pstart[rows]
    pend = stream.pend[rows]
    length = pend - p
    if (length < rfc2435.MAIN_HEADER_LEN).any():
        return None
    header = byte_rows(stream.buffer, p, rfc2435.MAIN_HEADER_LEN)
    offset = column(header, 0, 4) & rfc2435.FRAGMENT_OFFSET_MASK
    jtype, q = column(header, 4, 1), column(header, 5, 1)
    width, height = column(header, 6, 1), column(header, 7, 1)
    del header
    starts = offset == 0
    if not starts[0]:
        return None
    if not (((jtype == 0) | (jtype == 1)).all() and (width > 0).all() and (height > 0).all()):
        return None  # restart-marker or reserved types, or a zero size: the reader judges
    if ((q == 0) | ((q >= rfc2435.Q_RESERVED.start) & (q < rfc2435.Q_INBAND_FIRST))).any():
        return None
    frame_of = np.cumsum(starts) - 1
    first = np.nonzero(starts)[0]
    last = np.concatenate((first[1:] - 1, [n - 1]))
    ts = stream.ts[rows]
    marker = (stream.b1[rows] >> RTP_MARKER_SHIFT).astype(bool)
    if not marker[last].all() or marker.sum() != len(first):
        return None  # a missing or misplaced marker, or the capture ends inside a frame
    fields = (jtype << 24) | (q << 16) | (width << 8) | height  # one code per header
    for values in (ts, fields):
        if (values != values[first][frame_of]).any():
            return None
    header = np.full(n, rfc2435.MAIN_HEADER_LEN, dtype=np.int64)
    inband = starts & (q >= rfc2435.Q_INBAND_FIRST)
    tables_at = {}
    if inband.any():
        at = np.nonzero(inband)[0]
        if (length[at] < rfc2435.MAIN_HEADER_LEN + rfc2435.QT_HEADER_LEN).any():
            return None
        pq = p[at] + rfc2435.MAIN_HEADER_LEN
        table_header = byte_rows(stream.buffer, pq, rfc2435.QT_HEADER_LEN)
        mbz, precisions = column(table_header, 0, 1), column(table_header, 1, 1)
        qlen = column(table_header, 2, 2)
        one = np.where(precisions & 1, rfc2435.TABLE_BYTES_16BIT, rfc2435.TABLE_BYTES_8BIT)
        two = one + np.where(precisions & 2, rfc2435.TABLE_BYTES_16BIT, rfc2435.TABLE_BYTES_8BIT)
        room = length[at] - rfc2435.MAIN_HEADER_LEN - rfc2435.QT_HEADER_LEN
        if (mbz != 0).any() or (qlen < one).any() or (qlen > room).any():
            return None
        header[at] += rfc2435.QT_HEADER_LEN + qlen
        take = np.where(qlen >= two, two, one)
        tables_at = dict(
            zip(
                at.tolist(),
                _inband_tables(stream.buffer, pq + rfc2435.QT_HEADER_LEN, take, precisions),
                strict=True,
            )
        )
    data_len = length - header
    expected = offset[:-1] + data_len[:-1]
    if n > 1 and (offset[1:][~starts[1:]] != expected[~starts[1:]]).any():
        return None
    pstart = p + header
    pktno, time = stream.pktno[rows], stream.time[rows]
    # Per-frame values only: the first and last packet of each frame, not every packet.
    per_frame = zip(
        first.tolist(), last.tolist(), ts[first].tolist(), pktno[first].tolist(),
        time[first].tolist(), ext[first].tolist(), ext[last].tolist(), pktno[last].tolist(),
        time[last].tolist(), np.add.reduceat(data_len, first).tolist(), jtype[first].tolist(),
        q[first].tolist(), (width[first] * rfc2435.PIXELS_PER_UNIT).tolist(),
        (height[first] * rfc2435.PIXELS_PER_UNIT).tolist(), strict=True,
    )  # fmt: skip
    standard: dict[int, bytes] = {}
    view = memoryview(stream.buffer)  # slices of a view copy nothing until joined
    frames = []
    # Problem lists of a regular frame: none, and never appended to; one shared empty tuple
    # stands for them all (typed as the lists it stands for).
    empty: list = cast(list, ())
    for a, b, ts_a, pk_a, t_a, ext_a, ext_b, pk_b, t_b, size, jt, qa, w, h in per_frame:
        if qa >= rfc2435.Q_INBAND_FIRST:
            tables, precision = tables_at[a]
        else:
            tables = standard.get(qa) or standard.setdefault(qa, scaled_tables(qa))
            precision = 0
        frames.append(
            Frame(
                ts_a, pk_a, t_a, ext_a, ext_b, pk_b, t_b, b - a + 1, size, True, True,
                empty, empty, empty, empty, empty, empty, jt, qa, w, h, 0, tables, precision,
                empty, None, view, (pstart, pend, a, b + 1),
            )
        )  # fmt: skip
    return frames


def _inband_tables(
    buffer, at: np.ndarray, take: np.ndarray, precision: np.ndarray
) -> list[tuple[bytes, int]]:
    """Each frame's in-band tables (``take`` bytes at ``at``) with their precision: one
    bytes object for each run of frames that repeat them, as frame after frame does."""
    shared: dict[bytes, bytes] = {}  # one copy of tables that come back after others
    if not (take == take[0]).all():  # tables of several sizes: rare, read one by one
        tables = (buffer[a : a + t] for a, t in zip(at.tolist(), take.tolist(), strict=True))
        return [
            (shared.setdefault(t, t), p) for t, p in zip(tables, precision.tolist(), strict=True)
        ]
    table = byte_rows(buffer, at, int(take[0]))
    changed = np.ones(len(at), dtype=bool)
    changed[1:] = (table[1:] != table[:-1]).any(axis=1) | (precision[1:] != precision[:-1])
    runs = []
    for k in np.nonzero(changed)[0].tolist():
        tables = table[k].tobytes()
        runs.append((shared.setdefault(tables, tables), int(precision[k])))
    return [runs[k] for k in (np.cumsum(changed) - 1).tolist()]
