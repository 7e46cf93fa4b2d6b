"""Streaming over loopback: RTP/RTCP as RFC 3550/2435 want it, over UDP and TCP interleaved."""

from __future__ import annotations

import socket
import struct
import time

from blocking_rtsp import RTSPTestClient
from lab_client import LabClient
from local_ports import udp_port_pair
from media_samples import noise_jpeg, rgb_bytes
from polling import wait_for
from server_harness import drain, frames_of, receive_rtp, write_clip

from rtsp_common.headers import Session as SessionHeader
from rtsp_common.headers import Transport, parse_rtp_info
from rtsp_common.jpeg_depacketizer import Depacketizer
from rtsp_common.rtcp import Bye, ReceiverReport, ReportBlock, SenderReport, parse_compound
from rtsp_common.rtp import RTPPacket
from rtsp_common.rtsp import InterleavedFrame
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

MTU = 600  # the `server` fixture's --mtu
FPS = 50  # the `server` fixture's --fps
TS_STEP = 90000 // FPS
MAX_RTP = MTU - 28  # IPv4 + UDP headers


def setup_udp(client: RTSPTestClient, url: str, rtp: socket.socket) -> tuple[str, Transport]:
    port = rtp.getsockname()[1]
    answer = client.request(
        "SETUP", url + "/track1", {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"}
    )
    assert answer.status == 200, answer
    return SessionHeader.parse(answer.headers["Session"]).id, Transport.parse(
        answer.headers["Transport"]
    )


def check_rtp(packets: list[RTPPacket], ssrc: int, first_seq: int, first_ts: int) -> None:
    """RFC 3550/2435 properties of a packet sequence starting at RTP-Info's seq/rtptime."""
    assert all(p.ssrc == ssrc and p.payload_type == 26 for p in packets)
    assert packets[0].sequence == first_seq and packets[0].timestamp == first_ts
    for a, b in zip(packets, packets[1:]):
        assert b.sequence == (a.sequence + 1) % 65536
        step = (b.timestamp - a.timestamp) % (1 << 32)
        assert step == (TS_STEP if a.marker else 0)  # fragments share the frame's timestamp
    for frame in frames_of(packets).values():
        assert [p.marker for p in frame] == [False] * (len(frame) - 1) + [True]


def test_udp_stream_to_end_rtp_rtcp_and_pixels(server, clip_frames):
    check_udp_stream_to_end(server, clip_frames)


def test_udp_stream_with_gso_is_the_same_on_the_wire(media_dir, clip_frames):
    with RTSPServer(
        options=ServerOptions(
            port=0, media=media_dir, host="127.0.0.1", fps=FPS, mtu=MTU, use_gso=True
        )
    ) as server:
        check_udp_stream_to_end(server, clip_frames)


def check_udp_stream_to_end(server: RTSPServer, clip_frames: list[bytes]) -> None:
    rtp, rtcp = udp_port_pair()
    url = f"rtsp://127.0.0.1:{server.port}/sub/raw.mjpeg"  # 8 frames
    with RTSPTestClient("127.0.0.1", server.port) as client, rtp, rtcp:
        sid, transport = setup_udp(client, url, rtp)
        assert transport.server_port == (server.rtp_port, server.rtp_port + 1)
        answer = client.request("PLAY", url + "/", {"Session": sid, "Range": "npt=0-"})
        (info,) = parse_rtp_info(answer.headers["RTP-Info"])
        datagrams = drain(rtp, quiet=0.5)
        packets = [RTPPacket.parse(d) for d in datagrams]
        assert all(len(d) <= MAX_RTP for d in datagrams)
        check_rtp(packets, transport.ssrc, info.seq, info.rtptime)
        depacketizer = Depacketizer()
        jpegs = [j for p in packets if (j := depacketizer.push(p.payload, p.timestamp, p.marker))]
        assert [rgb_bytes(j) for j in jpegs] == [rgb_bytes(f) for f in clip_frames[:8]]
        compounds = [parse_compound(d) for d in drain(rtcp, quiet=0.3)]
        final = compounds[-1]
        assert isinstance(final[0], SenderReport) and isinstance(final[-1], Bye)
        assert final[-1].ssrcs == (transport.ssrc,)
        assert final[0].packet_count == len(packets)
        assert final[0].octet_count == sum(len(p.payload) for p in packets)
        first_sr = compounds[0][0]
        assert isinstance(first_sr, SenderReport) and first_sr.rtp_timestamp == info.rtptime
        # kept until TEARDOWN after the end
        assert client.request("TEARDOWN", url, {"Session": sid}).status == 200


def test_tcp_interleaved_stream(server, clip_frames):
    url = f"rtsp://127.0.0.1:{server.port}/sub/raw.mjpeg"
    with RTSPTestClient("127.0.0.1", server.port) as client:
        answer = client.request(
            "SETUP", url + "/track1", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
        )
        sid = SessionHeader.parse(answer.headers["Session"]).id
        ssrc = Transport.parse(answer.headers["Transport"]).ssrc
        answer = client.request("PLAY", url, {"Session": sid})
        (info,) = parse_rtp_info(answer.headers["RTP-Info"])
        packets, rtcp = [], []
        while not any(isinstance(p, Bye) for c in rtcp for p in c):
            (frame,) = client.read_interleaved(1)
            if frame.channel == 0:
                packets.append(RTPPacket.parse(frame.payload))
                assert len(frame.payload) <= MAX_RTP
            else:
                assert frame.channel == 1
                rtcp.append(parse_compound(frame.payload))
        check_rtp(packets, ssrc, info.seq, info.rtptime)
        assert len(frames_of(packets)) == 8
        assert rtcp[-1][0].packet_count == len(packets)
        # a receiver report on the RTCP channel counts as activity
        block = ReportBlock(
            ssrc=ssrc, fraction_lost=0, cumulative_lost=0, highest_seq=1, jitter=0, lsr=0, dlsr=0
        )
        report = ReceiverReport(ssrc=0x55, reports=(block,)).to_bytes()
        client.send_raw(InterleavedFrame(1, report).to_bytes())
        assert wait_for(lambda: server.sessions.get(sid).receiver_reports == 1)
        assert client.request("TEARDOWN", url, {"Session": sid}).status == 200


def test_pause_and_resume_continue_sequence_and_media_clock(server):
    rtp, rtcp = udp_port_pair()
    url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
    with RTSPTestClient("127.0.0.1", server.port) as client, rtp, rtcp:
        sid, transport = setup_udp(client, url, rtp)
        client.request("PLAY", url, {"Session": sid})
        before = [p for p, _ in receive_rtp(rtp, 6)]
        assert client.request("PAUSE", url, {"Session": sid}).status == 200
        paused_at = time.monotonic()
        before += [RTPPacket.parse(d) for d in drain(rtp, quiet=0.3)]
        last = before[-1]
        assert drain(rtp, quiet=0.3) == []  # paused: nothing flows
        answer = client.request("PLAY", url, {"Session": sid})
        paused_for = time.monotonic() - paused_at
        (info,) = parse_rtp_info(answer.headers["RTP-Info"])
        (first, _), *_ = receive_rtp(rtp, 1)
        assert (first.sequence, first.timestamp) == (info.seq, info.rtptime)
        assert last.marker  # pauses fall between frames
        assert first.sequence == (last.sequence + 1) % 65536
        # RFC 3550 §5.1: the media clock ran on through the pause (at least the 0.6 s waited)
        step = ((first.timestamp - last.timestamp) % (1 << 32)) / 90000
        assert paused_for - 0.1 < step < paused_for + 0.5
        client.request("TEARDOWN", url, {"Session": sid})


def test_seek_sends_the_frame_at_the_range_start(server, clip_frames):
    rtp, rtcp = udp_port_pair()
    url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
    with RTSPTestClient("127.0.0.1", server.port) as client, rtp, rtcp:
        sid, _ = setup_udp(client, url, rtp)
        client.request("PLAY", url, {"Session": sid, "Range": "npt=0-"})
        receive_rtp(rtp, 3)
        client.request("PAUSE", url, {"Session": sid})
        drain(rtp, quiet=0.2)
        answer = client.request("PLAY", url, {"Session": sid, "Range": "npt=1.0-"})
        assert answer.headers["Range"].startswith("npt=1.000-")
        (info,) = parse_rtp_info(answer.headers["RTP-Info"])
        packets = []
        while not packets or not packets[-1].marker:
            packets += [p for p, _ in receive_rtp(rtp, 1)]
        assert (packets[0].sequence, packets[0].timestamp) == (info.seq, info.rtptime)
        depacketizer = Depacketizer()
        (jpeg,) = [j for p in packets if (j := depacketizer.push(p.payload, p.timestamp, p.marker))]
        assert rgb_bytes(jpeg) == rgb_bytes(clip_frames[FPS])  # 1.0 s at 50 fps is frame 50
        client.request("TEARDOWN", url, {"Session": sid})


def test_many_sessions_share_payloads(server):
    url = f"rtsp://127.0.0.1:{server.port}/sub/raw.mjpeg"
    pairs = [udp_port_pair() for _ in range(3)]
    with RTSPTestClient("127.0.0.1", server.port) as client:
        sids = [setup_udp(client, url, rtp)[0] for rtp, _ in pairs]
        for sid in sids:
            client.request("PLAY", url, {"Session": sid})
        payloads = [[RTPPacket.parse(d).payload for d in drain(rtp, quiet=0.4)] for rtp, _ in pairs]
        assert payloads[0] and payloads[0] == payloads[1] == payloads[2]
    for a, b in pairs:
        a.close()
        b.close()


def test_lab_client_gets_its_replies_and_whole_jpegs(media_dir, clip_frames):
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir / "clip.Mjpeg", host="127.0.0.1", fps=50)
    ) as server:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        rtp_port = probe.getsockname()[1]
        probe.close()
        client = LabClient("127.0.0.1", server.port, rtp_port, "clip.Mjpeg")
        try:
            assert client.setup() == 200
            assert len(str(client.session_id)) >= 16
            assert client.replies[0].split("\n")[2].strip() == f"Session: {client.session_id}"
            assert client.play() == 200
            frames = [client.receive() for _ in range(10)]
            assert [f.sequence for f in frames] == list(range(1, 11))
            assert all(f.version == 2 and f.payload_type == 26 for f in frames)
            assert [f.jpeg for f in frames] == clip_frames[:10]
            assert client.pause() == 200
            assert client.teardown() == 200
            assert server.stats()["sessions"] == 0
        finally:
            client.close()


def test_lab_movie_through_lab_client(lab_movie):
    from rtsp_common.mjpeg import open_media

    with RTSPServer(
        options=ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=100)
    ) as server:
        client = LabClient("127.0.0.1", server.port, 0, "movie.Mjpeg")
        client.rtp_port = client.rtp.getsockname()[1]
        try:
            assert client.setup() == 200 and client.play() == 200
            frames = [client.receive() for _ in range(5)]
            with open_media(lab_movie) as reader:
                assert [f.jpeg for f in frames] == [reader[i] for i in range(5)]
            client.teardown()
        finally:
            client.close()


def test_loop_keeps_playing_with_coherent_timestamps(media_dir):
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir, host="127.0.0.1", fps=100, loop=True)
    ) as server:
        rtp, rtcp = udp_port_pair()
        url = f"rtsp://127.0.0.1:{server.port}/sub/raw.mjpeg"
        with RTSPTestClient("127.0.0.1", server.port) as client, rtp, rtcp:
            sid, _ = setup_udp(client, url, rtp)
            client.request("PLAY", url, {"Session": sid})
            packets = [p for p, _ in receive_rtp(rtp, 60)]
            stamps = sorted(
                frames_of(packets), key=lambda t: (t - packets[0].timestamp) % (1 << 32)
            )
            assert len(stamps) > 8  # past the end of the 8-frame file
            steps = {(b - a) % (1 << 32) for a, b in zip(stamps, stamps[1:])}
            assert steps == {900}
            assert not any(isinstance(p, Bye) for d in drain(rtcp, 0.1) for p in parse_compound(d))
            client.request("TEARDOWN", url, {"Session": sid})


def test_shutdown_sends_bye_to_every_session(media_dir):
    pairs = [udp_port_pair() for _ in range(2)]
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir, host="127.0.0.1", fps=50)
    ) as server:
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        client = RTSPTestClient("127.0.0.1", server.port)
        ssrcs = []
        for rtp, _ in pairs:
            sid, transport = setup_udp(client, url, rtp)
            ssrcs.append(transport.ssrc)
            client.request("PLAY", url, {"Session": sid})
    for (rtp, rtcp), ssrc in zip(pairs, ssrcs):
        byes = [p for d in drain(rtcp, 0.3) for p in parse_compound(d) if isinstance(p, Bye)]
        assert [b.ssrcs for b in byes] == [(ssrc,)]
        rtp.close()
        rtcp.close()
    assert client.closed_by_server(2)
    client.close()


def test_closed_tcp_connection_ends_its_interleaved_sessions(server):
    url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
    client = RTSPTestClient("127.0.0.1", server.port)
    answer = client.request(
        "SETUP", url + "/track1", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
    )
    client.request("PLAY", url, {"Session": SessionHeader.parse(answer.headers["Session"]).id})
    client.read_interleaved(2)
    assert server.stats()["sessions"] == 1
    client.close()
    deadline = time.monotonic() + 5
    while server.stats()["sessions"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.stats() | {"tasks": 0} == {
        "sessions": 0,
        "connections": 0,
        "streaming": 0,
        "tasks": 0,
    }


def send_receiver_report(sock: socket.socket, server: RTSPServer, ssrc: int) -> None:
    block = ReportBlock(
        ssrc=ssrc, fraction_lost=0, cumulative_lost=0, highest_seq=1, jitter=90, lsr=0, dlsr=0
    )
    sock.sendto(
        ReceiverReport(ssrc=0x1234, reports=(block,)).to_bytes(), ("127.0.0.1", server.rtp_port + 1)
    )


def test_idle_session_times_out_and_receiver_reports_keep_it_alive(media_dir, caplog):
    caplog.set_level("INFO")
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir, host="127.0.0.1", fps=50, session_timeout=1)
    ) as server:
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        quiet_rtp, quiet_rtcp = udp_port_pair()
        live_rtp, live_rtcp = udp_port_pair()
        with RTSPTestClient("127.0.0.1", server.port) as client:
            quiet, _ = setup_udp(client, url, quiet_rtp)
            live, transport = setup_udp(client, url, live_rtp)
            started = time.monotonic()
            while time.monotonic() - started < 2.0:
                send_receiver_report(live_rtcp, server, transport.ssrc)
                time.sleep(0.2)
            assert server.sessions.get(quiet) is None
            assert server.sessions.get(live) is not None
            assert server.sessions.get(live).receiver_reports >= 5
            assert f"session {quiet} idle" in caplog.text
            assert "receiver report" in caplog.text
            assert wait_for(lambda: server.stats()["sessions"] == 0, 3)
        for s in (quiet_rtp, quiet_rtcp, live_rtp, live_rtcp):
            s.close()


def test_trickling_and_idle_connections_are_closed(media_dir):
    with RTSPServer(
        options=ServerOptions(
            port=0, media=media_dir, host="127.0.0.1", request_timeout=1, idle_timeout=1
        )
    ) as server:
        trickler = socket.create_connection(("127.0.0.1", server.port))
        idle = socket.create_connection(("127.0.0.1", server.port))
        trickler.settimeout(0.2)
        closed_after = None
        started = time.monotonic()
        for byte in b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Slow: " + b"a" * 100:
            try:
                trickler.send(bytes([byte]))
                if trickler.recv(100) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
        assert closed_after is not None and closed_after < 5
        idle.settimeout(3)
        assert idle.recv(10) == b""
        trickler.close()
        idle.close()
        assert wait_for(lambda: server.stats()["connections"] == 0)


def test_bare_crlfs_do_not_keep_a_connection_open(media_dir):
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir, host="127.0.0.1", idle_timeout=1)
    ) as server:
        keepalive = socket.create_connection(("127.0.0.1", server.port))
        keepalive.settimeout(0.2)
        closed_after = None
        started = time.monotonic()
        while closed_after is None and time.monotonic() - started < 6:
            try:
                keepalive.send(b"\r\n")  # what a slot holder sends between (no) messages
                if keepalive.recv(100) == b"":
                    closed_after = time.monotonic() - started
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
        keepalive.close()
        assert closed_after is not None, "a peer sending only CRLFs kept its connection"
        assert wait_for(lambda: server.stats()["connections"] == 0)


def test_an_idle_connection_owning_a_session_stays_until_the_session_ends(media_dir):
    options = ServerOptions(
        port=0, media=media_dir, host="127.0.0.1", session_timeout=1.5, idle_timeout=0.3
    )
    with RTSPServer(options=options) as server:
        rtp, rtcp = udp_port_pair()
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        with RTSPTestClient("127.0.0.1", server.port) as owner, rtp, rtcp:
            ports = f"{rtp.getsockname()[1]}-{rtcp.getsockname()[1]}"
            setup = owner.request(
                "SETUP", url + "/track1", {"Transport": f"RTP/AVP;unicast;client_port={ports}"}
            )
            assert setup.status == 200
            time.sleep(0.8)  # idle past idle_timeout, but the session is the connection's
            stats = server.stats()
            assert (stats["connections"], stats["sessions"]) == (1, 1)
            # No RTCP, no requests: the session times out, and its connection goes with it.
            assert owner.closed_by_server(3)
            assert server.stats()["sessions"] == 0


def test_connection_limit(media_dir):
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir, host="127.0.0.1", max_connections=2)
    ) as server:
        keep = [RTSPTestClient("127.0.0.1", server.port) for _ in range(2)]
        for client in keep:
            assert client.request("OPTIONS", "*").status == 200
        extra = RTSPTestClient("127.0.0.1", server.port)
        assert extra.closed_by_server(2)
        for client in keep + [extra]:
            client.close()


def test_lab_request_without_blank_line_is_answered(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        sock.send(b"OPTIONS * RTSP/1.0\nCSeq: 4")
        reply = sock.recv(1024).decode()
        assert reply.startswith("RTSP/1.0 200") and "CSeq: 4" in reply


def test_garbage_on_the_wire_gets_400_and_close(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        sock.send(struct.pack("!Q", 0xDEADBEEF) * 8 + b"\r\n\r\n")
        reply = sock.recv(1024)
        assert reply.startswith(b"RTSP/1.0 400")
        assert sock.recv(1024) == b""
    assert server.stats()["sessions"] == 0


def noise_frames(count: int) -> list[bytes]:
    """Large frames (random pixels compress badly): a slow reader falls behind fast."""
    return [noise_jpeg((320, 240), n, quality=95) for n in range(count)]


def test_slow_tcp_reader_loses_frames_not_server_memory(tmp_path):
    frames = noise_frames(4)
    write_clip(tmp_path / "noise.mjpeg", frames)
    limit = 256 * 1024
    with RTSPServer(
        options=ServerOptions(
            port=0, media=tmp_path, host="127.0.0.1", fps=200, loop=True, write_buffer_limit=limit
        )
    ) as server:
        url = f"rtsp://127.0.0.1:{server.port}/noise.mjpeg"
        with RTSPTestClient("127.0.0.1", server.port) as client:
            answer = client.request(
                "SETUP", url + "/track1", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
            )
            sid = SessionHeader.parse(answer.headers["Session"]).id
            client.request("PLAY", url, {"Session": sid})
            session = server.sessions.get(sid)
            connection = server.connections[session.connection_id]
            peak = 0
            deadline = time.monotonic() + 10
            while session.stream.frames_skipped < 20 and time.monotonic() < deadline:
                peak = max(peak, server.call(connection.write_buffer_size))
                time.sleep(0.01)
            assert session.stream.frames_skipped >= 20  # the client reads nothing
            assert peak <= limit + 2 * max(len(f) for f in frames)
            packets = [
                RTPPacket.parse(f.payload)
                for f in client.read_interleaved(200, timeout=10)
                if f.channel == 0
            ]
            assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in zip(packets, packets[1:]))


def empty_socket(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while True:
            sock.recv(70000)
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)


def test_loading_a_file_does_not_stall_other_streams(media_dir, clip_frames, monkeypatch):
    import rtsp_server.media as media_module

    real_load = media_module.load_track

    def slow_load(name, path):
        if name == "slow.mjpeg":
            time.sleep(1.0)
        return real_load(name, path)

    monkeypatch.setattr(media_module, "load_track", slow_load)
    write_clip(media_dir / "slow.mjpeg", clip_frames[:4])
    with RTSPServer(
        options=ServerOptions(port=0, media=media_dir, host="127.0.0.1", fps=50, loop=True)
    ) as server:
        rtp, rtcp = udp_port_pair()
        url = f"rtsp://127.0.0.1:{server.port}/clip.Mjpeg"
        with RTSPTestClient("127.0.0.1", server.port) as player, rtp, rtcp:
            sid, _ = setup_udp(player, url, rtp)
            player.request("PLAY", url, {"Session": sid})
            receive_rtp(rtp, 5)
            with RTSPTestClient("127.0.0.1", server.port) as loader:
                empty_socket(rtp)  # arrival times below are send times, not a backlog
                # pipelined: DESCRIBE of the slow file, then OPTIONS; answered in order
                loader.send_raw(
                    f"DESCRIBE rtsp://127.0.0.1:{server.port}/slow.mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n"
                    "OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n".encode()
                )
                started = time.monotonic()
                arrivals = [started]
                while time.monotonic() - started < 1.2:
                    receive_rtp(rtp, 1)
                    arrivals.append(time.monotonic())
                first, second = loader.read_response(), loader.read_response()
                assert (first.cseq, first.status, second.cseq) == (1, 200, 2)
            gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
            assert max(gaps) < 0.5  # the 1 s load ran off the event loop
            player.request("TEARDOWN", url, {"Session": sid})
