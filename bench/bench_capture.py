"""Live capture on lo: analysis.capture.live against dumpcap (libpcap + BPF) on the same traffic.

One RTSP SETUP exchange, then RTP at the rate of ten 640x480 30 fps MJPEG sessions
(about 2,400 packets/s of 1,400 bytes) for a few seconds, plus as much unrelated UDP
noise. The capturers run at once (ours with and without its kernel socket filter, and
dumpcap); the figures are RTP packets kept, frames that reached user space, kernel drops,
and CPU seconds per 1,000 RTP packets, with our CPU ratio to dumpcap. Needs root or
CAP_NET_RAW.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from analysis.capture.live import Capture, CaptureError

RATE_PPS = 2400
SECONDS = 4.0
BURST = 40
PAYLOAD = b"\x80\x1a" + bytes(1398)


def _count_udp_to(path: Path, port: int) -> int:
    """UDP datagrams to ``port`` in a little-endian classic pcap of Ethernet/IPv4 frames."""
    data = path.read_bytes()
    offset, count = 24, 0
    while offset + 16 <= len(data):
        (incl,) = struct.unpack_from("<I", data, offset + 8)
        frame = data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        if len(frame) >= 38 and frame[23] == socket.IPPROTO_UDP:
            ihl = (frame[14] & 0x0F) * 4
            if struct.unpack_from("!H", frame, 14 + ihl + 2)[0] == port:
                count += 1
    return count


def _session(listener: socket.socket) -> tuple[socket.socket, socket.socket, int]:
    """A SETUP exchange negotiating two UDP ports; returns the sender, noise socket, port."""
    port = listener.getsockname()[1]
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    client_port = rx.getsockname()[1]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    server_port = tx.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(
            f"RTSP/1.0 200 OK\r\nCSeq: 1\r\nSession: 1\r\nTransport: RTP/AVP;unicast;"
            f"client_port={client_port}-{client_port + 1};"
            f"server_port={server_port}-{server_port + 1}\r\n\r\n".encode()
        )
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(
            f"SETUP rtsp://127.0.0.1:{port}/x RTSP/1.0\r\nCSeq: 1\r\nTransport: "
            f"RTP/AVP;unicast;client_port={client_port}-{client_port + 1}\r\n\r\n".encode()
        )
        c.recv(4096)
    thread.join()
    rx.close()  # nobody reads: the kernel discards, the capture still sees every datagram
    return tx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM), client_port


def _send(tx: socket.socket, noise: socket.socket, client_port: int) -> int:
    sent = 0
    period = BURST / RATE_PPS
    start = time.monotonic()
    total = int(RATE_PPS * SECONDS)
    while sent < total:
        for _ in range(BURST):
            tx.sendto(PAYLOAD, ("127.0.0.1", client_port))
            noise.sendto(PAYLOAD, ("127.0.0.1", 9))
        sent += BURST
        delay = start + (sent // BURST) * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return sent


def main() -> int:
    dumpcap = shutil.which("dumpcap")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        ours_path, peer_path = Path(tmp) / "ours.pcap", Path(tmp) / "dumpcap.pcap"
        capture = Capture("lo", port, ours_path)
        unfiltered = Capture("lo", port, Path(tmp) / "unfiltered.pcap", kernel_filter=False)
        try:
            capture.start()
            unfiltered.start()
        except CaptureError as exc:
            print(f"skipped: {exc}")
            return 0
        tx, noise, client_port = _session(listener)
        peer = None
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        if dumpcap:
            # The peer is told the negotiated port up front: a BPF filter cannot learn it.
            peer = subprocess.Popen(
                [
                    dumpcap,
                    "-q",
                    "-P",
                    "-i",
                    "lo",
                    "-B",
                    "8",
                    "-f",
                    f"tcp port {port} or udp dst port {client_port}",
                    "-w",
                    str(peer_path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # dumpcap compiles its filter and opens the device
        sent = _send(tx, noise, client_port)
        time.sleep(0.5)
        summary = capture.stop()
        plain = unfiltered.stop()
        ours_rtp = _count_udp_to(ours_path, client_port)
        plain_rtp = _count_udp_to(Path(tmp) / "unfiltered.pcap", client_port)
        peer_cpu = peer_kept = None
        if peer is not None:
            peer.send_signal(signal.SIGINT)
            peer.wait(timeout=30)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            peer_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            peer_kept = _count_udp_to(peer_path, client_port)
        tx.close()
        noise.close()
    listener.close()
    print(f"RTP sent: {sent} at {RATE_PPS}/s (+ {sent} noise datagrams), pid {os.getpid()}")
    print(
        f"{'capturer':<30}{'RTP kept':>9}{'seen':>8}{'drops':>7}{'CPU s':>7}{'CPU ms/1k RTP':>15}"
    )
    ours_per_k = summary.cpu_seconds / sent * 1000 * 1000
    print(
        f"{'analysis.capture.live':<30}{ours_rtp:>9}{summary.packets_seen:>8}"
        f"{summary.kernel_drops:>7}{summary.cpu_seconds:>7.2f}{ours_per_k:>15.2f}"
    )
    plain_per_k = plain.cpu_seconds / sent * 1000 * 1000
    print(
        f"{'  without its kernel filter':<30}{plain_rtp:>9}{plain.packets_seen:>8}"
        f"{plain.kernel_drops:>7}{plain.cpu_seconds:>7.2f}{plain_per_k:>15.2f}"
    )
    if peer_cpu is not None:
        peer_per_k = peer_cpu / sent * 1000 * 1000
        print(
            f"{'dumpcap (libpcap BPF)':<30}{peer_kept:>9}{'-':>8}{'-':>7}{peer_cpu:>7.2f}"
            f"{peer_per_k:>15.2f}"
        )
        print(
            f"CPU ratio ours/dumpcap: {summary.cpu_seconds / max(peer_cpu, 1e-6):.1f}x "
            "(dumpcap's filter was told the RTP port; ours passes all UDP to Python, which "
            "learns the ports from SETUP)"
        )
    else:
        print("dumpcap not found: no peer figure")
    print(
        f"RTP kept by analysis.capture.live: {ours_rtp}/{sent}"
        f"{' (none lost)' if ours_rtp == sent else ''}, {summary.packets_written} packets "
        "written in all"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
