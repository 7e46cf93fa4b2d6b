"""RFC 6184 (H.264) and RFC 7798 (H.265) payload rules: NAL unit headers, the packet types
each mode allows, fragmentation and aggregation, access units' marker and timestamp,
parameter sets before the first random access point, profile and level against the SDP.

The facts come from ``analysis.payloads.h26x`` (one pass per stream, its findings in
``analysis.payloads.h26x_reading``); each rule judges one kind of problem. Payload rules:
not applicable where the snap length cut the payloads.
"""

from __future__ import annotations

from analysis.payloads import h26x_reading
from analysis.payloads.frames import PayloadFormat
from analysis.rules.registry import Context, Finding, Severity, payload_streams, rule, verdict

H264_RFC = "RFC 6184"
H265_RFC = "RFC 7798"


def _judge(ctx: Context, payload_format: PayloadFormat, kind: str) -> Finding:
    streams, na = payload_streams(ctx, payload_format)
    if na:
        return na
    readings = [(s, s.h26x) for s in streams if s.h26x is not None]
    units = sum(len(r.frames) for _, r in readings)
    return verdict(
        ((p, f"{text} in {s.label}") for s, r in readings for p, text in r.problems[kind]),
        f"{units} access unit(s) in {len(readings)} stream(s)",
    )


def _register(
    prefix: str,
    rfc: str,
    payload_format: PayloadFormat,
    rules: list[tuple[str, str, str, Severity, str]],
) -> None:
    for suffix, section, kind, severity, title in rules:

        def check(ctx: Context, kind: str = kind) -> Finding:
            return _judge(ctx, payload_format, kind)

        check.__doc__ = f"{title} ({rfc} §{section}). Not applicable without such a stream."
        rule(f"{prefix}-{suffix}", rfc, section, severity, title)(check)


_register(
    "H264",
    H264_RFC,
    PayloadFormat.H264,
    [
        ("F-1", "5.3", h26x_reading.HEADER, Severity.ERROR, "F bit of every NAL unit header is 0"),
        ("MODE-1", "5.2, 6.2-6.4", h26x_reading.TYPES, Severity.ERROR,
         "packet types allowed by the packetization-mode, no nesting"),
        ("FU-1", "5.8", h26x_reading.FRAGMENTS, Severity.ERROR,
         "FU-A runs: a start, continuations, an end, nothing between"),
        ("STAP-1", "5.7.1", h26x_reading.AGGREGATION, Severity.ERROR,
         "aggregation unit sizes fit the packet exactly"),
        ("ORDER-1", "5.5, 6.3", h26x_reading.ORDER, Severity.ERROR,
         "non-interleaved: access units sent whole in decoding order"),
        ("MARK-1", "5.1", h26x_reading.MARKER, Severity.ERROR,
         "marker bit on exactly the last packet of each access unit"),
        ("TS-1", "5.1", h26x_reading.TIMESTAMP, Severity.ERROR, "one timestamp per access unit"),
        ("PS-1", "8.4, 8.1", h26x_reading.PARAMETER_SETS, Severity.ERROR,
         "SPS and PPS (SDP sprop-parameter-sets or in band) before the first IDR"),
        ("PLID-1", "8.1", h26x_reading.PROFILE, Severity.WARNING,
         "the SPS's profile and level agree with profile-level-id"),
    ],
)  # fmt: skip

_register(
    "H265",
    H265_RFC,
    PayloadFormat.H265,
    [
        ("F-1", "1.1.4, 4.4", h26x_reading.HEADER, Severity.ERROR,
         "F bit 0 and TID not 0 in every NAL unit and payload header"),
        ("TYPE-1", "4.4", h26x_reading.TYPES, Severity.ERROR,
         "payload header types specified, no AP or FU inside an AP or FU"),
        ("FU-1", "4.4.3", h26x_reading.FRAGMENTS, Severity.ERROR,
         "FU runs: a start, continuations, an end, nothing between"),
        ("AP-1", "4.4.2", h26x_reading.AGGREGATION, Severity.ERROR,
         "AP: two or more aggregation units whose sizes fit the packet exactly"),
        ("DONL-1", "4.4.1, 7.1", h26x_reading.DONL, Severity.ERROR,
         "DONL/DOND present exactly when sprop-max-don-diff > 0"),
        ("ORDER-1", "4.1, 6", h26x_reading.ORDER, Severity.ERROR,
         "sprop-max-don-diff 0: access units sent whole in decoding order"),
        ("MARK-1", "4.1", h26x_reading.MARKER, Severity.ERROR,
         "marker bit on exactly the last packet of each access unit"),
        ("TS-1", "4.1", h26x_reading.TIMESTAMP, Severity.ERROR, "one timestamp per access unit"),
        ("PS-1", "7.1", h26x_reading.PARAMETER_SETS, Severity.ERROR,
         "VPS, SPS and PPS (SDP sprop-vps/sps/pps or in band) before the first IRAP"),
        ("PLID-1", "7.1", h26x_reading.PROFILE, Severity.WARNING,
         "the SPS's profile and level agree with profile-id and level-id"),
    ],
)  # fmt: skip
