"""The H.264/H.265 payload rules on crafted sessions: a clean stream passes every rule, and
each crafted defect is named by exactly its rule (every other rule passes or does not
apply)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from realtools import require_tool

from analysis.check import check_capture
from analysis.craft.h26x import access_unit, packetize, sdp_media, slice_nal
from analysis.craft.session_builder import Lower, SessionBuilder
from analysis.payloads.nal_syntax import H264, H265, NalSyntax
from analysis.rules import Outcome
from workbench.cli import main

PT = 96
MTU = 120
FRAMES = 12
BIG = 400  # octets of a slice that needs fragmenting at MTU

# Every H.264/H.265 rule, each named alone by a crafted defect below.
CRAFTED_RULES = {
    f"{codec}-{rule}"
    for codec, rules in (
        (
            "H264",
            ("F-1", "MODE-1", "FU-1", "STAP-1", "ORDER-1", "MARK-1", "TS-1", "PS-1", "PLID-1"),
        ),
        (
            "H265",
            (
                "F-1",
                "TYPE-1",
                "FU-1",
                "AP-1",
                "DONL-1",
                "ORDER-1",
                "MARK-1",
                "TS-1",
                "PS-1",
                "PLID-1",
            ),
        ),
    )
    for rule in rules
}

# An edit of one access unit's payloads (index: which one) -> the payloads sent instead.
Edit = Callable[[int, list[bytes]], list[bytes]]


def units(syntax: NalSyntax, index: int) -> list[bytes]:
    """Access unit ``index``: an IDR every 6, two slices, the first one fragmented."""
    nals = access_unit(syntax, idr=index % 6 == 0, slices=2, size=60)
    nals[-2] = slice_nal(syntax, idr=index % 6 == 0, size=BIG)
    return nals


def build(
    tmp_path,
    syntax: NalSyntax,
    edit: Edit | None = None,
    *,
    lower: Lower = Lower.UDP,
    media: str | None = None,
    markers: Callable[[int, int], bool] | None = None,
    order: Callable[[list[list[bytes]]], list[tuple[int, bytes, bool]]] | None = None,
):
    b = SessionBuilder(lower=lower)
    b.media_description = media or sdp_media(syntax, PT)
    b.start()
    b.sender_report()
    aus = []
    for i in range(FRAMES):
        payloads = packetize(syntax, units(syntax, i), MTU)
        aus.append(edit(i, payloads) if edit else payloads)
    timestamps = []
    for payloads in aus:
        timestamps.append(b.next_ts)
        for k, p in enumerate(payloads):
            last = markers(k, len(payloads)) if markers else k == len(payloads) - 1
            b.rtp(p, marker=last, payload_type=PT)
        b.next_frame()
    if order:
        for ts, payload, marker in order(timestamps):
            b.rtp(payload, marker=marker, timestamp=ts, payload_type=PT)
    b.sender_report()
    b.teardown()
    b.close()
    return check_capture(b.write(tmp_path / "h26x.pcap"))


def failed(result) -> set[str]:
    return {r.rule.id for r in result.rules if r.outcome is Outcome.FAILED}


def on(index: int, change: Callable[[list[bytes]], list[bytes]]) -> Edit:
    """Apply ``change`` to access unit ``index`` only."""
    return lambda i, payloads: change(list(payloads)) if i == index else payloads


def fu_positions(syntax: NalSyntax, payloads: list[bytes]) -> list[int]:
    return [k for k, p in enumerate(payloads) if syntax.nal_type(p) in syntax.fragmentation]


def without_start(syntax):
    return lambda p: [x for k, x in enumerate(p) if k != fu_positions(syntax, p)[0]]


def two_starts(syntax):
    def change(p):
        k = fu_positions(syntax, p)[1]
        h = syntax.header_len
        p[k] = p[k][:h] + bytes([p[k][h] | 0x80]) + p[k][h + 1 :]
        return p

    return change


def without_end(syntax):
    return lambda p: [x for k, x in enumerate(p) if k != fu_positions(syntax, p)[-1]]


def with_bit(index: int, octet: int, bit: int):
    def change(p):
        p[index] = p[index][:octet] + bytes([p[index][octet] | bit]) + p[index][octet + 1 :]
        return p

    return change


def bad_size(p):
    p[0] = p[0][:-3]  # the aggregation packet of parameter sets, its last unit cut short
    return p


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
@pytest.mark.parametrize("lower", [Lower.UDP, Lower.TCP])
def test_clean_crafted_stream_passes_every_rule(tmp_path, syntax, lower):
    result = build(tmp_path, syntax, lower=lower)
    assert failed(result) == set()
    (stream,) = result.streams
    prefix = "H264" if syntax is H264 else "H265"
    mine = [r for r in result.rules if r.rule.id.startswith(prefix)]
    assert mine and all(r.outcome is Outcome.PASSED for r in mine)
    assert len(stream.h26x.frames) == FRAMES and stream.h26x.incomplete == 0
    first = stream.h26x.nal_units(stream.h26x.frames[0])
    assert first[: len(units(syntax, 0))] == units(syntax, 0)


H264_DEFECTS = {
    "fu-a without start": (on(3, without_start(H264)), "H264-FU-1"),
    "two fu-a starts": (on(3, two_starts(H264)), "H264-FU-1"),
    "fu-a without end": (on(3, without_end(H264)), "H264-FU-1"),
    "wrong f bit": (on(2, with_bit(-1, 0, 0x80)), "H264-F-1"),
    "stap-a bad size": (on(0, bad_size), "H264-STAP-1"),
}
H265_DEFECTS = {
    "fu without start": (on(3, without_start(H265)), "H265-FU-1"),
    "two fu starts": (on(3, two_starts(H265)), "H265-FU-1"),
    "fu without end": (on(3, without_end(H265)), "H265-FU-1"),
    "wrong f bit": (on(2, with_bit(-1, 0, 0x80)), "H265-F-1"),
    "ap bad size": (on(0, bad_size), "H265-AP-1"),
    "unspecified type 55": (on(2, lambda p: [*p[:-1], bytes([55 << 1, 1, 0])]), "H265-TYPE-1"),
}


@pytest.mark.parametrize(
    ("syntax", "edit", "rule_id"),
    [(H264, *v) for v in H264_DEFECTS.values()] + [(H265, *v) for v in H265_DEFECTS.values()],
    ids=[f"h264-{k}" for k in H264_DEFECTS] + [f"h265-{k}" for k in H265_DEFECTS],
)
def test_each_payload_defect_is_named_by_its_rule(tmp_path, syntax, edit, rule_id):
    assert failed(build(tmp_path, syntax, edit)) == {rule_id}


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
def test_marker_on_a_middle_packet(tmp_path, syntax):
    result = build(tmp_path, syntax, markers=lambda k, n: k in (0, n - 1))
    assert failed(result) == {f"{'H264' if syntax is H264 else 'H265'}-MARK-1"}


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
def test_parameter_sets_missing_before_the_first_random_access_point(tmp_path, syntax):
    h = syntax.header_len
    params = set(syntax.parameter_sets)  # left out in band, and none in the SDP

    def no_params(i, payloads):
        return packetize(
            syntax, [n for n in units(syntax, i) if syntax.nal_type(n[:h]) not in params], MTU
        )

    media = sdp_media(syntax, PT, sprop=False)
    assert failed(build(tmp_path, syntax, no_params, media=media)) == {
        f"{'H264' if syntax is H264 else 'H265'}-PS-1"
    }
    assert not failed(build(tmp_path, syntax, media=media))  # in band is enough


def test_stap_a_in_packetization_mode_0(tmp_path):
    media = sdp_media(H264, PT).replace("packetization-mode=1", "packetization-mode=0")
    assert failed(build(tmp_path, H264, media=media)) == {"H264-MODE-1"}

    def single(i, payloads):  # mode 0: every NAL unit in a packet of its own
        return access_unit(H264, idr=i % 6 == 0, slices=2, size=60)

    assert failed(build(tmp_path, H264, single, media=media)) == set()


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
def test_profile_level_disagreeing_with_the_sps(tmp_path, syntax):
    if syntax is H264:
        media = sdp_media(H264, PT).replace("profile-level-id=42c01e", "profile-level-id=64001e")
    else:
        media = sdp_media(H265, PT).replace("profile-id=1", "profile-id=2")
    assert failed(build(tmp_path, syntax, media=media)) == {
        f"{'H264' if syntax is H264 else 'H265'}-PLID-1"
    }


def test_h265_donl_without_sprop_max_don_diff(tmp_path):
    def with_donl(p):
        body = p[0][2:]
        units_, pos, out = [], 0, bytearray()
        while pos < len(body):
            size = int.from_bytes(body[pos : pos + 2], "big")
            units_.append(body[pos : pos + 2 + size])
            pos += 2 + size
        out += b"\x00\x07" + units_[0]  # DONL, then DOND before each later unit
        for u in units_[1:]:
            out += b"\x01" + u
        p[0] = p[0][:2] + bytes(out)
        return p

    assert failed(build(tmp_path, H265, on(0, with_donl))) == {"H265-DONL-1"}


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
def test_access_unit_sent_after_a_later_one(tmp_path, syntax):
    """A slice of an earlier picture sent after the next picture began: not decoding order."""
    prefix = "H264" if syntax is H264 else "H265"

    def late(timestamps):
        return [(timestamps[-2], slice_nal(syntax, idr=False, first=False), True)]

    assert failed(build(tmp_path, syntax, order=late)) == {f"{prefix}-ORDER-1"}


@pytest.mark.parametrize("syntax", [H264, H265], ids=["h264", "h265"])
def test_timestamp_changes_inside_an_access_unit(tmp_path, syntax):
    """The second slice of a picture under a timestamp of its own."""
    prefix = "H264" if syntax is H264 else "H265"

    def split(timestamps):
        ts = timestamps[-1] + 3000
        return [
            (ts, slice_nal(syntax, idr=False), False),
            (ts, slice_nal(syntax, idr=False), True),  # a second picture in the same unit
            (ts + 3000, slice_nal(syntax, idr=False, first=False), True),
        ]

    offences = failed(build(tmp_path, syntax, order=split))
    assert offences == {f"{prefix}-TS-1"}


def h264_session():
    """A whole H.264 session of FRAMES access units, and the packets of each (to edit)."""
    b = SessionBuilder()
    b.media_description = sdp_media(H264, PT)
    b.start()
    sent = []
    for i in range(FRAMES):
        payloads = packetize(H264, units(H264, i), MTU)
        sent.append(
            [
                b.rtp(p, marker=k == len(payloads) - 1, payload_type=PT)
                for k, p in enumerate(payloads)
            ]
        )
        b.next_frame()
    b.teardown()
    return b, sent


def test_frames_leaves_out_an_access_unit_that_lost_a_fragment(tmp_path, capsys):
    """`frames` writes the SDP's parameter sets and every whole access unit; the one whose
    fragment was lost is counted and left out, or written with --incomplete."""
    b, sent = h264_session()
    b.drop(sent[4][2])  # a middle fragment of the large slice
    pcap = b.write(tmp_path / "lost.pcap")
    assert main(["frames", str(pcap), "-o", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert (
        f"{FRAMES - 1} access unit(s); 1 left out as incomplete (1 fragmented NAL unit(s) lost)"
        in printed
    )
    (written,) = (tmp_path / "out").glob("*.h264")
    data = written.read_bytes()
    start = b"\x00\x00\x00\x01"
    expected = [n for i in range(FRAMES) if i != 4 for n in units(H264, i)]
    assert data == b"".join(start + n for n in [*access_unit(H264, idr=True)[:2], *expected])
    assert main(["frames", str(pcap), "-o", str(tmp_path / "all"), "--incomplete"]) == 0
    assert f"{FRAMES} access unit(s); 0 left out" in capsys.readouterr().out


def test_packets_reordered_on_the_way_are_read_in_sequence_order(tmp_path):
    """Two fragments of one NAL unit arriving swapped: the access units are rebuilt in
    sequence order, byte for byte, and no H.264 rule is offended (a network's reordering
    is no sender's fault)."""
    b, sent = h264_session()
    b.swap(sent[4][2], sent[4][3])
    result = check_capture(b.write(tmp_path / "reordered.pcap"))
    (stream,) = result.streams
    assert stream.stats.reorders == 1
    assert [stream.h26x.nal_units(f) for f in stream.h26x.frames] == [
        units(H264, i) for i in range(FRAMES)
    ]
    assert stream.h26x.incomplete == 0
    assert not {r for r in failed(result) if r.startswith("H264")}


def test_screenshots_of_pictures_ffmpeg_cannot_decode_are_left_out(tmp_path, caplog):
    """The crafted NAL units are syntax only: ffmpeg shows no picture from them. The report's
    screenshots then leave the stream out, each pick logged, and nothing raises."""
    from workbench.report.capture_frames import capture_screenshots
    from workbench.report.i18n import Catalog

    require_tool("ffmpeg")
    result = build(tmp_path, H264)
    (stream,) = result.streams
    assert stream.h26x.decodable() == stream.h26x.frames  # every unit is there to show
    assert capture_screenshots(result, tmp_path / "shots", Catalog.load("en")) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2  # the first and the last picture
    assert all("no picture at packet" in w and "ffmpeg" in w for w in warnings)
