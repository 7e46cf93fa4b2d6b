"""The classes of false alarm seen on other implementations' traffic, one crafted capture
each: clocks other than 90 kHz, keep-alives and stray datagrams, RTP-Info's rtptime,
segments across PAUSE/PLAY and seeks, dropped frames, captures begun mid-session, flows
no SETUP explains, RECORD sessions, compressed and damaged files. Every test states the
failed rules and asserts exactly those."""

from __future__ import annotations

import gzip
import json
import random
import struct

import pytest
from analysis_corpus import clean_session, paused_session
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.check import check_capture
from analysis.craft.synth import (
    PcapSynth,
    SynthDatagram,
    TCPConversation,
    rtp_header,
)
from analysis.errors import CaptureFileError
from analysis.expected import ExpectationsError, read_expectations
from analysis.pcap.compressed import decompress
from analysis.rules import Outcome
from workbench.cli import main

PCMU, PCMA, DYNAMIC = 0, 8, 97
NTP_UNIX_OFFSET = 2_208_988_800  # RFC 868: seconds from 1900 to 1970
LIVE555_KEEPALIVE = bytes.fromhex("cefaedfe")
FFMPEG_PUNCH = bytes([0x80]) + bytes(11)


def failed(result) -> set[str]:
    return {r.rule.id for r in result.rules if r.outcome is Outcome.FAILED}


def audio_capture(
    tmp_path, pt: int = PCMU, rate: int = 8000, packets: int = 400, reports: bool = True
):
    """RTP alone: 20 ms audio packets from a phone-like sender, with a sender report every
    5 s (RFC 3550 §6.2's minimum)."""
    synth = PcapSynth()
    samples = rate // 50
    rng = random.Random(3)
    t0, ts0, ssrc = 1_700_000_000.0, 123_456, 0xA0D10
    for i in range(packets):
        t = t0 + i * 0.02 + rng.uniform(0, 0.0008)
        header = rtp_header(2000 + i, ts0 + i * samples, ssrc, pt, marker=i == 0)
        synth.udp(t, ("10.1.1.1", 16384), ("10.1.1.2", 16384), header + bytes(samples))
        if reports and i % 250 == 10:
            ntp = t + NTP_UNIX_OFFSET
            sr = struct.pack(
                "!BBHIIIIII", 0x80, 200, 6, ssrc, int(ntp), int(ntp % 1 * 2**32),
                ts0 + round((t - t0) * rate), i + 1, (i + 1) * samples,
            )  # fmt: skip
            synth.udp(t, ("10.1.1.1", 16385), ("10.1.1.2", 16385), sr)
    return synth.write(tmp_path / "audio.pcap")


@pytest.mark.parametrize(("pt", "rate"), [(PCMU, 8000), (PCMA, 8000), (6, 16000)])
def test_audio_on_its_static_clock_is_clean(tmp_path, pt, rate):
    result = check_capture(audio_capture(tmp_path, pt, rate))
    assert failed(result) == set()
    (stream,) = result.streams
    assert stream.clock_rate == rate and stream.fmt.source == "RFC 3551 static payload type"
    assert abs(stream.stats.drift_ppm) < 1000  # not 8000/90000 - 1 = -911111 ppm
    assert stream.stats.max_jitter_ms < 1.0  # sub-millisecond pacing, not tens of ms
    assert stream.stats.frames is None  # audio: no frames, no marker to end them
    assert result.result("RTCP-SR-2").outcome is Outcome.PASSED  # SRs exact at the clock


def test_dynamic_payload_type_without_sdp_has_no_clock_figures(tmp_path):
    result = check_capture(audio_capture(tmp_path, DYNAMIC))
    assert failed(result) == set()
    (stream,) = result.streams
    assert stream.clock_rate is None and stream.stats.jitter_ms is None
    reason = "clock rate unknown (dynamic payload type 97 without SDP)"
    for rule_id in ("RTP-CLK-1", "RTP-JIT-1", "RTCP-SR-2"):
        r = result.result(rule_id)
        assert (r.outcome, r.evidence) == (Outcome.NOT_APPLICABLE, reason), rule_id


def test_keepalives_toward_the_server_are_named_not_judged(tmp_path):
    s = clean_session()
    t = s.play_time + 0.001
    rng = random.Random(5)
    for rtcp in (False, True):
        s.datagrams += [
            SynthDatagram(t, True, LIVE555_KEEPALIVE, rtcp),  # live555 / VLC
            SynthDatagram(t + 0.001, True, rng.randbytes(200), rtcp),  # GStreamer rtspsrc
        ]
    s.datagrams.append(SynthDatagram(t + 0.002, True, FFMPEG_PUNCH))  # ffmpeg, RTP port
    result = check_capture(s.write(tmp_path / "keepalives.pcap"))
    assert failed(result) == set()
    kinds = sorted(n.kind for n in result.non_media)
    assert kinds == [
        "GStreamer NAT probe (200-byte datagram)",
        "GStreamer NAT probe (200-byte datagram)",
        "ffmpeg NAT punch (bare RTP header)",
        "live555 NAT keep-alive (0xFEEDFACE)",
        "live555 NAT keep-alive (0xFEEDFACE)",
    ]
    assert all(n.keepalive and n.session_id == s.session_id for n in result.non_media)
    assert [st.ssrc for st in result.streams] == [s.ssrc]


def test_stray_datagrams_on_a_given_rtp_port_do_not_become_streams(tmp_path):
    synth = PcapSynth()
    for i in range(20):
        synth.udp(
            10 + i * 0.02, ("192.0.2.5", 7000), ("192.0.2.9", 5004),
            rtp_header(100 + i, 160 * i, 0xBEEF, PCMU) + bytes(160),
        )  # fmt: skip
    synth.udp(10.5, ("192.0.2.5", 7000), ("192.0.2.9", 5004), LIVE555_KEEPALIVE)
    synth.udp(10.6, ("192.0.2.7", 9000), ("192.0.2.9", 5004), bytes([0x80, 0, 0, 1]) + bytes(20))
    result = check_capture(synth.write(tmp_path / "strays.pcap"), rtp_ports=[5004])
    assert failed(result) == set()
    assert [s.ssrc for s in result.streams] == [0xBEEF]
    kinds = {n.kind for n in result.non_media}
    assert kinds == {
        "live555 NAT keep-alive (0xFEEDFACE)",
        "packets that fail RTP source validation (RFC 3550 A.1)",
    }


def _edit_rtp_info(s, rtptime: int) -> None:
    play_reply = next(m for m in s.messages if b"RTP-Info" in m.data)
    play_reply.data = play_reply.data.replace(
        f"rtptime={s.rtp[0].ts}".encode(), f"rtptime={rtptime}".encode()
    )


@pytest.mark.parametrize(
    ("offset_s", "failures"), [(0.2, set()), (-0.5, set()), (10.0, {"RTSP-INFO-1"})]
)
def test_rtp_info_rtptime_need_not_equal_the_first_timestamp(tmp_path, offset_s, failures):
    """RFC 2326 §12.33: rtptime maps the Range start; the first packet may be stamped a
    little later (a live clock running on) or earlier (a key frame before the start)."""
    s = clean_session()
    _edit_rtp_info(s, (s.rtp[0].ts - round(offset_s * 90000)) % 2**32)
    result = check_capture(s.write(tmp_path / "rtptime.pcap"))
    assert failed(result) == failures
    if failures:
        assert "+10.000 s from it at 90000 Hz" in result.result("RTSP-INFO-1").evidence


def test_resume_with_a_new_timestamp_mapping_is_a_new_segment(tmp_path):
    """After PAUSE the server resumes 5 s further on the media clock, as RTP-Info says:
    no timestamp, clock or jitter rule looks across the PLAY."""
    s = paused_session()
    resumed = [p for p in s.rtp if p.frame > 20]
    for p in resumed:
        p.ts = (p.ts + 5 * 90000) % 2**32
    reply = max((m for m in s.messages if b"RTP-Info" in m.data), key=lambda m: m.t)
    reply.data = reply.data.replace(
        f"rtptime={(resumed[0].ts - 5 * 90000) % 2**32}".encode(),
        f"rtptime={resumed[0].ts}".encode(),
    )
    result = check_capture(s.write(tmp_path / "resume.pcap"))
    assert failed(result) == set()
    (stream,) = result.streams
    assert len(stream.segment_starts) == 2 and stream.stats.max_jitter_ms < 1.0


def test_seek_with_announced_sequence_jump_is_no_loss(tmp_path):
    s = paused_session()
    resumed = [p for p in s.rtp if p.frame > 20]
    old_seq = resumed[0].seq
    for p in resumed:
        p.seq = (p.seq + 500) % 2**16
    reply = max((m for m in s.messages if b"RTP-Info" in m.data), key=lambda m: m.t)
    reply.data = reply.data.replace(f"seq={old_seq}".encode(), f"seq={resumed[0].seq}".encode())
    result = check_capture(s.write(tmp_path / "seek.pcap"))
    assert failed(result) == set()
    (stream,) = result.streams
    assert stream.stats.lost == 0 and stream.gaps == []


def test_a_dropped_frame_is_no_timestamp_fault(tmp_path):
    """A camera that skips a frame sends the next one a frame later, stamped accordingly:
    sequence numbers stay contiguous, the timestamp steps by two intervals."""
    s = clean_session()
    dropped = s.frame_packets(15)
    for p in dropped:
        s.rtp.remove(p)
    for k, p in enumerate(s.rtp):
        p.seq = (s.rtp[0].seq + k) % 2**16
    result = check_capture(s.write(tmp_path / "dropped.pcap"))
    assert failed(result) == set()
    assert result.result("RTP-TS-3").outcome is Outcome.PASSED


def test_capture_begun_after_play_blames_no_one(tmp_path):
    s = clean_session()
    play = next(m for m in s.messages if m.data.startswith(b"PLAY"))
    start = play.t + 0.3
    s.messages = [m for m in s.messages if m.t > start]
    s.rtp = [p for p in s.rtp if p.t > start]
    s.sender_reports = False
    synth = PcapSynth()
    conv = TCPConversation(synth, (s.client_ip, s.rtsp_client_port), (s.server_ip, s.rtsp_port))
    events = sorted(
        [(m.t, 0, m) for m in s.messages] + [(p.t, 1, p) for p in s.rtp], key=lambda e: e[:2]
    )
    for t, kind, item in events:  # no handshake: the capture joins the connection
        if kind == 0:
            conv.send(t, item.from_client, item.data)
        else:
            synth.udp(
                t, (s.server_ip, s.server_rtp_port), (s.client_ip, s.client_rtp_port),
                item.to_bytes(),
            )  # fmt: skip
    result = check_capture(synth.write(tmp_path / "mid.pcap"))
    assert failed(result) == set()
    (session,) = result.sessions
    assert not session.setup_captured
    assert result.result("RTSP-PORT-1").outcome is Outcome.NOT_APPLICABLE
    assert result.result("RTP-INIT-1").outcome is Outcome.NOT_APPLICABLE
    assert any("mid-session" in note for note in result.notes)


def test_a_flow_no_setup_explains_is_not_blamed_on_the_server(tmp_path):
    s = clean_session()
    synth = PcapSynth()
    s.write_into(synth)
    for i in range(30):  # another camera's stream the capture happened to hold
        synth.udp(
            s.t0 + i / 30, ("10.9.9.9", 5000), ("10.0.0.2", 41000),
            rtp_header(7 + i, 3000 * i, 0xCAFE, 26, True) + s.rtp[0].payload,
        )  # fmt: skip
    result = check_capture(synth.write(tmp_path / "other-flow.pcap"))
    assert failed(result) == set()
    assert result.result("RTSP-PORT-1").outcome is Outcome.PASSED
    assert any("no SETUP in the capture" in note for note in result.notes)


def test_record_session_media_flows_from_the_client(tmp_path):
    """ANNOUNCE, SETUP (mode=record), RECORD: the publisher's RTP goes to the server."""
    synth = PcapSynth()
    client, server = ("10.2.0.2", 40100), ("10.2.0.1", 8554)
    conv = TCPConversation(synth, client, server)
    url = "rtsp://10.2.0.1:8554/live"
    sdp = (
        b"v=0\r\no=- 1 1 IN IP4 10.2.0.2\r\ns=pub\r\nt=0 0\r\n"
        b"m=audio 0 RTP/AVP 96\r\na=rtpmap:96 L16/16000/1\r\na=control:trackID=0\r\n"
    )
    t = 100.0
    conv.open(t)
    transport = "RTP/AVP;unicast;client_port=6000-6001;mode=record"
    steps = [
        (f"ANNOUNCE {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\n"
         f"Content-Length: {len(sdp)}\r\n\r\n").encode() + sdp,
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n",
        f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: {transport}\r\n\r\n".encode(),
        f"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: P1\r\nTransport: {transport};"
        "server_port=7000-7001\r\n\r\n".encode(),
        f"RECORD {url} RTSP/1.0\r\nCSeq: 3\r\nSession: P1\r\n\r\n".encode(),
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: P1\r\n\r\n",
    ]  # fmt: skip
    for k, data in enumerate(steps):
        t += 0.002
        conv.send(t, k % 2 == 0, data)
    for i in range(100):
        synth.udp(
            t + 0.01 + i * 0.02, ("10.2.0.2", 6000), ("10.2.0.1", 7000),
            rtp_header(10 + i, 77_777 + 320 * i, 0x5EED, 96) + bytes(640),
        )  # fmt: skip
    synth.udp(t + 0.005, ("10.2.0.1", 7000), ("10.2.0.2", 6000), FFMPEG_PUNCH)
    t += 2.1
    conv.send(t, True, f"TEARDOWN {url} RTSP/1.0\r\nCSeq: 4\r\nSession: P1\r\n\r\n".encode())
    conv.send(t + 0.002, False, b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: P1\r\n\r\n")
    result = check_capture(synth.write(tmp_path / "record.pcap"))
    assert failed(result) == set()
    (session,) = result.sessions
    assert session.records
    (stream,) = session.streams
    assert (stream.src.port, stream.fmt.encoding, stream.clock_rate) == (6000, "L16", 16000)
    assert [n.kind for n in result.non_media] == ["ffmpeg NAT punch (bare RTP header)"]


def test_gzip_capture_reads_as_the_plain_one(tmp_path):
    path = clean_session().write(tmp_path / "c.pcap")
    packed = tmp_path / "c.pcap.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    a, b = check_capture(path), check_capture(packed)
    assert [r.to_dict() for r in b.rules] == [r.to_dict() for r in a.rules]
    assert b.error is None and "read through gzip decompression" in b.notes


def test_gzip_cut_short_keeps_what_came_before_and_says_so(tmp_path, capsys):
    packed = gzip.compress(clean_session().write(tmp_path / "c.pcap").read_bytes())
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    result = check_capture(cut)
    assert result.packets_read > 10 and result.error is not None
    assert main(["check", str(cut)]) == 1  # read, but not whole


def test_unreadable_files_exit_2_as_the_help_says(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert "2 when the file could not be read at all" in capsys.readouterr().out.replace("\n", " ")
    corrupt = tmp_path / "corrupt.pcap.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00" + bytes(40))
    assert main(["check", str(corrupt)]) == 2
    assert "corrupt gzip data" in capsys.readouterr().err


def test_expectations_file_errors_are_named(tmp_path, capsys):
    path = clean_session().write(tmp_path / "c.pcap")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"expected": [{"session": "S"}]}))
    assert main(["check", str(path), "--expect", str(bad)]) == 2
    assert 'entry 1 has no "reason"' in capsys.readouterr().err


def test_expected_offences_do_not_fail_but_others_still_do(tmp_path):
    s = clean_session()
    s.messages[0].data = s.messages[0].data.replace(b"\r\n", b"\n")  # OPTIONS with LF ends
    path = s.write(tmp_path / "lf.pcap")
    expect = tmp_path / "expect.json"
    expect.write_text(json.dumps({"expected": [{"client": "10.0.0.2:40000", "reason": "ours"}]}))
    result = check_capture(path, expectations=read_expectations(expect))
    r = result.result("RTSP-CRLF-1")
    assert r.outcome is Outcome.EXPECTED and r.offences[0].expected == "ours"
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"expected": [{"session": "ELSE", "reason": "not this"}]}))
    assert check_capture(path, expectations=read_expectations(other)).result("RTSP-CRLF-1").failed


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_gzip_bytes_raise_only_capture_file_errors(data):
    try:
        out, _damage = decompress(b"\x1f\x8b" + data, "gzip", "x.gz")
    except CaptureFileError:
        return
    assert isinstance(out, bytes)


@settings(max_examples=80, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["expected", "session", "client",
                                                       "reason", "rules"]), inner, max_size=4),
                    max_leaves=12))  # fmt: skip
def test_arbitrary_json_expectations_raise_only_their_error(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("e") / "e.json"
    path.write_text(json.dumps(value))
    try:
        read_expectations(path)
    except ExpectationsError:
        pass


def test_sip_sdp_gives_a_dynamic_payload_type_its_clock(tmp_path):
    """A SIP call's 200 OK says which port receives Opus at 48 kHz."""
    synth = PcapSynth()
    sdp = (
        b"v=0\r\no=- 1 1 IN IP4 10.3.0.2\r\ns=call\r\nc=IN IP4 10.3.0.2\r\nt=0 0\r\n"
        b"m=audio 40000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
    )
    ok = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.3.0.1\r\nCSeq: 1 INVITE\r\n"
        b"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n" % len(sdp)
    ) + sdp
    synth.udp(50.0, ("10.3.0.2", 5060), ("10.3.0.1", 5060), ok)
    for i in range(100):
        synth.udp(
            50.1 + i * 0.02, ("10.3.0.1", 30000), ("10.3.0.2", 40000),
            rtp_header(i, 960 * i, 0x0B05, 111) + bytes(80),
        )  # fmt: skip
    result = check_capture(synth.write(tmp_path / "sip.pcap"))
    assert failed(result) == set()
    (stream,) = result.streams
    assert (stream.fmt.encoding, stream.clock_rate) == ("OPUS", 48000)
    assert abs(stream.stats.drift_ppm) < 1000


def test_live555_keepalive_bytes_are_what_live555_sends():
    # live555 writes the 32-bit value 0xFEEDFACE in host (little-endian) order.
    assert struct.pack("<I", 0xFEEDFACE) == LIVE555_KEEPALIVE
