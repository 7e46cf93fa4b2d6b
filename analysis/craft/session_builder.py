"""Craft RTSP/RTP/RTCP traffic with Scapy: synthetic session captures and malformed packets.

``SessionBuilder`` writes a whole RTSP session as a pcap (Ethernet/IPv4, a TCP connection
with a handshake and proper sequence numbers, RTP/RTCP over UDP or interleaved in the TCP
connection), on a virtual clock, so Wireshark, tshark and the checker all read it. Every
packet it makes is returned to the caller, who may alter any field before ``write`` (all
bytes are computed at write time) or ``drop``/``duplicate``/``swap`` packets: that is how
defects are injected.

Hostile datagrams for robustness tests are in ``analysis.craft.malformed``.

It is longer than 500 lines because ``SessionBuilder`` is one builder over one virtual
clock and TCP state, each of its methods adding one kind of packet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from scapy.contrib.rtcp import ReceptionReport, SenderInfo
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from analysis.craft.jpeg import ScanImage, fragment_scan, make_test_jpeg, read_scan_image
from analysis.layers import (
    PT_JPEG,
    RTCP,
    RTP,
    RTSPInterleaved,
    SDESChunk,
    SDESItem,
)
from analysis.streams.media_format import VIDEO_CLOCK_RATE
from analysis.streams.rtp import SEQ_MODULUS, TS_MODULUS
from analysis.wire.rtcp import (
    NTP_FRACTION,
    NTP_UNIX_OFFSET,
    RTCP_BYE,
    RTCP_RR,
    RTCP_SDES,
    RTCP_SR,
    SDES_CNAME,
)
from analysis.wire.tcp import SEQ_MODULUS as TCP_SEQ_MODULUS

IP_ID_MODULUS = 1 << 16  # RFC 791 §3.1: a 16-bit identification

__all__ = ["Lower", "SessionBuilder", "make_test_jpeg", "read_scan_image", "sdes_cname"]

log = logging.getLogger(__name__)

TCP_WINDOW = 65535
NTP_MODULUS = 1 << 64  # RFC 3550 §4: 32.32 fixed point
UDP_PAYLOAD_MAX = 1400


class Lower(Enum):
    """How RTP/RTCP travel: UDP ports, or '$' frames inside the RTSP connection."""

    UDP = "udp"
    TCP = "tcp"


@dataclass
class _TCPSide:
    mac: str
    ip: str
    port: int
    seq: int


@dataclass(frozen=True)
class _Stream:
    ssrc: int
    seq0: int
    ts0: int


class SessionBuilder:
    """Builds one RTSP session capture, packet by packet, on a virtual clock.

    Typical use::

        b = SessionBuilder()
        b.handshake(); b.options(); b.describe(); b.setup(); b.play()
        b.frames(10)            # RFC 2435 frames of a small Pillow-made JPEG
        b.sender_report(); b.teardown()
        b.write("session.pcap")
    """

    def __init__(
        self,
        *,
        client_ip: str = "10.0.0.2",
        server_ip: str = "10.0.0.1",
        rtsp_port: int = 8554,
        client_tcp_port: int = 40000,
        client_rtp_port: int = 5000,
        server_rtp_port: int = 6000,
        lower: Lower = Lower.UDP,
        path: str = "/clip",
        ssrc: int = 0x1A2B3C4D,
        initial_seq: int = 4321,
        initial_timestamp: int = 123_456_789,
        start_time: float = 1_700_000_000.0,
        fps: float = 30.0,
        session_id: str = "5A6B7C8D",
    ) -> None:
        self.client = _TCPSide("02:00:00:00:00:02", client_ip, client_tcp_port, 1000)
        self.server = _TCPSide("02:00:00:00:00:01", server_ip, rtsp_port, 50000)
        self.client_rtp_port = client_rtp_port
        self.server_rtp_port = server_rtp_port
        self.lower = lower
        self.url = f"rtsp://{server_ip}:{rtsp_port}{path}"
        self.stream = _Stream(ssrc, initial_seq, initial_timestamp)
        self.session_id = session_id
        self.fps = fps
        self.now = start_time
        self.cseq = 0
        self.packets: list[Packet] = []
        self.next_seq = initial_seq
        self.next_ts = initial_timestamp
        self.rtp_sent = 0
        self.rtp_octets = 0
        self.interleaved = (0, 1)
        self._image_cache: dict[tuple[int, int, int, int], ScanImage] = {}
        # The m= section of the SDP: MJPEG unless a test describes another format.
        self.media_description = "m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n"

    # --- clock and packet list -------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the virtual clock on."""
        self.now += seconds

    def _emit(self, pkt: Packet, gap: float = 0.0001) -> Packet:
        self.now += gap
        pkt.time = self.now
        self.packets.append(pkt)
        return pkt

    def drop(self, pkt: Packet) -> None:
        """Remove a packet (as lost on the way)."""
        self.packets.remove(pkt)

    def duplicate(self, pkt: Packet) -> Packet:
        """Append a copy of ``pkt`` right after it, 100 µs later, as a sender that sends a
        datagram twice makes it: a new IP identification (byte-identical copies are the
        capture's own, see analysis.pcap.duplicates)."""
        copy = pkt.copy()
        copy.time = pkt.time + 0.0001  # type: ignore[operator]  # EDecimal adds a float
        if IP in copy:
            copy[IP].id = (copy[IP].id + 1) % IP_ID_MODULUS
        self.packets.insert(self.packets.index(pkt) + 1, copy)
        return copy

    def swap(self, a: Packet, b: Packet) -> None:
        """Exchange the positions of two packets (a reorder), keeping the times in order."""
        ia, ib = self.packets.index(a), self.packets.index(b)
        self.packets[ia], self.packets[ib] = b, a
        a.time, b.time = b.time, a.time

    def write(self, path: str | Path) -> Path:
        """Write every packet as a classic pcap (LINKTYPE_ETHERNET)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        wrpcap(str(path), self.packets, linktype=1)
        return path

    # --- TCP and RTSP ----------------------------------------------------------------------

    def _tcp(
        self,
        sender: _TCPSide,
        receiver: _TCPSide,
        flags: str,
        payload: bytes | Packet = b"",
        gap: float = 0.0001,
    ) -> Packet:
        pkt = (
            Ether(src=sender.mac, dst=receiver.mac)
            / IP(src=sender.ip, dst=receiver.ip)
            / TCP(
                sport=sender.port,
                dport=receiver.port,
                flags=flags,
                seq=sender.seq,
                ack=receiver.seq if "A" in flags else 0,
                window=TCP_WINDOW,
            )
        )
        size = 0
        if isinstance(payload, Packet):
            # Kept as layers so fields stay editable; edits that change the length would
            # desynchronise the TCP sequence numbers that follow.
            size = len(bytes(payload))
            pkt = pkt / payload
        elif payload:
            size = len(payload)
            pkt = pkt / Raw(payload)
        advance = size + (1 if ("S" in flags or "F" in flags) else 0)
        sender.seq = (sender.seq + advance) % TCP_SEQ_MODULUS
        return self._emit(pkt, gap)

    def handshake(self) -> list[Packet]:
        """TCP three-way handshake, client to the RTSP port."""
        return [
            self._tcp(self.client, self.server, "S"),
            self._tcp(self.server, self.client, "SA"),
            self._tcp(self.client, self.server, "A"),
        ]

    def close(self) -> list[Packet]:
        """FIN from the client, FIN from the server, final ACK."""
        return [
            self._tcp(self.client, self.server, "FA"),
            self._tcp(self.server, self.client, "FA"),
            self._tcp(self.client, self.server, "A"),
        ]

    def client_bytes(self, data: bytes) -> Packet:
        """Raw bytes from client to server on the RTSP connection."""
        return self._tcp(self.client, self.server, "PA", data)

    def server_bytes(self, data: bytes) -> Packet:
        """Raw bytes from server to client on the RTSP connection."""
        return self._tcp(self.server, self.client, "PA", data)

    def request(
        self,
        method: str,
        headers: Iterable[tuple[str, str]] = (),
        *,
        uri: str | None = None,
        body: bytes = b"",
        cseq: int | None | bool = True,
        line_end: str = "\r\n",
        version: str = "RTSP/1.0",
    ) -> Packet:
        """An RTSP request; ``cseq=True`` numbers it, an int forces it, None leaves it out."""
        if cseq is True:
            self.cseq += 1
            cseq = self.cseq
        lines = [f"{method} {uri or self.url} {version}"]
        if cseq is not None and cseq is not False:
            lines.append(f"CSeq: {cseq}")
        lines += [f"{k}: {v}" for k, v in headers]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return self.client_bytes((line_end.join(lines) + line_end * 2).encode() + body)

    def response(
        self,
        status: int = 200,
        reason: str = "OK",
        headers: Iterable[tuple[str, str]] = (),
        *,
        body: bytes = b"",
        cseq: int | None | bool = True,
        delay: float = 0.001,
        content_length: int | None = None,
    ) -> Packet:
        """An RTSP response; ``cseq=True`` echoes the last request's CSeq.

        ``content_length`` overrides the Content-Length written for the body (a defect knob).
        """
        if cseq is True:
            cseq = self.cseq
        lines = [f"RTSP/1.0 {status} {reason}"]
        if cseq is not None and cseq is not False:
            lines.append(f"CSeq: {cseq}")
        lines += [f"{k}: {v}" for k, v in headers]
        if body or content_length is not None:
            length = len(body) if content_length is None else content_length
            lines.append(f"Content-Length: {length}")
        self.advance(delay)
        return self.server_bytes(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def sdp(self) -> bytes:
        """An SDP description of one video track (RFC 4566): MJPEG (RFC 3551 PT 26) unless
        ``media_description`` says otherwise."""
        return (
            f"v=0\r\no=- 1 1 IN IP4 {self.server.ip}\r\ns=crafted\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
            f"{self.media_description}a=control:track0\r\n"
        ).encode()

    def options(self) -> list[Packet]:
        """OPTIONS and its 200 listing the methods."""
        return [
            self.request("OPTIONS"),
            self.response(headers=[("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN")]),
        ]

    def describe(self) -> list[Packet]:
        """DESCRIBE and its 200 with the SDP."""
        return [
            self.request("DESCRIBE", [("Accept", "application/sdp")]),
            self.response(
                headers=[("Content-Base", self.url + "/"), ("Content-Type", "application/sdp")],
                body=self.sdp(),
            ),
        ]

    def transport(self, *, reply: bool) -> str:
        """The Transport header of the SETUP request (``reply=False``) or of its reply."""
        if self.lower is Lower.TCP:
            return "RTP/AVP/TCP;unicast;interleaved={}-{}".format(*self.interleaved)
        text = f"RTP/AVP;unicast;client_port={self.client_rtp_port}-{self.client_rtp_port + 1}"
        if reply:
            text += (
                f";server_port={self.server_rtp_port}-{self.server_rtp_port + 1}"
                f";ssrc={self.stream.ssrc:08X}"
            )
        return text

    def setup(
        self, *, reply_transport: str | None = None, session: str | None = None
    ) -> list[Packet]:
        """SETUP and its reply; ``session`` is the id the reply assigns."""
        return [
            self.request(
                "SETUP", [("Transport", self.transport(reply=False))], uri=self.url + "/track0"
            ),
            self.response(
                headers=[
                    ("Session", f"{session or self.session_id};timeout=60"),
                    ("Transport", reply_transport or self.transport(reply=True)),
                ]
            ),
        ]

    def play(
        self,
        *,
        session: str | None = None,
        reply_session: str | None = None,
        rtp_info: str | None = None,
    ) -> list[Packet]:
        """PLAY and its reply with RTP-Info for the next RTP packet (RFC 2326 §12.33)."""
        info = rtp_info or f"url={self.url}/track0;seq={self.next_seq};rtptime={self.next_ts}"
        session = session or self.session_id
        return [
            self.request("PLAY", [("Session", session), ("Range", "npt=0.000-")]),
            self.response(
                headers=[
                    ("Session", reply_session or session),
                    ("Range", "npt=0.000-"),
                    ("RTP-Info", info),
                ]
            ),
        ]

    def pause(
        self, *, session: str | None = None, reply_session: str | None = None
    ) -> list[Packet]:
        """PAUSE and its 200; ``session`` and ``reply_session`` override the ids sent."""
        session = session or self.session_id
        return [
            self.request("PAUSE", [("Session", session)]),
            self.response(headers=[("Session", reply_session or session)]),
        ]

    def teardown(
        self, *, session: str | None = None, reply_session: str | None = None
    ) -> list[Packet]:
        """TEARDOWN and its 200; ``session`` and ``reply_session`` override the ids sent."""
        session = session or self.session_id
        return [
            self.request("TEARDOWN", [("Session", session)]),
            self.response(headers=[("Session", reply_session or session)]),
        ]

    def start(self, *, handshake: bool = True) -> list[Packet]:
        """Handshake, OPTIONS, DESCRIBE, SETUP and PLAY: the usual opening."""
        out = self.handshake() if handshake else []
        for step in (self.options, self.describe, self.setup, self.play):
            out += step()
        return out

    # --- RTP and RTCP ----------------------------------------------------------------------

    def _media(self, layer: Packet, *, rtcp: bool, gap: float) -> Packet:
        """Wrap an RTP/RTCP layer for the server-to-client path."""
        if self.lower is Lower.TCP:
            channel = self.interleaved[1 if rtcp else 0]
            return self._tcp(
                self.server, self.client, "PA", RTSPInterleaved(channel=channel) / layer, gap
            )
        offset = 1 if rtcp else 0
        pkt = (
            Ether(src=self.server.mac, dst=self.client.mac)
            / IP(src=self.server.ip, dst=self.client.ip)
            / UDP(sport=self.server_rtp_port + offset, dport=self.client_rtp_port + offset)
            / layer
        )
        return self._emit(pkt, gap)

    def rtp(
        self,
        payload: Packet | bytes,
        *,
        marker: bool = False,
        timestamp: int | None = None,
        sequence: int | None = None,
        ssrc: int | None = None,
        payload_type: int = PT_JPEG,
        gap: float = 0.0001,
        **fields,
    ) -> Packet:
        """One RTP packet from the server; sequence advances unless given."""
        seq = self.next_seq if sequence is None else sequence
        if sequence is None:
            self.next_seq = (self.next_seq + 1) % SEQ_MODULUS
        layer = RTP(
            payload_type=payload_type,
            sequence=seq,
            timestamp=self.next_ts if timestamp is None else timestamp,
            sourcesync=self.stream.ssrc if ssrc is None else ssrc,
            marker=int(marker),
            **fields,
        )
        body = payload if isinstance(payload, Packet) else Raw(payload)
        self.rtp_sent += 1
        self.rtp_octets += len(bytes(body))
        return self._media(layer / body, rtcp=False, gap=gap)

    def _image(self, index: int, width: int, height: int, restart_blocks: int) -> ScanImage:
        key = (index % 8, width, height, restart_blocks)
        if key not in self._image_cache:
            jpeg = make_test_jpeg(width, height, index=index % 8, restart_blocks=restart_blocks)
            self._image_cache[key] = read_scan_image(jpeg)
        return self._image_cache[key]

    def frame(
        self,
        image: ScanImage | bytes | None = None,
        *,
        index: int = 0,
        width: int = 64,
        height: int = 48,
        max_payload: int = UDP_PAYLOAD_MAX,
        restart_blocks: int = 0,
        advance_clock: bool = True,
        q: int = 255,
        include_qtable: bool = True,
    ) -> list[Packet]:
        """One RFC 2435 frame (a JPEG, or a Pillow-made test picture) as RTP packets.

        The last packet has the marker bit (RFC 2435 §3); all share the frame's timestamp.
        Then the RTP timestamp and the virtual clock step by one frame interval.
        ``include_qtable=False`` leaves out the Quantization Table header Q >= 128 requires.
        """
        if image is None:
            image = self._image(index, width, height, restart_blocks)
        elif isinstance(image, bytes):
            image = read_scan_image(image)
        payloads = fragment_scan(image, max_payload, q=q, include_qtable=include_qtable)
        out = [self.rtp(p, marker=(i == len(payloads) - 1)) for i, p in enumerate(payloads)]
        if advance_clock:
            self.next_frame()
        return out

    def next_frame(self) -> None:
        """Step the RTP timestamp and the clock by one frame interval."""
        self.next_ts = (self.next_ts + round(VIDEO_CLOCK_RATE / self.fps)) % TS_MODULUS
        self.advance(1.0 / self.fps)

    def frames(self, count: int, **kwargs) -> list[list[Packet]]:
        """``count`` consecutive frames; a list of packets per frame."""
        return [self.frame(index=i, **kwargs) for i in range(count)]

    def lab_frame(
        self,
        jpeg: bytes | None = None,
        *,
        index: int = 0,
        frame_number: int = 1,
        width: int = 64,
        height: int = 48,
    ) -> Packet:
        """The lab's RTP form: the whole JPEG file as payload, no RFC 2435 header, SSRC 0,
        the frame number as sequence and marker clear (the lab's RtpPacket.py)."""
        jpeg = jpeg or make_test_jpeg(width, height, index=index)
        pkt = self.rtp(jpeg, sequence=frame_number, ssrc=0, timestamp=int(self.now))
        self.advance(1.0 / self.fps)
        return pkt

    def lab_frames(self, count: int, **kwargs) -> list[Packet]:
        """``count`` frames in the lab's form, numbered from 1."""
        return [self.lab_frame(index=i, frame_number=i + 1, **kwargs) for i in range(count)]

    def bye(self, *, cname: str = "crafted@server", reason: str = "") -> Packet:
        """A compound RTCP SR + SDES + BYE for the stream (RFC 3550 §6.6)."""
        pkt = self.sender_report(cname=cname)
        bye = RTCP(packet_type=RTCP_BYE, count=1, bye_sources=[self.stream.ssrc])
        if reason:
            text = bytes([len(reason)]) + reason.encode()
            bye.trailer = text + bytes(-len(text) % 4)
        pkt[RTCP].payload.add_payload(bye)
        return pkt

    def sender_report(self, *, cname: str = "crafted@server") -> Packet:
        """A compound RTCP SR + SDES CNAME for the stream (RFC 3550 §6.4.1, §6.5)."""
        ntp = int((self.now + NTP_UNIX_OFFSET) * NTP_FRACTION) % NTP_MODULUS
        sr = RTCP(
            packet_type=RTCP_SR,
            sourcesync=self.stream.ssrc,
            sender_info=SenderInfo(
                ntp_timestamp=ntp,
                rtp_timestamp=self.next_ts,
                sender_packet_count=self.rtp_sent,
                sender_octet_count=self.rtp_octets,
            ),
        )
        return self._media(sr / sdes_cname(self.stream.ssrc, cname), rtcp=True, gap=0.0001)

    def receiver_report(
        self, *, reporter_ssrc: int = 0x0C0FFEE0, lost: int = 0, jitter: int = 0
    ) -> Packet:
        """An RTCP RR from the client about the stream, on the client's RTCP port."""
        rr = RTCP(
            packet_type=RTCP_RR,
            count=1,
            sourcesync=reporter_ssrc,
            report_blocks=[
                ReceptionReport(
                    sourcesync=self.stream.ssrc,
                    fraction_lost=0,
                    cumulative_lost=lost,
                    highest_seqnum_recv=(self.next_seq - 1) % SEQ_MODULUS,
                    interarrival_jitter=jitter,
                    last_SR_timestamp=0,
                    delay_since_last_SR=0,
                )
            ],
        )
        layer = rr / sdes_cname(reporter_ssrc, "crafted@client")
        if self.lower is Lower.TCP:
            return self._tcp(
                self.client, self.server, "PA", RTSPInterleaved(channel=self.interleaved[1]) / layer
            )
        pkt = (
            Ether(src=self.client.mac, dst=self.server.mac)
            / IP(src=self.client.ip, dst=self.server.ip)
            / UDP(sport=self.client_rtp_port + 1, dport=self.server_rtp_port + 1)
            / layer
        )
        return self._emit(pkt)

    def udp_noise(self, sport: int = 9999, dport: int = 9998, data: bytes = b"noise") -> Packet:
        """An unrelated UDP datagram between the same hosts."""
        pkt = (
            Ether(src=self.client.mac, dst=self.server.mac)
            / IP(src=self.client.ip, dst=self.server.ip)
            / UDP(sport=sport, dport=dport)
            / Raw(data)
        )
        return self._emit(pkt)


def sdes_cname(ssrc: int, cname: str) -> Packet:
    """An SDES packet with one CNAME; the chunk adds END and pads to 32 bits (RFC 3550 §6.5)."""
    chunk = SDESChunk(
        sourcesync=ssrc, items=[SDESItem(chunk_type=SDES_CNAME, value=cname.encode())]
    )
    return RTCP(packet_type=RTCP_SDES, count=1, sdes_chunks=[chunk])
