"""Generating traffic: whole sessions and malformed packets crafted with Scapy, fast
synthetic captures for benchmarks, and the JPEG images they carry."""
