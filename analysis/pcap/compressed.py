"""Compressed capture files, read as Wireshark reads them: transparently.

Wireshark's own sample captures come gzip-compressed (``rtp_example.raw.gz``), and
Wireshark also opens zstd and LZ4 files. gzip is read with the standard library; zstd and
LZ4 are read when their Python modules (``zstandard``, ``lz4``) are installed, and
otherwise named in an error that says how to decompress the file.
"""

from __future__ import annotations

import gzip
import importlib
import zlib
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, cast

from analysis.errors import CaptureFileError

GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952 §2.3.1
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878 §3.1.1
LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"  # LZ4 frame format §2 (little-endian 0x184D2204)
# A decompressed capture larger than this is refused rather than exhausting memory.
MAX_DECOMPRESSED_BYTES = 4 << 30


def compression_of(head: bytes) -> str | None:
    """ "gzip", "zstd" or "lz4" when ``head`` starts with that format's magic, else None."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(LZ4_FRAME_MAGIC):
        return "lz4"
    return None


def decompress(data: bytes, kind: str, name: str) -> tuple[bytes, str]:
    """The capture inside a compressed file, and why it ends early ("" when it does not);
    raises CaptureFileError when nothing can be had."""
    if kind == "gzip":
        return _gunzip(data, name)
    module = _module(kind, name)
    try:
        if kind == "zstd":
            reader = module.ZstdDecompressor().stream_reader(data)
            out = reader.read(MAX_DECOMPRESSED_BYTES + 1)
        else:
            out = module.decompress(data)
    except Exception as exc:  # each library raises its own error types for corrupt input
        raise CaptureFileError(f"{name}: corrupt {kind} data ({exc})", 0) from exc
    if len(out) > MAX_DECOMPRESSED_BYTES:
        raise CaptureFileError(f"{name}: decompresses to more than 4 GiB", 0)
    return out, ""


def open_capture(path: str | Path) -> BinaryIO:
    """The capture file as a stream of its uncompressed bytes, decompressed as they are
    read (so a pass over a large compressed capture holds only a block at a time)."""
    name = str(path)
    try:
        raw = Path(path).open("rb")
    except OSError as exc:
        raise CaptureFileError(f"cannot read capture {name}: {exc.strerror or exc}", 0) from exc
    with raw:
        kind = compression_of(raw.read(4))
    if kind is None:
        return Path(path).open("rb")
    if kind == "gzip":
        # reads member after member; a GzipFile is a binary stream though typed apart
        return cast(BinaryIO, gzip.open(path, "rb"))
    module = _module(kind, name)
    if kind == "zstd":
        return module.ZstdDecompressor().stream_reader(
            Path(path).open("rb"), read_across_frames=True, closefd=True
        )
    return module.open(path, "rb")


def _module(kind: str, name: str) -> ModuleType:
    """The Python module that reads ``kind`` ("zstd" or "lz4"), or an error saying how to
    decompress the file without it."""
    module_name, tool = {"zstd": ("zstandard", "zstd"), "lz4": ("lz4.frame", "lz4")}[kind]
    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise CaptureFileError(
            f"{name}: {kind}-compressed capture, and the Python module {module_name!r} is not "
            f"installed; decompress it first ({tool} -d {name})",
            0,
        ) from None


def _gunzip(data: bytes, name: str) -> tuple[bytes, str]:
    """gzip members read one after another; a cut or corrupt tail keeps what came before
    (a capture compressed while it was written may end mid-stream)."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
        try:
            out += inflater.decompress(data[pos:], MAX_DECOMPRESSED_BYTES + 1 - len(out))
        except zlib.error as exc:
            if not out:
                raise CaptureFileError(f"{name}: corrupt gzip data ({exc})", pos) from exc
            return bytes(out), f"corrupt gzip data after {len(out)} bytes ({exc})"
        if len(out) > MAX_DECOMPRESSED_BYTES:
            raise CaptureFileError(f"{name}: decompresses to more than 4 GiB", 0)
        if not inflater.eof:  # cut short: what was inflated stays readable
            return bytes(out), f"the gzip stream ends early, after {len(out)} bytes"
        pos = len(data) - len(inflater.unused_data)
        if not inflater.unused_data.startswith(GZIP_MAGIC):
            break  # trailing bytes that are not another member
    return bytes(out), ""
