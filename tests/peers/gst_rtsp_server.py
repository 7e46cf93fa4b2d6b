#!/usr/bin/python3
"""GStreamer's rtsp-server serving MJPEG, H.264 or H.265: a reference peer for tests and benchmarks.

GstRtspServer's Python bindings come only with Debian's python3-gi, so run this with
/usr/bin/python3, not the project's virtual environment (tests and benchmarks start it
through gst_peer.py next to it):

    /usr/bin/python3 tests/peers/gst_rtsp_server.py --port 0 --media clip.mkv --path /clip
    /usr/bin/python3 tests/peers/gst_rtsp_server.py --port 0 --test-pattern --fps 10

It prints ``PORT <n>`` (the bound port) once it is listening, then serves until SIGTERM or
SIGINT. A clip must be Matroska: a raw .mjpeg through jpegparse carries no timestamps and
goes out unpaced (make one with ``ffmpeg -framerate 30 -f mjpeg -i clip.mjpeg -c copy clip.mkv``).
``--test-pattern`` serves a live videotestsrc picture instead, encoded by jpegenc.

``--codec h264`` or ``h265`` serves a clip's H.264/H.265 track (Matroska or MP4, made by
ffmpeg with libx264/libx265: GStreamer here has no x264enc) through h264parse/h265parse and
rtph264pay/rtph265pay (RFC 6184 / RFC 7798, payload type 96). The payloader puts the
parameter sets in the SDP (sprop-parameter-sets; sprop-vps/sps/pps); ``--config-interval``
is rtph26xpay's own: 0 (GStreamer's default) sends them only there, -1 also in band before
every IDR, N > 0 every N seconds. ``--audio`` adds the clip's first audio track as PCMU
(pay1, payload type 0, 8000 Hz mono) beside the video:

    /usr/bin/python3 tests/peers/gst_rtsp_server.py --media clip.mkv --codec h265 --audio
``--auth USER:PASSWORD`` lets only that user in (GstRTSPAuth), by ``--auth-method`` digest
(GStreamer's own form: MD5, no qop) or basic.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

# RFC 3551: static payload type 26 is JPEG, 0 is PCMU; 96 is the first dynamic one.
PT_JPEG = 26
PT_PCMU = 0
PT_DYNAMIC = 96
# Element names per codec: GStreamer's parser and RFC 6184 / RFC 7798 payloader.
H26X_ELEMENTS = {"h264": ("h264parse", "rtph264pay"), "h265": ("h265parse", "rtph265pay")}
# Demuxer by container, chosen from the clip's suffix.
DEMUXERS = {".mkv": "matroskademux", ".mp4": "qtdemux", ".mov": "qtdemux"}
ROLE = "viewer"  # the one role --auth's user gets, allowed to open and build the media


def add_auth(
    server: GstRtspServer.RTSPServer,
    factory: GstRtspServer.RTSPMediaFactory,
    user: str,
    password: str,
    method: str,
) -> None:
    """Only ``user`` may play the factory's media, authenticated by ``method``."""
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", ROLE)
    if method == "basic":
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    else:
        auth.add_digest(user, password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    for permission in ("media.factory.access", "media.factory.construct"):
        permissions.add_permission_for_role(ROLE, permission, True)
    factory.set_permissions(permissions)


def quoted_location(media: Path) -> str:
    """The clip's absolute path as a quoted gst-launch property value."""
    return '"' + str(media.resolve()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def clip_pipeline(media: Path) -> str:
    """Frames of a Matroska MJPEG clip, paced by its timestamps."""
    return (
        f"( filesrc location={quoted_location(media)} ! matroskademux ! jpegparse "
        f"! rtpjpegpay name=pay0 pt={PT_JPEG} )"
    )


def h26x_pipeline(media: Path, codec: str, config_interval: int, audio: bool) -> str:
    """A clip's H.264/H.265 track, paced by its timestamps, and with ``audio`` its first audio
    track resampled to 8000 Hz mono and sent as PCMU."""
    parse, pay = H26X_ELEMENTS[codec]
    demux = DEMUXERS.get(media.suffix.lower(), "matroskademux")
    video = (
        f"demux.video_0 ! queue ! {parse} "
        f"! {pay} name=pay0 pt={PT_DYNAMIC} config-interval={config_interval}"
    )
    sound = (
        " demux.audio_0 ! queue ! decodebin ! audioconvert ! audioresample "
        f"! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt={PT_PCMU}"
    )
    return (
        f"( filesrc location={quoted_location(media)} ! {demux} name=demux "
        f"{video}{sound if audio else ''} )"
    )


def pattern_pipeline(width: int, height: int, fps: int) -> str:
    """A live moving test picture.

    I420 input gives jpegenc 4:2:0 output, which rtpjpegpay can carry (RFC 2435 types 0/1).
    """
    return (
        f"( videotestsrc is-live=true pattern=ball"
        f" ! video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"
        f" ! jpegenc quality=50 ! rtpjpegpay name=pay0 pt={PT_JPEG} )"
    )


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port, 0 for any free one")
    parser.add_argument("--address", default="127.0.0.1")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--media", type=Path, help="a clip: Matroska MJPEG, or see --codec")
    source.add_argument(
        "--test-pattern", action="store_true", help="a live videotestsrc picture instead of a clip"
    )
    source.add_argument(
        "--launch",
        help="a whole media pipeline in gst-launch syntax, payloaders named pay0, pay1, ...",
    )
    parser.add_argument(
        "--size",
        type=parse_size,
        default=(320, 240),
        help="test pattern's WIDTHxHEIGHT (default 320x240)",
    )
    parser.add_argument("--fps", type=int, default=10, help="test pattern's frame rate")
    parser.add_argument(
        "--codec",
        choices=("mjpeg", *H26X_ELEMENTS),
        default="mjpeg",
        help="the --media clip's video codec (h264/h265: Matroska or MP4)",
    )
    parser.add_argument(
        "--config-interval",
        type=int,
        default=0,
        help="rtph26xpay's: 0 parameter sets in SDP only, -1 also before each IDR",
    )
    parser.add_argument(
        "--audio", action="store_true", help="also the clip's first audio track, as PCMU"
    )
    parser.add_argument("--path", default="/clip", help="mount point (default /clip)")
    parser.add_argument("--shared", action="store_true", help="one pipeline for all clients")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="the one user let in")
    parser.add_argument("--auth-method", choices=("digest", "basic"), default="digest")
    args = parser.parse_args(argv)
    if args.media is not None and not args.media.is_file():
        print(f"error: media file not found: {args.media}", file=sys.stderr)
        return 2
    if args.audio and args.codec == "mjpeg":
        print("error: --audio needs --codec h264 or h265", file=sys.stderr)
        return 2

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    if args.launch:
        factory.set_launch(f"( {args.launch} )")
    elif args.test_pattern:
        factory.set_launch(pattern_pipeline(*args.size, args.fps))
    elif args.codec in H26X_ELEMENTS:
        factory.set_launch(h26x_pipeline(args.media, args.codec, args.config_interval, args.audio))
    else:
        factory.set_launch(clip_pipeline(args.media))
    factory.set_shared(args.shared)
    if args.auth:
        user, _, password = args.auth.partition(":")
        add_auth(server, factory, user, password, args.auth_method)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"error: cannot listen on {args.address}:{args.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    print(f"PORT {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
