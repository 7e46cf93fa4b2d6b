"""RTSP sessions rebuilt from a capture, the RTP/RTCP flows tied to them, and which
session and flow each packet belongs to."""
