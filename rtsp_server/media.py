"""The media library: which files are served, by what name, validated and packetized once.

Names come from a scan of the media folder, never from joining request text onto a path: a
request can only reach a file the scan listed, so ``..``, ``%2e%2e``, absolute paths and
symlinks pointing out of the folder all end as "not found".
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rtsp_common.errors import MediaFileError, ParseError, UnsupportedJPEG
from rtsp_common.jpeg import JPEGFrame, packetize, parse_jpeg
from rtsp_common.mjpeg import RAW_SUFFIXES, open_media
from rtsp_common.rtp import MAX_UDP_PAYLOAD, RTP_HEADER_SIZE
from rtsp_common.uri import RequestURI, parse_request_uri

log = logging.getLogger(__name__)

MEDIA_SUFFIXES = RAW_SUFFIXES  # compared case-insensitively: .Mjpeg is the lab's
TRACK_CONTROL = "track1"  # the SDP a=control of the one video track
UDP_IPV4_OVERHEAD = 28  # IPv4 header (20, RFC 791) + UDP header (8, RFC 768)
# The lab's dialect sends each JPEG whole after one RTP header, in one UDP datagram.
LAB_MAX_FRAME = MAX_UDP_PAYLOAD - RTP_HEADER_SIZE
RESCAN_INTERVAL = 1.0  # s: the shortest time between two scans of the media folder


class MediaNotFound(Exception):
    """The request names no file this library serves (RTSP 404)."""


class MediaUnsupported(Exception):
    """The file exists but cannot be streamed (RTSP 415); the message says why and the fix."""


def max_rtp_payload(mtu: int) -> int:
    """RTP payload bytes that keep one IPv4/UDP datagram within ``mtu``."""
    return mtu - UDP_IPV4_OVERHEAD - RTP_HEADER_SIZE


@dataclass(frozen=True)
class MediaRequest:
    """What a request URI names: a media file and whether it is the track or the aggregate."""

    name: str
    track: bool


def parse_media_uri(uri: str | RequestURI) -> MediaRequest:
    """Split a request URI (``rtsp://host:port/a/b.Mjpeg/track1`` or the lab's ``movie.Mjpeg``).

    Raises ParseError (400) for a URI that is malformed (``parse_request_uri``), and
    MediaNotFound for paths that try to leave the folder (``..``, ``.``, absolute,
    backslashes, NUL), so the reason is logged rather than silently missed.
    """
    parsed = uri if isinstance(uri, RequestURI) else parse_request_uri(uri)
    path = parsed.decoded_path
    if parsed.is_absolute:
        path = path.removeprefix("/")
    if path.endswith("/"):
        path = path[:-1]
    track = False
    if path == TRACK_CONTROL or path.endswith("/" + TRACK_CONTROL):
        track = True
        path = path[: -len(TRACK_CONTROL)].rstrip("/")
    if not path:
        raise MediaNotFound("no media path in the request URI")
    if path.startswith("/") or "\\" in path or "\x00" in path:
        raise MediaNotFound(f"absolute or malformed media path {path!r}")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise MediaNotFound(f"media path {path!r} tries to leave the media folder")
    return MediaRequest(name=path, track=track)


@dataclass(eq=False)
class MediaTrack:
    """One validated media file in memory, with its RTP payloads cached per maximum payload.

    ``frames`` are the JPEG files (the lab's dialect sends them whole), ``jpegs`` what
    validating them read (views into ``frames``), kept so packetizing need not parse again.
    """

    name: str
    path: Path
    frames: list[bytes]
    jpegs: list[JPEGFrame]
    _payloads: dict[int, list[list[bytes] | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def width(self) -> int:
        """The first frame's width in pixels (what DESCRIBE announces)."""
        return self.jpegs[0].width

    @property
    def height(self) -> int:
        """The first frame's height in pixels."""
        return self.jpegs[0].height

    @functools.cached_property
    def largest_frame(self) -> tuple[int, int]:
        """(index, size in bytes) of the largest frame: whether the lab's dialect can send it."""
        size, index = max((len(frame), -i) for i, frame in enumerate(self.frames))
        return -index, size

    def payloads(self, index: int, max_payload: int) -> list[bytes]:
        """RFC 2435 payloads of frame ``index``: packetized once, shared by every session."""
        cache = self._payloads.get(max_payload)
        if cache is None:
            with self._lock:
                cache = self._payloads.setdefault(max_payload, [None] * len(self.frames))
        packets = cache[index]
        if packets is None:
            packets = packetize(self.jpegs[index], max_payload)
            cache[index] = packets
        return packets

    def duration(self, fps: float) -> float:
        """Seconds the track plays at ``fps``."""
        return len(self.frames) / fps


def load_track(name: str, path: Path) -> MediaTrack:
    """Read and validate every frame; MediaUnsupported names the first frame RFC 2435 refuses."""
    try:
        reader = open_media(path)
    except (OSError, ParseError) as exc:
        raise MediaUnsupported(f"{name}: cannot read media file: {exc}") from exc
    try:
        frames = list(reader)
    except (OSError, ParseError) as exc:
        raise MediaUnsupported(f"{name}: cannot read media file: {exc}") from exc
    finally:
        reader.close()
    if not frames:
        raise MediaUnsupported(f"{name}: the file holds no frames")
    jpegs = []
    for index, frame in enumerate(frames):
        try:
            jpegs.append(parse_jpeg(frame))
        except UnsupportedJPEG as exc:
            # UnsupportedJPEG already says how to convert the clip.
            raise MediaUnsupported(f"{name}: frame {index}: {exc}") from exc
        except ParseError as exc:
            raise MediaUnsupported(f"{name}: frame {index} is not a JPEG: {exc}") from exc
    return MediaTrack(name=name, path=path, frames=frames, jpegs=jpegs)


class MediaLibrary:
    """Every .Mjpeg/.mjpeg/.mjpg under a folder (or one file), served by relative path."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise MediaFileError(f"media path {self.root} does not exist")
        self._real_root = self.root.resolve()
        self._single = self.root.is_file()
        self._names: dict[str, Path] = {}
        self._last_scan = 0.0
        self._tracks: dict[str, tuple[tuple[int, int], MediaTrack | MediaUnsupported]] = {}
        self._lock = threading.Lock()
        self.rescan()

    def names(self) -> list[str]:
        """The names the library serves, as a request names them (relative paths)."""
        return sorted(self._names)

    def rescan(self) -> None:
        """List the servable files again (files may be added while the server runs)."""
        names: dict[str, Path] = {}
        if self._single:
            names[self.root.name] = self._real_root
        else:
            for folder, dirs, files in os.walk(self._real_root, followlinks=False):
                dirs.sort()
                for filename in files:
                    if not filename.lower().endswith(MEDIA_SUFFIXES):
                        continue
                    path = Path(folder) / filename
                    real = path.resolve()
                    if not real.is_relative_to(self._real_root) or not real.is_file():
                        log.debug("not serving %s: it points outside %s", path, self._real_root)
                        continue
                    names[path.relative_to(self._real_root).as_posix()] = real
        self._names = names
        self._last_scan = time.monotonic()

    def resolve(self, name: str) -> Path:
        """The file served under ``name``; MediaNotFound otherwise."""
        path = self._names.get(name)
        now = time.monotonic()
        if path is None and now - self._last_scan >= RESCAN_INTERVAL:
            # New files appear without a restart, but a stream of unknown names cannot make
            # the server walk the folder more than once per interval.
            self.rescan()
            path = self._names.get(name)
        if path is None:
            raise MediaNotFound(f"no media named {name!r}")
        return path

    def _key(self, name: str) -> tuple[Path, tuple[int, int]]:
        path = self.resolve(name)
        try:
            stat = path.stat()
        except OSError as exc:
            raise MediaNotFound(f"media {name!r} vanished: {exc}") from exc
        return path, (stat.st_mtime_ns, stat.st_size)

    def is_loaded(self, name: str) -> bool:
        """True when ``track(name)`` would answer from memory (or fail fast: unknown name)."""
        try:
            _, key = self._key(name)
        except MediaNotFound:
            return True
        with self._lock:
            cached = self._tracks.get(name)
        return cached is not None and cached[0] == key

    def track(self, name: str) -> MediaTrack:
        """The validated track for ``name`` (loaded on first use, reloaded when the file changes).

        Thread-safe; the load itself runs outside the lock so one slow file does not hold up
        lookups of others.
        """
        path, key = self._key(name)
        with self._lock:
            cached = self._tracks.get(name)
        if cached is None or cached[0] != key:
            try:
                entry: MediaTrack | MediaUnsupported = load_track(name, path)
            except MediaUnsupported as exc:
                log.error("%s", exc)
                entry = exc
            with self._lock:
                self._tracks[name] = (key, entry)
            cached = (key, entry)
        entry = cached[1]
        if isinstance(entry, MediaUnsupported):
            raise entry
        return entry
