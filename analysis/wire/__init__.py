"""The checker's own reading of each protocol's bytes: link/IP/UDP/TCP into flows, TCP
reassembly, RTSP messages and headers, RTCP, SDP. No Scapy: bulk reading with struct."""
