"""Active probing of an RTSP server: the battery of crafted requests, its access-control
cases, the probe's own RTSP requests, replies and authentication, and its sockets."""
