"""Access units rebuilt from an H.264 (RFC 6184) or H.265 (RFC 7798) RTP stream, with what
went wrong, by rule, on the way.

One pass over the packets in sequence order: single NAL unit packets, aggregation packets
(STAP-A/STAP-B, AP) and fragmentation units (FU-A, FU) give NAL units; a run of packets
with one timestamp is an access unit (RFC 6184 §5.1, RFC 7798 §4.1). A packet loss is no
offence of the sender: it only leaves the access unit incomplete and the fragmented NAL
unit it cut counted as missing. Facts are gathered here; the rules in
``analysis.rules.h26x`` judge them.

NAL units stay where the capture holds them (``analysis.payloads.h26x_reading``): a
reading keeps a few integers a packet, not a copy of the stream. The fragments that only
add data to a NAL unit are found for the whole stream at once (``_continuations``) and
taken in one step.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from analysis.payloads.frames import Frame
from analysis.payloads.h26x_reading import (
    AGGREGATION,
    DONL,
    FRAGMENTS,
    HEADER,
    MARKER,
    ORDER,
    PARAMETER_SETS,
    PROFILE,
    TIMESTAMP,
    TYPES,
    H26xReading,
    Nal,
    NalSpan,
)
from analysis.payloads.nal_syntax import (
    H264,
    H264_MODE_TYPES,
    H265,
    H265_PACI,
    NalSyntax,
    sdp_parameter_sets,
    sdp_profile_level,
    sps_profile_level,
)
from analysis.payloads.seq_columns import SeqColumns
from analysis.pcap.byte_columns import byte_rows, column
from analysis.wire.ascii_numbers import is_decimal

SIZE_FIELD = 2  # RFC 6184 §5.7.1, RFC 7798 §4.4.2: NAL unit size before each aggregated unit
DON_FIELD = 2  # RFC 6184 §5.7.1 (STAP-B DON), RFC 7798 §4.4.1 (DONL)
DOND_FIELD = 1  # RFC 7798 §4.4.2: DOND before each later aggregation unit
STAP_B = 25
CLOSED_TIMESTAMPS_KEPT = 16  # recent access units a packet may wrongly return to

FU_START, FU_END = 0x80, 0x40  # RFC 6184 §5.8, RFC 7798 §4.4.3: S and E of the FU header


@dataclass(slots=True)
class _OpenFragment:
    """A fragmented NAL unit begun and not yet ended: its header, and its bodies so far,
    rows ``start_row`` to ``stop - 1`` (or, once a packet between them was not one of them,
    copied out in ``scattered``)."""

    start_pktno: int
    start_row: int
    header: bytes
    stop: int
    size: int  # octets so far, its header included
    # Its start broke no rule and did not end it: the fragments that repeat the start's
    # headers (``_continuations``) only add data, and read_h26x takes them in one step.
    clean: bool
    scattered: list[bytes] | None = None


class _Reader:
    """The state of one pass: the open access unit and fragmented NAL unit."""

    def __init__(
        self, syntax: NalSyntax, encoding: str, parameters: dict[str, str], packets: SeqColumns
    ) -> None:
        self.syntax = syntax
        self.reading = H26xReading(syntax, source=packets.source, body_end=packets.end)
        # A middle fragment's data follows its payload header and FU header; rows whose
        # data starts elsewhere (start fragments with a DON, single NAL unit packets) are
        # written as they are read.
        self.body_start = self.reading.body_start = packets.start + (syntax.header_len + 1)
        self.payload_start = packets.start
        self.problems = self.reading.problems
        mode_text = parameters.get("packetization-mode", "0")
        self.mode = int(mode_text) if is_decimal(mode_text) else 0
        don_diff = parameters.get("sprop-max-don-diff", "0")
        depack = parameters.get("sprop-depack-buf-nalus", "0")
        # RFC 7798 §7.1: DONL fields are present when either is greater than 0.
        self.donl = syntax is H265 and (
            (is_decimal(don_diff) and int(don_diff) > 0) or (is_decimal(depack) and int(depack) > 0)
        )
        nals, unreadable = sdp_parameter_sets(encoding, parameters)
        self.reading.sdp_nals = nals
        self.sdp_problems = unreadable
        self.declared = sdp_profile_level(encoding, parameters)
        self.params_seen = {syntax.nal_type(n) for n in nals if len(n) >= syntax.header_len}
        self.sps_checked: set[bytes] = set()
        self.random_access_seen = False
        self.au: Frame | None = None
        self.fu: _OpenFragment | None = None
        self.closed: deque[int] = deque(maxlen=CLOSED_TIMESTAMPS_KEPT)
        self.returned = False  # the open access unit came back to a closed timestamp
        self.vcl_seen = False  # the open access unit has a coded slice
        self.orphaned = False  # fragments whose start a loss took: skipped to their end

    @property
    def current(self) -> Frame:
        """The open access unit (every packet opens one or joins the open one)."""
        if self.au is None:
            raise RuntimeError("no access unit is open")
        return self.au

    def offend(self, kind: str, pktno: int, text: str) -> None:
        self.problems[kind].append((pktno, text))

    # --- access units ---------------------------------------------------------------------

    def open_au(self, pktno: int, t: float, ts: int, ext: int, lost: bool) -> None:
        if self.au is not None:
            self.close_au(lost)
        self.returned = ts in self.closed
        if self.returned:
            self.offend(ORDER, pktno, f"timestamp {ts} returns to an access unit already ended")
        self.au = Frame(ts, pktno, t, ext, complete=not lost)
        self.reading.frames.append(self.au)
        self.vcl_seen = False

    def close_au(self, lost: bool) -> None:
        au = self.current
        if self.fu is not None:
            # A timestamp change inside a fragmented NAL unit: its end never came.
            self.drop_fragment(lost=lost, why="the access unit ended")
        if not au.complete:
            self.reading.incomplete += 1
        self.closed.append(au.timestamp)

    def drop_fragment(self, *, lost: bool, why: str) -> None:
        if self.fu is None:
            return
        start = self.fu.start_pktno
        self.fu = None
        self.reading.missing_fragments += 1
        self.current.complete = False
        if not lost:
            self.offend(FRAGMENTS, start, f"fragmented NAL unit begun here has no end ({why})")

    # --- NAL units --------------------------------------------------------------------------

    def whole_nal(self, nal: bytes, pktno: int) -> None:
        """A NAL unit, copied out, for the open access unit."""
        self.nal(nal, nal[: self.syntax.header_len + 1], len(nal), pktno)

    def nal(self, nal: Nal, head: bytes, size: int, pktno: int) -> None:
        """A whole NAL unit for the open access unit: ``head``, its first octets (its
        header and the one after), and its ``size``."""
        syntax = self.syntax
        if size < syntax.header_len:
            self.offend(AGGREGATION, pktno, f"NAL unit of {size} octet(s) has no header")
            return
        problem = syntax.header_problem(head)
        if problem:
            self.offend(HEADER, pktno, f"NAL unit header: {problem}")
        kind = syntax.nal_type(head)
        if kind in syntax.parameter_sets:
            self.params_seen.add(kind)
            if syntax.parameter_sets[kind] == "SPS":
                self.check_profile(self.reading.nal_bytes(nal), pktno)
        if kind in syntax.vcl:
            self.check_picture_start(head, pktno)
            if kind in syntax.random_access and not self.random_access_seen:
                self.random_access_seen = True
                missing = [n for t, n in syntax.parameter_sets.items() if t not in self.params_seen]
                if missing:
                    self.offend(
                        PARAMETER_SETS,
                        pktno,
                        f"first random access picture (NAL type {kind}) without "
                        f"{'/'.join(missing)} before it, in band or in the SDP",
                    )
        self.current.parts.append(nal)
        self.current.size += size

    def check_picture_start(self, head: bytes, pktno: int) -> None:
        starts = self.syntax.starts_picture(head)
        if not self.vcl_seen and not starts and len(self.reading.frames) == 1:
            self.current.complete = False  # the capture began inside this picture
        if (
            not self.vcl_seen
            and not starts
            and self.current.complete
            and not self.returned
            and len(self.reading.frames) > 1
        ):
            self.offend(
                TIMESTAMP,
                pktno,
                "access unit goes on under a new timestamp (its first slice does not open a picture)",
            )
        elif self.vcl_seen and starts and self.syntax.header_len == 1:
            self.offend(TIMESTAMP, pktno, "a second picture shares the access unit's timestamp")
        self.vcl_seen = True

    def check_profile(self, sps: bytes, pktno: int) -> None:
        if self.declared is None or sps in self.sps_checked:
            return
        self.sps_checked.add(sps)
        actual = sps_profile_level(self.syntax, sps)
        if actual is None:
            return
        (profile, level), (sps_profile, sps_level) = self.declared, actual
        if sps_profile != profile or sps_level > level:
            self.offend(
                PROFILE,
                pktno,
                f"SPS has profile {sps_profile} level {sps_level}; the SDP declares "
                f"profile {profile} level {level}",
            )

    # --- packets ----------------------------------------------------------------------------

    def packet(self, row: int, pktno: int, payload: bytes, lost: bool) -> None:
        syntax = self.syntax
        if len(payload) <= syntax.header_len:
            self.offend(AGGREGATION, pktno, f"payload of {len(payload)} octet(s) holds no NAL unit")
            return
        header = payload[: syntax.header_len]
        kind = syntax.nal_type(header)
        problem = syntax.header_problem(header)
        if problem:
            self.offend(HEADER, pktno, f"payload header: {problem}")
        clean = self.check_type_allowed(kind, pktno) and not problem
        if self.fu is not None and (lost or kind not in syntax.fragmentation):
            self.drop_fragment(lost=lost, why=f"a type {kind} packet came before it")
        if kind not in syntax.fragmentation:
            self.orphaned = False
        if kind in syntax.fragmentation:
            self.fragment(row, pktno, payload, lost, clean)
        elif kind in syntax.aggregation:
            self.aggregate(pktno, kind, payload)
        elif kind == H265_PACI and syntax is H265:
            self.current.complete = False  # PACI not read: its NAL unit is left out
        elif kind <= syntax.max_nal_type:
            if self.donl:
                body = payload[syntax.header_len :]
                if len(body) < DON_FIELD:
                    self.offend(
                        DONL, pktno, "packet too short for the DONL field the SDP announces"
                    )
                    return
                self.whole_nal(header + body[DON_FIELD:], pktno)
            else:
                self.body_start[row] = self.payload_start[row]  # the payload is the NAL unit
                self.nal(NalSpan(b"", row, row + 1), payload[: syntax.header_len + 1],
                         len(payload), pktno)  # fmt: skip

    def check_type_allowed(self, kind: int, pktno: int) -> bool:
        """Names a payload type the packetization mode does not allow; True when allowed."""
        syntax = self.syntax
        if syntax is H264:
            allowed = H264_MODE_TYPES.get(self.mode, H264_MODE_TYPES[0])
            if kind not in allowed:
                self.offend(
                    TYPES,
                    pktno,
                    f"payload type {kind} not allowed in packetization-mode {self.mode}",
                )
                return False
        elif kind > H265_PACI:
            self.offend(TYPES, pktno, f"payload header type {kind} is unspecified (RFC 7798 §4.4)")
            return False
        return True

    def fragment(self, row: int, pktno: int, payload: bytes, lost: bool, clean: bool) -> None:
        """One fragmentation unit (``clean``: its payload header broke no rule)."""
        syntax = self.syntax
        if len(payload) < syntax.header_len + 2:
            self.offend(FRAGMENTS, pktno, "fragmentation unit without payload")
            return
        fu_header = payload[syntax.header_len]
        nal_header, start, end = syntax.fragment_header(payload[: syntax.header_len], fu_header)
        inner = syntax.nal_type(nal_header)
        if inner in syntax.aggregation or inner in syntax.fragmentation:
            self.offend(TYPES, pktno, f"fragmentation unit carries a type {inner} packet")
            clean = False
        skip = syntax.header_len + 1  # the payload header and FU header
        if start and end:
            self.offend(FRAGMENTS, pktno, "fragmentation unit with both start and end bits")
        if start:
            if self.fu is not None:
                self.drop_fragment(lost=lost, why="another start came before it")
            # FU-B, or DONL: a DON after the FU header, in the start only.
            if self.donl or (syntax is H264 and syntax.nal_type(payload) == 29):
                if len(payload) < skip + DON_FIELD:
                    self.offend(DONL, pktno, "start fragment too short for its DON field")
                    return
                skip += DON_FIELD
                self.body_start[row] += DON_FIELD
            size = len(nal_header) + len(payload) - skip
            self.fu = _OpenFragment(pktno, row, nal_header, row + 1, size, clean and not end)
            self.orphaned = False
        elif self.fu is None:
            self.current.complete = False
            if not lost and not self.orphaned:
                self.offend(FRAGMENTS, pktno, "fragment without a start fragment before it")
            self.orphaned = not end
            return
        else:
            self.add_body(self.fu, row, payload[skip:])
        if end and self.fu is not None:
            self.finish_fragment(self.fu, pktno)

    def finish_fragment(self, fu: _OpenFragment, pktno: int) -> None:
        """The end of the open fragmented NAL unit came (in packet ``pktno``)."""
        self.fu = None
        if fu.scattered is not None:
            self.whole_nal(fu.header + b"".join(fu.scattered), pktno)
        else:
            nal = NalSpan(fu.header, fu.start_row, fu.stop)
            self.nal(nal, self.reading.nal_head(nal, self.syntax.header_len + 1), fu.size, pktno)

    def add_body(self, fu: _OpenFragment, row: int, body: bytes) -> None:
        """A middle or end fragment's data: the next row of its NAL unit, or (when a
        malformed packet came between) a copy."""
        if fu.scattered is None and row != fu.stop:
            fu.scattered = [self.reading.nal_bytes(NalSpan(b"", fu.start_row, fu.stop))]
        if fu.scattered is None:
            fu.stop = row + 1
        else:
            fu.scattered.append(body)
        fu.size += len(body)

    def aggregate(self, pktno: int, kind: int, payload: bytes) -> None:
        syntax = self.syntax
        body = payload[syntax.header_len :]
        if syntax is H264 and kind != 24 and kind != STAP_B:
            self.current.complete = False  # MTAP (interleaved mode) is not read
            return
        if kind == STAP_B:
            body = body[DON_FIELD:]
        units = split_aggregate(body, donl=self.donl)
        if units is None:
            if not self.donl and syntax is H265 and split_aggregate(body, donl=True) is not None:
                self.offend(DONL, pktno, "AP holds DONL/DOND fields without sprop-max-don-diff > 0")
            else:
                self.offend(AGGREGATION, pktno, "aggregation unit sizes do not fit the packet")
            self.current.complete = False
            return
        if syntax is H265 and len(units) < 2:
            self.offend(AGGREGATION, pktno, "AP with fewer than two aggregation units")
        for nal in units:
            if len(nal) >= syntax.header_len:
                inner = syntax.nal_type(nal)
                if inner in syntax.aggregation or inner in syntax.fragmentation:
                    self.offend(TYPES, pktno, f"aggregation packet carries a type {inner} packet")
                    continue
            self.whole_nal(nal, pktno)


def split_aggregate(body: bytes, *, donl: bool) -> list[bytes] | None:
    """The NAL units of an aggregation packet's payload (after its header), or None when the
    size fields do not fit it exactly or a unit is empty."""
    units = []
    pos = 0
    first = True
    while pos < len(body):
        if donl:
            pos += DON_FIELD if first else DOND_FIELD
        if pos + SIZE_FIELD > len(body):
            return None
        size = int.from_bytes(body[pos : pos + SIZE_FIELD], "big")
        pos += SIZE_FIELD
        if size == 0 or pos + size > len(body):
            return None
        units.append(body[pos : pos + size])
        pos += size
        first = False
    return units or None


def read_h26x(
    packets: SeqColumns, syntax: NalSyntax, encoding: str, parameters: dict[str, str]
) -> H26xReading:
    """Read packets in sequence order (first copies only) as one H.264/H.265 stream."""
    reader = _Reader(syntax, encoding, parameters, packets)
    runs, run_sizes, run_ends = _continuations(packets, syntax)
    source = packets.source
    exts, pktnos, times, tss, markers, starts, ends = (
        c.tolist()
        for c in (packets.ext, packets.pktno, packets.time, packets.ts, packets.marker,
                  packets.start, packets.end)
    )  # fmt: skip
    prev_ext: int | None = None
    prev_marker = False
    row = 0
    while row < len(exts):
        ext, pktno, t, ts, marker = exts[row], pktnos[row], times[row], tss[row], markers[row]
        lost = prev_ext is not None and ext != prev_ext + 1
        au = reader.au
        if au is None or ts != au.timestamp:
            if au is not None and not prev_marker:
                if lost:
                    au.complete = False  # the lost packets may have been its end
                else:
                    reader.offend(
                        MARKER, au.last_pktno, "access unit's last packet lacks the marker"
                    )
            reader.open_au(pktno, t, ts, ext, lost)
        else:
            if prev_marker and not lost:
                reader.offend(
                    MARKER, au.last_pktno, "marker on a packet that is not the access unit's last"
                )
            if lost:
                reader.current.complete = False
        au = reader.current
        au.packets += 1
        au.last_pktno, au.end_time, au.marker_last, au.last_ext = pktno, t, marker, ext
        # A capture may begin inside a fragmented NAL unit: its first packet is excused too.
        reader.packet(row, pktno, bytes(source[starts[row] : ends[row]]), lost or prev_ext is None)
        prev_ext, prev_marker = ext, marker
        fu = reader.fu
        if runs[row] and fu is not None and fu.clean and fu.start_row == row:
            # This clean start's other fragments: all reading each in full would do is add
            # its data, and end it. Most packets of a camera's stream are these (RFC 6184
            # §5.8, RFC 7798 §4.4.3).
            last = row + runs[row]
            fu.stop = last + 1
            fu.size += run_sizes[row]
            au.packets += runs[row]
            au.last_pktno, au.end_time, au.last_ext = pktnos[last], times[last], exts[last]
            au.marker_last = prev_marker = markers[last]
            prev_ext = exts[last]
            if run_ends[last]:
                reader.finish_fragment(fu, pktnos[last])
            row = last
        row += 1
    if reader.au is not None:
        if reader.fu is not None:
            reader.fu = None
            reader.reading.missing_fragments += 1
            reader.current.complete = False  # the capture ends inside a fragmented NAL unit
        if not reader.au.marker_last:
            reader.current.complete = False  # the capture may end inside it
        if not reader.current.complete:
            reader.reading.incomplete += 1
    for text in reader.sdp_problems:
        reader.offend(PARAMETER_SETS, pktnos[0] if pktnos else 0, f"SDP: {text}")
    return reader.reading


def _continuations(
    packets: SeqColumns, syntax: NalSyntax
) -> tuple[list[int], list[int], list[bool]]:
    """For each row: how many rows right after it continue its fragmentation unit
    unchanged, their data's octets (0 and 0 where none), and whether the last of them ends
    it. A continuation repeats the previous row's payload header and FU header (but for
    S, and E on an end), in sequence, under its timestamp, after no marker. read_h26x takes
    them in one step after a clean start."""
    count, header_len = len(packets), syntax.header_len
    runs = np.zeros(count, dtype=np.int64)
    sizes = np.zeros(count, dtype=np.int64)
    if count < 2 or len(packets.source) <= header_len:
        return runs.tolist(), sizes.tolist(), [False] * count
    length = packets.end - packets.start
    has_data = length > header_len + 1
    head = byte_rows(packets.source, np.where(has_data, packets.start, 0), header_len + 1)
    header, fu = column(head, 0, header_len), column(head, header_len, 1)
    fragment = has_data & np.isin(syntax.type_in(head[:, 0]), sorted(syntax.fragmentation))
    ends = (fu & FU_END) != 0
    goes_on = np.zeros(count, dtype=bool)
    goes_on[1:] = (
        fragment[1:]
        & ~ends[:-1]
        & (header[1:] == header[:-1])
        & (fu[1:] & ~FU_END == fu[:-1] & ~(FU_START | FU_END))  # the start's, a middle's
        & (packets.ext[1:] == packets.ext[:-1] + 1)
        & ~packets.marker[:-1]
        & (packets.ts[1:] == packets.ts[:-1])
    )
    edges = np.diff(goes_on.astype(np.int8), prepend=0, append=0)
    begin, stop = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    data = np.concatenate(([0], np.cumsum(length - (header_len + 1))))
    runs[begin - 1] = stop - begin
    sizes[begin - 1] = data[stop] - data[begin]
    # An end is always a run's last row: nothing continues past it.
    return runs.tolist(), sizes.tolist(), (ends & goes_on).tolist()
