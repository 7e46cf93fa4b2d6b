"""RTP streams: fixed headers read in bulk and grouped by SSRC, their media format and
clock, jitter and receiver statistics."""
