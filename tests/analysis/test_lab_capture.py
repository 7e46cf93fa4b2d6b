"""A live capture of the lab's server and client (wire-for-wire stand-ins) streaming the
lab's own movie.Mjpeg, a PAUSE and a second PLAY included: check names each of the lab's
habits, exactly those, attributes them to the lab's session, and still extracts frames."""

from __future__ import annotations

import time

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
from analysis.payloads.frames import PayloadFormat
from analysis.rules import Outcome

FRAMES = 30
AFTER_RESUME = 10
# What the lab's server and client do against the RFCs, each rule a habit of theirs.
LAB_FAULTS = {
    "RTP-CLK-1",  # timestamps in wall-clock seconds, read on the 90 kHz clock of PT 26
    "RTP-JIT-1",  # the same timestamps make every frame look 50 ms late (information)
    "RTSP-SYN-1",  # headers not ended by an empty line
    "RTSP-CRLF-1",  # LF line ends
    "RTSP-TRN-1",  # SETUP reply without Transport, and RTP/UDP for RTP/AVP
    "LAB-FMT-1",
    "LAB-TS-1",
    "LAB-SSRC-1",
    "LAB-MARK-1",
}


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
                client.pause()
                time.sleep(0.3)
                client.play()
                for _ in range(AFTER_RESUME):
                    client.receive()
                client.teardown()
            finally:
                client.close()
    finally:
        server.stop()
    result = check_capture(pcap)
    assert {r.rule.id for r in result.rules if r.outcome is Outcome.FAILED} == LAB_FAULTS
    assert "the lab's format, not RFC 2435" in result.result("LAB-FMT-1").evidence
    assert "wall-clock" in result.result("LAB-TS-1").evidence
    assert "missing marker bit" in result.result("LAB-MARK-1").evidence
    (session,) = result.sessions
    assert {o.scope.session for r in result.failures() for o in r.offences} == {session.id}
    # The lab's server sends from a new socket after the resume: one stream per PLAY.
    first, resumed = sorted(session.streams, key=lambda s: s.first_pktno)
    assert first.format is PayloadFormat.WHOLE_JPEG and first.ssrc == 0
    assert len(first.frames) >= FRAMES and len(resumed.frames) >= AFTER_RESUME
    originals = read_lab_frames(lab_movie, len(first.frames))
    assert [f.jpeg() for f in first.frames] == originals
    theirs = tshark_rtp_streams(tshark, pcap, [rtp_port])
    assert counts(check_streams(result)) == counts(theirs)
    assert jitter_disagreements(check_streams(result), theirs) == []
