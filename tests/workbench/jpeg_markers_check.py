"""An independent reading of JPEG markers (ITU-T T.81 Annex B) for the workbench tests:
does a frame have what RFC 2435 needs?
"""

from __future__ import annotations

from dataclasses import dataclass, field

# T.81 Annex K, K.3-K.6: code-length counts (BITS) of the "typical" Huffman tables and the
# first symbols of each (all 12 for the DC tables).
ANNEX_K_BITS = {
    (0, 0): bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]),
    (0, 1): bytes([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]),
    (1, 0): bytes([0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D]),
    (1, 1): bytes([0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77]),
}
ANNEX_K_FIRST_SYMBOLS = {
    (0, 0): bytes(range(12)),
    (0, 1): bytes(range(12)),
    (1, 0): bytes.fromhex("01020300041105122131410613516107"),
    (1, 1): bytes.fromhex("00010203110405213106124151076171"),
}


@dataclass
class Markers:
    """What the header segments of one JPEG say."""

    sof: list[int] = field(default_factory=list)  # SOFn marker codes seen
    width: int = 0
    height: int = 0
    components: list[tuple[int, int, int]] = field(default_factory=list)  # (id, HxV, tq)
    qtables: dict[int, bytes] = field(default_factory=dict)
    htables: dict[tuple[int, int], tuple[bytes, bytes]] = field(default_factory=dict)
    restart_interval: int = 0
    scans: int = 0


def read_markers(data: bytes) -> Markers:
    assert data[:2] == b"\xff\xd8", "no SOI"
    assert data[-2:] == b"\xff\xd9", "no EOI"
    m = Markers()
    pos = 2
    while pos < len(data):
        assert data[pos] == 0xFF, f"marker expected at {pos}"
        code = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        body = data[pos + 4 : pos + 2 + length]
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            m.sof.append(code)
            m.height = int.from_bytes(body[1:3], "big")
            m.width = int.from_bytes(body[3:5], "big")
            for i in range(body[5]):
                c = body[6 + 3 * i : 9 + 3 * i]
                m.components.append((c[0], c[1], c[2]))
        elif code == 0xDB:  # DQT: several tables may share one segment
            i = 0
            while i < len(body):
                precision, table = body[i] >> 4, body[i] & 15
                size = 128 if precision else 64
                m.qtables[table] = body[i + 1 : i + 1 + size]
                i += 1 + size
        elif code == 0xC4:
            i = 0
            while i < len(body):
                cls, table = body[i] >> 4, body[i] & 15
                bits = body[i + 1 : i + 17]
                values = body[i + 17 : i + 17 + sum(bits)]
                m.htables[(cls, table)] = (bits, values)
                i += 17 + sum(bits)
        elif code == 0xDD:
            m.restart_interval = int.from_bytes(body[:2], "big")
        elif code == 0xDA:
            m.scans += 1
            break  # entropy data follows
        pos += 2 + length
    return m


def assert_rfc2435_ready(data: bytes) -> Markers:
    """Baseline SOF0, 4:2:0 (Y 2x2, Cb/Cr 1x1), two 8-bit DQT tables, Annex K DHT, sizes ok."""
    m = read_markers(data)
    assert m.sof == [0xC0], f"not baseline: SOF markers {m.sof}"
    assert [(h, t) for _, h, t in m.components] == [(0x22, 0), (0x11, 1), (0x11, 1)]
    assert sorted(m.qtables) == [0, 1] and all(len(t) == 64 for t in m.qtables.values())
    assert sorted(m.htables) == sorted(ANNEX_K_BITS)
    for key, (bits, values) in m.htables.items():
        assert bits == ANNEX_K_BITS[key], f"Huffman table {key} is not Annex K"
        assert len(values) == sum(ANNEX_K_BITS[key])
        assert values.startswith(ANNEX_K_FIRST_SYMBOLS[key])
    assert m.width % 8 == 0 and m.height % 8 == 0 and m.width <= 2040 and m.height <= 2040
    assert m.restart_interval == 0
    return m
