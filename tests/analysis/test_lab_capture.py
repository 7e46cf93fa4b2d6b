"""A live capture of the lab's server and client (wire-for-wire stand-ins) streaming the
lab's own movie.Mjpeg: check names each of the lab's habits and still extracts frames."""

from __future__ import annotations

import pytest
from lab_client import LabClient
from lab_server import LabServer
from local_ports import free_port
from media_samples import read_lab_frames
from realtools import require_raw_socket, require_tool
from tshark_streams import (
    check_streams,
    counts,
    jitter_disagreements,
    live_capture,
    tshark_rtp_streams,
)

from analysis.check import check_capture
from analysis.frames import PayloadFormat

FRAMES = 30


@pytest.mark.interop
@pytest.mark.capture
def test_lab_session_is_named_as_the_lab_format(tmp_path, lab_movie):
    tshark = require_tool("tshark")["tshark"]
    require_raw_socket()
    server = LabServer(lab_movie).start()
    rtp_port = free_port()
    pcap = tmp_path / "lab.pcap"
    try:
        with live_capture(tshark, pcap, f"tcp port {server.port} or udp port {rtp_port}"):
            client = LabClient("127.0.0.1", server.port, rtp_port, lab_movie.name)
            try:
                assert client.setup() == 200 and client.play() == 200
                for _ in range(FRAMES):
                    client.receive()
                client.teardown()
            finally:
                client.close()
    finally:
        server.stop()
    result = check_capture(pcap)
    failed = {r.rule.id for r in result.rules if r.failed}
    assert {"LAB-FMT-1", "LAB-TS-1", "LAB-SSRC-1", "LAB-MARK-1", "RTSP-CRLF-1"} <= failed
    assert "the lab's format, not RFC 2435" in result.result("LAB-FMT-1").evidence
    assert "wall-clock" in result.result("LAB-TS-1").evidence
    assert "missing marker bit" in result.result("LAB-MARK-1").evidence
    (session,) = result.sessions
    (stream,) = session.streams
    assert stream.format is PayloadFormat.WHOLE_JPEG and stream.ssrc == 0
    originals = read_lab_frames(lab_movie, len(stream.frames))
    assert len(stream.frames) >= FRAMES
    assert [f.jpeg() for f in stream.frames] == originals
    theirs = tshark_rtp_streams(tshark, pcap, [rtp_port])
    assert counts(check_streams(result)) == counts(theirs)
    assert jitter_disagreements(check_streams(result), theirs) == []
