"""A classic BPF socket filter for RTSP capture, assembled by hand (no libpcap compiler).

The kernel runs it on every frame before it is queued to the capture socket, so the Python
thread never sees what cannot belong to a session: the outgoing copy of each loopback frame,
TCP on other ports, non-IP traffic. All UDP passes, because which ports RTP uses is learned
from the SETUP exchange later; ``SessionFlowFilter`` makes the exact choice in user space.
Instruction encoding: linux/filter.h and Documentation/networking/filter.rst.
"""

from __future__ import annotations

import ctypes
import logging
import socket
import struct
from dataclasses import dataclass

from analysis.wire.inet import (
    ETHER_HEADER_LEN,
    ETHERTYPE_8021Q,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_OFFSET,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV4_FRAGMENT_OFFSET_MASK,
    IPV4_PROTO_OFFSET,
)

log = logging.getLogger(__name__)

# linux/filter.h opcodes (class | size | mode).
LD_W_ABS = 0x20
LD_H_ABS = 0x28
LD_B_ABS = 0x30
LD_H_IND = 0x48
LDX_B_MSH = 0xB1
JEQ_K = 0x15
JSET_K = 0x45
RET_K = 0x06
# Ancillary load: the packet type (PACKET_HOST, PACKET_OUTGOING, ...), linux/filter.h.
SKF_AD_OFF = -0x1000
SKF_AD_PKTTYPE = 4
PACKET_OUTGOING = 4
# asm-generic/socket.h
SO_ATTACH_FILTER = 26
IP_OFFSET = ETHER_HEADER_LEN
IPV4_FLAGS_AT = IP_OFFSET + 6
IPV4_PROTO_AT = IP_OFFSET + IPV4_PROTO_OFFSET
ACCEPT_BYTES = 0x40000
_INSN = struct.Struct("=HBBI")


@dataclass(frozen=True)
class Insn:
    """One classic BPF instruction (struct sock_filter)."""

    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0


Step = tuple[int, str | int, str | int, int]


def assemble(steps: list[Step | str]) -> list[Insn]:
    """Resolve a program written with labels: a str is a label, a step's jt/jf name one."""
    labels: dict[str, int] = {}
    index = 0
    for step in steps:
        if isinstance(step, str):
            labels[step] = index
        else:
            index += 1
    program: list[Insn] = []
    for step in steps:
        if isinstance(step, str):
            continue
        code, jt, jf, k = step
        here = len(program)
        rel = [labels[j] - here - 1 if isinstance(j, str) else j for j in (jt, jf)]
        program.append(Insn(code, rel[0], rel[1], k & 0xFFFFFFFF))
    return program


def session_filter(rtsp_port: int, *, drop_outgoing: bool) -> list[Insn]:
    """Accept IPv4 TCP to/from ``rtsp_port``, IPv4 UDP, later IPv4 fragments and IPv6/VLAN
    frames (left to user space); drop the rest, and outgoing copies when asked."""
    steps: list[Step | str] = []
    if drop_outgoing:
        steps += [
            (LD_W_ABS, 0, 0, SKF_AD_OFF + SKF_AD_PKTTYPE),
            (JEQ_K, "drop", 0, PACKET_OUTGOING),
        ]
    steps += [
        (LD_H_ABS, 0, 0, ETHERTYPE_OFFSET),
        (JEQ_K, "ipv4", 0, ETHERTYPE_IPV4),
        (JEQ_K, "accept", 0, ETHERTYPE_IPV6),
        (JEQ_K, "accept", "drop", ETHERTYPE_8021Q),
        "ipv4",
        (LD_H_ABS, 0, 0, IPV4_FLAGS_AT),
        (JSET_K, "accept", 0, IPV4_FRAGMENT_OFFSET_MASK),  # later fragment: user space decides
        (LD_B_ABS, 0, 0, IPV4_PROTO_AT),
        (JEQ_K, "accept", 0, IPPROTO_UDP),
        (JEQ_K, 0, "drop", IPPROTO_TCP),
        (LDX_B_MSH, 0, 0, IP_OFFSET),
        (LD_H_IND, 0, 0, IP_OFFSET),  # TCP source port
        (JEQ_K, "accept", 0, rtsp_port),
        (LD_H_IND, 0, 0, IP_OFFSET + 2),  # TCP destination port
        (JEQ_K, "accept", "drop", rtsp_port),
        "drop",
        (RET_K, 0, 0, 0),
        "accept",
        (RET_K, 0, 0, ACCEPT_BYTES),
    ]
    return assemble(steps)


def encode(program: list[Insn]) -> bytes:
    """The ``struct sock_filter`` array of a program."""
    return b"".join(_INSN.pack(i.code, i.jt, i.jf, i.k) for i in program)


def attach(sock: socket.socket, program: list[Insn]) -> bool:
    """Attach ``program`` to ``sock`` (SO_ATTACH_FILTER); False, logged, if the kernel refuses."""
    code = ctypes.create_string_buffer(encode(program))
    fprog = struct.pack("HL", len(program), ctypes.addressof(code))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError as exc:
        log.warning("kernel socket filter refused (%s); filtering in user space only", exc)
        return False
    return True


def run(program: list[Insn], frame: bytes, pkttype: int = 0) -> int:
    """Interpret ``program`` on ``frame`` the way the kernel does (the opcodes used here):
    returns the number of bytes accepted, 0 for a drop. For tests."""
    a = x = 0
    pc = 0
    while True:
        insn = program[pc]
        pc += 1
        try:
            if insn.code == LD_W_ABS:
                if insn.k == (SKF_AD_OFF + SKF_AD_PKTTYPE) & 0xFFFFFFFF:
                    a = pkttype
                else:
                    (a,) = struct.unpack_from("!I", frame, insn.k)
            elif insn.code == LD_H_ABS:
                (a,) = struct.unpack_from("!H", frame, insn.k)
            elif insn.code == LD_B_ABS:
                a = frame[insn.k]
            elif insn.code == LD_H_IND:
                (a,) = struct.unpack_from("!H", frame, x + insn.k)
            elif insn.code == LDX_B_MSH:
                x = (frame[insn.k] & 0x0F) * 4
            elif insn.code == JEQ_K:
                pc += insn.jt if a == insn.k else insn.jf
            elif insn.code == JSET_K:
                pc += insn.jt if a & insn.k else insn.jf
            elif insn.code == RET_K:
                return insn.k
            else:
                raise ValueError(f"opcode {insn.code:#x} not interpreted")
        except (struct.error, IndexError):
            return 0  # the kernel drops a frame a load runs past
