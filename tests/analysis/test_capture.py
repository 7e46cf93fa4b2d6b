"""analysis.capture.live: the session filter on raw bytes, the pcap writer, and live capture on lo."""

from __future__ import annotations

import argparse
import io
import re
import socket
import struct
import subprocess
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from realtools import require_raw_socket, require_tool
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.utils import rdpcap

from analysis.capture import bpf as capture_bpf
from analysis.capture import live as capture_module
from analysis.capture.filter import SessionFlowFilter, parse_frame, transport_ports
from analysis.capture.gso import VnetHeader, split_udp_gso
from analysis.capture.live import Capture, CaptureError, CapturePermissionError, PcapFileWriter
from analysis.craft.malformed import valid_rtp_jpeg
from analysis.craft.session_builder import SessionBuilder
from analysis.layers import RTCP, RTP, SenderInfo
from workbench.commands import capture as capture_command


def test_filter_keeps_rtsp_and_negotiated_udp_only():
    b = SessionBuilder(rtsp_port=8554, client_rtp_port=5000, server_rtp_port=6000)
    early_noise = b.udp_noise(sport=6000, dport=5000)  # before SETUP: not yet negotiated
    wanted = b.start()
    wanted += [p for f in b.frames(3) for p in f]
    wanted.append(b.sender_report())
    wanted.append(b.receiver_report())
    noise = [b.udp_noise(sport=7000, dport=7001), b.udp_noise(sport=5002, dport=6002)]
    f = SessionFlowFilter(8554)
    kept = [p for p in b.packets if f.accept(bytes(p))]
    assert kept == wanted
    assert early_noise not in kept and not set(map(id, noise)) & set(map(id, kept))


def test_filter_learns_from_lab_request_form_split_across_segments():
    b = SessionBuilder(client_rtp_port=25000)
    b.handshake()
    b.client_bytes(b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTrans")
    b.client_bytes(b"port: RTP/UDP; client_port= 25000\n\n")
    b.server_bytes(b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456\n\n")
    rtp = b.lab_frame()
    f = SessionFlowFilter(8554)
    assert all(f.accept(bytes(p)) for p in b.packets)
    assert f.accept(bytes(rtp))


def test_filter_keeps_every_fragment_of_a_negotiated_datagram_only():
    b = SessionBuilder(client_rtp_port=5000, server_rtp_port=6000)
    b.start(handshake=False)
    f = SessionFlowFilter(8554)
    for p in b.packets:
        f.accept(bytes(p))
    wanted = (
        Ether()
        / IP(src=b.server.ip, dst=b.client.ip, id=7)
        / UDP(sport=6000, dport=5000)
        / (b"\x80\x1a" + bytes(3000))
    )
    noise = (
        Ether()
        / IP(src=b.server.ip, dst=b.client.ip, id=8)
        / UDP(sport=7001, dport=7000)
        / bytes(3000)
    )
    kept = [f.accept(bytes(frag)) for frag in fragment(wanted, fragsize=1000)]
    dropped = [f.accept(bytes(frag)) for frag in fragment(noise, fragsize=1000)]
    assert len(kept) == 4 and all(kept)
    assert not any(dropped)


def _bpf(frame, pkttype=0, drop_outgoing=True, port=8554):
    return capture_bpf.run(
        capture_bpf.session_filter(port, drop_outgoing=drop_outgoing), bytes(frame), pkttype
    )


def test_kernel_filter_program_accepts_and_drops_the_right_frames():
    ip = IP(src="10.0.0.1", dst="10.0.0.2")
    assert _bpf(Ether() / ip / TCP(sport=40000, dport=8554)) > 0
    assert _bpf(Ether() / ip / TCP(sport=8554, dport=40000) / b"RTSP/1.0 200 OK") > 0
    assert _bpf(Ether() / ip / TCP(sport=40000, dport=80)) == 0
    assert _bpf(Ether() / ip / UDP(sport=1, dport=2)) > 0
    assert _bpf(Ether() / ip / ICMP()) == 0
    assert _bpf(Ether() / ARP()) == 0
    assert _bpf(Ether() / IPv6() / UDP()) > 0
    assert _bpf(Ether() / IP(frag=100, proto=17) / bytes(20)) > 0
    # Outgoing copies go only when asked (on loopback devices).
    assert _bpf(Ether() / ip / UDP(), pkttype=capture_bpf.PACKET_OUTGOING) == 0
    assert _bpf(Ether() / ip / UDP(), pkttype=capture_bpf.PACKET_OUTGOING, drop_outgoing=False) > 0
    # A TCP header with options moves the ports' offset with IHL: still found.
    assert _bpf(Ether() / IP(options=[IPOption_NOP()] * 4) / TCP(dport=8554)) > 0
    assert _bpf(Ether(type=0x0800) / b"\x45") == 0  # truncated: the load runs past the end


@pytest.mark.capture
def test_kernel_filter_attaches_to_a_real_socket():
    require_raw_socket()
    sock = capture_module.open_packet_socket("lo")
    try:
        assert capture_bpf.attach(sock, capture_bpf.session_filter(8554, drop_outgoing=True))
    finally:
        sock.close()


def test_transport_ports_and_frame_parsing_edge_cases():
    assert transport_ports(b"RTP/AVP;unicast;client_port=5000-5001;server_port=6000") == {
        "client_port": (5000, 5001),
        "server_port": (6000, 6001),
    }
    assert transport_ports(b"RTP/AVP/TCP;interleaved=0-1") == {}
    assert parse_frame(b"") is None
    assert parse_frame(b"\x00" * 12 + b"\x08\x06" + b"\x00" * 28) is None  # ARP
    assert parse_frame(b"\x00" * 12 + b"\x08\x00" + b"\x45") is None  # truncated IPv4
    b = SessionBuilder()
    info = parse_frame(bytes(b.udp_noise(sport=1, dport=2)))
    assert (info.proto, info.sport, info.dport) == (17, 1, 2)


def test_pcap_writer_output_reads_back(tmp_path):
    b = SessionBuilder()
    b.start()
    frames = [bytes(p) for p in b.packets]
    path = tmp_path / "w.pcap"
    with open(path, "wb") as f:
        writer = PcapFileWriter(f)
        for i, frame in enumerate(frames):
            writer.write(frame, 1_700_000_000.25 + i)
    back = rdpcap(str(path))
    assert [bytes(p) for p in back] == frames
    assert float(back[3].time) == pytest.approx(1_700_000_003.25)


def test_permission_error_says_root_or_cap_net_raw(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(capture_module.socket, "socket", refuse)
    cap = Capture(output=tmp_path / "x.pcap")
    with pytest.raises(CapturePermissionError, match="root or CAP_NET_RAW"):
        cap.start()
    assert not (tmp_path / "x.pcap").exists()


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    capture_command.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_reports_permission_error(monkeypatch, tmp_path, capsys):
    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(capture_module.socket, "socket", refuse)
    assert _run_cli(["capture", "--count", "1", "-o", str(tmp_path / "x.pcap")]) == 2
    assert "CAP_NET_RAW" in capsys.readouterr().err


# --- live capture on the loopback device ------------------------------------------------


def _rtsp_listener() -> socket.socket:
    """Listen on 554 or 8554 when free (ports Wireshark knows as RTSP), else any port."""
    for port in (554, 8554, 0):
        try:
            return socket.create_server(("127.0.0.1", port))
        except OSError:
            continue
    raise RuntimeError("no TCP port")


def _udp(port: int = 0) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    return s


def _play_session(listener: socket.socket, n_rtp: int) -> dict:
    """A SETUP exchange over TCP, then RTP/RTCP on the negotiated ports, plus UDP noise."""
    rtsp_port = listener.getsockname()[1]
    c_rtp, c_rtcp, s_rtp, s_rtcp, noise_rx, noise_tx = (_udp() for _ in range(6))
    ports = {
        name: s.getsockname()[1]
        for name, s in [
            ("c_rtp", c_rtp),
            ("c_rtcp", c_rtcp),
            ("s_rtp", s_rtp),
            ("s_rtcp", s_rtcp),
            ("noise_rx", noise_rx),
            ("noise_tx", noise_tx),
        ]
    }
    transport = f"RTP/AVP;unicast;client_port={ports['c_rtp']}-{ports['c_rtcp']}"
    reply_transport = transport + f";server_port={ports['s_rtp']}-{ports['s_rtcp']}"
    accepted = {}

    def serve():
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(
            f"RTSP/1.0 200 OK\r\nCSeq: 1\r\nSession: 12345678\r\n"
            f"Transport: {reply_transport}\r\n\r\n".encode()
        )
        accepted["conn"] = conn

    server = threading.Thread(target=serve)
    server.start()
    client = socket.create_connection(("127.0.0.1", rtsp_port))
    noise_tx.sendto(b"noise before", ("127.0.0.1", ports["noise_rx"]))
    client.sendall(
        f"SETUP rtsp://127.0.0.1:{rtsp_port}/clip/track0 RTSP/1.0\r\nCSeq: 1\r\n"
        f"Transport: {transport}\r\n\r\n".encode()
    )
    reply = client.recv(4096)
    server.join()
    assert b"200 OK" in reply
    for seq in range(n_rtp):
        s_rtp.sendto(valid_rtp_jpeg(sequence=seq), ("127.0.0.1", ports["c_rtp"]))
        noise_tx.sendto(b"noise %d" % seq, ("127.0.0.1", ports["noise_rx"]))
    sr = RTCP(
        packet_type=200,
        sourcesync=0x11223344,
        sender_info=SenderInfo(
            ntp_timestamp=1, rtp_timestamp=2, sender_packet_count=n_rtp, sender_octet_count=3
        ),
    )
    s_rtcp.sendto(bytes(sr), ("127.0.0.1", ports["c_rtcp"]))
    c_rtcp.sendto(bytes(RTCP(packet_type=201, sourcesync=5)), ("127.0.0.1", ports["s_rtcp"]))
    client.close()
    accepted["conn"].close()
    for s in (c_rtp, c_rtcp, s_rtp, s_rtcp, noise_rx, noise_tx):
        s.close()
    return ports | {"rtsp": rtsp_port}


@pytest.mark.capture
def test_live_capture_keeps_exactly_the_negotiated_flows_once(tmp_path):
    require_raw_socket()
    listener = _rtsp_listener()
    rtsp_port = listener.getsockname()[1]
    out = tmp_path / "live.pcap"
    n_rtp = 25
    with Capture(interface="lo", rtsp_port=rtsp_port, output=out) as cap:
        ports = _play_session(listener, n_rtp)
        # stop() still reads what the kernel queued before it; this only lets loopback
        # delivery finish.
        time.sleep(0.1)
    listener.close()
    summary = cap.stop()
    assert summary.packets_written == cap.packets_written
    assert summary.kernel_drops == 0
    packets = rdpcap(str(out))
    assert len(packets) == summary.packets_written
    allowed_udp = {
        (ports["s_rtp"], ports["c_rtp"]),
        (ports["s_rtcp"], ports["c_rtcp"]),
        (ports["c_rtcp"], ports["s_rtcp"]),
    }
    udp = [p for p in packets if p.haslayer("UDP")]
    tcp = [p for p in packets if p.haslayer("TCP")]
    assert len(udp) + len(tcp) == len(packets)
    assert all((p["UDP"].sport, p["UDP"].dport) in allowed_udp for p in udp)
    assert all(rtsp_port in (p["TCP"].sport, p["TCP"].dport) for p in tcp)
    rtp = [RTP(bytes(p["UDP"].payload)) for p in udp if p["UDP"].dport == ports["c_rtp"]]
    # Each packet once: loopback shows every frame twice to a raw socket.
    assert sorted(r.sequence for r in rtp) == list(range(n_rtp))
    assert len([p for p in udp if p["UDP"].dport in (ports["c_rtcp"], ports["s_rtcp"])]) == 2
    text = b"".join(bytes(p["TCP"].payload) for p in tcp)
    assert text.count(b"SETUP rtsp://") == 1 and text.count(b"RTSP/1.0 200 OK") == 1

    require_tool("tshark")
    decode = [] if rtsp_port in (554, 8554) else ["-d", f"tcp.port=={rtsp_port},rtsp"]
    result = subprocess.run(
        ["tshark", "-r", str(out), *decode, "-Y", "rtp"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == n_rtp


@pytest.mark.capture
def test_live_capture_stops_by_itself_at_count(tmp_path):
    require_raw_socket()
    listener = _rtsp_listener()
    cap = Capture(
        interface="lo", rtsp_port=listener.getsockname()[1], output=tmp_path / "count.pcap", count=5
    )
    cap.start()
    _play_session(listener, 10)
    listener.close()
    assert cap.wait(10)
    summary = cap.stop()
    assert summary.packets_written == 5
    assert len(rdpcap(str(tmp_path / "count.pcap"))) == 5


@pytest.mark.capture
def test_cli_capture_for_a_duration_prints_counts(tmp_path, capsys):
    require_raw_socket()
    out = tmp_path / "cli.pcap"
    listener = socket.create_server(("127.0.0.1", 0))  # a port Wireshark does not know
    port = listener.getsockname()[1]
    sender = threading.Thread(target=lambda: (time.sleep(0.3), _play_session(listener, 3)))
    sender.start()
    assert (
        _run_cli(
            ["capture", "-i", "lo", "--rtsp-port", str(port), "--duration", "1.5", "-o", str(out)]
        )
        == 0
    )
    sender.join()
    listener.close()
    printed = capsys.readouterr().out
    written = int(re.search(r"wrote (\d+) packets", printed).group(1))
    assert written == len(rdpcap(str(out))) >= 3 + 4
    assert "kernel drops: 0" in printed
    assert f"wireshark -d tcp.port=={port},rtsp {out}" in printed


def test_pcap_writer_on_any_binary_stream():
    # PcapFileWriter works on any binary stream, not only files.
    buf = io.BytesIO()
    PcapFileWriter(buf).write(b"\x00" * 60, 1.5)
    assert len(buf.getvalue()) == 24 + 16 + 60


_TRAINING = SessionBuilder(client_rtp_port=5000, server_rtp_port=6000)
_TRAINING.start(handshake=False)
_TRAINING_FRAMES = [bytes(p) for p in _TRAINING.packets]


def _trained_filter() -> tuple[SessionFlowFilter, SessionBuilder]:
    """A filter that has seen a SETUP for client ports 5000-5001 and server 6000-6001."""
    f = SessionFlowFilter(8554)
    for frame in _TRAINING_FRAMES:
        f.accept(frame)
    return f, _TRAINING


_PORTS = st.one_of(st.sampled_from([8554, 5000, 5001, 6000, 6001]), st.integers(0, 65535))


@settings(max_examples=300, deadline=None)
@given(
    proto=st.sampled_from(["tcp", "udp", "icmp"]),
    sport=_PORTS,
    dport=_PORTS,
    vlan=st.booleans(),
    ipv6=st.booleans(),
    frag=st.sampled_from([0, 0, 1, 2]),
    options=st.integers(0, 3),
    payload=st.binary(max_size=40),
)
def test_kernel_filter_never_drops_what_the_session_filter_keeps(
    proto, sport, dport, vlan, ipv6, frag, options, payload
):
    f, b = _trained_filter()
    l4 = {
        "tcp": TCP(sport=sport, dport=dport),
        "udp": UDP(sport=sport, dport=dport),
        "icmp": ICMP(),
    }[proto]
    if ipv6:
        l3 = IPv6(src="::1", dst="::1")
    else:
        l3 = IP(
            src=b.server.ip,
            dst=b.client.ip,
            id=99,
            options=[IPOption_NOP()] * options,
            flags="MF" if frag else 0,
            frag=0 if frag < 2 else 50,
        )
    frame = Ether() / Dot1Q() / l3 / l4 / payload if vlan else Ether() / l3 / l4 / payload
    data = bytes(frame)
    if frag == 2:
        # A later fragment of a datagram whose first fragment was kept.
        first = (
            IP(src=b.server.ip, dst=b.client.ip, id=99, flags="MF")
            / UDP(sport=6000, dport=5000)
            / payload
        )
        f.accept(bytes(Ether() / first))
    keep = f.accept(data)
    kernel = capture_bpf.run(capture_bpf.session_filter(8554, drop_outgoing=True), data)
    assert kernel > 0 or not keep


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_filters_take_arbitrary_bytes(data):
    f, _ = _trained_filter()
    f.accept(data)
    f.accept(b"\x00" * 12 + b"\x08\x00" + data)
    capture_bpf.run(capture_bpf.session_filter(8554, drop_outgoing=True), data)
    capture_bpf.run(
        capture_bpf.session_filter(8554, drop_outgoing=True), b"\x00" * 12 + b"\x08\x00" + data
    )


@pytest.mark.capture
def test_bad_interface_and_unwritable_output_are_clear_errors(tmp_path):
    require_raw_socket()
    with pytest.raises(CaptureError, match="interface 'nosuch0'"):
        Capture(interface="nosuch0", output=tmp_path / "x.pcap").start()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CaptureError, match="cannot write the capture"):
        Capture(output=blocker / "x.pcap").start()


@pytest.mark.capture
def test_life_cycle_misuse_is_a_clear_error(tmp_path):
    with pytest.raises(CaptureError, match="never started"):
        Capture(output=tmp_path / "x.pcap").stop()
    require_raw_socket()
    cap = Capture(output=tmp_path / "x.pcap").start()
    try:
        with pytest.raises(CaptureError, match="already started"):
            cap.start()
    finally:
        first = cap.stop()
    assert cap.stop() == first  # idempotent


@pytest.mark.capture
def test_cli_names_a_bad_interface(tmp_path, capsys):
    require_raw_socket()
    assert (
        _run_cli(["capture", "-i", "nosuch0", "--count", "1", "-o", str(tmp_path / "x.pcap")]) == 2
    )
    assert "nosuch0" in capsys.readouterr().err


@pytest.mark.parametrize("ipv6", [False, True])
def test_udp_gso_super_datagram_is_cut_into_valid_datagrams(ipv6):
    rtp_packets = [bytes([0x80, 26, 0, i]) + bytes([i]) * 96 for i in range(3)]
    rtp_packets.append(b"\x80\x9a\x00\x03" + b"\x07" * 40)  # a shorter last segment
    l3 = IPv6(src="::1", dst="::2") if ipv6 else IP(src="10.0.0.1", dst="10.0.0.2", id=500)
    big = bytes(Ether() / l3 / UDP(sport=6000, dport=5000) / b"".join(rtp_packets))
    pieces = split_udp_gso(big, 100)
    assert len(pieces) == 4
    for piece, payload in zip(pieces, rtp_packets):
        pkt = Ether(piece)
        assert bytes(pkt[UDP].payload) == payload
        assert pkt[UDP].len == 8 + len(payload)
        # Checksums as Scapy computes them for the same fields.
        reference = Ether(piece)
        del reference[UDP].chksum
        if not ipv6:
            del reference[IP].chksum, reference[IP].len
        rebuilt = Ether(bytes(reference))
        assert rebuilt[UDP].chksum == pkt[UDP].chksum
        if not ipv6:
            assert rebuilt[IP].chksum == pkt[IP].chksum and pkt[IP].len == 28 + len(payload)
    if not ipv6:
        assert [Ether(p)[IP].id for p in pieces] == [500, 501, 502, 503]


def test_gso_split_leaves_other_frames_alone():
    small = bytes(Ether() / IP() / UDP() / bytes(50))
    assert split_udp_gso(small, 100) == [small]
    tcp = bytes(Ether() / IP() / TCP() / bytes(500))
    assert split_udp_gso(tcp, 100) == [tcp]
    assert split_udp_gso(b"\x00" * 10, 100) == [b"\x00" * 10]
    header = VnetHeader.parse(struct.pack("=BBHHHH", 0, 5, 42, 1388, 0, 0))
    assert (header.gso_type, header.gso_size) == (5, 1388)


def test_filter_follows_several_sessions_at_once():
    first = SessionBuilder(client_tcp_port=40001, client_rtp_port=5000, server_rtp_port=6000)
    second = SessionBuilder(
        client_tcp_port=40002, client_rtp_port=5100, server_rtp_port=6100, client_ip="10.0.0.3"
    )
    for b in (first, second):
        b.start()
    f = SessionFlowFilter(8554)
    assert all(f.accept(bytes(p)) for b in (first, second) for p in b.packets)
    rtp = [p for b in (first, second) for frame in b.frames(2) for p in frame]
    assert all(f.accept(bytes(p)) for p in rtp)
    # The second client's port on the first client's address, from a port nobody
    # negotiated: not a session's flow.
    stray = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=7000, dport=5100)
    assert not f.accept(bytes(stray))
    # From a negotiated server port to the wrong client it is kept: a checker must see it.
    misdirected = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=6100, dport=5100)
    assert f.accept(bytes(misdirected))


@pytest.mark.capture
def test_a_failing_disk_stops_the_capture_with_a_clear_error(tmp_path):
    require_raw_socket()
    listener = _rtsp_listener()
    cap = Capture(
        interface="lo", rtsp_port=listener.getsockname()[1], output=tmp_path / "full.pcap"
    ).start()

    def disk_full(frame, timestamp):
        raise OSError(28, "No space left on device")

    cap._writer.write = disk_full
    _play_session(listener, 3)
    listener.close()
    assert cap.wait(5)  # the thread ends on the error instead of spinning
    with pytest.raises(CaptureError, match="No space left on device"):
        cap.stop()


def test_extra_udp_ports_keep_rtp_sent_without_rtsp():
    f = SessionFlowFilter(8554, extra_udp_ports=frozenset({5004}))
    rtp = Ether() / IP(src="10.0.0.1", dst="10.0.0.9") / UDP(sport=40000, dport=5004) / b"x"
    other = Ether() / IP(src="10.0.0.1", dst="10.0.0.9") / UDP(sport=40000, dport=5006) / b"x"
    tcp = Ether() / IP() / TCP(sport=40000, dport=5004)
    assert f.accept(bytes(rtp)) and not f.accept(bytes(other)) and not f.accept(bytes(tcp))


@pytest.mark.capture
def test_live_capture_of_rtp_without_rtsp_on_given_ports(tmp_path):
    require_raw_socket()
    rx, noise_rx, tx = _udp(), _udp(), _udp()
    port, noise_port = rx.getsockname()[1], noise_rx.getsockname()[1]
    out = tmp_path / "udp.pcap"
    with Capture(interface="lo", rtsp_port=1, output=out, udp_ports=(port,)):
        for seq in range(10):
            tx.sendto(valid_rtp_jpeg(sequence=seq), ("127.0.0.1", port))
            tx.sendto(b"noise", ("127.0.0.1", noise_port))
        time.sleep(0.1)
    for s in (rx, noise_rx, tx):
        s.close()
    packets = rdpcap(str(out))
    assert [RTP(bytes(p[UDP].payload)).sequence for p in packets] == list(range(10))
    assert all(p[UDP].dport == port for p in packets)


def test_interfaces_without_ethernet_headers_are_refused(monkeypatch, tmp_path):
    assert capture_module.interface_type("lo") in (None, capture_module.ARPHRD_LOOPBACK)
    assert capture_module.interface_type("no/such") is None
    monkeypatch.setattr(capture_module, "interface_type", lambda name: 65534)  # a tun device
    with pytest.raises(CaptureError, match="no Ethernet header"):
        Capture(interface="tun0", output=tmp_path / "x.pcap").start()
    assert not (tmp_path / "x.pcap").exists()
