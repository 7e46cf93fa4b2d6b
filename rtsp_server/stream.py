"""Per-session RTP numbering: sequence numbers, 90 kHz timestamps, position, counters (pure)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from rtsp_common.rtp import SEQ_MOD, TS_MOD, pack_header

# What the stream sends must be what DESCRIBE announces: take both from the SDP module.
from rtsp_common.sdp import JPEG_PAYLOAD_TYPE
from rtsp_common.sdp import VIDEO_CLOCK_RATE as RTP_CLOCK_RATE

LAB_FIRST_SEQUENCE = 1  # the lab's server numbers packets by frame number, from 1


@dataclass
class RTPStream:
    """Numbering state of one session's RTP stream.

    The media clock runs in real time (RFC 3550 §5.1: monotonic and linear), across PAUSE and
    seeks too: within a play run frame k has ``run_base + k * 90000 / fps``, and a new run
    starts where the clock has got to since the last frame. RTP-Info maps each run's first
    timestamp to its position (RFC 2326 §12.33). Sequence numbers simply continue.
    """

    ssrc: int
    next_seq: int
    ts_base: int
    fps: float
    frame_count: int
    loop: bool = False
    position: int = 0  # index of the next frame to send, in [0, frame_count]
    loops: int = 0  # completed passes over the file (with loop)
    packet_count: int = 0  # RFC 3550 §6.4.1 sender's packet count
    octet_count: int = 0  # RFC 3550 §6.4.1 sender's octet count (payload only)
    last_timestamp: int | None = None
    last_sent_at: float | None = None  # clock time the last frame was due
    run_base: int | None = None  # timestamp of the current run's first frame
    run_frames: int = 0  # frames of the current run sent (or skipped)
    frames_skipped: int = 0  # not sent: a slow TCP reader or a frame too big for the dialect

    @classmethod
    def create(
        cls, fps: float, frame_count: int, loop: bool = False, lab_dialect: bool = False
    ) -> RTPStream:
        """A stream with random SSRC, initial sequence number and timestamp (RFC 3550 §5.1)."""
        seq = LAB_FIRST_SEQUENCE if lab_dialect else secrets.randbelow(SEQ_MOD)
        return cls(
            ssrc=secrets.randbits(32),
            next_seq=seq,
            ts_base=secrets.randbelow(TS_MOD),
            fps=fps,
            frame_count=frame_count,
            loop=loop,
        )

    @property
    def at_end(self) -> bool:
        """True when every frame was sent and the stream does not loop."""
        return self.position >= self.frame_count and not self.loop

    @property
    def frame_interval(self) -> float:
        """Seconds between two frames."""
        return 1.0 / self.fps

    def start_run(self, now: float) -> None:
        """A PLAY starts sending at clock time ``now``: the media clock ran on since the last frame."""
        if self.last_timestamp is None or self.last_sent_at is None:
            self.run_base = self.ts_base
        else:
            # at least one frame interval on, so a quick PLAY never repeats the last timestamp
            self.run_base = self._clock_after_last(
                max(now - self.last_sent_at, self.frame_interval)
            )
        self.run_frames = 0

    def timestamp_at(self, now: float) -> int:
        """The media clock at clock time ``now``, run on from the last frame (RFC 3550 §6.4.1).

        Before any frame it is the next frame's timestamp.
        """
        if self.last_timestamp is None or self.last_sent_at is None:
            return self.next_timestamp
        return self._clock_after_last(now - self.last_sent_at)

    def _clock_after_last(self, elapsed: float) -> int:
        assert self.last_timestamp is not None
        return (self.last_timestamp + round(elapsed * RTP_CLOCK_RATE)) % TS_MOD

    @property
    def next_timestamp(self) -> int:
        """The RTP timestamp of the next frame: the run's base plus its frames at 90 kHz."""
        base = self.ts_base if self.run_base is None else self.run_base
        return (base + round(self.run_frames * RTP_CLOCK_RATE / self.fps)) % TS_MOD

    def seek(self, seconds: float) -> float:
        """Move to the frame nearest ``seconds`` (clamped to the file); return its exact time."""
        index = round(max(0.0, seconds) * self.fps)
        self.position = min(index, max(self.frame_count - 1, 0))
        self.loops = 0
        return self.position / self.fps

    @property
    def position_seconds(self) -> float:
        """Where the next frame stands in the file, in seconds (the Range a PLAY answers)."""
        return self.position / self.fps

    def skip_frame(self) -> None:
        """Advance past the current frame without sending it (its time slot passes unused)."""
        self.run_frames += 1
        self.frames_skipped += 1
        self._advance()

    def _advance(self) -> None:
        self.position += 1
        if self.position >= self.frame_count and self.loop:
            self.position = 0
            self.loops += 1

    def frame_headers(self, payloads: list[bytes], sent_at: float | None = None) -> list[bytes]:
        """RTP headers for the current frame's payloads, due at clock time ``sent_at``;
        advance the position and counters.

        Every fragment carries the frame's timestamp; only the last one has the marker bit
        (RFC 2435 §3.1).
        """
        timestamp = self.next_timestamp
        last = len(payloads) - 1
        headers = []
        seq = self.next_seq
        for i, payload in enumerate(payloads):
            headers.append(pack_header(JPEG_PAYLOAD_TYPE, seq, timestamp, self.ssrc, i == last))
            seq = (seq + 1) % SEQ_MOD
            self.octet_count += len(payload)
        self.next_seq = seq
        self.packet_count += len(payloads)
        self.last_timestamp = timestamp
        self.last_sent_at = sent_at
        self.run_frames += 1
        self._advance()
        return headers
