#!/usr/bin/env python3
"""Independent NumPy dequantiser for the GGUF block types fathom supports, written from the formats' definitions
(element by element: for each element index, which byte and bits hold its code and which scale applies). Used as the
oracle for quant::dequantize_row.

Arithmetic is float32 throughout, one rounding per operation, in the order the formats define:
  q4_0 / q5_0:          (q - offset) * d
  q4_1 / q5_1:          q * d + m
  q8_0 / q8_1 / q8_k:   q * d
  iq4_nl:               d * level
  q4_k / q5_k:          (d * sc) * q - (dmin * m)
  q6_k:                 (d * sc) * (q - 32)
  iq4_xs:               (d * (ls - 32)) * level

usage: quant_ref.py DIR TYPE...   reads DIR/TYPE.bin (whole blocks), writes DIR/TYPE.f32 (little-endian float32)
"""
import sys

import numpy as np

F32 = np.float32
IQ4_LEVELS = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=F32)

# Block layouts: (field, numpy type, count). Fields are packed with no padding.
LAYOUTS = {
    "q4_0": (32, [("d", "<u2", 1), ("qs", "u1", 16)]),
    "q4_1": (32, [("d", "<u2", 1), ("m", "<u2", 1), ("qs", "u1", 16)]),
    "q5_0": (32, [("d", "<u2", 1), ("qh", "u1", 4), ("qs", "u1", 16)]),
    "q5_1": (32, [("d", "<u2", 1), ("m", "<u2", 1), ("qh", "u1", 4), ("qs", "u1", 16)]),
    "q8_0": (32, [("d", "<u2", 1), ("qs", "i1", 32)]),
    "q8_1": (32, [("d", "<u2", 1), ("s", "<u2", 1), ("qs", "i1", 32)]),
    "iq4_nl": (32, [("d", "<u2", 1), ("qs", "u1", 16)]),
    "q4_k": (256, [("d", "<u2", 1), ("dmin", "<u2", 1), ("scales", "u1", 12), ("qs", "u1", 128)]),
    "q5_k": (256, [("d", "<u2", 1), ("dmin", "<u2", 1), ("scales", "u1", 12), ("qh", "u1", 32), ("qs", "u1", 128)]),
    "q6_k": (256, [("ql", "u1", 128), ("qh", "u1", 64), ("scales", "i1", 16), ("d", "<u2", 1)]),
    "q8_k": (256, [("d", "<f4", 1), ("qs", "i1", 256), ("bsums", "<i2", 16)]),
    "iq4_xs": (256, [("d", "<u2", 1), ("scales_h", "<u2", 1), ("scales_l", "u1", 4), ("qs", "u1", 128)]),
}


def parse(name, raw):
    """Splits raw bytes into per-field arrays of shape (blocks, count)."""
    _, fields = LAYOUTS[name]
    dt = np.dtype([(f, t, (c,)) for f, t, c in fields])
    if len(raw) % dt.itemsize:
        raise SystemExit(f"{name}: {len(raw)} bytes is not a whole number of {dt.itemsize}-byte blocks")
    rec = np.frombuffer(raw, dtype=dt)
    return {f: rec[f] for f, _, _ in fields}


def half(u16):
    return u16.astype("<u2").view(np.float16).astype(F32)


def nibble(qs, byte_index, high):
    """Code of each element: the low or high nibble of qs[:, byte_index] (arrays over element positions)."""
    b = qs[:, byte_index].astype(np.int32)
    return np.where(high, b >> 4, b & 0xF)


def legacy_codes(b):
    """4-bit codes of the 32 elements of a legacy block: element j < 16 low nibble of byte j, j >= 16 high of j - 16."""
    e = np.arange(32)
    return nibble(b["qs"], e % 16, e >= 16)


def fifth_bits(b):
    qh = b["qh"].astype(np.uint32)
    word = qh[:, 0] | qh[:, 1] << 8 | qh[:, 2] << 16 | qh[:, 3] << 24
    return ((word[:, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int32)


def k4_scales(scales):
    """6-bit (scale, min) of the 8 sub-blocks of a Q4_K / Q5_K super-block from its 12 packed bytes."""
    s = scales.astype(np.int32)
    sc = np.empty((s.shape[0], 8), np.int32)
    mn = np.empty((s.shape[0], 8), np.int32)
    for j in range(4):
        sc[:, j] = s[:, j] & 63
        mn[:, j] = s[:, j + 4] & 63
        sc[:, j + 4] = (s[:, j + 8] & 0xF) | ((s[:, j] >> 6) << 4)
        mn[:, j + 4] = (s[:, j + 8] >> 4) | ((s[:, j + 4] >> 6) << 4)
    return sc, mn


def deq(name, b):
    if name in ("q4_0", "q4_1", "q5_0", "q5_1"):
        q = legacy_codes(b)
        if name.startswith("q5"):
            q = q | (fifth_bits(b) << 4)
        d = half(b["d"])
        if name.endswith("_0"):
            off = 8 if name == "q4_0" else 16
            return (q - off).astype(F32) * d
        return q.astype(F32) * d + half(b["m"])
    if name in ("q8_0", "q8_1"):
        return b["qs"].astype(F32) * half(b["d"])
    if name == "q8_k":
        return b["qs"].astype(F32) * b["d"].astype(F32)
    if name == "iq4_nl":
        return half(b["d"]) * IQ4_LEVELS[legacy_codes(b)]
    e = np.arange(256)
    if name in ("q4_k", "q5_k"):
        chunk, r = e // 64, e % 64
        q = nibble(b["qs"], chunk * 32 + r % 32, r >= 32)
        if name == "q5_k":
            q = q | (((b["qh"][:, e % 32].astype(np.int32)) >> (e // 32)) & 1) << 4
        sc, mn = k4_scales(b["scales"])
        sub = e // 32
        d1 = half(b["d"]) * sc[:, sub].astype(F32)
        m1 = half(b["dmin"]) * mn[:, sub].astype(F32)
        return d1 * q.astype(F32) - m1
    if name == "q6_k":
        h, r = e // 128, e % 128
        group, l = r // 32, r % 32
        low = nibble(b["ql"], h * 64 + l + 32 * (group % 2), group >= 2)
        high = (b["qh"][:, h * 32 + l].astype(np.int32) >> (2 * group)) & 3
        q = (low | high << 4) - 32
        ds = half(b["d"]) * b["scales"][:, e // 16].astype(F32)
        return ds * q.astype(F32)
    if name == "iq4_xs":
        sub, r = e // 32, e % 32
        q = nibble(b["qs"], sub * 16 + r % 16, r >= 16)
        lo = (b["scales_l"][:, sub // 2].astype(np.int32) >> (4 * (sub % 2))) & 0xF
        hi = (b["scales_h"].astype(np.int32) >> (2 * sub)) & 3
        dl = half(b["d"]) * ((lo | hi << 4) - 32).astype(F32)
        return dl * IQ4_LEVELS[q]
    raise SystemExit(f"unknown type {name}")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    folder = sys.argv[1]
    with np.errstate(over="ignore", invalid="ignore"):
        for name in sys.argv[2:]:
            raw = open(f"{folder}/{name}.bin", "rb").read()
            y = deq(name, parse(name, raw)).astype("<f4")
            y.tofile(f"{folder}/{name}.f32")


if __name__ == "__main__":
    main()
