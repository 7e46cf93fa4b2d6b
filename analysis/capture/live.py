"""Live capture of RTSP sessions to a classic pcap, from a raw AF_PACKET socket.

No libpcap and no BPF: a background thread reads raw frames, ``SessionFlowFilter`` keeps the
RTSP connection(s) and the RTP/RTCP flows their SETUP exchanges negotiate, and each kept frame
is appended to a pcap (LINKTYPE_ETHERNET) that is flushed as it goes. UDP GSO
super-datagrams are cut into the datagrams the receiver gets (``analysis.capture.gso``). Because the RTSP exchange
is in the file, Wireshark and tshark decode the RTP without "Decode As" (they read RTSP on
ports 554 and 8554; on another port name it with ``-d tcp.port==N,rtsp``). The kernel's drop
count (PACKET_STATISTICS) is reported, so drops are never silent.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.capture.bpf import PACKET_OUTGOING, attach, session_filter
from analysis.capture.filter import SessionFlowFilter
from analysis.capture.gso import GSO_UDP_L4, VNET_HDR_SIZE, VnetHeader, split_udp_gso
from analysis.pcap.writer import SNAPLEN, PcapFileWriter

__all__ = ["Capture", "CaptureError", "CapturePermissionError", "CaptureSummary", "PcapFileWriter"]

log = logging.getLogger(__name__)

# <linux/if_ether.h>: every protocol.
ETH_P_ALL = 0x0003
# <linux/if_packet.h>
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_VNET_HDR = 15
# <linux/if_arp.h>: hardware types.
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
# Interfaces whose frames start with an Ethernet header (what LINKTYPE_ETHERNET declares).
ETHERNET_FRAMED = (ARPHRD_ETHER, ARPHRD_LOOPBACK)
# <asm-generic/socket.h>: kernel receive timestamps in nanoseconds, and a buffer size that
# root may set beyond rmem_max.
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024
POLL_SECONDS = 0.1
FLUSH_SECONDS = 0.2
# On stop, frames already queued are read for at most this long (a flood never ends).
DRAIN_SECONDS = 0.5
_TIMESPEC = struct.Struct("@ll")
_TPACKET_STATS = struct.Struct("@II")


class CaptureError(RuntimeError):
    """A live capture could not start or failed while running."""


class CapturePermissionError(CaptureError, PermissionError):
    """Opening a raw socket was refused: capturing needs root or CAP_NET_RAW."""


@dataclass(frozen=True)
class CaptureSummary:
    """What a capture did: frames kept and written, frames seen, kernel drops, wall time, and
    the CPU time of the capture thread."""

    output: Path
    interface: str
    packets_written: int
    packets_seen: int
    kernel_drops: int
    duration: float
    negotiated_ports: tuple[int, ...]
    cpu_seconds: float = 0.0


def open_packet_socket(
    interface: str, configure: Callable[[socket.socket], None] | None = None
) -> socket.socket:
    """A raw AF_PACKET socket bound to ``interface``; ``CapturePermissionError`` without rights.

    ``configure`` runs before the bind, while the socket receives nothing yet (protocol 0),
    so a socket filter set there applies to the very first frame.
    """
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError as exc:
        raise CapturePermissionError(
            f"capturing on {interface!r} needs root or CAP_NET_RAW to open a raw AF_PACKET "
            f"socket ({exc}); run as root, or grant the capability to the interpreter, e.g. "
            f"`sudo setcap cap_net_raw+ep $(readlink -f $(which python3))`"
        ) from exc
    except (AttributeError, OSError) as exc:
        raise CaptureError(
            f"cannot open a raw packet socket: {exc} (AF_PACKET capture needs Linux)"
        ) from exc
    try:
        if configure is not None:
            configure(sock)
        # CPython converts this protocol number to network order itself.
        sock.bind((interface, ETH_P_ALL))
    except OSError as exc:
        sock.close()
        raise CaptureError(f"cannot capture on interface {interface!r}: {exc}") from exc
    for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER_BYTES)
            break
        except OSError:
            continue
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        log.debug("no SO_TIMESTAMPNS; frames get the time they are read")
    sock.settimeout(POLL_SECONDS)
    return sock


def read_kernel_stats(sock: socket.socket) -> tuple[int, int]:
    """(packets, drops) since the last call: PACKET_STATISTICS resets the counters it reads."""
    raw = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _TPACKET_STATS.size)
    return _TPACKET_STATS.unpack(raw)


class Capture:
    """Capture the RTSP sessions on ``rtsp_port`` to ``output`` until stopped, ``duration``
    seconds pass, or ``count`` frames are written.

    Use ``start()``/``stop()`` or ``with Capture(...) as cap:``. On a loopback device the kernel
    shows each frame twice (outgoing, then incoming); only the incoming copy is written.
    ``kernel_filter`` attaches a hand-assembled socket filter (``analysis.capture.bpf``) that
    drops in the kernel what cannot belong to a session. ``udp_ports`` are kept as well, for
    RTP sent without RTSP (``ffmpeg -f rtp``, say).
    """

    def __init__(
        self,
        interface: str = "lo",
        rtsp_port: int = 8554,
        output: str | Path = "capture.pcap",
        duration: float | None = None,
        count: int | None = None,
        kernel_filter: bool = True,
        udp_ports: tuple[int, ...] = (),
    ) -> None:
        self.interface = interface
        self.kernel_filter = kernel_filter
        self.rtsp_port = rtsp_port
        self.output = Path(output)
        self.duration = duration
        self.count = count
        self.filter = SessionFlowFilter(rtsp_port, extra_udp_ports=frozenset(udp_ports))
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._written = 0
        self._seen = 0
        self._drops = 0
        self._started_at = 0.0
        self._stopped_at: float | None = None
        self._error: BaseException | None = None
        self._summary: CaptureSummary | None = None
        self._cpu_seconds = 0.0

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> Capture:
        """Open the socket and the file, and start the capture thread."""
        if self._thread is not None:
            raise CaptureError("this capture was already started")
        kind = interface_type(self.interface)
        if kind is not None and kind not in ETHERNET_FRAMED:
            raise CaptureError(
                f"interface {self.interface!r} has hardware type {kind}, whose frames have no "
                "Ethernet header; capture on an Ethernet or loopback interface"
            )
        self._loopback = kind == ARPHRD_LOOPBACK if kind is not None else self.interface == "lo"
        self._vnet = False
        self._sock = open_packet_socket(self.interface, self._configure)
        try:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.output, "wb")  # noqa: SIM115 - closed by the thread
        except OSError as exc:
            self._sock.close()
            raise CaptureError(f"cannot write the capture to {self.output}: {exc}") from exc
        self._writer = PcapFileWriter(self._file)
        self._writer.flush()
        read_kernel_stats(self._sock)  # start the drop counters from zero
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rtsp-capture", daemon=True)
        self._thread.start()
        log.info("capturing RTSP port %d on %s to %s", self.rtsp_port, self.interface, self.output)
        return self

    def _configure(self, sock: socket.socket) -> None:
        try:
            # Asks the kernel for each frame's GSO segment size (see analysis.capture.gso).
            sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            self._vnet = True
        except OSError:
            log.info("no PACKET_VNET_HDR: UDP GSO super-datagrams are written uncut")
        if self.kernel_filter:
            # Spares the thread every frame that cannot matter; the user-space filter
            # still decides, so a refused filter only costs CPU.
            attach(sock, session_filter(self.rtsp_port, drop_outgoing=self._loopback))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the capture ends by itself (duration/count) or ``timeout``; True if ended."""
        return self._done.wait(timeout)

    def stop(self) -> CaptureSummary:
        """Stop capturing, close the file, and return the summary (idempotent)."""
        if self._thread is None:
            raise CaptureError("this capture was never started")
        self._stop.set()
        self._thread.join()
        if self._summary is None:
            self._summary = CaptureSummary(
                self.output,
                self.interface,
                self._written,
                self._seen,
                self._drops,
                (self._stopped_at or time.monotonic()) - self._started_at,
                tuple(sorted({port for _, port in self.filter.endpoints})),
                self._cpu_seconds,
            )
        if self._error is not None:
            raise CaptureError(f"capture failed: {self._error}") from self._error
        return self._summary

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- figures ---------------------------------------------------------------------------

    @property
    def packets_written(self) -> int:
        """Frames written to the pcap so far."""
        return self._written

    @property
    def kernel_drops(self) -> int:
        """Frames the kernel dropped (PACKET_STATISTICS) so far."""
        return self._drops

    @property
    def running(self) -> bool:
        """True while the capture thread runs."""
        return self._thread is not None and not self._done.is_set()

    def stats(self) -> dict[str, float | int]:
        """Live figures: frames written and seen, kernel drops, seconds elapsed."""
        with self._lock:
            elapsed = (
                (self._stopped_at or time.monotonic()) - self._started_at
                if self._started_at
                else 0.0
            )
            return {
                "packets_written": self._written,
                "packets_seen": self._seen,
                "kernel_drops": self._drops,
                "elapsed": elapsed,
                "negotiated_endpoints": len(self.filter.endpoints),
            }

    # --- the capture thread ----------------------------------------------------------------

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        buffer = bytearray(SNAPLEN)
        view = memoryview(buffer)
        anc_size = socket.CMSG_SPACE(_TIMESPEC.size)
        last_flush = time.monotonic()
        deadline = None if self.duration is None else self._started_at + self.duration
        cpu_start = time.thread_time()
        drain_until = None
        try:
            while True:
                now = time.monotonic()
                if drain_until is None and (
                    self._stop.is_set() or (deadline is not None and now >= deadline)
                ):
                    # Frames the kernel queued before the stop still belong to the capture.
                    drain_until = now + DRAIN_SECONDS
                    sock.setblocking(False)
                if drain_until is not None and now >= drain_until:
                    break
                if now - last_flush >= FLUSH_SECONDS:
                    self._flush_and_count(sock)
                    last_flush = now
                try:
                    size, ancdata, _flags, address = sock.recvmsg_into([view], anc_size)
                except BlockingIOError:
                    break  # drained
                except (TimeoutError, InterruptedError):
                    continue
                self._seen += 1
                # address: (ifname, proto, pkttype, hatype, hwaddr)
                if self._loopback and address[2] == PACKET_OUTGOING:
                    continue
                gso = None
                if self._vnet:
                    gso = VnetHeader.parse(view)
                    frame = view[VNET_HDR_SIZE:size]
                else:
                    frame = view[:size]
                if not self.filter.accept(frame):
                    continue
                stamp = _timestamp(ancdata)
                frames: Sequence[bytes | memoryview]
                if gso is not None and gso.gso_type == GSO_UDP_L4:
                    frames = split_udp_gso(bytes(frame), gso.gso_size)
                else:
                    frames = [frame]
                if self.count is not None:
                    frames = frames[: self.count - self._written]
                for piece in frames:
                    self._writer.write(piece, stamp)
                with self._lock:
                    self._written += len(frames)
                if self.count is not None and self._written >= self.count:
                    break
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            log.exception("capture thread failed")
            self._error = exc
        finally:
            self._stopped_at = time.monotonic()
            self._cpu_seconds = time.thread_time() - cpu_start
            try:
                self._flush_and_count(sock)
            finally:
                sock.close()
                self._file.close()
                self._done.set()

    def _flush_and_count(self, sock: socket.socket) -> None:
        self._writer.flush()
        _packets, drops = read_kernel_stats(sock)
        if drops:
            log.warning("kernel dropped %d frames", drops)
        with self._lock:
            self._drops += drops


def _timestamp(ancdata: list) -> float:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return sec + nsec / 1e9
    return time.time()


def interface_type(interface: str) -> int | None:
    """The ARPHRD_* hardware type of ``interface`` (from sysfs), or None when unknown."""
    try:
        with open(f"/sys/class/net/{interface}/type", encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None
