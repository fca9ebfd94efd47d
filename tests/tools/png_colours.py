#!/usr/bin/env python3
"""png_colours.py FILE [#RRGGBB ...]: decodes an 8-bit RGB or RGBA PNG
(what chromium's --screenshot writes) with the standard library alone and
prints `WIDTH HEIGHT`, then `#RRGGBB COUNT` for its most common colour,
then one such line for each colour asked for (0 when absent). Exits 1
when FILE is not such a PNG."""
import struct, sys, zlib
from collections import Counter


def decode(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if not hdr:
        raise ValueError("no IHDR")
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError(f"depth {depth}, colour type {ctype}, interlace {interlace}: not read here")
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    prev, rows, i = bytearray(stride), [], 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    try:
        w, h, bpp, rows = decode(open(sys.argv[1], "rb").read())
    except (OSError, ValueError, zlib.error, struct.error) as e:
        print(f"{sys.argv[1]}: {e}")
        return 1
    count = Counter(row[x:x + 3] for row in rows for x in range(0, w * bpp, bpp))
    print(w, h)
    top, n = count.most_common(1)[0]
    print(f"#{top.hex()} {n}")
    for want in sys.argv[2:]:
        print(f"{want} {count.get(bytes.fromhex(want.lstrip('#')), 0)}")
    return 0


sys.exit(main())
