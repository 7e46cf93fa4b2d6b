"""A capture's sessions rebuilt whole: the RTSP half (``analysis.sessions.rebuild``), then
the media half (``analysis.sessions.media_linking``), then what the capture lacks, in words.
"""

from __future__ import annotations

from analysis.sessions.media_linking import link_media
from analysis.sessions.rebuild import CaptureSessions, rtsp_sessions
from analysis.sessions.sdp_sources import media_by_port, sip_descriptions
from analysis.wire.flows import Traffic
from analysis.wire.sdp import SDPInfo


def build(
    traffic: Traffic, rtp_ports: list[int] | None = None, sdps: list[SDPInfo] | None = None
) -> CaptureSessions:
    """Rebuild connections, sessions and media streams from decoded traffic.

    ``sdps`` describe RTP that no RTSP session does (by the port each m= line names),
    beside those of the SIP messages in the capture."""
    result = rtsp_sessions(traffic)
    described = media_by_port([*(sdps or ()), *sip_descriptions(traffic)])
    link_media(traffic, result, set(rtp_ports or ()), described)
    _note_gaps(result)
    return result


def _note_gaps(result: CaptureSessions) -> None:
    """Say in words what the capture lacks, so that nobody is blamed for it."""
    unseen = [s.id for s in result.sessions if not s.setup_captured]
    if unseen:
        result.notes.append(
            f"the capture starts mid-session: no SETUP for session(s) {', '.join(unseen)}; "
            "their state before the first request captured is unknown"
        )
    unlinked = [s for s in result.unlinked_rtp if s.session_id is None]
    if unlinked:
        result.notes.append(
            f"{len(unlinked)} RTP stream(s) with no SETUP in the capture, found by RTP "
            "validity (RFC 3550 A.1): " + ", ".join(s.label for s in unlinked)
        )
