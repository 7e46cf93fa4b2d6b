"""A GStreamer rtsp-server serving a live MJPEG test pattern, as a peer for interop tests.

Run with Debian's python3 (python3-gi, gir1.2-gst-rtsp-server-1.0), not the project's venv:
    /usr/bin/python3 gst_mjpeg_server.py
Prints "READY <port>" once it listens on 127.0.0.1; the mount point is /test.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

# I420 input gives jpegenc 4:2:0 output, which rtpjpegpay can carry (RFC 2435 types 0/1).
PIPELINE = (
    "( videotestsrc is-live=true pattern=ball"
    " ! video/x-raw,format=I420,width=320,height=240,framerate=10/1"
    " ! jpegenc quality=50 ! rtpjpegpay name=pay0 pt=26 )"
)


def main() -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/test", factory)
    server.attach(None)
    sys.stdout.write(f"READY {server.get_bound_port()}\n")
    sys.stdout.flush()
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
