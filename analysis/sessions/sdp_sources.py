"""Session descriptions for RTP that no RTSP session describes: SDP files the user gives
(ffmpeg's RTP muxer writes one with ``-sdp_file``), and SDP bodies of SIP messages in the
capture (a call's INVITE and 200 OK, RFC 3261 §13 and RFC 3264). Each media section
names the port its RTP is sent to, and so gives that flow's clock and encoding.
"""

from __future__ import annotations

import re
from pathlib import Path

from analysis.errors import AnalysisError
from analysis.wire.flows import Traffic
from analysis.wire.sdp import SDPInfo, SDPMedia, parse_sdp

# RFC 3261 §7.1: a request line "METHOD sip:... SIP/2.0", or a status line "SIP/2.0 200 OK".
_SIP_START = re.compile(rb"^(?:SIP/2\.0 \d{3} |[A-Z]+ sips?:\S+ SIP/2\.0\r?\n)")
_BODY_START = re.compile(rb"\r?\n\r?\n")
SIP_SNIFF_DATAGRAMS = 3  # a flow is read as SIP when one of its first datagrams is


class SDPFileError(AnalysisError):
    """An SDP file named on the command line that cannot be read."""


def read_sdp_file(path: str | Path) -> SDPInfo:
    """An SDP file; raises SDPFileError when it cannot be read or holds no media."""
    try:
        info = parse_sdp(Path(path).read_bytes())
    except OSError as exc:
        raise SDPFileError(f"cannot read SDP file {path}: {exc.strerror or exc}") from exc
    if not info.media:
        raise SDPFileError(f"{path} holds no m= line: not a session description")
    return info


def sip_descriptions(traffic: Traffic) -> list[SDPInfo]:
    """The SDP bodies of SIP messages carried over UDP in the capture."""
    found = []
    for flow in traffic.udp.values():
        head = [flow[i][2] for i in range(min(SIP_SNIFF_DATAGRAMS, len(flow)))]
        if not any(_SIP_START.match(data) for data in head):
            continue
        for _pktno, _t, data in flow:
            if not _SIP_START.match(data) or b"application/sdp" not in data.lower():
                continue
            body = _BODY_START.search(data)
            if body is not None and data[body.end() :].startswith(b"v=0"):
                found.append(parse_sdp(data[body.end() :]))
    return found


def media_by_port(descriptions: list[SDPInfo]) -> dict[int, SDPMedia]:
    """Media sections by the port their RTP goes to (the last description wins: an answer
    follows its offer)."""
    ports = {}
    for info in descriptions:
        for media in info.media:
            if media.port:
                ports[media.port] = media
    return ports
