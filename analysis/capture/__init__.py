"""Live capture of RTSP sessions from a raw packet socket: the kernel filter, the
sans-I/O frame filter, UDP GSO splitting, and the capture thread that writes a pcap."""
