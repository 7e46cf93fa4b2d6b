"""Scapy layers for RTSP/RTP/RTCP carrying RFC 2435 (RTP/JPEG).

``from analysis.layers import *`` in the scapy shell gives ``RTP``, ``RTCP``, the three
RFC 2435 headers, the RTSP interleaved frame and ``decode_negotiated_flows``; then
``RTP(raw).show()`` prints the JPEG fields of a payload-type 26 packet.

What Scapy ships, and what this module adds:

* ``scapy.layers.rtp.RTP`` is reused through a subclass. Scapy's RTP leaves the padding
  bytes (P bit, RFC 3550 §5.1) inside the payload, which would corrupt every reassembled
  JPEG; our ``RTP`` splits them off as a ``Padding`` layer and binds payload type 26 to
  ``JPEG``. The binding is also made on Scapy's own class, so both show the JPEG fields.
  Scapy's ``RTPExtension`` ends the dissection with Raw; ``RTPHeaderExtension`` goes on
  to ``JPEG`` when the RTP payload type is 26.
* ``scapy.contrib.rtcp.RTCP`` is reused through a subclass. Scapy's class reads one packet
  and computes ``length`` over the whole compound datagram when building; it knows no BYE
  or APP fields; its SDES items read END as two octets and lengths as signed, and its
  chunks are not padded to 32 bits, so ``SDESItem`` and ``SDESChunk`` are our own. Our ``RTCP`` cuts each packet at its length field, chains the next packet
  of a compound datagram as its payload, keeps bytes its fields do not describe (SDES
  padding, APP data, RTCP padding, unknown types) in ``trailer``, and reads BYE and APP.
* ``scapy.contrib.rtsp.RTSP`` is reused for RTSP messages, but it binds only TCP port 554
  and cannot read the ``$`` interleaved frames of RFC 2326 §10.12 that share the TCP
  connection. ``RTSPInterleaved`` reads them (RTP on even channels, RTCP on odd ones, as
  interleaved=0-1 pairs them), and ``RTSPOverTCP`` chooses between a frame and a message
  by the first byte; it is bound on 554 (replacing Scapy's binding) and 8554.
* Scapy has no RFC 2435 layers: ``JPEG``, ``JPEGRestartMarker`` and
  ``JPEGQuantizationTable`` are new, and ``WholeJPEG`` names a PT 26 payload that is a
  whole JPEG file with no RFC 2435 header (what the lab's server sends).

It is longer than 500 lines because it is the one module a Scapy shell user imports: every
layer beside its ``bind_layers`` lines, as Scapy's own contrib modules keep them.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from scapy.contrib.rtcp import RTCP as ScapyRTCP
from scapy.contrib.rtcp import ReceptionReport, SenderInfo
from scapy.contrib.rtsp import RTSP, RTSPRequest, RTSPResponse
from scapy.fields import (
    BitField,
    ByteEnumField,
    ByteField,
    ConditionalField,
    FieldLenField,
    FieldListField,
    FlagsField,
    IntField,
    PacketListField,
    ShortField,
    StrField,
    StrFixedLenField,
    StrLenField,
    ThreeBytesField,
    XByteField,
    XIntField,
)
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.rtp import RTP as ScapyRTP
from scapy.layers.rtp import RTPExtension
from scapy.packet import Packet, Padding, Raw, bind_layers, split_layers

from analysis.payloads.jpeg import (
    PIXELS_PER_UNIT,
    PT_JPEG,
    Q_INBAND_FIRST,
    RESTART_COUNT_ALL,
    TYPE_RESTART_FIRST,
    TYPE_RESTART_LAST,
)
from analysis.streams.rtp import RTP_VERSION, RTP_VERSION_SHIFT
from analysis.wire.rtcp import RTCP_APP, RTCP_BYE, RTCP_SDES, RTCP_WORD
from analysis.wire.rtsp import INTERLEAVED_MAGIC
from analysis.wire.rtsp_headers import port_pairs, transport_header_values

__all__ = [
    "RTP",
    "RTPExtension",
    "RTPHeaderExtension",
    "RTCP",
    "SenderInfo",
    "ReceptionReport",
    "SDESChunk",
    "SDESItem",
    "JPEG",
    "JPEGRestartMarker",
    "JPEGQuantizationTable",
    "WholeJPEG",
    "RTSPInterleaved",
    "RTSPOverTCP",
    "RTSP",
    "RTSPRequest",
    "RTSPResponse",
    "NegotiatedFlow",
    "find_negotiated_flows",
    "decode_negotiated_flows",
    "bind_rtsp_port",
    "PT_JPEG",
    "RTSP_DEFAULT_PORTS",
    "Ether",
    "IP",
    "TCP",
    "UDP",
]

log = logging.getLogger(__name__)

# RFC 2326 §3.2: 554 is the registered port; 8554 is the customary unprivileged one.
RTSP_DEFAULT_PORTS = (554, 8554)
# RFC 2435 §3.1.7: types 64..127 carry a Restart Marker header.
JPEG_RESTART_TYPES = range(TYPE_RESTART_FIRST, TYPE_RESTART_LAST + 1)
# RFC 3550 §6.4.1-§6.6: RTCP packet types.
# RFC 5761 §4: RTCP packet types occupy 192-223 in the octet where RTP has M and PT.
RTCP_PACKET_TYPES = range(192, 224)

_JPEG_TYPES = {
    0: "4:2:2 (YUV 2h1v)",
    1: "4:2:0 (YUV 2h2v)",
    64: "4:2:2 + restart markers",
    65: "4:2:0 + restart markers",
}


class PixelsField(ByteField):
    """One byte in 8-pixel units (RFC 2435 §3.1.5); shown with its size in pixels."""

    def i2repr(self, pkt, x):
        if x is None:
            return "None"
        return f"{x} ({x * PIXELS_PER_UNIT} px)"


class RTP(ScapyRTP):
    """RTP fixed header (RFC 3550 §5.1) with padding split off and PT 26 decoded as JPEG."""

    name = "RTP"

    def guess_payload_class(self, payload):
        if self.extension:
            return RTPHeaderExtension
        if self.payload_type == PT_JPEG:
            return _jpeg_payload_class(payload)
        return super().guess_payload_class(payload)

    def extract_padding(self, s):
        # RFC 3550 §5.1: with P set, the last payload octet counts the padding octets
        # (itself included). A count beyond the payload is malformed: keep it all as payload.
        if self.padding and s:
            count = s[-1]
            if 0 < count <= len(s):
                return s[:-count], s[-count:]
        return s, None


# A JPEG file starts with SOI (FF D8) and then another marker (FF xx): ITU T.81 B.1.1.
JPEG_FILE_START = b"\xff\xd8\xff"


class WholeJPEG(Packet):
    """A whole JPEG file as the RTP payload, with no RFC 2435 header: the lab's format.

    Read as RFC 2435 it would claim type-specific 0xFF and a fragment offset near 14 MB,
    so a payload starting with SOI and a marker is taken for a file, not a header.
    """

    name = "Whole JPEG file (no RFC 2435 header; the lab's format)"
    fields_desc = [StrField("jpeg", b"")]

    def mysummary(self):
        return f"whole JPEG file, {len(self.jpeg)} bytes, no RFC 2435 header"


def _jpeg_payload_class(payload: bytes) -> type[Packet]:
    return WholeJPEG if payload[:3] == JPEG_FILE_START else JPEG


class RTPHeaderExtension(RTPExtension):
    """RTP header extension (RFC 3550 §5.3.1) that hands a PT 26 payload on to ``JPEG``."""

    name = "RTP extension"

    def guess_payload_class(self, payload):
        rtp = self.underlayer
        if isinstance(rtp, ScapyRTP) and rtp.payload_type == PT_JPEG:
            return _jpeg_payload_class(payload)
        return Raw


class JPEG(Packet):
    """RFC 2435 §3.1 main JPEG header: 8 bytes in front of every fragment."""

    name = "RFC 2435 JPEG"
    fields_desc = [
        ByteField("type_specific", 0),
        ThreeBytesField("offset", 0),
        ByteEnumField("type", 1, _JPEG_TYPES),
        ByteField("q", 255),
        PixelsField("width", 80),
        PixelsField("height", 60),
    ]

    def guess_payload_class(self, payload):
        if self.type in JPEG_RESTART_TYPES:
            return JPEGRestartMarker
        if self.offset == 0 and self.q >= Q_INBAND_FIRST:
            return JPEGQuantizationTable
        return Raw

    def mysummary(self):
        return (
            self.sprintf("JPEG type=%JPEG.type% q=%JPEG.q% offset=%JPEG.offset% ")
            + f"{self.width * PIXELS_PER_UNIT}x{self.height * PIXELS_PER_UNIT}"
        )

    @property
    def width_pixels(self) -> int:
        """Width in pixels."""
        return self.width * PIXELS_PER_UNIT

    @property
    def height_pixels(self) -> int:
        """Height in pixels."""
        return self.height * PIXELS_PER_UNIT


class JPEGRestartMarker(Packet):
    """RFC 2435 §3.1.7 Restart Marker header (types 64-127), after the main header."""

    name = "RFC 2435 Restart Marker"
    fields_desc = [
        ShortField("restart_interval", 0),
        BitField("first", 1, 1),
        BitField("last", 1, 1),
        BitField("restart_count", RESTART_COUNT_ALL, 14),
    ]

    def guess_payload_class(self, payload):
        main = self.underlayer
        if isinstance(main, JPEG) and main.offset == 0 and main.q >= Q_INBAND_FIRST:
            return JPEGQuantizationTable
        return Raw


class JPEGQuantizationTable(Packet):
    """RFC 2435 §3.1.8 Quantization Table header, on the first fragment when Q >= 128."""

    name = "RFC 2435 Quantization Table"
    fields_desc = [
        ByteField("mbz", 0),
        FlagsField(
            "precision", 0, 8, ["table0_16bit", "table1_16bit", "t2", "t3", "t4", "t5", "t6", "t7"]
        ),
        FieldLenField("length", None, length_of="tables", fmt="!H"),
        # A length beyond the packet yields the bytes there are; the checker flags it.
        StrLenField("tables", b"", length_from=lambda pkt: pkt.length),
    ]

    def guess_payload_class(self, payload):
        return Raw


SDES_END = 0
_SDES_ITEM_TYPES = {
    0: "END",
    1: "CNAME",
    2: "NAME",
    3: "EMAIL",
    4: "PHONE",
    5: "LOC",
    6: "TOOL",
    7: "NOTE",
    8: "PRIV",
}


class SDESItem(Packet):
    """SDES item (RFC 3550 §6.5): type, length, text; END is the single null octet."""

    name = "SDES item"
    fields_desc = [
        ByteEnumField("chunk_type", 1, _SDES_ITEM_TYPES),
        ConditionalField(
            FieldLenField("length", None, length_of="value", fmt="B"),
            lambda pkt: pkt.chunk_type != SDES_END,
        ),
        ConditionalField(
            StrLenField("value", b"", length_from=lambda pkt: pkt.length),
            lambda pkt: pkt.chunk_type != SDES_END,
        ),
    ]

    def extract_padding(self, s):
        return b"", s


def _next_sdes_item(pkt, items, current, remain):
    if not remain or (current is not None and current.chunk_type == SDES_END):
        return None
    return SDESItem


def _chunk_pad_length(pkt) -> int:
    used = 4 + sum(len(bytes(item)) for item in pkt.items)
    return -used % RTCP_WORD


class SDESChunk(Packet):
    """SDES chunk (RFC 3550 §6.5): SSRC, items up to END, null octets to a 32-bit boundary.

    Built without ``pad``, it ends its item list with END if needed and pads itself.
    """

    name = "SDES chunk"
    fields_desc = [
        IntField("sourcesync", 0),
        PacketListField("items", [], SDESItem, next_cls_cb=_next_sdes_item),
        StrLenField("pad", None, length_from=_chunk_pad_length),  # type: ignore[arg-type]
    ]

    def post_build(self, pkt, pay):
        if self.pad is None:
            if not self.items or self.items[-1].chunk_type != SDES_END:
                pkt += bytes(1)  # the END item
            pkt += bytes(-len(pkt) % RTCP_WORD)
        return pkt + pay

    def extract_padding(self, s):
        return b"", s


def _with_our_sdes_chunks(fields: list) -> list:
    """Scapy's RTCP fields, with SDES chunks read by our ``SDESChunk``."""
    out = []
    for f in fields:
        if f.name == "sdes_chunks":
            f = ConditionalField(
                PacketListField(
                    "sdes_chunks", None, pkt_cls=SDESChunk, count_from=lambda pkt: pkt.count
                ),
                lambda pkt: pkt.packet_type == RTCP_SDES,
            )
        out.append(f)
    return out


class RTCP(ScapyRTCP):
    """One RTCP packet (RFC 3550 §6); the next packet of a compound datagram is its payload."""

    name = "RTCP"
    fields_desc = _with_our_sdes_chunks(ScapyRTCP.fields_desc) + [
        # RFC 3550 §6.6 BYE: SC source identifiers (the SSRC count sits in ``count``).
        ConditionalField(
            FieldListField(
                "bye_sources", [], XIntField("ssrc", 0), count_from=lambda pkt: pkt.count
            ),
            lambda pkt: pkt.packet_type == RTCP_BYE,
        ),
        # RFC 3550 §6.7 APP: SSRC/CSRC and a four-character name; the data goes to trailer.
        ConditionalField(XIntField("app_source", 0), lambda pkt: pkt.packet_type == RTCP_APP),
        ConditionalField(
            StrFixedLenField("app_name", b"    ", 4), lambda pkt: pkt.packet_type == RTCP_APP
        ),
        # Whatever the fields above leave inside this packet's length.
        StrField("trailer", b""),
    ]

    def do_dissect(self, s):
        if len(s) >= RTCP_WORD:
            size = (struct.unpack_from("!H", s, 2)[0] + 1) * RTCP_WORD
        else:
            size = len(s)
        body, self._compound_rest = s[:size], s[size:]
        try:
            super().do_dissect(body)
        except (struct.error, IndexError, ValueError):
            log.debug("RTCP packet shorter than its fields; kept as trailer", exc_info=True)
        return self._compound_rest

    def extract_padding(self, s):
        return s, None

    def guess_payload_class(self, payload):
        if len(payload) >= RTCP_WORD:
            return RTCP
        return Padding

    def post_build(self, pkt, pay):
        # Scapy's RTCP counts the following packets of a compound datagram in the length.
        if self.length is None:
            pkt = pkt[:2] + struct.pack("!H", len(pkt) // RTCP_WORD - 1) + pkt[4:]
        return pkt + pay


class RTSPInterleaved(Packet):
    """RFC 2326 §10.12 interleaved frame: '$', channel, length, then an RTP or RTCP packet."""

    name = "RTSP Interleaved Frame"
    fields_desc = [
        XByteField("magic", INTERLEAVED_MAGIC),
        ByteField("channel", 0),
        ShortField("length", None),
    ]

    def post_build(self, pkt, pay):
        if self.length is None:
            pkt = pkt[:2] + struct.pack("!H", len(pay)) + pkt[4:]
        return pkt + pay

    def dissect(self, s):
        s = self.pre_dissect(s)
        s = self.do_dissect(s)
        s = self.post_dissect(s)
        payload, rest = s[: self.length], s[self.length :]
        self.do_dissect_payload(payload)
        # A TCP segment may hold several frames, or a frame then an RTSP message.
        if rest:
            self.add_payload(RTSPOverTCP(rest))

    def guess_payload_class(self, payload):
        # Not version 2: neither RTP nor RTCP (RFC 3550 §5.1, §6.4.1).
        if len(payload) < RTCP_WORD or payload[0] >> RTP_VERSION_SHIFT != RTP_VERSION:
            return Raw
        # RFC 5761 §4: the second octet tells RTCP (types 192-223) from RTP on one channel.
        if payload[1] in RTCP_PACKET_TYPES:
            return RTCP
        # RTSP pairs channels as interleaved=n-(n+1): RTP on the even one, RTCP on the odd.
        if self.channel % 2 == 0:
            return RTP
        return RTCP


class RTSPOverTCP(Packet):
    """What an RTSP TCP connection carries: an interleaved frame ('$') or an RTSP message."""

    name = "RTSP over TCP"

    @classmethod
    def dispatch_hook(cls, _pkt=None, *args, **kargs):
        if _pkt and _pkt[:1] == bytes([INTERLEAVED_MAGIC]):
            return RTSPInterleaved
        return RTSP


def bind_rtsp_port(port: int) -> None:
    """Decode TCP traffic to or from ``port`` as RTSP messages and interleaved frames."""
    split_layers(TCP, RTSP, sport=port)
    split_layers(TCP, RTSP, dport=port)
    for fval in ({"sport": port}, {"dport": port}):
        if (fval, RTSPOverTCP) not in TCP.payload_guess:
            bind_layers(TCP, RTSPOverTCP, **fval)


for _port in RTSP_DEFAULT_PORTS:
    bind_rtsp_port(_port)
bind_layers(RTP, JPEG, payload_type=PT_JPEG)
bind_layers(ScapyRTP, JPEG, payload_type=PT_JPEG)


# --- Conversation-based decoding, as Wireshark does from SETUP replies -------------------


@dataclass(frozen=True)
class NegotiatedFlow:
    """The ports one SETUP exchange agreed for RTP and RTCP (RFC 2326 §12.39)."""

    rtsp_port: int
    client_ports: tuple[int, int] | None = None
    server_ports: tuple[int, int] | None = None
    interleaved: tuple[int, int] | None = None
    transport: str = ""

    @property
    def rtp_ports(self) -> set[int]:
        """The RTP (even) port of each side."""
        return {p[0] for p in (self.client_ports, self.server_ports) if p}

    @property
    def rtcp_ports(self) -> set[int]:
        """The RTCP (odd) port of each side."""
        return {p[1] for p in (self.client_ports, self.server_ports) if p}


def find_negotiated_flows(packets: Iterable[Packet]) -> list[NegotiatedFlow]:
    """Read the Transport headers of RTSP SETUP replies (and requests) in ``packets``.

    The reply's Transport is what the server agreed; a request's Transport is kept only as a
    fallback, because the lab's server answers without one.
    """
    flows: list[NegotiatedFlow] = []
    seen: set[tuple] = set()
    for pkt in packets:
        if TCP not in pkt:
            continue
        data = bytes(pkt[TCP].payload)
        for text in transport_header_values(data):
            pairs = port_pairs(text)
            if not pairs:
                continue
            is_reply = data.startswith(b"RTSP/")
            rtsp_port = pkt[TCP].sport if is_reply else pkt[TCP].dport
            key = (
                rtsp_port,
                pairs.get("client_port"),
                pairs.get("server_port"),
                pairs.get("interleaved"),
            )
            if key in seen:
                continue
            seen.add(key)
            flows.append(
                NegotiatedFlow(
                    rtsp_port,
                    pairs.get("client_port"),
                    pairs.get("server_port"),
                    pairs.get("interleaved"),
                    text,
                )
            )
    return flows


def decode_negotiated_flows(packets: Iterable[Packet]) -> list[Packet]:
    """Re-dissect ``packets`` with RTP/RTCP bound on the UDP ports their SETUPs negotiated.

    Like Wireshark's conversation-based decoding: the RTSP exchange in the capture says which
    UDP ports carry RTP (the first of each pair) and RTCP (the second), so no "Decode As" is
    needed. Returns new packets. The UDP ports are bound for these packets only; the RTSP
    ports found are bound globally (``bind_rtsp_port``), as a shell user would expect.
    """
    packets = list(packets)
    flows = find_negotiated_flows(packets)
    rtp_ports: set[int] = set()
    rtcp_ports: set[int] = set()
    for flow in flows:
        bind_rtsp_port(flow.rtsp_port)
        rtp_ports |= flow.rtp_ports
        rtcp_ports |= flow.rtcp_ports
    decoded = []
    for pkt in packets:
        if TCP in pkt and not isinstance(pkt[TCP].payload, (RTSPInterleaved, RTSP)):
            if {pkt[TCP].sport, pkt[TCP].dport} & {f.rtsp_port for f in flows}:
                redissected = pkt.__class__(bytes(pkt))
                redissected.time = pkt.time
                pkt = redissected
        if UDP in pkt and not isinstance(pkt[UDP].payload, (RTP, RTCP)):
            udp = pkt[UDP]
            ports = {udp.sport, udp.dport}
            cls: type[Packet] | None = None
            if ports & rtp_ports:
                cls = RTP
            elif ports & rtcp_ports:
                cls = RTCP
            if cls is not None:
                new = pkt.copy()
                payload = bytes(udp.payload)
                new[UDP].remove_payload()
                new[UDP].add_payload(cls(payload))
                new.time = pkt.time
                decoded.append(new)
                continue
        decoded.append(pkt)
    return decoded
