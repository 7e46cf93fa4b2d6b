"""What ``rtsp-client --record`` and ``--frames-dir`` write, for each payload format.

JPEG streams record as the lab's .Mjpeg or raw .mjpeg and save each frame as a .jpg.
H.264/H.265 streams record as an Annex B elementary stream (.h264/.h265, which ffmpeg and
ffprobe read): the SDP's parameter sets first, then every whole access unit from the first
one a decoder can start at (IDR/IRAP); ``--frames-dir`` saves each decoded picture as a .png
through PyAV.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import BinaryIO, Protocol

from rtsp_client.video_decoder import AccessUnitDecoder, DecoderUnavailable
from rtsp_common.errors import MediaFileError
from rtsp_common.payload_formats import PAYLOAD_FORMATS, PayloadFormat

logger = logging.getLogger(__name__)

# Names of Annex B elementary stream files, by the format they hold.
ANNEX_B_SUFFIXES = {
    ".h264": "H264",
    ".264": "H264",
    ".avc": "H264",
    ".h265": "H265",
    ".265": "H265",
    ".hevc": "H265",
}


class FrameWriter(Protocol):
    """What a recording writes its frames with: a .Mjpeg writer or an Annex B stream."""

    def append(self, frame: bytes) -> None: ...
    def close(self) -> None: ...


class AnnexBWriter:
    """An Annex B elementary stream file: ``header`` (parameter sets), then access units from
    the first random access point; the ones before it are counted in ``skipped``, as no
    decoder could use them."""

    def __init__(self, path: Path, payload_format: PayloadFormat, header: bytes) -> None:
        self.path = path
        self.payload_format = payload_format
        self.skipped = 0
        self._started = False
        try:
            self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise MediaFileError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        self._file.write(header)

    def append(self, access_unit: bytes) -> None:
        """Write one access unit (or count it skipped before the first random access point)."""
        if not self._started:
            if not self.payload_format.random_access(access_unit):
                self.skipped += 1
                return
            self._started = True
            if self.skipped:
                logger.info("%s: skipped %d access units before the first keyframe",
                            self.path, self.skipped)  # fmt: skip
        self._file.write(access_unit)

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()


class Recorder:
    """Writes received frames to a media file and/or a folder of pictures.

    The file's name says the format it expects (.Mjpeg, .mjpeg/.mjpg, .h264, .h265, ...);
    ``start`` is told the stream's format once SETUP agreed on it, and refuses a mismatch.
    """

    def __init__(
        self, record: Path | None, frames_dir: Path | None, record_format: str | None = None
    ) -> None:
        self.record = record
        self.record_format = record_format
        self.frames_dir = frames_dir
        self.writer: FrameWriter | None = None
        self.decoder: AccessUnitDecoder | None = None
        self.pictures = 0
        self._format: PayloadFormat = PAYLOAD_FORMATS["JPEG"]
        if record is not None and self._annex_b_encoding() is None:
            # only when recording: start-up counts
            from rtsp_common.mjpeg import format_for_path

            if record_format is None:
                try:
                    self.record_format = format_for_path(record)
                except MediaFileError:
                    raise MediaFileError(
                        f"{record}: cannot tell the format from the name; use .Mjpeg (the lab's "
                        f"format) or .mjpeg/.mjpg (raw JPEG) for JPEG streams, .h264 or .h265 "
                        f"for H.264/H.265, or pass --record-format lab|raw"
                    ) from None
        if frames_dir is not None:
            frames_dir.mkdir(parents=True, exist_ok=True)

    def _annex_b_encoding(self) -> str | None:
        if self.record is None or self.record_format is not None:
            return None
        return ANNEX_B_SUFFIXES.get(self.record.suffix.lower())

    def start(self, payload_format: PayloadFormat, stream_header: bytes = b"") -> None:
        """Open the outputs for a stream of ``payload_format``; MediaFileError when the
        recording's name asks for another format or its pictures cannot be decoded here."""
        self._format = payload_format
        wanted = self._annex_b_encoding()
        if self.record is not None:
            if payload_format.is_jpeg and wanted is None:
                from rtsp_common.mjpeg import open_writer

                self.writer = open_writer(self.record, self.record_format)
            elif wanted == payload_format.encoding:
                self.writer = AnnexBWriter(self.record, payload_format, stream_header)
            else:
                raise MediaFileError(
                    f"{self.record}: the stream is {payload_format.encoding}; record it to a "
                    f"{_suffixes(payload_format)} file"
                )
        if self.frames_dir is not None and not payload_format.is_jpeg:
            try:
                self.decoder = AccessUnitDecoder(payload_format.encoding, stream_header)
            except DecoderUnavailable as exc:
                raise MediaFileError(f"--frames-dir: {exc}") from exc

    def add(self, frame: bytes, index: int) -> None:
        """One received frame (a JPEG, or an Annex B access unit)."""
        if self.writer is not None:
            self.writer.append(frame)
        if self.frames_dir is None:
            return
        if self.decoder is None:
            (self.frames_dir / f"frame_{index:06d}.jpg").write_bytes(frame)
            return
        for picture in self.decoder.decode(frame):
            self._save(picture)

    def _save(self, picture) -> None:
        assert self.frames_dir is not None
        picture.save(self.frames_dir / f"frame_{self.pictures:06d}.png")
        self.pictures += 1

    def close(self) -> None:
        """Write what the decoder still holds and close the recording."""
        if self.decoder is not None:
            for picture in self.decoder.flush():
                self._save(picture)
            self.decoder = None
        if self.writer is not None:
            self.writer.close()


def _suffixes(payload_format: PayloadFormat) -> str:
    if payload_format.is_jpeg:
        return ".Mjpeg or .mjpeg"
    names = [s for s, encoding in ANNEX_B_SUFFIXES.items() if encoding == payload_format.encoding]
    return " or ".join(names)
