"""The fixed tables RFC 2435 relies on: JPEG Annex K and RFC 2435 Appendix A.

RFC 2435 carries no Huffman tables: sender and receiver both assume the
"typical" tables of ITU-T T.81 Annex K (K.3-K.6).  Quantization tables for
Q 1..99 are computed from the Annex K example tables (K.1, K.2) scaled as in
RFC 2435 Appendix A.  Every table here is in the order it travels in, which
for quantization tables is zig-zag order (T.81 Figure 5), the same as a DQT
segment.
"""

from __future__ import annotations

from functools import lru_cache

# T.81 Figure 5: ZIGZAG[i] is the natural (row-major) index of the i-th
# coefficient in zig-zag order.
ZIGZAG: tuple[int, ...] = (
    0, 1, 8, 16, 9, 2, 3, 10,
    17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34,
    27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36,
    29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46,
    53, 60, 61, 54, 47, 55, 62, 63,
)  # fmt: skip

# T.81 Table K.1, luminance quantization table, natural order.
LUMA_QUANT_NATURAL: tuple[int, ...] = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip

# T.81 Table K.2, chrominance quantization table, natural order.
CHROMA_QUANT_NATURAL: tuple[int, ...] = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)  # fmt: skip

# RFC 2435 §4.2: Q 1..99 select the Appendix A scaled tables.
MIN_Q_FACTOR = 1
MAX_Q_FACTOR = 99


# A Huffman table as a DHT segment holds it: 16 code-length counts, then the symbols.
HuffmanTable = tuple[bytes, bytes]

# T.81 Table K.3: luminance DC differences.
DC_LUMA: HuffmanTable = (
    bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]),
    bytes(range(12)),
)
# T.81 Table K.4: chrominance DC differences.
DC_CHROMA: HuffmanTable = (
    bytes([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]),
    bytes(range(12)),
)
# T.81 Table K.5: luminance AC coefficients.
AC_LUMA: HuffmanTable = (
    bytes([0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D]),
    bytes.fromhex(
        "01 02 03 00 04 11 05 12 21 31 41 06 13 51 61 07 "
        "22 71 14 32 81 91 A1 08 23 42 B1 C1 15 52 D1 F0 "
        "24 33 62 72 82 09 0A 16 17 18 19 1A 25 26 27 28 "
        "29 2A 34 35 36 37 38 39 3A 43 44 45 46 47 48 49 "
        "4A 53 54 55 56 57 58 59 5A 63 64 65 66 67 68 69 "
        "6A 73 74 75 76 77 78 79 7A 83 84 85 86 87 88 89 "
        "8A 92 93 94 95 96 97 98 99 9A A2 A3 A4 A5 A6 A7 "
        "A8 A9 AA B2 B3 B4 B5 B6 B7 B8 B9 BA C2 C3 C4 C5 "
        "C6 C7 C8 C9 CA D2 D3 D4 D5 D6 D7 D8 D9 DA E1 E2 "
        "E3 E4 E5 E6 E7 E8 E9 EA F1 F2 F3 F4 F5 F6 F7 F8 "
        "F9 FA "
    ),
)
# T.81 Table K.6: chrominance AC coefficients.
AC_CHROMA: HuffmanTable = (
    bytes([0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77]),
    bytes.fromhex(
        "00 01 02 03 11 04 05 21 31 06 12 41 51 07 61 71 "
        "13 22 32 81 08 14 42 91 A1 B1 C1 09 23 33 52 F0 "
        "15 62 72 D1 0A 16 24 34 E1 25 F1 17 18 19 1A 26 "
        "27 28 29 2A 35 36 37 38 39 3A 43 44 45 46 47 48 "
        "49 4A 53 54 55 56 57 58 59 5A 63 64 65 66 67 68 "
        "69 6A 73 74 75 76 77 78 79 7A 82 83 84 85 86 87 "
        "88 89 8A 92 93 94 95 96 97 98 99 9A A2 A3 A4 A5 "
        "A6 A7 A8 A9 AA B2 B3 B4 B5 B6 B7 B8 B9 BA C2 C3 "
        "C4 C5 C6 C7 C8 C9 CA D2 D3 D4 D5 D6 D7 D8 D9 DA "
        "E2 E3 E4 E5 E6 E7 E8 E9 EA F2 F3 F4 F5 F6 F7 F8 "
        "F9 FA "
    ),
)

# The Huffman table class (T.81 B.2.4.2 Tc) and the table slot RFC 2435
# receivers use: slot 0 for luminance, slot 1 for both chrominance components.
HUFFMAN_DC = 0
HUFFMAN_AC = 1
STANDARD_HUFFMAN: dict[tuple[int, int], HuffmanTable] = {
    (HUFFMAN_DC, 0): DC_LUMA,
    (HUFFMAN_AC, 0): AC_LUMA,
    (HUFFMAN_DC, 1): DC_CHROMA,
    (HUFFMAN_AC, 1): AC_CHROMA,
}


def _scale(natural: tuple[int, ...], factor: int) -> bytes:
    """One Appendix A table: scale, clamp to 1..255, emit in zig-zag order."""
    return bytes(max(1, min(255, (natural[ZIGZAG[i]] * factor + 50) // 100)) for i in range(64))


@lru_cache(maxsize=128)
def quant_tables(q: int) -> tuple[bytes, bytes]:
    """RFC 2435 Appendix A tables for Q factor ``q`` (1..99), zig-zag order.

    Returns (luminance, chrominance), 64 bytes each, exactly as a DQT segment
    holds them; the same tables libjpeg writes for ``quality=q``.
    The Appendix's sample code indexes the natural-order Annex K tables
    through the zig-zag map; reading it without that map puts the tables in
    the wrong order (a known erratum), which decoders show as blocky noise.
    """
    if not MIN_Q_FACTOR <= q <= MAX_Q_FACTOR:
        raise ValueError(f"RFC 2435 Q factor {q} has no computed tables (1..99 only)")
    factor = 5000 // q if q < 50 else 200 - 2 * q
    return _scale(LUMA_QUANT_NATURAL, factor), _scale(CHROMA_QUANT_NATURAL, factor)
