"""``python -m fuzz.make_seeds``: write the seed corpus under fuzz/seeds/ (committed).

Each seed is a small, valid input of its target, made by the project's own writers (the
server's SDP, the RFC 2435 packetizer, the analysis's capture synthesiser), so the fuzzers
start deep inside each parser instead of at its first length check.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from analysis.craft.h26x import access_unit
from analysis.craft.h26x import packetize as packetize_h26x
from analysis.craft.jpeg_parts import split_jpeg
from analysis.craft.synth import PcapSynth, SynthSession
from analysis.payloads.nal_syntax import H264, H265
from fuzz.targets import RECORD
from rtsp_common.jpeg import packetize
from rtsp_common.nal_packetizer import packetize_h264, packetize_h265
from rtsp_common.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    SourceDescription,
    build_compound,
)
from rtsp_common.rtp import RTPPacket
from rtsp_common.sdp import SessionDescription

SEEDS = Path(__file__).resolve().parent / "seeds"


def tiny_jpeg(width: int = 32, height: int = 16, **options) -> bytes:
    """A small baseline JPEG with the standard Huffman tables (what RFC 2435 carries)."""
    image = Image.new("RGB", (width, height), (200, 40, 90))
    image.paste((10, 220, 60), (0, 0, width // 2, height // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=75, **options)
    return out.getvalue()


SDP = SessionDescription(framerate=20.0, duration=12.0, width=640, height=480).to_text()
H264_SDP = (
    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=camera\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    "a=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1;profile-level-id=42e01f;"
    "sprop-parameter-sets=Z0LgH9oCgPRA,aM4xsg==\r\na=control:trackID=0\r\n"
    "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:trackID=1\r\n"
)
TRANSPORTS = [
    "RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001;ssrc=1234ABCD;mode=play",
    "RTP/AVP/TCP;unicast;interleaved=0-1",
    "RTP/AVP;multicast;destination=224.2.0.1;ttl=16;port=3456-3457",
    "RTP/UDP; client_port= 25000",  # the lab's own form
]
REQUESTS = [
    b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n",
    b"DESCRIBE rtsp://127.0.0.1:8554/movie.Mjpeg RTSP/1.0\r\nCSeq: 2\r\n"
    b"Accept: application/sdp\r\n\r\n",
    b"SETUP rtsp://127.0.0.1:8554/movie.Mjpeg/track1 RTSP/1.0\r\nCSeq: 3\r\n"
    b"Transport: " + TRANSPORTS[0].encode() + b"\r\n\r\n",
    b"PLAY rtsp://127.0.0.1:8554/movie.Mjpeg RTSP/1.0\r\nCSeq: 4\r\nSession: 123456\r\n"
    b"Range: npt=0-\r\n\r\n",
    b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000",  # the lab's
]
REPLY = (
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(SDP), SDP.encode())
)
PLAY_REPLY = (
    b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 123456;timeout=60\r\nRange: npt=0.000-\r\n"
    b"RTP-Info: url=rtsp://127.0.0.1:8554/movie.Mjpeg/track1;seq=1;rtptime=0\r\n\r\n"
)
# WWW-Authenticate and Authorization as servers and clients write them (RFC 7616 §3.9.1,
# ffmpeg 5.1, GStreamer 1.22, RFC 7617 §2).
AUTH_HEADERS = {
    "challenges": b'Digest realm="http-auth@example.org", qop="auth, auth-int", '
    b'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    b'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", Basic realm="a \\"b\\"", '
    b'charset="UTF-8"',
    "digest_qop": b'Digest username="u", realm="r", nonce="abc", uri="rtsp://h:8554/x", '
    b'response="f7768d3ec40666898d3a758487762c10", algorithm="MD5", qop="auth", '
    b'cnonce="b6b5565aa9fa666a", nc=00000001',
    "digest_rfc2069": b'Digest username="u", realm="r", nonce="abc", uri="rtsp://h:8554/x", '
    b'response="f3b44e591d7f778f0ed5ba527300f740"',
    "basic": b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
}
INTERLEAVED = b"$\x00\x00\x0c" + RTPPacket(26, 1, 0, 0x1234, marker=True).to_bytes()


def rtcp_compounds() -> list[bytes]:
    block = ReportBlock(0x1234ABCD, 0, 0, 3000, 12, 0, 0)
    return [
        build_compound([SenderReport(0x1234ABCD, 1 << 32, 90000, 30, 4000, ()),
                        SourceDescription.cname(0x1234ABCD, "server@127.0.0.1")]),
        build_compound([ReceiverReport(0x55, (block,)), Bye((0x55,), "teardown")]),
    ]  # fmt: skip


def rfc2435_records(jpeg: bytes, timestamp: int, max_payload: int) -> bytes:
    """A frame's packets as the rfc2435 target's records (timestamp, marker, length)."""
    packets = packetize(jpeg, max_payload)
    return b"".join(
        RECORD.pack(timestamp, i == len(packets) - 1, len(p)) + p for i, p in enumerate(packets)
    )


def h26x_records(flags: int, syntax, mtu: int) -> bytes:
    """Three access units (an IDR first) as the analysis_h26x target's records."""
    out = [bytes([flags])]
    for i in range(3):
        payloads = packetize_h26x(syntax, access_unit(syntax, idr=i == 0, slices=2, size=300), mtu)
        out += [
            RECORD.pack(i + 1, k == len(payloads) - 1, len(p)) + p for k, p in enumerate(payloads)
        ]
    return b"".join(out)


def lab_file(frames: list[bytes]) -> bytes:
    return b"".join(b"%05d" % len(f) + f for f in frames)


def small_capture(**options) -> bytes:
    frames = [split_jpeg(tiny_jpeg(32, 16)) for _ in range(2)]
    synth = PcapSynth()
    SynthSession(frames, count=4, max_payload=200, **options).write_into(synth)
    return synth.getvalue()


def as_pcapng(pcap: bytes) -> bytes:
    """The same packets in a pcapng file (Scapy's writer: an independent framing)."""
    import tempfile

    import scapy.layers.l2  # noqa: F401  (registers Ethernet, the captures' link type)
    from scapy.utils import PcapNgWriter, rdpcap

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.pcapng"
        with PcapNgWriter(str(path)) as writer:
            for packet in rdpcap(io.BytesIO(pcap)):
                writer.write(packet)
        return path.read_bytes()


def nal_unit_records(payloads: list[bytes], timestamp: int, gap_before: int = -1) -> bytes:
    """An access unit's packets as the rfc6184/rfc7798 targets' records; ``gap_before`` the
    index of a packet with a lost one before it."""
    return b"".join(
        RECORD.pack(timestamp, (i == len(payloads) - 1) | (2 if i == gap_before else 0), len(p)) + p
        for i, p in enumerate(payloads)
    )


H264_UNITS = [bytes([0x67, 0x42, 0xC0, 0x1E, 0xDA]), bytes([0x68, 0xCE, 0x3C, 0x80]),
              bytes([0x65]) + bytes(range(200))]  # fmt: skip
H265_UNITS = [bytes([0x40, 0x01, 0x0C]), bytes([0x42, 0x01, 0x01]), bytes([0x44, 0x01, 0xC1]),
              bytes([0x26, 0x01]) + bytes(range(200))]  # fmt: skip


def seeds() -> dict[str, dict[str, bytes]]:
    jpeg = tiny_jpeg()
    restart = tiny_jpeg(64, 32, restart_marker_rows=1) if _pillow_restart() else tiny_jpeg(64, 32)
    capture = small_capture()
    interleaved = small_capture(interleaved=True)
    return {
        "rtsp_messages": {
            "session": b"\x3f" + b"".join(REQUESTS[:4]) + REPLY + PLAY_REPLY + INTERLEAVED,
            "lab": b"\x07" + REQUESTS[4],
        },
        "rtsp_headers": {f"transport{i}": t.encode() for i, t in enumerate(TRANSPORTS)}
        | {
            "session": b"123456;timeout=60",
            "range": b"npt=1.5-10.25",
            "rtpinfo": b"url=rtsp://h/a/track1;seq=5;rtptime=90000,url=track2;seq=9",
            "public": b"OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN",
            "uri": b"rtsp://user:pa%40ss@[::1]:8554/sub/movie.Mjpeg/track1?x=1",
        },
        "uri": {
            "credentials": b"rtsp://user:pa%40ss@[::1]:8554/sub/movie.Mjpeg/track1?x=1",
            "ipv4": b"rtsp://192.168.1.64:554/Streaming/Channels/101",
            "lab": b"movie.Mjpeg",
            "any": b"*",
        },
        "auth_headers": AUTH_HEADERS,
        "sdp": {"mjpeg": SDP.encode(), "h264": H264_SDP.encode()},
        "rtp": {
            "plain": RTPPacket(26, 65535, 4294967295, 1, marker=True, payload=b"abc").to_bytes(),
            "everything": RTPPacket(
                96,
                7,
                8,
                9,
                payload=b"x" * 9,
                csrcs=(1, 2),
                extension=(0xBEDE, b"\0" * 4),
                padding=3,
            ).to_bytes(),
        },  # fmt: skip
        "rtcp": {f"compound{i}": c for i, c in enumerate(rtcp_compounds())},
        "rfc2435": {
            "baseline": rfc2435_records(jpeg, 1, 200),
            "restart": rfc2435_records(restart, 2, 300),
        },
        "rfc6184": {
            "stap_fu": nal_unit_records(packetize_h264(H264_UNITS, 80), 1)
            + nal_unit_records(packetize_h264(H264_UNITS[2:], 80), 2, gap_before=1),
            "single": nal_unit_records(H264_UNITS, 3),
        },
        "rfc7798": {
            "ap_fu": b"\x00"
            + nal_unit_records(packetize_h265(H265_UNITS, 80), 1)
            + nal_unit_records(packetize_h265(H265_UNITS[3:], 80), 2, gap_before=1),
            "donl": b"\x01"
            + nal_unit_records(
                [
                    bytes([0x26, 0x01, 0x00, 0x05]) + bytes(20),
                    bytes([0x60, 0x01, 0x00, 0x06, 0x00, 0x03, 0x40, 0x01, 0x0C]),
                ],
                1,
            ),
        },  # fmt: skip
        "mjpeg": {"lab": lab_file([jpeg, jpeg]), "raw": jpeg + jpeg},
        "pcap": {"udp": capture, "interleaved": interleaved, "pcapng": as_pcapng(capture)},
        "capture_check": {"udp": capture, "interleaved": interleaved},
        "annotate": {"udp": capture, "interleaved": interleaved, "pcapng": as_pcapng(capture)},
        "analysis_rtsp": {"session": b"".join(REQUESTS[:4]) + REPLY + PLAY_REPLY + INTERLEAVED},
        "analysis_headers": {f"transport{i}": t.encode() for i, t in enumerate(TRANSPORTS)},
        "analysis_sdp": {"mjpeg": SDP.encode(), "h264": H264_SDP.encode()},
        "analysis_rtcp": {f"compound{i}": c for i, c in enumerate(rtcp_compounds())},
        "analysis_h26x": {
            "h264": h26x_records(0b0100, H264, 200),  # packetization-mode 1
            "h265": h26x_records(0b0001, H265, 200),
        },
    }


def _pillow_restart() -> bool:
    try:
        tiny_jpeg(16, 16, restart_marker_rows=1)
    except (TypeError, ValueError):
        return False
    return True


def main() -> None:
    for target, files in seeds().items():
        folder = SEEDS / target  # crash reproducers found by fuzzing stay beside the seeds
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    total = sum(p.stat().st_size for p in SEEDS.rglob("*") if p.is_file())
    print(f"seeds written under {SEEDS} ({total:,} bytes)")


if __name__ == "__main__":
    main()
