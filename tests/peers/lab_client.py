"""A stand-in for the lab's reference client (Client.py + RtpPacket.py), wire for wire.

It reproduces what the lab's client puts on the wire and how it reads the answers:
- requests with a bare file name as URI, LF line ends and NO blank line at the end, e.g.
  ``SETUP movie.Mjpeg RTSP/1.0\\nCSeq: 1\\nTransport: RTP/UDP; client_port= 25000``;
- each reply is one ``recv(1024)``, split on LF: the status is the second word of line 0,
  the CSeq the second word of line 1 and the Session the second word of line 2, read with int();
- RTP on a UDP port it binds itself: each datagram is a 12-byte header and a whole JPEG;
  the frame number is the RTP sequence number.

Standard library only, so it stays an independent reading of the wire.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

RTP_HEADER = struct.Struct("!BBHII")


class LabReplyError(Exception):
    """A reply the lab's client would not have accepted."""


@dataclass(frozen=True)
class LabFrame:
    sequence: int
    timestamp: int
    payload_type: int
    version: int
    jpeg: bytes


class LabClient:
    """``LabClient(host, rtsp_port, rtp_port, "movie.Mjpeg")`` with setup/play/pause/teardown."""

    def __init__(self, server_host: str, server_port: int, rtp_port: int, file_name: str) -> None:
        self.file_name = file_name
        self.rtp_port = rtp_port
        self.rtsp_seq = 0
        self.session_id = 0
        self.rtsp = socket.create_connection((server_host, server_port), timeout=5)
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.rtp.bind(("", rtp_port))
        self.replies: list[str] = []

    def _request(self, method: str, extra: str) -> int:
        self.rtsp_seq += 1
        text = f"{method} {self.file_name} RTSP/1.0\nCSeq: {self.rtsp_seq}\n{extra}"
        self.rtsp.send(text.encode())
        reply = self.rtsp.recv(1024).decode()
        self.replies.append(reply)
        lines = reply.split("\n")
        if int(lines[1].split(" ")[1]) != self.rtsp_seq:
            raise LabReplyError(f"CSeq mismatch in {reply!r}")
        session = int(lines[2].split(" ")[1])
        if self.session_id == 0:
            self.session_id = session
        if session != self.session_id:
            raise LabReplyError(f"Session mismatch in {reply!r}")
        return int(lines[0].split(" ")[1])

    def setup(self) -> int:
        return self._request("SETUP", f"Transport: RTP/UDP; client_port= {self.rtp_port}")

    def play(self) -> int:
        return self._request("PLAY", f"Session: {self.session_id}")

    def pause(self) -> int:
        return self._request("PAUSE", f"Session: {self.session_id}")

    def teardown(self) -> int:
        return self._request("TEARDOWN", f"Session: {self.session_id}")

    def receive(self, timeout: float = 5.0) -> LabFrame:
        self.rtp.settimeout(timeout)
        data = self.rtp.recv(20480 * 8)
        first, second, seq, timestamp, _ssrc = RTP_HEADER.unpack_from(data)
        return LabFrame(seq, timestamp, second & 0x7F, first >> 6, data[RTP_HEADER.size :])

    def close(self) -> None:
        self.rtsp.close()
        self.rtp.close()
