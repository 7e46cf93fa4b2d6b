"""Synthetic traffic written straight to classic pcap, fast enough for benchmarks.

Scapy builds a packet in tens of microseconds; a benchmark capture of 80,000 packets
wants raw bytes. This writer frames payloads in Ethernet/IPv4/UDP or TCP itself; its
sessions send JPEGs packetized by ``analysis.craft.jpeg_parts``.
"""

from __future__ import annotations

import io
import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO

from analysis.craft.jpeg_parts import JPEGParts, rfc2435_payloads
from analysis.payloads.jpeg import PT_JPEG, Q_ALWAYS_INBAND
from analysis.payloads.seq_columns import RTP_MARKER_SHIFT
from analysis.pcap.writer import PcapFileWriter
from analysis.streams.media_format import VIDEO_CLOCK_RATE
from analysis.streams.rtp import (
    RTP_VERSION,
    RTP_VERSION_SHIFT,
    SEQ_MODULUS,
    TS_MODULUS,
)
from analysis.wire.inet import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    UDP_HEADER_LEN,
    internet_checksum,
)
from analysis.wire.rtcp import NTP_FRACTION, NTP_UNIX_OFFSET, RTCP_SR, RTCP_VERSION
from analysis.wire.rtsp import INTERLEAVED_MAGIC

DEFAULT_TTL = 64
TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}
_MAC_CLIENT = bytes.fromhex("020000000002")
_MAC_SERVER = bytes.fromhex("020000000001")


def _ip(addr: str) -> bytes:
    return bytes(int(x) for x in addr.split("."))


class PcapSynth:
    """Collects Ethernet/IPv4 frames as a classic microsecond pcap: in memory, or streamed
    into the binary file ``out`` as they are made (so a capture of GB never sits in memory)."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self._out: BinaryIO = io.BytesIO() if out is None else out
        self._writer = PcapFileWriter(self._out)
        self.count = 0
        self._ip_id = 0

    def frame(self, t: float, frame: bytes) -> int:
        """Append one link-layer frame at time ``t``; returns its packet number."""
        self._writer.write(frame, t)
        self.count += 1
        return self.count

    def _ipv4(self, t: float, src: str, dst: str, proto: int, l4: bytes) -> int:
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        header = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), self._ip_id, 0x4000, DEFAULT_TTL, proto, 0,
            _ip(src), _ip(dst),
        )  # fmt: skip
        header = header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:]
        eth = _MAC_SERVER + _MAC_CLIENT + struct.pack("!H", ETHERTYPE_IPV4)
        return self.frame(t, eth + header + l4)

    def _ipv6(self, t: float, src: str, dst: str, proto: int, l4: bytes) -> int:
        header = struct.pack("!IHBB", 6 << 28, len(l4), proto, DEFAULT_TTL)
        header += ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed
        eth = _MAC_SERVER + _MAC_CLIENT + struct.pack("!H", ETHERTYPE_IPV6)
        return self.frame(t, eth + header + l4)

    def _ip_packet(self, t: float, src: str, dst: str, proto: int, l4: bytes) -> int:
        if ":" in src:
            return self._ipv6(t, src, dst, proto, l4)
        return self._ipv4(t, src, dst, proto, l4)

    def udp(self, t: float, src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> int:
        """Append a UDP datagram (IPv4: checksum 0, "none"; IPv6: computed, RFC 8200 §8.1)."""
        l4 = struct.pack("!HHHH", src[1], dst[1], UDP_HEADER_LEN + len(payload), 0) + payload
        if ":" in src[0]:
            pseudo = (
                ipaddress.IPv6Address(src[0]).packed + ipaddress.IPv6Address(dst[0]).packed
                + struct.pack("!IxxxB", len(l4), IPPROTO_UDP)
            )  # fmt: skip
            checksum = internet_checksum(pseudo + l4) or 0xFFFF  # RFC 768: 0 means "none"
            l4 = l4[:6] + struct.pack("!H", checksum) + l4[8:]
        return self._ip_packet(t, src[0], dst[0], IPPROTO_UDP, l4)

    def tcp(
        self,
        t: float,
        src: tuple[str, int],
        dst: tuple[str, int],
        seq: int,
        ack: int,
        flags: str,
        payload: bytes = b"",
    ) -> int:
        """Append a TCP segment; ``flags`` in letters, e.g. "PA"."""
        bits = sum(TCP_FLAGS[f] for f in flags)
        l4 = struct.pack(
            "!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, bits, 65535, 0, 0
        ) + payload  # fmt: skip
        return self._ip_packet(t, src[0], dst[0], IPPROTO_TCP, l4)

    def getvalue(self) -> bytes:
        """The pcap file's bytes so far (collected in memory only)."""
        return self._out.getvalue()  # type: ignore[attr-defined]  # BytesIO unless ``out``

    def write(self, path: str | Path) -> Path:
        """Write the pcap file to ``path``."""
        path = Path(path)
        path.write_bytes(self.getvalue())
        return path


class TCPConversation:
    """Both directions of one TCP connection, keeping sequence numbers right."""

    MSS = 1448

    def __init__(self, synth: PcapSynth, client: tuple[str, int], server: tuple[str, int]) -> None:
        self.synth, self.client, self.server = synth, client, server
        self.seq = {True: 1_000_000, False: 2_000_000}  # keyed by "from client"

    def open(self, t: float) -> None:
        """The three-way handshake, starting at ``t``."""
        s = self.synth
        s.tcp(t, self.client, self.server, self.seq[True], 0, "S")
        self.seq[True] += 1
        s.tcp(t + 0.0001, self.server, self.client, self.seq[False], self.seq[True], "SA")
        self.seq[False] += 1
        s.tcp(t + 0.0002, self.client, self.server, self.seq[True], self.seq[False], "A")

    def send(self, t: float, from_client: bool, data: bytes) -> list[int]:
        """Send bytes in MSS-sized segments; returns their packet numbers."""
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        pktnos = []
        for i in range(0, len(data), self.MSS):
            piece = data[i : i + self.MSS]
            pktnos.append(
                self.synth.tcp(
                    t, src, dst, self.seq[from_client], self.seq[not from_client], "PA", piece
                )
            )
            self.seq[from_client] += len(piece)
        return pktnos

    def close(self, t: float) -> None:
        """FIN from each side, starting at ``t``."""
        s = self.synth
        s.tcp(t, self.client, self.server, self.seq[True], self.seq[False], "FA")
        self.seq[True] += 1
        s.tcp(t + 0.0001, self.server, self.client, self.seq[False], self.seq[True], "FA")
        self.seq[False] += 1


def rtp_header(
    seq: int,
    ts: int,
    ssrc: int,
    pt: int = PT_JPEG,
    marker: bool = False,
    version: int = RTP_VERSION,
) -> bytes:
    """A 12-byte RTP fixed header (RFC 3550 §5.1)."""
    return struct.pack(
        "!BBHII",
        version << RTP_VERSION_SHIFT,
        (marker << RTP_MARKER_SHIFT) | pt,
        seq % SEQ_MODULUS,
        ts % TS_MODULUS,
        ssrc,
    )


INTERLEAVED_RTP_CHANNEL = 0  # the Transport header's interleaved=0-1: RTCP on channel 1
SR_LENGTH_WORDS = 6  # RFC 3550 §6.4.1: an SR without report blocks is 7 words, length 7 - 1


class Event(IntEnum):
    """What a session sends, in the order same-time events are written."""

    OPEN = 0  # the TCP connection
    RTSP = 1
    RTP = 2
    RTCP = 3
    DATAGRAM = 4  # anything else on the RTP/RTCP ports (keep-alives, probes)
    CLOSE = 5


@dataclass
class SynthRTP:
    """One RTP packet to be written; fields are editable before writing."""

    t: float
    seq: int
    ts: int
    marker: bool
    payload: bytes
    ssrc: int
    pt: int = PT_JPEG
    version: int = RTP_VERSION
    frame: int = 0  # index of the frame it belongs to
    dst_port: int | None = None  # None: the negotiated client port

    def to_bytes(self) -> bytes:
        """The RTP header and payload."""
        return (
            rtp_header(self.seq, self.ts, self.ssrc, self.pt, self.marker, self.version)
            + self.payload
        )


@dataclass
class SynthMessage:
    """One RTSP message on the TCP connection."""

    t: float
    from_client: bool
    data: bytes


@dataclass
class SynthDatagram:
    """A datagram between the session's RTP (or RTCP) ports that is not the server's media:
    a client's keep-alive toward the server, a stray packet."""

    t: float
    from_client: bool
    payload: bytes
    rtcp: bool = False


class SynthSession:
    """A whole RTSP session (OPTIONS .. TEARDOWN over TCP, RTP and RTCP over UDP) kept as
    editable lists, so that tests can put one defect in before writing.

    ``messages`` and ``rtp`` hold everything in order; ``write_into`` frames them.
    ``media_description`` replaces the SDP's JPEG m= section; ``rtp`` stays JPEG, so a
    caller that announces other media sends that media itself.
    """

    def __init__(
        self,
        frames: list[JPEGParts],
        *,
        count: int = 45,
        fps: int = 30,
        t0: float = 1_700_000_000.0,
        client_ip: str = "10.0.0.2",
        server_ip: str = "10.0.0.1",
        rtsp_client_port: int = 40000,
        rtsp_port: int = 8554,
        client_rtp_port: int = 50000,
        server_rtp_port: int = 6000,
        ssrc: int = 0x1234ABCD,
        seq0: int = 31000,
        ts0: int = 1_234_567,
        max_payload: int = 1400,
        session_id: str = "5EC0A1B2",
        sender_reports: bool = True,
        interleaved: bool = False,
        q: int = Q_ALWAYS_INBAND,
        media_description: str | None = None,
    ) -> None:
        self.client_ip, self.server_ip = client_ip, server_ip
        self.rtsp_client_port, self.rtsp_port = rtsp_client_port, rtsp_port
        self.client_rtp_port, self.server_rtp_port = client_rtp_port, server_rtp_port
        self.ssrc, self.fps, self.ts0, self.t0 = ssrc, fps, ts0, t0
        self.session_id = session_id
        host = f"[{server_ip}]" if ":" in server_ip else server_ip
        url = f"rtsp://{host}:{rtsp_port}/clip"
        family = "IP6" if ":" in server_ip else "IP4"
        w, h = frames[0].width, frames[0].height
        media = media_description or (
            f"m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=framerate:{fps}\r\n"
            f"a=x-dimensions:{w},{h}\r\n"
        )
        sdp = (
            f"v=0\r\no=- 1 1 IN {family} {server_ip}\r\ns=clip\r\nc=IN {family} {server_ip}\r\nt=0 0\r\n"
            f"{media}a=control:stream=0\r\n"
        ).encode()
        self.interleaved = interleaved
        if interleaved:  # RFC 2326 §10.12: RTP on channel 0, RTCP on 1 of the RTSP connection
            transport = reply_transport = "RTP/AVP/TCP;unicast;interleaved=0-1"
        else:
            transport = f"RTP/AVP;unicast;client_port={client_rtp_port}-{client_rtp_port + 1}"
            reply_transport = transport + f";server_port={server_rtp_port}-{server_rtp_port + 1}"
        t = t0
        self.messages: list[SynthMessage] = []

        def exchange(
            method: str, uri: str, cseq: int, req_headers: str, resp_headers: str, body=b""
        ):
            nonlocal t
            self.messages.append(
                SynthMessage(
                    t,
                    True,
                    f"{method} {uri} RTSP/1.0\r\nCSeq: {cseq}\r\n{req_headers}\r\n".encode(),
                )
            )
            length = f"Content-Length: {len(body)}\r\n" if body else ""
            self.messages.append(
                SynthMessage(
                    t + 0.002,
                    False,
                    f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{resp_headers}{length}\r\n".encode()
                    + body,
                )
            )
            t += 0.005

        session = f"Session: {session_id}\r\n"
        exchange(
            "OPTIONS", url, 1, "", "Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN\r\n"
        )
        exchange(
            "DESCRIBE",
            url,
            2,
            "Accept: application/sdp\r\n",
            "Content-Type: application/sdp\r\n",
            sdp,
        )
        exchange(
            "SETUP", url + "/stream=0", 3, f"Transport: {transport}\r\n",
            f"Transport: {reply_transport}\r\nSession: {session_id};timeout=60\r\n",
        )  # fmt: skip
        self.play_time = t
        rtp_info = f"RTP-Info: url={url}/stream=0;seq={seq0};rtptime={ts0}\r\n"
        exchange("PLAY", url, 4, session + "Range: npt=0-\r\n", session + rtp_info)
        self.rtp: list[SynthRTP] = []
        step = VIDEO_CLOCK_RATE // fps
        start = t
        for i in range(count):
            payloads = rfc2435_payloads(frames[i % len(frames)], max_payload, q)
            ft = start + i / fps
            for k, payload in enumerate(payloads):
                self.rtp.append(
                    SynthRTP(
                        ft + k * 0.0002, (seq0 + len(self.rtp)) % SEQ_MODULUS, (ts0 + i * step) % TS_MODULUS,
                        k == len(payloads) - 1, payload, ssrc, frame=i,
                    )
                )  # fmt: skip
        t = start + count / fps + 0.02
        self.teardown_time = t
        exchange("TEARDOWN", url, 5, session, session)
        self.end_time = t
        self.sender_reports = sender_reports
        self.report_interval = 1.0  # seconds between sender reports
        self.datagrams: list[SynthDatagram] = []

    def frame_packets(self, index: int) -> list[SynthRTP]:
        """The packets of frame ``index`` in sending order."""
        return [p for p in self.rtp if p.frame == index]

    def _reports(self) -> list[tuple[float, bytes]]:
        """Sender reports at the start of play and every second, on the sender's clock."""
        out = []
        t = self.play_time + 0.004
        while self.sender_reports and t < self.teardown_time:
            sent = [p for p in self.rtp if p.t < t and p.ssrc == self.ssrc]
            rtp_ts = self.ts0 + round((t - self.play_time - 0.005) * VIDEO_CLOCK_RATE)
            sr = sender_report(self.ssrc, t, rtp_ts, len(sent), sum(len(p.payload) for p in sent))
            out.append((t, sr))
            t += self.report_interval
        return out

    def events(self) -> list[tuple[float, Event, Any]]:
        """(time, kind, item) of everything the session sends: an RTSP message, an RTP
        packet, an RTCP report, or None for opening and closing the connection."""
        # The item's type follows from its kind (see write_sessions).
        events: list[tuple[float, Event, Any]] = [(self.t0 - 0.001, Event.OPEN, None)]
        events += [(m.t, Event.RTSP, m) for m in self.messages]
        events += [(p.t, Event.RTP, p) for p in self.rtp]
        events += [(t, Event.RTCP, sr) for t, sr in self._reports()]
        events += [(d.t, Event.DATAGRAM, d) for d in self.datagrams]
        events.append((self.end_time + 0.01, Event.CLOSE, None))
        return events

    def write_into(self, synth: PcapSynth) -> None:
        """Write the session's packets, in time order, into a capture."""
        write_sessions(synth, [self])

    def write(self, path: str | Path) -> Path:
        """Write the session alone as a pcap file at ``path``."""
        synth = PcapSynth()
        self.write_into(synth)
        return synth.write(path)


def sender_report(ssrc: int, t: float, rtp_ts: int, packets: int, octets: int) -> bytes:
    """An RTCP sender report without report blocks (RFC 3550 §6.4.1) sent at Unix time ``t``."""
    ntp = t + NTP_UNIX_OFFSET
    return struct.pack(
        "!BBHIIIIII", RTCP_VERSION << RTP_VERSION_SHIFT, RTCP_SR, SR_LENGTH_WORDS, ssrc,
        int(ntp), int((ntp % 1) * NTP_FRACTION), rtp_ts % TS_MODULUS, packets, octets,
    )  # fmt: skip


def write_sessions(synth: PcapSynth, sessions: list[SynthSession]) -> None:
    """Write several sessions into one capture, interleaved in time order."""
    conversations = [
        TCPConversation(synth, (s.client_ip, s.rtsp_client_port), (s.server_ip, s.rtsp_port))
        for s in sessions
    ]
    merged = [
        (t, kind, index, item) for index, s in enumerate(sessions) for t, kind, item in s.events()
    ]
    merged.sort(key=lambda e: (e[0], e[1], e[2]))
    for t, kind, index, item in merged:
        s, conv = sessions[index], conversations[index]
        if kind is Event.OPEN:
            conv.open(t)
        elif kind is Event.RTSP:
            conv.send(t, item.from_client, item.data)
        elif kind in (Event.RTP, Event.RTCP) and s.interleaved:
            data = item.to_bytes() if kind is Event.RTP else item
            channel = INTERLEAVED_RTP_CHANNEL if kind is Event.RTP else INTERLEAVED_RTP_CHANNEL + 1
            conv.send(t, False, struct.pack("!BBH", INTERLEAVED_MAGIC, channel, len(data)) + data)
        elif kind is Event.RTP:
            synth.udp(
                t, (s.server_ip, s.server_rtp_port),
                (s.client_ip, item.dst_port or s.client_rtp_port), item.to_bytes(),
            )  # fmt: skip
        elif kind is Event.RTCP:
            synth.udp(
                t, (s.server_ip, s.server_rtp_port + 1), (s.client_ip, s.client_rtp_port + 1), item
            )
        elif kind is Event.DATAGRAM:
            server = (s.server_ip, s.server_rtp_port + item.rtcp)
            client = (s.client_ip, s.client_rtp_port + item.rtcp)
            src, dst = (client, server) if item.from_client else (server, client)
            synth.udp(t, src, dst, item.payload)
        else:
            conv.close(t)
