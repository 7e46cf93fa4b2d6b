"""RTP payload formats: depacketizing a stream into frames. ``frames`` tells the formats
apart and rebuilds frames; one module per format (``jpeg``: RFC 2435) beside it."""
