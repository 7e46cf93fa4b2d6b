"""Pacing across sessions and within a frame: sessions take turns in the frame interval
(each in its phase slot, fixed when it is added), and with --pace a frame's packets leave in
bursts over part of the interval instead of all at once."""

from __future__ import annotations

import time

import pytest
from blocking_rtsp import RTSPTestClient
from local_ports import udp_port_pair
from server_harness import request_handler

from rtsp_common.headers import Headers, parse_rtp_info
from rtsp_common.headers import Session as SessionHeader
from rtsp_common.rtp import RTPPacket
from rtsp_common.rtsp import Request
from rtsp_server import RTSPServer
from rtsp_server.media import MediaLibrary
from rtsp_server.options import ServerOptions
from rtsp_server.rtp_sender import PACE_BURSTS, frame_bursts
from rtsp_server.session import PHASE_SLOTS, SessionRegistry


def play_sessions(handler, count: int, now: float, url: str) -> list[tuple[float, int]]:
    """SETUP and PLAY ``count`` sessions at the same instant: (first frame time, rtptime)."""
    out = []
    for i in range(count):
        port = 50000 + 2 * i
        setup = Request(
            "SETUP",
            f"{url}/track1",
            Headers(
                [("CSeq", "1"), ("Transport", f"RTP/AVP;unicast;client_port={port}-{port + 1}")]
            ),
        )
        answer = handler.handle(setup, now).response
        session = SessionHeader.parse(answer.headers["Session"]).id
        play = Request("PLAY", url, Headers([("CSeq", "2"), ("Session", session)]))
        result = handler.handle(play, now)
        (start,) = [a.at for a in result.actions if type(a).__name__ == "StartStreaming"]
        (info,) = parse_rtp_info(result.response.headers["RTP-Info"])
        out.append((start, info.rtptime))
    return out


def setup_to(client: RTSPTestClient, rtp) -> str:
    """SETUP of the clip's track to the UDP socket ``rtp`` (and the next port); its session."""
    port = rtp.getsockname()[1]
    answer = client.request(
        "SETUP",
        f"{client.base}/clip.Mjpeg/track1",
        {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"},
    )
    return SessionHeader.parse(answer.headers["Session"]).id


def test_sessions_played_together_take_turns_in_the_interval(media_dir):
    fps = 25.0
    options = ServerOptions(media=media_dir, fps=fps, max_sessions=100)
    handler = request_handler(options, MediaLibrary(media_dir), SessionRegistry(100))
    now = 1000.0
    starts = [s for s, _ in play_sessions(handler, PHASE_SLOTS, now, "rtsp://127.0.0.1/clip.Mjpeg")]
    interval = 1 / fps
    assert all(now <= s < now + interval for s in starts)  # each waits less than a frame
    phases = sorted(round(((s % interval) / interval) * PHASE_SLOTS) % PHASE_SLOTS for s in starts)
    assert phases == list(range(PHASE_SLOTS))  # one session per slot: none sends together


def test_first_packet_timestamp_is_rtp_info_rtptime_after_the_wait(media_dir):
    """The first frame waits for its slot, and RTP-Info names its timestamp (RFC 2326 §12.33)."""
    options = ServerOptions(port=0, media=media_dir, host="127.0.0.1", fps=10, mtu=600)
    with RTSPServer(options=options) as server:
        rtp, rtcp = udp_port_pair()
        clients = []
        for _ in range(3):  # three sessions: three slots, three different waits
            client = RTSPTestClient("127.0.0.1", server.port)
            clients.append((client, setup_to(client, rtp)))
        firsts: dict[int, int] = {}
        rtptimes = []
        for client, session in clients:
            reply = client.request("PLAY", f"{client.base}/clip.Mjpeg", {"Session": session})
            rtptimes.append(parse_rtp_info(reply.headers["RTP-Info"])[0].rtptime)
        rtp.settimeout(5)
        while len(firsts) < 3:
            packet = RTPPacket.parse(rtp.recv(70000))
            firsts.setdefault(packet.ssrc, packet.timestamp)
        assert sorted(firsts.values()) == sorted(rtptimes)
        rtp.close()
        rtcp.close()


def test_frame_bursts_cover_every_packet_once_within_the_span():
    assert frame_bursts(24, 0.0) == [(0.0, 0, 24)]
    bursts = frame_bursts(24, 0.02)
    assert len(bursts) == PACE_BURSTS and bursts[0][0] == 0.0
    assert [b[1:] for b in bursts] == [(i * 3, i * 3 + 3) for i in range(PACE_BURSTS)]
    assert bursts[-1][0] < 0.02
    assert frame_bursts(3, 0.02) == [(0.0, 0, 1), (pytest.approx(0.02 / 3), 1, 2),
                                     (pytest.approx(0.04 / 3), 2, 3)]  # fmt: skip
    assert frame_bursts(1, 0.02) == [(0.0, 0, 1)]


def arrival_spreads(media_dir, pace: float, frames: int = 6) -> list[float]:
    """Seconds from each frame's first packet to its last, as received."""
    options = ServerOptions(
        port=0, media=media_dir, host="127.0.0.1", fps=5, mtu=300, pace=pace, loop=True
    )
    with RTSPServer(options=options) as server:
        rtp, rtcp = udp_port_pair()
        client = RTSPTestClient("127.0.0.1", server.port)
        session = setup_to(client, rtp)
        client.request("PLAY", f"{client.base}/clip.Mjpeg", {"Session": session})
        times: dict[int, list[float]] = {}
        rtp.settimeout(5)
        while len(times) <= frames:
            packet = RTPPacket.parse(rtp.recv(70000))
            times.setdefault(packet.timestamp, []).append(time.monotonic())
        rtp.close()
        rtcp.close()
    whole = list(times.values())[:frames]
    return [t[-1] - t[0] for t in whole]


def test_pace_spreads_a_frames_packets_over_part_of_the_interval(media_dir):
    # 5 fps: a 200 ms interval; pace 0.5 spreads each frame over about 100 ms (the last of
    # 8 bursts leaves 87.5 ms after the first), where an unpaced frame leaves at once.
    paced = sorted(arrival_spreads(media_dir, 0.5))
    assert paced[len(paced) // 2] > 0.05
    assert max(paced) < 0.2  # still within its own interval
    unpaced = sorted(arrival_spreads(media_dir, 0.0))
    assert unpaced[len(unpaced) // 2] < paced[len(paced) // 2] / 2


def test_pace_must_be_a_fraction_of_the_interval():
    with pytest.raises(ValueError, match="pace is a fraction"):
        ServerOptions(pace=1.0)
    with pytest.raises(ValueError, match="pace is a fraction"):
        ServerOptions(pace=-0.1)
