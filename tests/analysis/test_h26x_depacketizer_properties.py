"""Round trips through the checker's H.264/H.265 depacketizer: any access units, any MTU,
any packet loss. Nothing raises; a whole stream comes back NAL unit for NAL unit with no
problem named; with losses, every access unit that lost a packet is left incomplete (or
is gone), and an access unit called complete is exactly the one sent."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.craft.h26x import PARAMETER_SETS, packetize, slice_nal
from analysis.payloads.h26x import _Reader, read_h26x
from analysis.payloads.h26x_reading import KINDS
from analysis.payloads.nal_syntax import H264, H265
from analysis.payloads.seq_columns import SeqColumns

SYNTAXES = {"H264": H264, "H265": H265}
TICKS = 3000  # 90 kHz at 30 fps


@st.composite
def streams(draw):
    encoding = draw(st.sampled_from(sorted(SYNTAXES)))
    syntax = SYNTAXES[encoding]
    count = draw(st.integers(1, 6))
    aus = []
    for i in range(count):
        slices = draw(st.integers(1, 3))
        sizes = draw(st.lists(st.integers(3, 700), min_size=slices, max_size=slices))
        nals = list(PARAMETER_SETS[syntax.name]) if i == 0 else []
        nals += [slice_nal(syntax, idr=i == 0, first=k == 0, size=n) for k, n in enumerate(sizes)]
        aus.append(nals)
    mtu = draw(st.integers(syntax.header_len + 3, 1400))
    aggregate = draw(st.booleans())
    return encoding, syntax, aus, mtu, aggregate


def packets_of(syntax, aus, mtu, aggregate):
    packets = []
    for i, nals in enumerate(aus):
        payloads = packetize(syntax, nals, mtu, aggregate=aggregate)
        for k, p in enumerate(payloads):
            n = len(packets)
            packets.append((n, n + 1, n * 0.001, i * TICKS, k == len(payloads) - 1, p))
    return packets


PARAMS = {"packetization-mode": "1"}


def read(packets, syntax, encoding, params):
    return read_h26x(SeqColumns.of_packets(packets), syntax, encoding, params)


def vcl(syntax, nals):
    return [n for n in nals if syntax.nal_type(n) in syntax.vcl]


@settings(max_examples=150, deadline=None)
@given(streams())
def test_whole_stream_round_trips(case):
    encoding, syntax, aus, mtu, aggregate = case
    reading = read(packets_of(syntax, aus, mtu, aggregate), syntax, encoding, PARAMS)
    assert [reading.nal_units(f) for f in reading.frames] == aus
    assert all(f.complete for f in reading.frames)
    assert {k: v for k, v in reading.problems.items() if v} == {}
    assert (reading.missing_fragments, reading.incomplete) == (0, 0)
    assert set(reading.problems) == set(KINDS)


@settings(max_examples=200, deadline=None)
@given(streams(), st.data())
def test_losses_leave_access_units_incomplete_never_wrong(case, data):
    encoding, syntax, aus, mtu, aggregate = case
    packets = packets_of(syntax, aus, mtu, aggregate)
    lost = data.draw(st.sets(st.integers(0, len(packets) - 1), max_size=len(packets)))
    kept = [p for n, p in enumerate(packets) if n not in lost]
    reading = read(kept, syntax, encoding, PARAMS)
    # Packets lost before the first one received are unseen: the capture starts later.
    first = min((n for n in range(len(packets)) if n not in lost), default=len(packets))
    damaged = {packets[n][3] // TICKS for n in lost if n > first}
    by_index = {f.timestamp // TICKS: f for f in reading.frames}
    for index in damaged & set(by_index):
        assert not by_index[index].complete
    for index, frame in by_index.items():
        if frame.complete and index == packets[first][3] // TICKS:
            # Unseen leading losses may take parameter sets, never a piece of the picture.
            assert vcl(syntax, reading.nal_units(frame)) == vcl(syntax, aus[index])
        elif frame.complete:
            assert reading.nal_units(frame) == aus[index]
    # A loss is the network's doing: no fragmentation offence is laid on the sender.
    assert reading.problems["fragments"] == []
    assert reading.incomplete == sum(1 for f in reading.frames if not f.complete)
    written, left_out = reading.write_elementary_stream(io.BytesIO())
    assert written + left_out == len(reading.frames)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(SYNTAXES)),
    st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.binary(max_size=60)), max_size=12),
    st.dictionaries(
        st.sampled_from(["packetization-mode", "sprop-max-don-diff", "sprop-parameter-sets",
                         "sprop-sps", "profile-level-id", "profile-id", "level-id"]),
        st.text(max_size=12),
    ),
)  # fmt: skip
def test_hostile_payloads_never_raise(encoding, items, params):
    packets = [
        (n, n + 1, float(n), ts * TICKS, marker, payload)
        for n, (ts, marker, payload) in enumerate(items)
    ]
    reading = read(packets, SYNTAXES[encoding], encoding, params)
    assert reading.incomplete <= len(reading.frames)


def read_plain(packets, syntax, encoding, params):
    """read_h26x with every packet read in full: no fragment lane."""
    full = _Reader.fragment

    def without_lane(self, *args):
        full(self, *args)
        if self.fu is not None:
            self.fu.clean = False

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Reader, "fragment", without_lane)
        return read(packets, syntax, encoding, params)


def outcome(reading):
    frames = [
        (f.timestamp, f.first_pktno, f.time, f.first_ext, f.last_ext, f.last_pktno, f.end_time,
         f.packets, f.size, f.complete, f.marker_last, reading.nal_units(f))
        for f in reading.frames
    ]  # fmt: skip
    return frames, dict(reading.problems), reading.incomplete, reading.missing_fragments


@settings(max_examples=300, deadline=None)
@given(streams(), st.data())
def test_the_fragment_lane_reads_what_the_packet_path_reads(case, data):
    """Fragments taken in one step after their start (read_h26x's lane) give the same
    access units, NAL units and problems as reading each packet in full, whatever befalls
    the packets: loss, a marker or a new timestamp mid-unit, flipped header bits (the F
    bit, and the FU header's S and E, on their own too), a cut payload, any packetization
    mode or DONL setting."""
    encoding, syntax, aus, mtu, aggregate = case
    packets = packets_of(syntax, aus, mtu, aggregate)
    for n in data.draw(st.sets(st.integers(0, len(packets) - 1), max_size=len(packets))):
        ext, pktno, t, ts, marker, payload = packets[n]
        change = data.draw(
            st.sampled_from(["lose", "marker", "timestamp", "bit", "forbidden", "start/end", "cut"])
        )
        if change == "marker":
            marker = not marker
        elif change == "timestamp":
            ts += TICKS // 2
        elif change == "bit" and payload:
            at = data.draw(st.integers(0, min(len(payload), syntax.header_len + 2) - 1))
            payload = payload[:at] + bytes([payload[at] ^ (1 << data.draw(st.integers(0, 7)))])
            payload += packets[n][5][at + 1 :]
        elif change == "forbidden" and payload:
            payload = bytes([payload[0] | 0x80]) + payload[1:]  # F set: the payload header differs
        elif change == "start/end" and len(payload) > syntax.header_len:
            at, flip = syntax.header_len, data.draw(st.sampled_from([0x80, 0x40]))
            payload = payload[:at] + bytes([payload[at] ^ flip]) + payload[at + 1 :]  # S or E
        elif change == "cut":
            payload = payload[: data.draw(st.integers(0, syntax.header_len + 2))]
        packets[n] = None if change == "lose" else (ext, pktno, t, ts, marker, payload)
    kept = [p for p in packets if p is not None]
    params = {
        "packetization-mode": data.draw(st.sampled_from(["0", "1", "2"])),
        "sprop-max-don-diff": data.draw(st.sampled_from(["0", "1"])),
    }
    laned = read(kept, syntax, encoding, params)
    assert outcome(laned) == outcome(read_plain(kept, syntax, encoding, params))
