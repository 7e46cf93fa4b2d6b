"""Wire formats and media files shared by the server and the client.

No network I/O: no sockets, threads or asyncio (enforced by import-linter); every codec and
parser takes bytes and gives values. The one module that touches the file system is
mjpeg.py, which reads the media files the server streams and writes the client's recordings.
"""
