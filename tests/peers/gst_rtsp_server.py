#!/usr/bin/python3
"""GStreamer's rtsp-server serving one Matroska MJPEG clip: a reference peer for tests and
benchmarks.

GstRtspServer's Python bindings come only with Debian's python3-gi, so run this with
/usr/bin/python3, not the project's virtual environment:

    /usr/bin/python3 tests/peers/gst_rtsp_server.py --port 0 --media clip.mkv --path /clip

It prints ``PORT <n>`` (the bound port) once it is listening, then serves until SIGTERM or
SIGINT. The clip must be Matroska: a raw .mjpeg through jpegparse carries no timestamps and
goes out unpaced (make one with ``ffmpeg -framerate 30 -f mjpeg -i clip.mjpeg -c copy clip.mkv``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

# RFC 3551: static payload type 26 is JPEG.
PT_JPEG = 26


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port, 0 for any free one")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--media", type=Path, required=True, help="a Matroska MJPEG clip")
    parser.add_argument("--path", default="/clip", help="mount point (default /clip)")
    parser.add_argument("--shared", action="store_true", help="one pipeline for all clients")
    args = parser.parse_args(argv)
    if not args.media.is_file():
        print(f"error: media file not found: {args.media}", file=sys.stderr)
        return 2

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = str(args.media.resolve()).replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(f'( filesrc location="{location}" ! matroskademux ! jpegparse '
                       f"! rtpjpegpay name=pay0 pt={PT_JPEG} )")
    factory.set_shared(args.shared)
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
