// GGUF/GGML quantised block layouts (byte-exact with files in the wild) and the INT8 activation blocks kernels pair
// them with. Scales are IEEE half floats stored as uint16_t (see core/dtype.h for conversions).
#pragma once
#include <cstdint>

namespace fathom::quant {

constexpr int QK = 32;     // block size of the "legacy" types and IQ4_NL
constexpr int QK_K = 256;  // super-block size of the K-quants and IQ4_XS
constexpr int K_SCALE_SIZE = 12;

// Q4_0: x = (q - 8) * d, q in [0, 15]. qs[j] holds element j in its low nibble and element j + 16 in its high one.
struct block_q4_0 {
    uint16_t d;
    uint8_t qs[QK / 2];
};
// Q4_1: x = q * d + m.  Same nibble order as Q4_0.
struct block_q4_1 {
    uint16_t d, m;
    uint8_t qs[QK / 2];
};
// Q5_0: x = (q - 16) * d, q in [0, 31]: low 4 bits as in Q4_0, bit 4 of element j is bit j of qh (little-endian u32).
struct block_q5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK / 2];
};
// Q5_1: x = q * d + m, bits as in Q5_0.
struct block_q5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK / 2];
};
// Q8_0: x = q * d.
struct block_q8_0 {
    uint16_t d;
    int8_t qs[QK];
};
// Q8_1 (activations for Q4_1/Q5_1): x = q * d, s = d * sum(q).
struct block_q8_1 {
    uint16_t d, s;
    int8_t qs[QK];
};
// IQ4_NL: x = d * k_iq4nl[q], nibbles ordered as in Q4_0.
struct block_iq4_nl {
    uint16_t d;
    uint8_t qs[QK / 2];
};
// The 16 non-linear levels of IQ4_NL / IQ4_XS.
inline constexpr int8_t k_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// Q4_K: 8 sub-blocks of 32; x = d * sc[j] * q - dmin * m[j], 6-bit sc/m packed in scales[12] (get_scale_min_k4).
// qs: for each 64-element chunk c (0..3), 32 bytes; element c*64 + l (l < 32) is the low nibble of qs[c*32 + l],
// element c*64 + 32 + l its high nibble.
struct block_q4_k {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};
// Q5_K: as Q4_K plus a fifth bit: bit (2c) of qh[l] for element c*64 + l, bit (2c+1) for element c*64 + 32 + l.
struct block_q5_k {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
// Q6_K: 16 sub-blocks of 16; x = d * scales[j] * (q - 32), q 6-bit: low 4 bits in ql, high 2 bits in qh
// (ggml's dequantize_row_q6_K order: per 128-element half, ql[l], ql[l+32], qh[l] shifted by 0/2/4/6).
struct block_q6_k {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
};
// IQ4_XS: 8 sub-blocks of 32; x = d * (ls - 32) * k_iq4nl[q], ls 6-bit = low 4 bits from scales_l (nibble j of the
// byte j/2), high 2 bits from scales_h (bits 2j, 2j+1). qs: 16 bytes per sub-block, nibble order as Q4_0 within it.
struct block_iq4_xs {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
};
// Q8_K (activations for the K-quants and IQ4_XS): x = q * d (symmetric, d = max|x| / 127), bsums[j] = sum of q over
// elements 16j .. 16j+15.
struct block_q8_k {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};

static_assert(sizeof(block_q4_0) == 18, "Q4_0 block");
static_assert(sizeof(block_q4_1) == 20, "Q4_1 block");
static_assert(sizeof(block_q5_0) == 22, "Q5_0 block");
static_assert(sizeof(block_q5_1) == 24, "Q5_1 block");
static_assert(sizeof(block_q8_0) == 34, "Q8_0 block");
static_assert(sizeof(block_q8_1) == 36, "Q8_1 block");
static_assert(sizeof(block_iq4_nl) == 18, "IQ4_NL block");
static_assert(sizeof(block_q4_k) == 144, "Q4_K block");
static_assert(sizeof(block_q5_k) == 176, "Q5_K block");
static_assert(sizeof(block_q6_k) == 210, "Q6_K block");
static_assert(sizeof(block_iq4_xs) == 136, "IQ4_XS block");
static_assert(sizeof(block_q8_k) == 292, "Q8_K block");

// 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

}  // namespace fathom::quant
