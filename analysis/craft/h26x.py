"""H.264/H.265 access units made up for tests and fuzz seeds, and a plain packetizer for
them (RFC 6184 §5.6-5.8, RFC 7798 §4.4): single NAL unit packets, an aggregation packet for
small units, fragmentation units for large ones. Defects are made by editing its output.

The NAL units are syntax only (headers, first_mb_in_slice / first_slice_segment_in_pic_flag
and filler): enough for the payload rules, not for a decoder.
"""

from __future__ import annotations

import base64

from analysis.payloads.nal_syntax import H264, NalSyntax

H264_SPS = bytes([0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x00, 0xA0, 0x47, 0xFE, 0xC8])  # Baseline 3.0
H264_PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
H265_VPS = bytes([0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF, 0x01, 0x60, 0x00, 0x00])
# Main profile (1), level 93 (3.1): octet 1 of the RBSP holds the profile, octet 12 the level.
H265_SPS = bytes([0x42, 0x01, 0x01, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xA0])
H265_PPS = bytes([0x44, 0x01, 0xC1, 0x72, 0xB4, 0x62, 0x40])
PARAMETER_SETS = {"H.264": [H264_SPS, H264_PPS], "H.265": [H265_VPS, H265_SPS, H265_PPS]}


def slice_nal(syntax: NalSyntax, *, idr: bool, first: bool = True, size: int = 40) -> bytes:
    """A coded slice NAL unit of ``size`` octets: IDR/IRAP or not, opening the picture or not."""
    lead = 0x80 if first else 0x40  # the first bit: first_mb_in_slice == 0 / first-slice flag
    if syntax is H264:
        header = bytes([0x65 if idr else 0x41])
    else:
        kind = 19 if idr else 1  # IDR_W_RADL, TRAIL_R
        header = bytes([kind << 1, 0x01])
    filler = bytes((i * 37 + 11) % 251 + 1 for i in range(max(size - len(header) - 1, 0)))
    return header + bytes([lead]) + filler


def access_unit(syntax: NalSyntax, *, idr: bool, slices: int = 1, size: int = 40) -> list[bytes]:
    """One picture's NAL units: parameter sets first when ``idr``, then its slices."""
    nals = list(PARAMETER_SETS[syntax.name]) if idr else []
    nals += [slice_nal(syntax, idr=idr, first=i == 0, size=size) for i in range(slices)]
    return nals


def packetize(
    syntax: NalSyntax, nals: list[bytes], mtu: int, *, aggregate: bool = True
) -> list[bytes]:
    """RTP payloads for one access unit: NAL units that fit travel alone or, with
    ``aggregate``, two or more together in a STAP-A/AP; larger ones are fragmented."""
    payloads: list[bytes] = []
    pending: list[bytes] = []
    h = syntax.header_len

    def flush() -> None:
        if len(pending) >= 2:
            if syntax is H264:
                header = bytes([(max(n[0] & 0x60 for n in pending)) | 24])
            else:
                header = bytes([48 << 1, 0x01])
            payloads.append(header + b"".join(len(n).to_bytes(2, "big") + n for n in pending))
        else:
            payloads.extend(pending)
        pending.clear()

    for nal in nals:
        if len(nal) <= mtu:
            size = h + sum(2 + len(n) for n in pending) + 2 + len(nal)
            if aggregate and size <= mtu:
                pending.append(nal)
                continue
            flush()
            if aggregate:
                pending.append(nal)
            else:
                payloads.append(nal)
            continue
        flush()
        payloads.extend(fragment(syntax, nal, mtu))
    flush()
    return payloads


def fragment(syntax: NalSyntax, nal: bytes, mtu: int) -> list[bytes]:
    """FU-A (H.264) or FU (H.265) packets carrying ``nal``, each at most ``mtu`` octets."""
    h = syntax.header_len
    kind = syntax.nal_type(nal)
    if syntax is H264:
        indicator = bytes([(nal[0] & 0xE0) | 28])
    else:
        indicator = bytes([(nal[0] & 0x81) | (49 << 1), nal[1]])
    room = max(mtu - h - 1, 1)
    body = nal[h:]
    chunks = [body[i : i + room] for i in range(0, len(body), room)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        fu = kind | (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
        out.append(indicator + bytes([fu]) + chunk)
    return out


def sdp_media(
    syntax: NalSyntax, payload_type: int = 96, *, extra: str = "", sprop: bool = True
) -> str:
    """The m= section announcing the stream, with its parameter sets when ``sprop``."""
    sets = PARAMETER_SETS[syntax.name]
    if syntax is H264:
        params = "packetization-mode=1;profile-level-id=42c01e"
        if sprop:
            params += ";sprop-parameter-sets=" + ",".join(
                base64.b64encode(n).decode() for n in sets
            )
        encoding = "H264"
    else:
        params = "profile-id=1;level-id=93"
        if sprop:
            names = ("sprop-vps", "sprop-sps", "sprop-pps")
            params += "".join(
                f";{k}={base64.b64encode(n).decode()}" for k, n in zip(names, sets, strict=True)
            )
        encoding = "H265"
    return (
        f"m=video 0 RTP/AVP {payload_type}\r\na=rtpmap:{payload_type} {encoding}/90000\r\n"
        f"a=fmtp:{payload_type} {params}{extra}\r\n"
    )
