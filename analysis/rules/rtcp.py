"""RTCP rules (RFC 3550 §6).

Judged: the media sender's RTCP whole, and the receiver's datagrams that are RTCP at all
(NAT keep-alives and probes sent toward a server's RTCP port are listed as non-media).
"""

from __future__ import annotations

import numpy as np

from analysis.rules.registry import (
    Context,
    Finding,
    Severity,
    not_applicable,
    rule,
    verdict,
    verdict_if_judged,
)
from analysis.streams.rtp import TS_HALF, TS_MODULUS, CapturedStream
from analysis.wire.rtcp import RTCPFlow

RFC = "RFC 3550"
SR_COUNT_SLACK = 5  # packets sent around the moment the report was built
SR_MAPPING_SLACK_S = 0.05  # NTP vs RTP timestamp disagreement tolerated between reports
SR_MAPPING_FRACTION = 0.01
NOMINAL_MIN_INTERVAL_S = 5.0  # §6.2
REDUCED_MIN_KBIT = 360.0  # §6.2: reduced minimum = 360 / session bandwidth in kbit/s
MEAN_INTERVAL_FLOOR = 0.4


def _flows(ctx: Context) -> list[RTCPFlow]:
    return [f for f in ctx.capture.rtcp if f.compounds]


def _none(ctx: Context) -> Finding | None:
    return None if _flows(ctx) else not_applicable("no RTCP in the capture")


@rule("RTCP-VER-1", RFC, "6.4", Severity.ERROR, "RTCP version is 2")
def version(ctx: Context) -> Finding:
    """Every packet of an RTCP compound carries version 2. Not applicable without RTCP."""
    if na := _none(ctx):
        return na
    return verdict((p, f"version is not 2 ({f.label})") for f in _flows(ctx) for p in f.bad_version)


@rule("RTCP-CMP-1", RFC, "6.1", Severity.ERROR, "compound packets start with SR or RR")
def compound_first(ctx: Context) -> Finding:
    """Each compound packet begins with an SR or RR. Not applicable without RTCP."""
    if na := _none(ctx):
        return na
    return verdict(
        (p, f"compound packet starts with packet type {pt} ({f.label})")
        for f in _flows(ctx)
        for p, pt in f.bad_first
    )


@rule("RTCP-LEN-1", RFC, "6.4.1", Severity.ERROR, "length fields add up to the datagram")
def lengths(ctx: Context) -> Finding:
    """The packets' length fields add up to the datagram. Not applicable without RTCP."""
    if na := _none(ctx):
        return na
    return verdict((p, f"{text} ({f.label})") for f in _flows(ctx) for p, text in f.length_problems)


def _stream_for(ctx: Context, flow: RTCPFlow, ssrc: int) -> CapturedStream | None:
    candidates = [s for s in ctx.capture.streams if s.ssrc == ssrc]
    same = [s for s in candidates if s.session_id is not None and s.session_id == flow.session_id]
    return (same or candidates)[0] if candidates else None


@rule(
    "RTCP-SR-1",
    RFC,
    "6.4.1",
    Severity.ERROR,
    "SR packet and octet counts agree with the RTP seen",
)
def sender_counts(ctx: Context) -> Finding:
    """An SR's packet and octet counts are not below the RTP of its SSRC already seen
    (octets as sent, even where the snap length cut the payload). A capture that starts
    mid-stream sees fewer packets than were sent: no fault. Not applicable without a
    sender report for an RTP stream in the capture."""
    offences = []
    checked = 0
    cumulative: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}  # times, octets, largest
    for flow in _flows(ctx):
        for sr in flow.sender_reports:
            stream = _stream_for(ctx, flow, sr.ssrc)
            if stream is None:
                continue
            checked += 1
            if id(stream) not in cumulative:
                payload = stream.payload_sizes()
                largest = int(payload.max()) if len(payload) else 0
                cumulative[id(stream)] = (stream.time, np.cumsum(payload), largest)
            times, octets, largest = cumulative[id(stream)]
            seen = int(np.searchsorted(times, sr.time, side="right"))
            if seen > sr.packet_count + SR_COUNT_SLACK:
                offences.append(
                    (
                        sr.pktno,
                        f"SR says {sr.packet_count} packets sent, {seen} of SSRC "
                        f"{sr.ssrc:#010x} were already seen",
                    )
                )
                continue
            seen_octets = int(octets[seen - 1]) if seen else 0
            if seen_octets > sr.octet_count + SR_COUNT_SLACK * largest:
                offences.append(
                    (
                        sr.pktno,
                        f"SR says {sr.octet_count} payload octets sent, {seen_octets} were already seen",
                    )
                )
    return verdict_if_judged(
        checked,
        offences,
        f"{checked} sender report(s) agree with the RTP seen",
        "no sender report for an RTP stream in the capture",
    )


@rule(
    "RTCP-SR-2",
    RFC,
    "6.4.1",
    Severity.ERROR,
    "SR NTP and RTP timestamps advance together at the media clock",
)
def sender_mapping(ctx: Context) -> Finding:
    """Between two SRs of one source, the RTP timestamp advances as the NTP time does, at
    the stream's clock rate (from the SDP or RFC 3551). Not applicable when the clock rate
    of the reported stream is unknown (no RTP of that SSRC, or a dynamic payload type
    without SDP), or with fewer than two SRs from a source."""
    offences = []
    checked = 0
    unknown = ""
    for flow in _flows(ctx):
        by_ssrc: dict[int, list] = {}
        for sr in flow.sender_reports:
            by_ssrc.setdefault(sr.ssrc, []).append(sr)
        for ssrc, reports in by_ssrc.items():
            stream = _stream_for(ctx, flow, ssrc)
            rate = stream.clock_rate if stream else None
            if not rate:
                if len(reports) > 1:
                    unknown = (
                        stream.fmt.unknown_clock_reason
                        if stream
                        else f"clock rate unknown (no RTP of SSRC {ssrc:#010x} in the capture)"
                    )
                continue
            for a, b in zip(reports, reports[1:]):
                d_ntp = b.ntp - a.ntp
                if d_ntp <= 0:
                    continue
                checked += 1
                d_rtp = (
                    (b.rtp_timestamp - a.rtp_timestamp + TS_HALF) % TS_MODULUS - TS_HALF
                ) / rate
                if abs(d_rtp - d_ntp) > SR_MAPPING_SLACK_S + SR_MAPPING_FRACTION * d_ntp:
                    offences.append(
                        (
                            b.pktno,
                            f"NTP advanced {d_ntp:.3f} s but RTP timestamp {d_rtp:.3f} s "
                            f"at {rate} Hz (SSRC {ssrc:#010x})",
                        )
                    )
    return verdict_if_judged(
        checked,
        offences,
        f"{checked} pair(s) of sender reports consistent",
        unknown or "fewer than two sender reports from one source",
    )


def _session_kbps(ctx: Context, flow: RTCPFlow) -> float:
    """Session bandwidth (kbit/s) of the RTP the flow reports on: its session's streams,
    or every stream when the flow belongs to no known session."""
    streams = [s for s in ctx.capture.streams if s.session_id == flow.session_id] or list(
        ctx.capture.streams
    )
    return sum(s.stats.bitrate_bps for s in streams) / 1000.0


@rule(
    "RTCP-INT-1",
    RFC,
    "6.2, 6.3.1",
    Severity.INFO,
    "report interval not below the (reduced) minimum",
)
def interval(ctx: Context) -> Finding:
    """Information: each source's mean report interval is not below the (reduced) minimum
    of §6.2 for the session's bandwidth. Not applicable with fewer than three reports
    from any source."""
    offences = []
    measured = []
    for flow in _flows(ctx):
        times = [t for _, t, _ in flow.compounds]
        if len(times) < 3:
            continue
        mean = (times[-1] - times[0]) / (len(times) - 1)
        measured.append(mean)
        kbps = _session_kbps(ctx, flow)
        minimum = NOMINAL_MIN_INTERVAL_S
        if kbps > 0:
            minimum = min(minimum, REDUCED_MIN_KBIT / kbps)
        # Randomized over [0.5, 1.5] T and divided by e - 3/2 (§6.3.1): the mean of
        # conforming intervals stays above about 0.8 T; half of that leaves a margin.
        floor = minimum * MEAN_INTERVAL_FLOOR
        if mean < floor:
            offences.append(
                (
                    flow.compounds[1][0],
                    f"reports every {mean:.2f} s on average, below {floor:.2f} s for "
                    f"{kbps:.0f} kbit/s ({flow.label})",
                )
            )
    return verdict_if_judged(
        measured,
        offences,
        f"mean intervals {', '.join(f'{m:.2f} s' for m in measured)}",
        "fewer than three reports from any source",
    )
