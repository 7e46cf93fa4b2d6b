"""Wire formats shared by the server and the client: pure, bytes in, values out.

No sockets, threads or asyncio here (enforced by import-linter).
"""
