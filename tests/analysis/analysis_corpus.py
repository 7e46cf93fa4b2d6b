"""Crafted captures for the checker's tests: a clean RTSP session and one defect at a time.

Built with analysis.craft.synth (raw bytes, fast); each defect edits the session's message or
packet lists before they are written.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from pathlib import Path

from media_samples import encode_jpeg
from PIL import Image

from analysis.craft.jpeg_parts import JPEGParts, split_jpeg
from analysis.craft.synth import SynthMessage, SynthRTP, SynthSession

WIDTH, HEIGHT = 64, 48
DEFECT_FRAME = 10


def small_jpeg(index: int, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A small baseline 4:2:0 JPEG with standard Huffman tables (Pillow's default)."""
    image = Image.new("RGB", (width, height), ((index * 40) % 256, 100, 200))
    for x in range(0, width, 8):
        for y in range(height):
            image.putpixel((x, y), (255, (index * 17) % 256, 0))
    return encode_jpeg(image, quality=75)


def frames(count: int = 3) -> list[JPEGParts]:
    return [split_jpeg(small_jpeg(i)) for i in range(count)]


def clean_session(**kwargs) -> SynthSession:
    kwargs.setdefault("max_payload", 300)  # several packets per frame
    return SynthSession(frames(), **kwargs)


def _message(s: SynthSession, start: bytes) -> SynthMessage:
    return next(m for m in s.messages if m.data.startswith(start))


def _response_to(s: SynthSession, cseq: int) -> SynthMessage:
    return next(
        m for m in s.messages if not m.from_client and f"CSeq: {cseq}\r\n".encode() in m.data
    )


def _frame(s: SynthSession, index: int = DEFECT_FRAME) -> list[SynthRTP]:
    return s.frame_packets(index)


def gap(s):
    s.rtp.remove(_frame(s)[1])


def duplicate(s):
    p = _frame(s)[1]
    copy = SynthRTP(**{**p.__dict__, "t": p.t + 0.0001})
    s.rtp.insert(s.rtp.index(p) + 1, copy)


def reorder(s):
    a, b = _frame(s)[0], _frame(s)[1]
    a.t, b.t = b.t, a.t


def wrong_version(s):
    _frame(s)[1].version = 1


def missing_marker(s):
    _frame(s)[-1].marker = False


def timestamp_jump(s):
    for p in s.rtp:
        if p.frame >= 20:
            p.ts = (p.ts + 45000) & 0xFFFFFFFF


def timestamp_per_packet(s):
    for f in range(len(s.rtp)):
        packets = _frame(s, f)
        if not packets:
            break
        for k, p in enumerate(packets):
            p.ts = (p.ts + k * 100) & 0xFFFFFFFF


def ssrc_change(s):
    for p in s.rtp:
        if p.frame >= 20:
            p.ssrc = 0x0BADCAFE


def bad_fragment_offset(s):
    p = _frame(s)[1]
    offset = int.from_bytes(p.payload[1:4], "big") + 40
    p.payload = p.payload[:1] + offset.to_bytes(3, "big") + p.payload[4:]


def missing_quantization_table(s):
    p = _frame(s)[0]
    tables_len = int.from_bytes(p.payload[10:12], "big")
    p.payload = p.payload[:8] + p.payload[12 + tables_len :]


def reserved_q(s):
    for p in _frame(s):
        p.payload = p.payload[:5] + bytes([110]) + p.payload[6:]


def bad_padding(s):
    p = _frame(s)[1]
    p.payload = p.payload + bytes([0, 0, 0])  # P bit set, but a padding count of 0

    def to_bytes(original=p.to_bytes):
        data = bytearray(original())
        data[0] |= 0x20
        return bytes(data)

    p.to_bytes = to_bytes


def wrong_payload_type(s):
    for p in s.rtp:
        p.pt = 96


def cseq_not_echoed(s):
    m = _response_to(s, 4)
    m.data = m.data.replace(b"CSeq: 4\r\n", b"CSeq: 40\r\n")


def missing_cseq(s):
    m = _message(s, b"OPTIONS")
    m.data = m.data.replace(b"CSeq: 1\r\n", b"")
    r = _response_to(s, 1)
    r.data = r.data.replace(b"CSeq: 1\r\n", b"")


def session_mismatch(s):
    m = _response_to(s, 4)
    m.data = m.data.replace(s.session_id.encode(), b"0THER1D")


def rtp_after_teardown(s):
    """Three more whole frames a second after TEARDOWN was answered."""
    last = s.rtp[-1]
    seq = last.seq
    for k in range(3):
        packets = s.frame_packets(k)
        for p in packets:
            seq += 1
            s.rtp.append(
                SynthRTP(
                    s.teardown_time + 1.0 + k / 30 + (p.t - packets[0].t), seq & 0xFFFF,
                    (last.ts + (k + 1) * 3000) & 0xFFFFFFFF, p.marker, p.payload, p.ssrc,
                    frame=1000 + k,
                )
            )  # fmt: skip


def lf_line_ends(s):
    m = _message(s, b"OPTIONS")
    m.data = m.data.replace(b"\r\n", b"\n")


def content_length_short(s):
    m = _response_to(s, 2)
    head, _, body = m.data.partition(b"\r\n\r\n")
    head = head.replace(
        f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body) - 20}".encode()
    )
    m.data = head + b"\r\n\r\n" + body


def bad_sdp(s):
    m = _response_to(s, 2)
    head, _, body = m.data.partition(b"\r\n\r\n")
    new_body = body.replace(b"v=0\r\n", b"").replace(b"s=clip\r\n", b"")
    head = head.replace(
        f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(new_body)}".encode()
    )
    m.data = head + b"\r\n\r\n" + new_body


def play_before_setup_accepted(s):
    url = f"rtsp://{s.server_ip}:{s.rtsp_port}/clip"
    t = _message(s, b"OPTIONS").t + 0.003
    s.messages.insert(1, SynthMessage(t, True, f"PLAY {url} RTSP/1.0\r\nCSeq: 99\r\n\r\n".encode()))
    s.messages.insert(2, SynthMessage(t + 0.0005, False, b"RTSP/1.0 200 OK\r\nCSeq: 99\r\n\r\n"))


CHALLENGE = 'WWW-Authenticate: Digest realm="cams", nonce="8d1e3f", algorithm=MD5, qop="auth"'
BASIC_USER, BASIC_PASSWORD = "alice", "wonderland"


def with_credentials(s, value: Callable[[str, str, int], str]) -> None:
    """A first DESCRIBE without credentials answered 401 with a challenge, then every
    request carrying Authorization ``value(method, uri, n)``: how authentication starts."""
    describe = _message(s, b"DESCRIBE")
    url = f"rtsp://{s.server_ip}:{s.rtsp_port}/clip"
    requests = [m for m in s.messages if m.from_client and m.t >= describe.t]
    for n, m in enumerate(requests, 1):
        line, rest = m.data.split(b"\r\n", 1)
        method, uri, _ = line.decode().split(" ")
        m.data = line + f"\r\nAuthorization: {value(method, uri, n)}\r\n".encode() + rest
    at = s.messages.index(describe)
    s.messages[at:at] = [
        SynthMessage(describe.t - 0.0025, True, f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 90\r\n\r\n".encode()),
        SynthMessage(describe.t - 0.0015, False, f"RTSP/1.0 401 Unauthorized\r\nCSeq: 90\r\n{CHALLENGE}\r\n\r\n".encode()),
    ]  # fmt: skip


def digest_credentials(s):
    with_credentials(
        s,
        lambda method, uri, n: (
            f'Digest username="alice", realm="cams", nonce="8d1e3f", uri="{uri}", '
            f'response="{n:032x}", algorithm=MD5, qop=auth, nc={n:08x}, cnonce="c0ffee"'
        ),
    )


def basic_credentials(s):
    token = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    with_credentials(s, lambda method, uri, n: f"Basic {token}")


def rtp_info_mismatch(s):
    m = _response_to(s, 4)
    m.data = m.data.replace(
        f"seq={s.rtp[0].seq}".encode(), f"seq={(s.rtp[0].seq + 7) & 0xFFFF}".encode()
    )


def unnegotiated_port(s):
    for p in s.rtp:
        if p.frame >= 30:
            p.dst_port = s.client_rtp_port + 10


def lab_format(s):
    """Whole JPEGs as payloads (and nothing else of the lab's habits)."""
    jpegs = [small_jpeg(i) for i in range(3)]
    kept = []
    for f in range(max(p.frame for p in s.rtp) + 1):
        packets = s.frame_packets(f)
        first = packets[0]
        first.payload, first.marker = jpegs[f % 3], True
        kept.append(first)
    for k, p in enumerate(kept):
        p.seq = (kept[0].seq + k) & 0xFFFF
    s.rtp[:] = kept


def _rewrite_reports(s, edit: Callable[[bytes], bytes]) -> None:
    original = s._reports

    def reports():
        return [(t, edit(sr)) for t, sr in original()]

    s._reports = reports


def rtcp_wrong_version(s):
    _rewrite_reports(s, lambda sr: bytes([0x40 | (sr[0] & 0x3F)]) + sr[1:])


def rtcp_bad_length(s):
    _rewrite_reports(s, lambda sr: sr[:2] + struct.pack("!H", 9) + sr[4:])


def rtcp_starts_with_sdes(s):
    _rewrite_reports(s, lambda sr: b"\x81\xca\x00\x01" + struct.pack("!I", s.ssrc) + sr)


def announced_ssrc_differs(s):
    m = _response_to(s, 3)
    m.data = m.data.replace(b";server_port=", b";ssrc=DEADBEEF;server_port=")


def zero_initial_values(s):
    first_seq, first_ts = s.rtp[0].seq, s.rtp[0].ts
    for p in s.rtp:
        p.seq = (p.seq - first_seq) & 0xFFFF
        p.ts = (p.ts - first_ts) & 0xFFFFFFFF
    m = _response_to(s, 4)
    m.data = m.data.replace(f"seq={first_seq};rtptime={first_ts}".encode(), b"seq=0;rtptime=0")
    s.ts0 = 0


def irregular_interval_without_framerate(s):
    """No a=framerate in the SDP, and frame 20 stamped half an interval late: irregular,
    which without a promised frame rate is information only."""
    m = _response_to(s, 2)
    head, _, body = m.data.partition(b"\r\n\r\n")
    new_body = body.replace(f"a=framerate:{s.fps}\r\n".encode(), b"")
    head = head.replace(
        f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(new_body)}".encode()
    )
    m.data = head + b"\r\n\r\n" + new_body
    for p in _frame(s, 20):
        p.ts = (p.ts + 1500) & 0xFFFFFFFF


def timestamp_backwards(s):
    for p in _frame(s, 20):
        p.ts = (p.ts - 6000) & 0xFFFFFFFF


def clock_drift(s):
    base = s.rtp[0].ts
    for p in s.rtp:
        p.ts = (base + round((p.ts - base) * 1.04)) & 0xFFFFFFFF


def high_jitter(s):
    for p in s.rtp:
        if p.frame % 2:
            p.t += 0.070  # every other frame 70 ms late


def restart_interval_zero(s):
    for p in _frame(s):
        p.payload = (
            p.payload[:4] + bytes([65]) + p.payload[5:8] + b"\x00\x00\xff\xff" + p.payload[8:]
        )


def marker_inside_scan(s):
    """A JPEG marker (SOI) in the middle of frame 10's entropy-coded data: every RFC 2435
    header is right, but no decoder can read the frame. (A scan merely cut short is not
    enough: libjpeg pads it and decodes.)"""
    p = _frame(s)[1]
    p.payload = p.payload[:20] + b"\xff\xd8" + p.payload[22:]


def _rewrite_nth_report(s, index: int, edit: Callable[[bytes], bytes]) -> None:
    original = s._reports

    def reports():
        out = original()
        t, sr = out[index]
        out[index] = (t, edit(sr))
        return out

    s._reports = reports


def sr_packet_count_low(s):
    _rewrite_nth_report(s, 1, lambda sr: sr[:20] + struct.pack("!I", 1) + sr[24:])


def sr_rtp_time_off(s):
    _rewrite_nth_report(
        s,
        1,
        lambda sr: (
            sr[:16]
            + struct.pack("!I", (struct.unpack_from("!I", sr, 16)[0] + 45000) % 2**32)
            + sr[20:]
        ),
    )


def reports_too_often(s):
    s.report_interval = 0.1


def bad_version_in_request(s):
    m = _message(s, b"OPTIONS")
    m.data = m.data.replace(b"RTSP/1.0", b"RTSP/1.1", 1)


def transport_port_changed(s):
    m = _response_to(s, 3)
    m.data = m.data.replace(b"client_port=50000-50001", b"client_port=50010-50011")


def slow_start(s):
    for p in s.rtp:
        p.t += 3.0
    for m in s.messages:
        if m.t >= s.teardown_time:
            m.t += 3.0
    s.teardown_time += 3.0
    s.end_time += 3.0


def play_before_setup_wrong_status(s):
    url = f"rtsp://{s.server_ip}:{s.rtsp_port}/clip"
    t = _message(s, b"OPTIONS").t + 0.003
    s.messages.insert(1, SynthMessage(t, True, f"PLAY {url} RTSP/1.0\r\nCSeq: 99\r\n\r\n".encode()))
    s.messages.insert(
        2, SynthMessage(t + 0.0005, False, b"RTSP/1.0 404 Not Found\r\nCSeq: 99\r\n\r\n")
    )


def unknown_method_accepted(s):
    t = _message(s, b"OPTIONS").t + 0.003
    s.messages.insert(1, SynthMessage(t, True, b"FROBNICATE * RTSP/1.0\r\nCSeq: 98\r\n\r\n"))
    s.messages.insert(2, SynthMessage(t + 0.0005, False, b"RTSP/1.0 200 OK\r\nCSeq: 98\r\n\r\n"))


PAUSE_AFTER_FRAME = 20
PAUSE_SECONDS = 1.0


def paused_session(count: int = 60, *, stray_frames: int = 0) -> SynthSession:
    """A session paused for a second after frame 20 and played again. With
    ``stray_frames``, that many frames go out during the pause, 0.7 s after PAUSE."""
    s = clean_session(count=count)
    s.report_interval = 2.0  # RFC 3550 §6.2 for this small session's bandwidth
    url = f"rtsp://{s.server_ip}:{s.rtsp_port}/clip"
    pause_t = s.frame_packets(PAUSE_AFTER_FRAME)[-1].t + 0.005
    first_after = s.frame_packets(PAUSE_AFTER_FRAME + 1 + stray_frames)[0]
    for p in s.rtp:
        if p.frame > PAUSE_AFTER_FRAME + stray_frames:
            p.t += PAUSE_SECONDS
        elif p.frame > PAUSE_AFTER_FRAME:
            p.t += 0.7
    for m in s.messages:
        if m.t > pause_t:
            m.t += PAUSE_SECONDS
    s.teardown_time += PAUSE_SECONDS
    s.end_time += PAUSE_SECONDS
    session = f"Session: {s.session_id}\r\n"
    info = f"RTP-Info: url={url}/stream=0;seq={first_after.seq};rtptime={first_after.ts}\r\n"
    s.messages += [
        SynthMessage(pause_t, True, f"PAUSE {url} RTSP/1.0\r\nCSeq: 10\r\n{session}\r\n".encode()),
        SynthMessage(pause_t + 0.002, False, f"RTSP/1.0 200 OK\r\nCSeq: 10\r\n{session}\r\n".encode()),
        SynthMessage(first_after.t - 0.01, True, f"PLAY {url} RTSP/1.0\r\nCSeq: 11\r\n{session}\r\n".encode()),
        SynthMessage(
            first_after.t - 0.008, False,
            f"RTSP/1.0 200 OK\r\nCSeq: 11\r\n{session}{info}\r\n".encode(),
        ),
    ]  # fmt: skip
    s.messages.sort(key=lambda m: m.t)
    return s


# defect -> the error rule that must name it (warnings listed where the defect is one).
DEFECTS: dict[str, tuple[Callable[[SynthSession], None], str]] = {
    "gap": (gap, "RTP-SEQ-1"),
    "duplicate": (duplicate, "RTP-SEQ-2"),
    "reorder": (reorder, "RTP-SEQ-3"),
    "wrong version": (wrong_version, "RTP-VER-1"),
    "missing marker": (missing_marker, "RTP-MARK-1"),
    "timestamp jump": (timestamp_jump, "RTP-TS-3"),
    "irregular interval without a=framerate": (irregular_interval_without_framerate, "RTP-TS-4"),
    "timestamp per packet": (timestamp_per_packet, "RTP-TS-1"),
    "SSRC change": (ssrc_change, "RTP-SSRC-1"),
    "bad fragment offset": (bad_fragment_offset, "JPEG-FRAG-1"),
    "missing quantization table": (missing_quantization_table, "JPEG-QT-1"),
    "reserved Q": (reserved_q, "JPEG-HDR-1"),
    "padding count zero": (bad_padding, "RTP-LEN-1"),
    "payload type not in SDP": (wrong_payload_type, "RTP-PT-1"),
    "CSeq not echoed": (cseq_not_echoed, "RTSP-CSEQ-2"),
    "CSeq missing": (missing_cseq, "RTSP-CSEQ-1"),
    "session mismatch": (session_mismatch, "RTSP-SES-1"),
    "RTP after TEARDOWN": (rtp_after_teardown, "RTSP-PLAY-1"),
    "LF line ends": (lf_line_ends, "RTSP-CRLF-1"),
    "Content-Length short": (content_length_short, "RTSP-CLEN-1"),
    "invalid SDP": (bad_sdp, "RTSP-SDP-1"),
    "PLAY before SETUP accepted": (play_before_setup_accepted, "RTSP-STATE-1"),
    "RTP-Info mismatch": (rtp_info_mismatch, "RTSP-INFO-1"),
    "RTP to an unnegotiated port": (unnegotiated_port, "RTSP-PORT-1"),
    "the lab's format": (lab_format, "LAB-FMT-1"),
    "RTCP wrong version": (rtcp_wrong_version, "RTCP-VER-1"),
    "RTCP bad length": (rtcp_bad_length, "RTCP-LEN-1"),
    "RTCP compound starts with SDES": (rtcp_starts_with_sdes, "RTCP-CMP-1"),
    "announced SSRC differs": (announced_ssrc_differs, "RTP-SSRC-2"),
    "initial sequence and timestamp zero": (zero_initial_values, "RTP-INIT-1"),
    "timestamp goes backwards": (timestamp_backwards, "RTP-TS-2"),
    "media clock drifts": (clock_drift, "RTP-CLK-1"),
    "high jitter": (high_jitter, "RTP-JIT-1"),
    "restart interval zero": (restart_interval_zero, "JPEG-RST-1"),
    "marker inside scan data": (marker_inside_scan, "JPEG-DEC-1"),
    "SR packet count too low": (sr_packet_count_low, "RTCP-SR-1"),
    "SR RTP timestamp off": (sr_rtp_time_off, "RTCP-SR-2"),
    "reports too often": (reports_too_often, "RTCP-INT-1"),
    "request version RTSP/1.1": (bad_version_in_request, "RTSP-SYN-1"),
    "Transport reply changes client_port": (transport_port_changed, "RTSP-TRN-1"),
    "RTP starts 3 s after PLAY": (slow_start, "RTSP-PLAY-2"),
    "PLAY before SETUP answered 404": (play_before_setup_wrong_status, "RTSP-STATE-1"),
    "unknown method accepted": (unknown_method_accepted, "RTSP-STATE-1"),
    "Basic credentials in clear": (basic_credentials, "RTSP-AUTH-1"),
}


def write_defect(name: str, directory: Path) -> Path:
    session = clean_session()
    DEFECTS[name][0](session)
    safe = "".join(c if c.isalnum() else "_" for c in name)
    return session.write(directory / f"{safe}.pcap")
