"""RTSP client: an asyncio core, the lab's synchronous API, a recorder and a Tk player."""
