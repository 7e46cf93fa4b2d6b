"""A stand-in for the lab's reference server (Server.py + ServerWorker.py), wire for wire.

It reproduces what the lab's server puts on the wire, quirks included, so clients can be
tested against it without shipping the lab's code:
- one RTSP client at a time; each ``recv(256)`` is taken as one request, split on LF,
  fields read by position (method and file from line 1, CSeq from line 2, the RTP port
  as the fourth space-separated word of line 3 on SETUP);
- replies ``RTSP/1.0 200 OK\\nCSeq: N\\nSession: S`` with LF and no blank line;
  a missing file is only printed ("404 NOT FOUND"): nothing is sent back;
- a request in the wrong state is ignored;
- RTP over UDP to the client's address: the whole JPEG in one datagram, sequence number =
  frame number (from 1), timestamp = wall-clock seconds, SSRC 0, no marker, PT 26, one
  frame every 50 ms (a sleep, not a schedule); at the end of the file it sends nothing.

Run as a script: ``python tests/peers/lab_server.py --port 0 --media movie.Mjpeg``
prints ``PORT <n>`` and serves until killed. Import ``LabServer`` to run it in a thread.
"""

from __future__ import annotations

import argparse
import random
import socket
import struct
import sys
import threading
import time
from pathlib import Path

from socket_loops import accept_until_stopped, receive_until_stopped

FRAME_PERIOD = 0.05  # the lab's ServerWorker waits 50 ms between frames
LENGTH_DIGITS = 5  # the lab's .Mjpeg: each frame prefixed by its length in 5 ASCII digits
MJPEG_TYPE = 26  # RFC 3551: JPEG
RECV_SIZE = 256  # the lab's ServerWorker reads requests with recv(256)
POLL = 0.2  # s: how soon the serving thread notices a stop request


class LabVideoStream:
    """The lab's VideoStream: reads one length-prefixed frame at a time."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "rb")  # noqa: SIM115 - kept open like the lab's
        self.frame_num = 0

    def next_frame(self) -> bytes:
        prefix = self.file.read(LENGTH_DIGITS)
        if len(prefix) < LENGTH_DIGITS or not prefix.isdigit():
            return b""
        data = self.file.read(int(prefix))
        self.frame_num += 1
        return data

    def close(self) -> None:
        self.file.close()


def lab_rtp_packet(seq: int, payload: bytes) -> bytes:
    """The lab's RtpPacket.encode: V=2, no padding/extension/CSRC, M=0, PT 26, SSRC 0."""
    header = struct.pack(
        "!BBHII", 2 << 6, MJPEG_TYPE, seq & 0xFFFF, int(time.time()) & 0xFFFFFFFF, 0
    )
    return header + payload


class LabServer:
    """The lab server's behaviour in a background thread; ``port`` is the RTSP port."""

    INIT, READY, PLAYING = 0, 1, 2

    def __init__(self, media: str | Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self.media = Path(media)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.requests: list[str] = []  # every request text received, for tests to inspect
        self.frames_sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LabServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            self.listener.close()
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=3)

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        for conn, addr in accept_until_stopped(self.listener, self._stop, POLL):
            with conn:
                self._worker(conn, addr)

    def _worker(self, conn: socket.socket, addr: tuple) -> None:
        state = self.INIT
        session = 0
        stream: LabVideoStream | None = None
        rtp_port = 0
        event = threading.Event()
        rtp_socket: socket.socket | None = None
        for data in receive_until_stopped(conn, self._stop, RECV_SIZE):
            text = data.decode("utf-8", "replace")
            self.requests.append(text)
            lines = text.split("\n")
            try:
                method, filename = lines[0].split(" ")[:2]
                seq = lines[1].split(" ")[1]
            except (IndexError, ValueError):
                continue  # the lab's server would crash its worker thread here
            if method == "SETUP" and state == self.INIT:
                if Path(filename).name != self.media.name:
                    print("404 NOT FOUND", flush=True)
                    continue
                stream = LabVideoStream(self.media)
                state = self.READY
                session = random.randint(100000, 999999)
                self._reply(conn, seq, session)
                try:
                    rtp_port = int(lines[2].split(" ")[3])
                except (IndexError, ValueError):
                    rtp_port = 0
            elif method == "PLAY" and state == self.READY:
                state = self.PLAYING
                rtp_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._reply(conn, seq, session)
                event = threading.Event()
                threading.Thread(
                    target=self._send_rtp,
                    args=(stream, rtp_socket, (addr[0], rtp_port), event),
                    daemon=True,
                ).start()
            elif method == "PAUSE" and state == self.PLAYING:
                state = self.READY
                event.set()
                self._reply(conn, seq, session)
            elif method == "TEARDOWN":
                event.set()
                self._reply(conn, seq, session)
                if rtp_socket is not None:
                    rtp_socket.close()
                state = self.INIT
        event.set()
        if stream is not None:
            stream.close()

    @staticmethod
    def _reply(conn: socket.socket, seq: str, session: int) -> None:
        conn.send(f"RTSP/1.0 200 OK\nCSeq: {seq}\nSession: {session}".encode())

    def _send_rtp(
        self,
        stream: LabVideoStream | None,
        sock: socket.socket,
        dest: tuple[str, int],
        event: threading.Event,
    ) -> None:
        while True:
            event.wait(FRAME_PERIOD)
            if event.is_set() or self._stop.is_set() or stream is None:
                break
            data = stream.next_frame()
            if data:
                try:
                    sock.sendto(lab_rtp_packet(stream.frame_num, data), dest)
                    self.frames_sent += 1
                except OSError:
                    break


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--media", required=True, help="a lab-format .Mjpeg file")
    args = parser.parse_args(argv)
    server = LabServer(args.media, args.port, args.host)
    print(f"PORT {server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
