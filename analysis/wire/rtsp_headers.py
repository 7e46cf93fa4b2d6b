"""RTSP header values the checker needs: Transport (RFC 2326 §12.39) and RTP-Info (§12.33)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis.wire.ascii_numbers import is_decimal

_PORT_PARAMETER = re.compile(
    r"(client_port|server_port|interleaved)[ \t]*=[ \t]*(\d+)(?:[ \t]*-[ \t]*(\d+))?", re.IGNORECASE
)


_TRANSPORT_LINE = re.compile(rb"^transport[ \t]*:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)


def transport_header_values(data: bytes) -> list[str]:
    """The value of every Transport header line in raw RTSP bytes, for readers that scan
    TCP payloads without parsing messages (the live capture filter, the Scapy decoder)."""
    if b"ransport" not in data and b"RANSPORT" not in data:
        return []  # most segments carry media or other headers: skip the regex
    return [m.group(1).decode("latin-1").strip() for m in _TRANSPORT_LINE.finditer(data)]


def port_pairs(value: str) -> dict[str, tuple[int, int]]:
    """client_port, server_port and interleaved of a Transport value, found anywhere in it
    (the first of each wins); a single port n means the pair n, n+1 (RFC 2326 §12.39).

    A quick scan for capture filtering and Scapy decoding; ``parse_transport`` is the
    full reading that reports malformed parameters.
    """
    pairs: dict[str, tuple[int, int]] = {}
    for name, first, second in _PORT_PARAMETER.findall(value):
        low = int(first)
        pairs.setdefault(name.lower(), (low, int(second) if second else low + 1))
    return pairs


@dataclass
class TransportSpec:
    """One transport specification of a Transport header."""

    raw: str
    protocol: str = ""  # "RTP/AVP"
    lower: str = "UDP"  # "UDP" or "TCP"
    unicast: bool = True
    client_ports: tuple[int, int] | None = None
    server_ports: tuple[int, int] | None = None
    interleaved: tuple[int, int] | None = None
    ssrc: int | None = None
    destination: str | None = None
    source: str | None = None
    problems: tuple[str, ...] = ()


def _port_pair(value: str) -> tuple[int, int] | None:
    first, _, second = value.partition("-")
    if not is_decimal(first.strip()):
        return None
    # int() of the stripped text: Python's int() and str.strip() differ on \x1c-\x1f.
    a = int(first.strip())
    b = int(second.strip()) if is_decimal(second.strip()) else a + 1
    return a, b


def parse_transport(value: str) -> list[TransportSpec]:
    """Every comma-separated specification of a Transport header value."""
    specs = []
    for raw in value.split(","):
        raw = raw.strip()
        if not raw:
            continue
        parts = [p.strip() for p in raw.split(";")]
        spec = TransportSpec(raw)
        problems = []
        proto = parts[0].upper().split("/")
        spec.protocol = "/".join(proto[:2])
        spec.lower = proto[2] if len(proto) > 2 else "UDP"
        if spec.protocol != "RTP/AVP":
            problems.append(f"transport protocol {parts[0]!r} is not RTP/AVP")
        for param in parts[1:]:
            name, eq, arg = param.partition("=")
            name = name.strip().lower()
            if name == "unicast":
                spec.unicast = True
            elif name == "multicast":
                spec.unicast = False
            elif name in ("client_port", "server_port", "interleaved"):
                pair = _port_pair(arg)
                if pair is None:
                    problems.append(f"{name}={arg!r} is not a port or port range")
                elif name == "client_port":
                    spec.client_ports = pair
                elif name == "server_port":
                    spec.server_ports = pair
                else:
                    spec.interleaved = pair
            elif name == "ssrc":
                try:
                    spec.ssrc = int(arg, 16)
                except ValueError:
                    problems.append(f"ssrc={arg!r} is not hexadecimal")
            elif name == "destination":
                spec.destination = arg
            elif name == "source":
                spec.source = arg
        spec.problems = tuple(problems)
        specs.append(spec)
    return specs


@dataclass
class RTPInfoEntry:
    """One stream of an RTP-Info header."""

    url: str
    seq: int | None
    rtptime: int | None
    ssrc: int | None = None  # RTSP 2.0 (RFC 7826 §18.45) and some 1.0 servers add it


def parse_rtp_info(value: str) -> list[RTPInfoEntry]:
    """Entries of an RTP-Info header (url=...;seq=...;rtptime=...[;ssrc=...])."""
    entries = []
    for chunk in value.split(","):
        url, seq, rtptime, ssrc = "", None, None, None
        for param in chunk.split(";"):
            name, _, arg = param.strip().partition("=")
            name = name.lower()
            if name == "url":
                url = arg
            elif name == "seq" and is_decimal(arg.strip()):
                seq = int(arg.strip())
            elif name == "rtptime" and is_decimal(arg.strip()):
                rtptime = int(arg.strip())
            elif name == "ssrc":
                try:
                    ssrc = int(arg.strip(), 16)
                except ValueError:
                    ssrc = None
        if url or seq is not None or rtptime is not None:
            entries.append(RTPInfoEntry(url, seq, rtptime, ssrc))
    return entries
