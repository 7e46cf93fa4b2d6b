"""Pictures from H.264/H.265 access units, through PyAV (FFmpeg's decoders, in the wheel).

PyAV is optional (``pip install 'rtsp-workbench[video]'``): ``decoder_for`` says why there is
no decoder rather than failing, so the player and ``--frames-dir`` can tell the user. JPEG
frames need no decoder here; Pillow reads them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import av

from PIL import Image

logger = logging.getLogger(__name__)

# PyAV's names for FFmpeg's decoders, by a=rtpmap encoding name.
PYAV_CODECS = {"H264": "h264", "H265": "hevc"}
NO_PYAV = "H.264/H.265 pictures need PyAV: pip install 'rtsp-workbench[video]' (or: pip install av)"


class DecoderUnavailable(Exception):
    """No decoder for the stream's format here; the message says what to install."""


class AccessUnitDecoder:
    """Decodes one stream's access units, in order, into RGB Pillow images.

    ``stream_header`` (the SDP's parameter sets in Annex B) is fed first, so a stream whose
    parameter sets travel only in the SDP decodes too. A picture that fails to decode (a
    reference lost with a dropped access unit) is skipped, counted in ``errors``.
    """

    def __init__(self, encoding: str, stream_header: bytes = b"") -> None:
        try:
            import av  # optional: only for H.264/H.265 pictures
        except ImportError as exc:
            raise DecoderUnavailable(NO_PYAV) from exc
        codec = PYAV_CODECS.get(encoding.upper())
        if codec is None:
            raise DecoderUnavailable(f"no decoder for {encoding!r} video")
        self._av: Any = av
        # A decoder made for a video codec is a VideoCodecContext (what decode() needs).
        self._context = cast("av.VideoCodecContext", av.CodecContext.create(codec, "r"))
        self._header = stream_header
        self.errors = 0

    def decode(self, access_unit: bytes) -> list[Image.Image]:
        """The pictures this access unit completes (a decoder may hold one back a while)."""
        data, self._header = self._header + access_unit, b""
        try:
            frames = self._context.decode(self._av.Packet(data))
        except self._av.FFmpegError as exc:
            self.errors += 1
            logger.debug("access unit not decoded: %s", exc)
            return []
        return [frame.to_image() for frame in frames]

    def flush(self) -> list[Image.Image]:
        """The pictures still held in the decoder at the end of the stream."""
        try:
            return [frame.to_image() for frame in self._context.decode(None)]
        except self._av.FFmpegError as exc:
            self.errors += 1
            logger.debug("decoder flush: %s", exc)
            return []
