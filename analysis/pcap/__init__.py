"""Capture files: reading classic pcap and pcapng (compressed or not) as raw records,
writing classic pcap, and the duplicates a capture method leaves. Capture writers go here."""
