"""Audio beside the video: G.711 (PCMU/PCMA, RFC 3551 §4.5.14) packets whose size agrees
with their timestamps and with the SDP's a=ptime, and MPEG-4 AAC (RFC 3640 mpeg4-generic)
packets whose AU-headers agree with the payload.

Payload rules: not applicable where the snap length cut the payloads. Streams are told by
their SDP rtpmap or RFC 3551 static payload type, and judged on their own clock.
"""

from __future__ import annotations

from collections import Counter

from analysis.rules.registry import (
    Context,
    Finding,
    Severity,
    media_streams,
    not_applicable,
    rule,
    verdict,
)
from analysis.streams.rtp import SEQ_MODULUS, TS_MODULUS, CapturedStream

G711 = ("PCMU", "PCMA")
G711_OCTETS_PER_MS = 8  # RFC 3551 §4.5.14: 8000 samples a second, one octet each
AAC = "MPEG4-GENERIC"
AU_HEADERS_LENGTH_FIELD = 2  # RFC 3640 §3.2.1: octets of AU-headers-length, counted in bits


def _whole_streams(ctx: Context, encodings: tuple[str, ...]) -> tuple[list[CapturedStream], str]:
    streams = [s for s in media_streams(ctx) if (s.fmt.encoding or "") in encodings]
    whole = [s for s in streams if not s.payload_cut]
    if whole:
        return whole, ""
    if streams:
        return [], "payload cut by snap length"
    return [], f"no {'/'.join(encodings)} stream"


def _in_order_pairs(s: CapturedStream):
    """Consecutive packets (by arrival) whose sequence numbers step by exactly one."""
    packets = s.packets
    for a, b in zip(packets, packets[1:]):
        if (b[2] - a[2]) % SEQ_MODULUS == 1:
            yield a, b


@rule(
    "AUDIO-G711-1",
    "RFC 3551",
    "4.1, 4.5.14",
    Severity.ERROR,
    "G.711: the timestamp steps by the samples of the packet before",
)
def g711_timestamps(ctx: Context) -> Finding:
    """Each PCMU/PCMA packet's timestamp is the previous one's plus its octets (one sample
    each); a longer step is allowed only where the marker opens a talkspurt after silence.
    Not applicable without a PCMU/PCMA stream whose payloads the capture holds whole."""
    streams, why = _whole_streams(ctx, G711)
    if not streams:
        return not_applicable(why)
    offences = []
    for s in streams:
        for a, b in _in_order_pairs(s):
            samples = len(a[6])
            step = (b[3] - a[3]) % TS_MODULUS
            marker = bool(b[4] & 0x80)
            if step != samples and not (marker and step > samples):
                offences.append(
                    (b[0], f"timestamp steps by {step}, the packet before held {samples} samples "
                           f"({s.label})")
                )  # fmt: skip
    return verdict(offences, f"{sum(len(s) for s in streams)} G.711 packet(s)")


@rule(
    "AUDIO-PTIME-1",
    "RFC 4566 / RFC 3551",
    "6 / 4.5",
    Severity.WARNING,
    "G.711: packets hold a=ptime of audio (or one size throughout)",
)
def g711_ptime(ctx: Context) -> Finding:
    """Each PCMU/PCMA packet holds a=ptime milliseconds (8 octets a millisecond); without
    a=ptime, every packet but the last holds the stream's usual size. Not applicable without
    a PCMU/PCMA stream whose payloads the capture holds whole."""
    streams, why = _whole_streams(ctx, G711)
    if not streams:
        return not_applicable(why)
    offences: list[tuple[int, str]] = []
    for s in streams:
        sizes = [len(p[6]) for p in s.packets]
        if s.fmt.ptime:
            expected = round(s.fmt.ptime * G711_OCTETS_PER_MS)
            source = f"a=ptime:{s.fmt.ptime:g}"
        else:
            expected = Counter(sizes).most_common(1)[0][0]
            source = "the stream's usual size"
        offences.extend(
            (p[0], f"{size} octets ({size / G711_OCTETS_PER_MS:g} ms), {source} says {expected} "
                   f"({s.label})")
            for p, size in zip(s.packets[:-1], sizes[:-1], strict=True)
            if size != expected
        )  # fmt: skip
    return verdict(offences, f"{sum(len(s) for s in streams)} G.711 packet(s)")


def au_header_problem(payload: bytes, parameters: dict[str, str]) -> str:
    """What is wrong with an RFC 3640 packet's AU-header section (§3.2.1-3.2.3), or ""."""
    try:
        size_len = int(parameters.get("sizelength", "0"))
        index_len = int(parameters.get("indexlength", "0"))
        delta_len = int(parameters.get("indexdeltalength", "0"))
    except ValueError:
        return "fmtp sizelength/indexlength/indexdeltalength are not numbers"
    if not size_len:
        return ""  # no AU-header section configured: nothing to check
    if len(payload) < AU_HEADERS_LENGTH_FIELD:
        return "payload too short for AU-headers-length"
    bits = int.from_bytes(payload[:AU_HEADERS_LENGTH_FIELD], "big")
    header_octets = (bits + 7) // 8
    data = payload[AU_HEADERS_LENGTH_FIELD + header_octets :]
    if AU_HEADERS_LENGTH_FIELD + header_octets > len(payload):
        return f"AU-headers-length {bits} bits runs past the packet"
    first, later = size_len + index_len, size_len + delta_len
    if bits < first or (bits - first) % later:
        return f"AU-headers-length {bits} bits is no whole number of {first}/{later}-bit AU-headers"
    section = int.from_bytes(payload[2 : 2 + header_octets], "big") if header_octets else 0
    count = 1 + (bits - first) // later
    sizes, pos = [], 0
    for i in range(count):
        shift = header_octets * 8 - pos - size_len
        sizes.append((section >> shift) & ((1 << size_len) - 1))
        pos += size_len + (index_len if i == 0 else delta_len)
    if count == 1 and sizes[0] > len(data):
        return ""  # §3.2.3: a fragment of a larger access unit
    if sum(sizes) != len(data):
        return f"AU sizes add up to {sum(sizes)} octets, the packet holds {len(data)}"
    return ""


@rule(
    "AUDIO-AAC-1",
    "RFC 3640",
    "3.2.1-3.2.3",
    Severity.ERROR,
    "mpeg4-generic: AU-headers-length and AU sizes agree with the payload",
)
def aac_au_headers(ctx: Context) -> Finding:
    """Each mpeg4-generic packet's AU-headers-length is a whole number of AU-headers and
    their AU sizes add up to the access unit data (or one header names a larger, fragmented
    access unit). Not applicable without such a stream whose payloads are whole."""
    streams, why = _whole_streams(ctx, (AAC,))
    if not streams:
        return not_applicable(why)
    offences = []
    for s in streams:
        params = dict(s.fmt.parameters)
        for p in s.packets:
            problem = au_header_problem(p[6], params)
            if problem:
                offences.append((p[0], f"{problem} ({s.label})"))
    return verdict(offences, f"{sum(len(s) for s in streams)} mpeg4-generic packet(s)")
