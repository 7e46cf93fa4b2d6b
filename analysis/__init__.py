"""Scapy-based analysis: layers, capture, pcap sessions and conformance rules.

An independent oracle: it imports none of rtsp_common, rtsp_server, rtsp_client.
"""
