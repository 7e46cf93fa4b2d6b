"""Motion-JPEG media files: the lab's ``.Mjpeg`` and raw concatenated JPEG.

The lab's format prefixes every frame with its byte length as 5 ASCII digits, so a frame
holds at most 99,999 bytes. A raw file (``.mjpeg``/``.mjpg``) is JPEG after JPEG, split here
by walking the JPEG marker segments (ITU-T T.81 Annex B).

Readers build an index of (offset, length) pairs when opened and read a frame only when
asked, so seeking to frame n reads nothing before it. This module does file I/O but no
network I/O: it stays inside the pure ``rtsp_common`` rules.
"""

from __future__ import annotations

import logging
import mmap
import operator
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rtsp_common.errors import MediaFileError
from rtsp_common.jfif import (
    EOI,
    EOI_BYTES,
    MARKER_PREFIX,
    RST0,
    RST7,
    SOI,
    SOI_BYTES,
    SOS,
    TEM,
    find_scan_end,
)

logger = logging.getLogger(__name__)

LAB_PREFIX_SIZE = 5  # the lab's VideoStream.py reads 5 ASCII digits per frame
MAX_LAB_FRAME = 99_999  # the largest length 5 digits can write

SEGMENT_LENGTH_SIZE = 2  # T.81 B.1.1.4: a 16-bit length that counts itself

LAB_FORMAT = "lab"
RAW_FORMAT = "raw"
LAB_SUFFIX = ".Mjpeg"  # the lab's name, capital M
RAW_SUFFIXES = (".mjpeg", ".mjpg")

FrameIndex = list[tuple[int, int]]  # (offset of the JPEG bytes, length) of each frame
_HAVE_PREAD = hasattr(os, "pread")


def _standalone(marker: int) -> bool:
    """Markers without a length field (T.81 B.1.1.3)."""
    return marker in (SOI, EOI, TEM) or RST0 <= marker <= RST7


class MediaReader:
    """A lazy, indexable sequence of JPEG frames in a file.

    ``len(reader)`` frames; ``reader[n]`` reads frame n (negative n counts from the end);
    iteration yields each frame; use as a context manager or call :meth:`close`.
    """

    format: str = ""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: BinaryIO | None = _open_for_reading(self.path)
        try:
            self._size = os.fstat(self._file.fileno()).st_size
            if self._size == 0:
                raise MediaFileError(f"{self.path}: the file is empty, it holds no frames")
            self._index = self._build_index(self._file, self._size)
        except BaseException:
            self.close()
            raise
        if not self._index:
            self.close()
            raise MediaFileError(f"{self.path}: no frames found")
        logger.debug("%s: %d frames (%s format)", self.path, len(self._index), self.format)

    def _build_index(self, file: BinaryIO, size: int) -> FrameIndex:
        raise NotImplementedError

    @property
    def index(self) -> tuple[tuple[int, int], ...]:
        """(offset, length) of every frame's JPEG bytes."""
        return tuple(self._index)

    @property
    def total_bytes(self) -> int:
        """Sum of the frames' JPEG sizes (without the lab's prefixes)."""
        return sum(length for _, length in self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, n: int) -> bytes:
        n = operator.index(n)  # TypeError for slices and other non-integers
        if self._file is None:
            raise MediaFileError(f"{self.path}: the reader is closed")
        try:
            offset, length = self._index[n]
        except IndexError:
            raise IndexError(
                f"frame {n} out of range: {self.path} has {len(self)} frames"
            ) from None
        data = self._read_at(offset, length)
        if len(data) != length:
            raise MediaFileError(
                f"{self.path}: frame {n} at offset {offset} is cut short "
                f"(the file changed since it was opened?)"
            )
        return data

    def _read_at(self, offset: int, length: int) -> bytes:
        assert self._file is not None
        if _HAVE_PREAD:
            # pread leaves no shared file position: readers can be shared across threads.
            return os.pread(self._file.fileno(), length, offset)
        self._file.seek(offset)
        return self._file.read(length)

    def __iter__(self) -> Iterator[bytes]:
        for n in range(len(self)):
            yield self[n]

    def close(self) -> None:
        """Release the file; further reads raise MediaFileError."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> MediaReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, frames={len(self._index)})"


def _open_for_reading(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise MediaFileError(f"{path}: no such media file") from None
    except IsADirectoryError:
        raise MediaFileError(f"{path}: is a directory, not a media file") from None
    except OSError as exc:
        raise MediaFileError(f"{path}: cannot open ({exc.strerror})") from None


class LabMJPEGReader(MediaReader):
    """The lab's format: 5 ASCII digits of length, then that many JPEG bytes, repeated."""

    format = LAB_FORMAT

    def _build_index(self, file: BinaryIO, size: int) -> FrameIndex:
        index: FrameIndex = []
        offset = 0
        while offset < size:
            file.seek(offset)
            prefix = file.read(LAB_PREFIX_SIZE)
            frame = len(index)
            if len(prefix) < LAB_PREFIX_SIZE or not (prefix.isdigit() and prefix.isascii()):
                raise MediaFileError(
                    f"{self.path}: bad length prefix {prefix!r} for frame {frame} at offset "
                    f"{offset}: the lab's .Mjpeg format needs 5 ASCII digits before each frame"
                )
            length = int(prefix)
            start = offset + LAB_PREFIX_SIZE
            if length == 0:
                raise MediaFileError(f"{self.path}: frame {frame} at offset {offset} is empty")
            if start + length > size:
                raise MediaFileError(
                    f"{self.path}: frame {frame} at offset {offset} is truncated: its prefix "
                    f"says {length} bytes but only {size - start} remain"
                )
            index.append((start, length))
            offset = start + length
        return index


class RawMJPEGReader(MediaReader):
    """Concatenated JPEG files, split by walking marker segments from SOI to EOI."""

    format = RAW_FORMAT

    def _build_index(self, file: BinaryIO, size: int) -> FrameIndex:
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            index: FrameIndex = []
            offset = 0
            while offset < size:
                end = self._frame_end(data, offset, len(index))
                index.append((offset, end - offset))
                offset = end
            return index

    def _frame_end(self, data: mmap.mmap, start: int, frame: int) -> int:
        """Offset just past the EOI of the JPEG starting at ``start``."""
        size = len(data)
        if data[start : start + 2] != SOI_BYTES:
            raise MediaFileError(
                f"{self.path}: expected a JPEG start (FF D8) for frame {frame} at offset "
                f"{start}, found {bytes(data[start : start + 2]).hex(' ')}"
            )
        pos = start + 2

        def truncated(why: str) -> MediaFileError:
            return MediaFileError(
                f"{self.path}: frame {frame} at offset {start} is truncated or corrupt: {why}"
            )

        while True:
            if pos + 2 > size:
                raise truncated("the file ends before its EOI marker")
            if data[pos] != MARKER_PREFIX:
                raise truncated(f"expected a marker at offset {pos}, found 0x{data[pos]:02x}")
            marker = data[pos + 1]
            if marker == MARKER_PREFIX:  # fill byte before a marker (T.81 B.1.1.2)
                pos += 1
                continue
            pos += 2
            if marker == EOI:
                return pos
            if _standalone(marker):
                continue
            if pos + SEGMENT_LENGTH_SIZE > size:
                raise truncated(f"segment FF {marker:02X} at offset {pos - 2} has no length")
            length = int.from_bytes(data[pos : pos + SEGMENT_LENGTH_SIZE], "big")
            if length < SEGMENT_LENGTH_SIZE:
                raise truncated(f"segment FF {marker:02X} at offset {pos - 2} has length {length}")
            pos += length
            if marker == SOS:
                pos = find_scan_end(data, pos)
                if pos < 0:
                    raise truncated("the file ends inside the entropy-coded scan, before EOI")


def open_media(path: str | os.PathLike[str]) -> MediaReader:
    """Open a lab ``.Mjpeg`` or a raw concatenated-JPEG file, telling them apart by content."""
    path = Path(path)
    with _open_for_reading(path) as file:
        head = file.read(LAB_PREFIX_SIZE)
    if not head:
        raise MediaFileError(f"{path}: the file is empty, it holds no frames")
    if head[:2] == SOI_BYTES:
        return RawMJPEGReader(path)
    if head[:1].isdigit():
        return LabMJPEGReader(path)
    raise MediaFileError(
        f"{path}: neither the lab's .Mjpeg (starts with 5 ASCII digits) nor raw JPEG "
        f"(starts with FF D8); it starts with {head.hex(' ')}"
    )


class _Writer:
    """Appends JPEG frames to a file; a context manager."""

    format = ""

    def __init__(self, path: str | os.PathLike[str], overwrite: bool = False) -> None:
        self.path = Path(path)
        self.frames = 0
        try:
            self._file: BinaryIO | None = self.path.open("wb" if overwrite else "ab")
        except OSError as exc:
            raise MediaFileError(f"{self.path}: cannot write ({exc.strerror})") from None

    def append(self, jpeg: bytes) -> None:
        """Add one JPEG frame at the end of the file."""
        if self._file is None:
            raise MediaFileError(f"{self.path}: the writer is closed")
        if jpeg[:2] != SOI_BYTES:
            raise MediaFileError(
                f"{self.path}: frame {self.frames} is not a JPEG (does not start with FF D8)"
            )
        self._write(self._file, jpeg)
        self.frames += 1

    def _write(self, file: BinaryIO, jpeg: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LabMJPEGWriter(_Writer):
    """Writes the lab's format; frames over 99,999 bytes cannot be written."""

    format = LAB_FORMAT

    def _write(self, file: BinaryIO, jpeg: bytes) -> None:
        if len(jpeg) > MAX_LAB_FRAME:
            raise MediaFileError(
                f"{self.path}: frame {self.frames} is {len(jpeg):,} bytes but the lab's .Mjpeg "
                f"format holds at most {MAX_LAB_FRAME:,} bytes a frame (a 5-digit length "
                f"prefix). Re-encode at a lower JPEG quality or smaller size, e.g. with "
                f"`rtsp-workbench convert INPUT OUTPUT --size WxH`, or write a raw .mjpeg"
            )
        file.write(b"%05d" % len(jpeg))
        file.write(jpeg)


class RawMJPEGWriter(_Writer):
    """Writes JPEG after JPEG; the frame must end with EOI so a reader can split it."""

    format = RAW_FORMAT

    def _write(self, file: BinaryIO, jpeg: bytes) -> None:
        if jpeg[-2:] != EOI_BYTES:
            raise MediaFileError(
                f"{self.path}: frame {self.frames} does not end with EOI (FF D9); "
                f"a raw MJPEG file cannot be split without it"
            )
        file.write(jpeg)


def format_for_path(path: str | os.PathLike[str]) -> str:
    """``"lab"`` for ``*.Mjpeg``, ``"raw"`` for ``*.mjpeg``/``*.mjpg``; MediaFileError otherwise."""
    suffix = Path(path).suffix
    if suffix == LAB_SUFFIX:
        return LAB_FORMAT
    if suffix.lower() in RAW_SUFFIXES:
        return RAW_FORMAT
    raise MediaFileError(
        f"{path}: cannot tell the format from the name; use .Mjpeg (the lab's format) "
        f"or .mjpeg/.mjpg (raw JPEG), or pass the format explicitly"
    )


def open_writer(
    path: str | os.PathLike[str], format: str | None = None, overwrite: bool = False
) -> LabMJPEGWriter | RawMJPEGWriter:
    """Open a writer that appends (or, with ``overwrite``, starts the file afresh)."""
    chosen = format or format_for_path(path)
    if chosen == LAB_FORMAT:
        return LabMJPEGWriter(path, overwrite=overwrite)
    if chosen == RAW_FORMAT:
        return RawMJPEGWriter(path, overwrite=overwrite)
    raise MediaFileError(f"unknown media format {chosen!r}; use 'lab' or 'raw'")
