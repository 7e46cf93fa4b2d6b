"""The capture `check` is measured on: N RTSP sessions of 640x480 MJPEG at 30 fps over UDP
(RFC 2435, ~1400-byte packets, a sender report a second), or of H.264 with as many packets,
written straight to disk in time order so that a capture of gigabytes is made in constant
memory.

Each session is a whole RTSP exchange (OPTIONS, DESCRIBE, SETUP, PLAY, then TEARDOWN after
the media) on its own TCP connection, as analysis.craft.synth writes it; only the media is
generated here frame by frame instead of kept as lists.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image

from analysis.craft.h26x import access_unit, packetize, sdp_media
from analysis.craft.jpeg_parts import JPEGParts, rfc2435_payloads, split_jpeg
from analysis.craft.synth import (
    PcapSynth,
    SynthSession,
    TCPConversation,
    rtp_header,
    sender_report,
)
from analysis.payloads.jpeg import PT_JPEG
from analysis.payloads.nal_syntax import H264
from analysis.streams.media_format import VIDEO_CLOCK_RATE

FPS = 30
WIDTH, HEIGHT = 640, 480
DISTINCT_FRAMES = 8
PACKET_GAP_S = 0.00005  # between the packets of one frame: a frame fits its session's slot
REPORT_INTERVAL_S = 1.0  # RFC 3550 §6.2 leaves it to the sender: one a second
SERVER_IP = "10.0.0.1"
MAX_PAYLOAD = 1400
H264_PICTURE_BYTES = 23_000  # 17 FU-A packets, as a JPEG frame here
H264_PAYLOAD_TYPE = 96  # dynamic (RFC 3551 §6)


def _frames() -> list[JPEGParts]:
    rng = random.Random(7)
    parts = []
    for i in range(DISTINCT_FRAMES):
        image = Image.new("RGB", (WIDTH, HEIGHT), (i * 30, 90, 160))
        noise = Image.frombytes(
            "L", (WIDTH // 16, HEIGHT // 16), rng.randbytes(WIDTH * HEIGHT // 256)
        )
        image.paste(noise.resize((WIDTH, HEIGHT)).convert("RGB"), (0, 0))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=45)
        parts.append(split_jpeg(out.getvalue()))
    return parts


TABLES_END = 8 + 4 + 128  # RFC 2435 main and quantization table headers, two 8-bit tables


def _counted(first: bytes, counter: int) -> bytes:
    """A frame's first payload with ``counter`` written into the last three quantization
    table entries (each 1..255: a zero quantizer is not valid JPEG)."""
    digits = bytes(1 + (counter // 255**k) % 255 for k in range(3))
    return first[: TABLES_END - 3] + digits + first[TABLES_END:]


def write_capture(
    path: Path, sessions: int, seconds: float, distinct: bool = False, h264: bool = False
) -> int:
    """Write ``sessions`` sessions of ``seconds`` of video each to ``path``; returns the
    packet count.

    By default every session streams the same 8 frames, as a server streams one clip to
    many clients: the checker decodes each distinct frame once. With ``distinct`` every
    frame of every session differs, as a camera's do: its in-band quantization tables
    carry a frame counter in their last entries, so each frame must be decoded (the scan
    data, whose decoding is the cost, stays the same size).

    With ``h264`` the sessions stream H.264 instead (RFC 6184, packetization-mode 1): a
    picture of ~H264_PICTURE_BYTES in FU-A fragments, as many packets as a JPEG frame here,
    an IDR with its parameter sets once a second. Its NAL units are syntax only
    (``analysis.craft.h26x``): the checker reads H.264, it does not decode it."""
    parts = _frames()
    if h264:
        payloads = [
            packetize(H264, access_unit(H264, idr=k == 0, size=H264_PICTURE_BYTES), MAX_PAYLOAD)
            for k in range(FPS)
        ]
        media: str | None = sdp_media(H264, H264_PAYLOAD_TYPE)
    else:
        payloads, media = [rfc2435_payloads(p) for p in parts], None
    count = round(seconds * FPS)
    setups = [
        SynthSession(
            parts, count=0, t0=1_700_000_000.0 + i * 0.013, client_ip=f"10.0.1.{i + 2}",
            server_ip=SERVER_IP, rtsp_client_port=41000 + i, client_rtp_port=50000 + 2 * i,
            server_rtp_port=6000 + 2 * i, ssrc=0x10000000 + i, seq0=1000 * (i + 1),
            ts0=12345 * i + 1, session_id=f"S{i:04d}", media_description=media,
        )
        for i in range(sessions)
    ]  # fmt: skip
    with path.open("wb") as out:
        synth = PcapSynth(out)
        conversations = []
        opening = []  # everything up to the PLAY replies, all sessions in time order
        for s in setups:
            conv = TCPConversation(synth, (s.client_ip, s.rtsp_client_port), (SERVER_IP, 8554))
            conversations.append(conv)
            opening.append((s.t0 - 0.001, conv, None))
            opening += [(m.t, conv, m) for m in s.messages[:-2]]
        for t, conv, m in sorted(opening, key=lambda e: e[0]):
            if m is None:
                conv.open(t)
            else:
                conv.send(t, m.from_client, m.data)
        start = max(s.play_time for s in setups) + 0.01
        step = VIDEO_CLOCK_RATE // FPS
        pt = H264_PAYLOAD_TYPE if h264 else PT_JPEG
        seqs = [1000 * (i + 1) for i in range(sessions)]  # the seq0 each session announced
        stagger = 1 / FPS / sessions  # sessions' frames spread over the frame interval
        sent = [[0, 0] for _ in setups]  # packets and payload octets, for sender reports
        next_report = [start + 0.004 + i * stagger for i in range(sessions)]
        for frame in range(count):
            for i, s in enumerate(setups):
                ft = start + frame / FPS + i * stagger
                rtp_ts = s.ts0 + frame * step
                if ft >= next_report[i]:
                    sr = sender_report(s.ssrc, ft, rtp_ts, *sent[i])
                    synth.udp(
                        ft, (SERVER_IP, s.server_rtp_port + 1),
                        (s.client_ip, s.client_rtp_port + 1), sr,
                    )  # fmt: skip
                    next_report[i] += REPORT_INTERVAL_S
                frame_payloads = payloads[frame % len(payloads)]
                if distinct and not h264:
                    frame_payloads = [_counted(frame_payloads[0], i * count + frame)]
                    frame_payloads += payloads[frame % len(payloads)][1:]
                last = len(frame_payloads) - 1
                for k, payload in enumerate(frame_payloads):
                    header = rtp_header(seqs[i], rtp_ts, s.ssrc, pt, marker=k == last)
                    synth.udp(
                        ft + k * PACKET_GAP_S, (SERVER_IP, s.server_rtp_port),
                        (s.client_ip, s.client_rtp_port), header + payload,
                    )  # fmt: skip
                    seqs[i] += 1
                    sent[i][0] += 1
                    sent[i][1] += len(payload)
        end = start + count / FPS + 0.02
        for i, (s, conv) in enumerate(zip(setups, conversations, strict=True)):
            t = end + i * 0.005
            for m in s.messages[-2:]:
                conv.send(t + (0 if m.from_client else 0.002), m.from_client, m.data)
            conv.close(t + 0.01)
        return synth.count
