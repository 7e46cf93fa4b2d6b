"""`check_capture`: read a capture, rebuild its sessions and streams, run every rule.

The result (:class:`CheckResult`) is what the workbench's summary, JSON, JUnit XML and
reports are drawn from; its shape is documented on the class.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.errors import CaptureFileError
from analysis.expected import Expectation
from analysis.freed_memory import release_freed_memory
from analysis.pcap.duplicates import DUPLICATE_WINDOW_S
from analysis.pcap.reader import read_records
from analysis.pcap.records import Records
from analysis.rules import Context, Outcome, RuleResult, Severity, run_all
from analysis.sessions.build import build
from analysis.sessions.rebuild import CapturedConnection, CaptureSessions, RTSPSession
from analysis.sessions.source_validation import NonMedia
from analysis.streams.decimate import keep_extremes
from analysis.streams.rtp import SEQ_MODULUS, CapturedStream, unwrapped
from analysis.wire.flows import Traffic, decode
from analysis.wire.rtcp import RTCPFlow
from analysis.wire.sdp import SDPInfo

log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    """Everything `check` learnt from one capture.

    - ``packets_read``: records read (Wireshark numbers them 1..packets_read);
      ``error``: the :class:`CaptureFileError` that stopped reading early, or None.
    - ``connections`` / ``sessions``: RTSP connections and sessions
      (``analysis.sessions.rebuild``), each session with its ``streams`` and ``rtcp`` flows.
    - ``streams``: every RTP media stream (one SSRC on one flow, past RFC 3550 A.1 source
      validation), linked to its session or found by ports or validity. Each has
      ``stats`` (:class:`analysis.streams.rtp.StreamStats`), ``fmt`` (encoding and clock),
      ``frames`` (:class:`analysis.payloads.frames.Frame`, with ``jpeg()``), and ``series()``:
      per-packet lists ``pktno, time, seq, timestamp, marker, size`` for plots (decimated
      in ``to_dict``, ``analysis.streams.decimate``).
    - ``non_media``: keep-alives and datagrams that fail source validation
      (:class:`analysis.sessions.source_validation.NonMedia`): listed, never judged.
    - ``notes``: what the capture itself lacks or holds twice (snap length, duplicates,
      a start mid-session), in words: nobody's fault, but it limits what can be judged.
    - ``rtcp``: RTCP flows with their sender reports.
    - ``rules``: one :class:`analysis.rules.RuleResult` per registered rule.
    """

    path: str
    packets_read: int
    error: CaptureFileError | None
    connections: list[CapturedConnection] = field(default_factory=list)
    sessions: list[RTSPSession] = field(default_factory=list)
    streams: list[CapturedStream] = field(default_factory=list)
    rtcp: list[RTCPFlow] = field(default_factory=list)
    rules: list[RuleResult] = field(default_factory=list)
    traffic: Traffic | None = None
    capture: CaptureSessions | None = None
    non_media: list[NonMedia] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def failures(self, at_least: Severity = Severity.ERROR) -> list[RuleResult]:
        """Failed rules of that severity or worse."""
        return [r for r in self.rules if r.failed and r.rule.severity.rank >= at_least.rank]

    def failed_counts(self) -> dict[Severity, int]:
        """How many rules of each severity failed (expected findings do not count)."""
        counts = dict.fromkeys(Severity, 0)
        for r in self.rules:
            if r.failed:
                counts[r.rule.severity] += 1
        return counts

    def verdict(self, at_least: Severity = Severity.ERROR) -> str:
        """``damaged`` (read only in part), ``failed`` (a rule at or above ``at_least``),
        ``nothing judged`` (no rule found anything to judge) or ``passed``."""
        if self.error is not None:
            return "damaged"
        if self.failures(at_least):
            return "failed"
        return "nothing judged" if self.judged_nothing else "passed"

    @property
    def judged_nothing(self) -> bool:
        """True when no rule found anything to judge: no RTSP, RTP or RTCP it can read."""
        return all(r.outcome is Outcome.NOT_APPLICABLE for r in self.rules)

    def nothing_judged_reason(self) -> str:
        """Why nothing could be judged, in words a user can act on."""
        parts = [f"{self.packets_read} packets read"]
        unreadable = sorted(self.traffic.unsupported_linktypes) if self.traffic else []
        if unreadable:
            parts.append(
                "link type(s) " + ", ".join(map(str, unreadable)) + " not read (pcap-linktype(7); "
                "this checker reads Ethernet, Linux cooked, raw IP, loopback)"
            )
        parts.append("no RTSP on TCP, no RTP or RTCP found")
        parts.append("try --rtp-port N (RTP without its SETUP) or --sdp F")
        return "; ".join(parts)

    def result(self, rule_id: str) -> RuleResult:
        """The result of one rule by id."""
        for r in self.rules:
            if r.rule.id == rule_id:
                return r
        raise KeyError(rule_id)

    def to_dict(self) -> dict:
        """A JSON-ready summary (series included per stream)."""
        return {
            "capture": self.path,
            "packets_read": self.packets_read,
            "judged_nothing": self.judged_nothing,
            "error": None
            if self.error is None
            else {"message": str(self.error), "offset": self.error.offset},
            "sessions": [
                {
                    "id": s.id,
                    "client": str(s.connection.client),
                    "server": str(s.connection.server),
                    "uris": [st.uri for st in s.setups],
                    "transports": [st.granted.raw for st in s.setups if st.granted],
                    "ssrcs": [st.ssrc for st in s.streams],
                }
                for s in self.sessions
            ],
            "streams": [stream_dict(s) for s in self.streams],
            "rules": [r.to_dict() for r in self.rules],
        }


def stream_dict(s: CapturedStream) -> dict:
    """One stream as plain data: identity, statistics, series and frame sizes.

    The series of a long stream are decimated (``series_points`` says how many of how
    many packets): the extremes of inter-arrival, sequence and size are kept."""
    st = s.stats
    interarrival = np.diff(s.time, prepend=np.nan)
    keep = keep_extremes(len(s), [interarrival, unwrapped(s.seq, SEQ_MODULUS), s.size])
    return {
        "ssrc": s.ssrc,
        "src": str(s.src),
        "dst": str(s.dst),
        "transport": s.transport,
        "channel": s.channel,
        "session": s.session_id,
        "payload_type": s.payload_type,
        "format": s.format.value,
        "stats": {k: getattr(st, k) for k in st.__dataclass_fields__},
        "series": s.series(keep),
        "series_points": {"kept": len(keep), "of": len(s)},
        "frames": {
            "time": [f.time for f in s.frames],
            "timestamp": [f.timestamp for f in s.frames],
            "size": [f.size for f in s.frames],
            "packets": [f.packets for f in s.frames],
            "complete": [f.complete for f in s.frames],
        },
    }


def check_capture(
    path: str | Path,
    rtp_ports: list[int] | None = None,
    expectations: list[Expectation] | None = None,
    sdps: list[SDPInfo] | None = None,
) -> CheckResult:
    """Check one capture file. Raises CaptureFileError only when nothing can be read.

    ``expectations`` name sessions or connections whose offences are expected (a
    deliberate negative test): their rules then report EXPECTED, not FAILED. ``sdps``
    describe RTP no RTSP session in the capture does (ffmpeg's ``-sdp_file``)."""
    records = read_records(path)
    traffic = decode(records)
    packets_read, error, notes = len(records), records.error, capture_notes(records, traffic)
    del records  # its per-record columns: the flows hold what is needed
    release_freed_memory()  # the records' and decoding's temporaries, before building
    capture = build(traffic, rtp_ports, sdps)
    release_freed_memory()  # building's temporaries, before the rules
    result = CheckResult(
        str(path),
        packets_read,
        error,
        capture.connections,
        capture.sessions,
        capture.streams,
        capture.rtcp,
        traffic=traffic,
        capture=capture,
        non_media=capture.non_media,
        notes=notes + capture.notes,
    )
    result.rules = run_all(Context(traffic, capture, expectations=list(expectations or ())))
    return result


def capture_notes(records: Records, traffic: Traffic) -> list[str]:
    """What the file itself limits: compression, snap length, packets captured twice."""
    notes = []
    if records.compression:
        notes.append(f"read through {records.compression} decompression")
    if traffic.cut:
        notes.append(
            f"{traffic.cut} packet(s) cut by the capture's snap length: headers are judged, "
            "payload rules are not applicable to the payloads cut"
        )
    duplicates = traffic.duplicates
    if duplicates is not None and duplicates.count:
        first = ", ".join(f"{copy} (copy of {orig})" for copy, orig in duplicates.pairs[:3])
        notes.append(
            f"{duplicates.count} packet(s) captured twice (same bytes and IP identification "
            f"within {DUPLICATE_WINDOW_S * 1000:g} ms: a loopback or merged capture), read once: "
            f"{first}{' ...' if duplicates.count > 3 else ''}"
        )
    return notes


def write_json(result: CheckResult, path: str | Path) -> None:
    """Write the result as JSON."""
    Path(path).write_text(json.dumps(result.to_dict(), indent=1, default=str))


def write_junit(result: CheckResult, path: str | Path) -> None:
    """Write one JUnit test case per rule: failures as failures, not applicable as skipped."""
    suite = ET.Element(
        "testsuite",
        name=f"rtsp-workbench check {Path(result.path).name}",
        tests=str(len(result.rules)),
        failures=str(sum(r.failed for r in result.rules)),
        skipped=str(sum(r.outcome is Outcome.NOT_APPLICABLE for r in result.rules)),
        errors="1" if result.error else "0",
    )
    if result.error:
        case = ET.SubElement(suite, "testcase", classname="capture", name="read")
        ET.SubElement(case, "error", message=str(result.error))
    for r in result.rules:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{r.rule.rfc} §{r.rule.section}",
            name=f"{r.rule.id} {r.rule.title}",
        )
        if r.failed:
            failure = ET.SubElement(case, "failure", message=r.evidence, type=r.rule.severity.value)
            failure.text = f"{r.count} offence(s); first packets {r.packets}"
        elif r.outcome is Outcome.NOT_APPLICABLE:
            ET.SubElement(case, "skipped", message=r.evidence)
        elif r.evidence:
            ET.SubElement(case, "system-out").text = r.evidence
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
