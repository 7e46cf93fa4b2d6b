"""asyncio RTSP 1.0 server streaming MJPEG over RTP (RFC 2326, 3550, 2435)."""

from rtsp_server.options import ServerOptions
from rtsp_server.server import RTSPServer

__all__ = ["RTSPServer", "ServerOptions"]
