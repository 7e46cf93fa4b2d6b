"""The independent oracle: reads RTSP/RTP/RTCP off the wire and judges it against the RFCs.

Grouped by job: ``pcap`` (capture files) and ``capture`` (live capture) bring bytes in;
``wire``, ``sessions``, ``streams`` and ``payloads`` read them into sessions, streams and
frames; ``rules`` judges them and ``check`` runs it all; ``craft`` generates traffic and
``probe`` questions a live server; ``layers`` gives the Scapy shell RTP/JPEG, RTCP and
interleaved RTSP layers. Bulk reading uses ``struct`` and numpy; Scapy serves crafting,
probing and the shell.

It imports none of rtsp_common, rtsp_server, rtsp_client, workbench: a bug shared by the
code under test and its checker would hide itself.
"""
