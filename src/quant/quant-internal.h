// Per-family entry points behind quant::quantize_row / dequantize_row, and small scalar helpers they share.
#pragma once
#include <cmath>
#include <cstdint>

#include "quant/blocks.h"

namespace fathom::quant::detail {

// Round to nearest, ties to even, for |v| < 2^22 (the caller bounds v); exact and independent of libm.
inline float round_even(float v) {
    constexpr float magic = 12582912.0f;  // 1.5 * 2^23
    return (v + magic) - magic;           // not folded without -ffast-math (which this project never uses)
}
// round_even then int, saturating at +-2^30 (NaN gives -2^30) so non-finite input never reaches an undefined
// float-to-int conversion.
inline int nearest_int(float v) {
    float r = round_even(v);
    r = r > -1073741824.0f ? r : -1073741824.0f;
    r = r < 1073741824.0f ? r : 1073741824.0f;
    return static_cast<int>(r);
}
// The activation quantisers' (int8) nearbyintf(v), clamped to [-127, 127]. With finite x and amax >= ~3.7e-37,
// |v| <= 127 already. Below that 1 / d overflows to inf: x * id is +-inf (-> +-127) or, for x = 0, NaN (-> 0);
// NaN from non-finite input also gives 0 instead of an undefined conversion.
inline int8_t to_int8(float v) {
    float r = std::nearbyint(v);
    r = r > -127.0f ? r : (r == r ? -127.0f : 0.0f);
    r = r < 127.0f ? r : 127.0f;
    return static_cast<int8_t>(r);
}

// Legacy 32-element types and IQ4_NL (quant-legacy.cpp). nb = number of blocks.
void dequantize_q4_0(const block_q4_0* x, float* y, int64_t nb);
void dequantize_q4_1(const block_q4_1* x, float* y, int64_t nb);
void dequantize_q5_0(const block_q5_0* x, float* y, int64_t nb);
void dequantize_q5_1(const block_q5_1* x, float* y, int64_t nb);
void dequantize_q8_0(const block_q8_0* x, float* y, int64_t nb);
void dequantize_q8_1(const block_q8_1* x, float* y, int64_t nb);
void dequantize_iq4_nl(const block_iq4_nl* x, float* y, int64_t nb);
void quantize_q4_0(const float* x, block_q4_0* y, int64_t nb, const float* importance);
void quantize_q4_1(const float* x, block_q4_1* y, int64_t nb, const float* importance);
void quantize_q5_0(const float* x, block_q5_0* y, int64_t nb, const float* importance);
void quantize_q5_1(const float* x, block_q5_1* y, int64_t nb, const float* importance);
void quantize_q8_0(const float* x, block_q8_0* y, int64_t nb);
void quantize_q8_1(const float* x, block_q8_1* y, int64_t nb);
void quantize_iq4_nl(const float* x, block_iq4_nl* y, int64_t nb, const float* importance);

// K-quants and IQ4_XS (quant-k.cpp).
void dequantize_q4_k(const block_q4_k* x, float* y, int64_t nb);
void dequantize_q5_k(const block_q5_k* x, float* y, int64_t nb);
void dequantize_q6_k(const block_q6_k* x, float* y, int64_t nb);
void dequantize_q8_k(const block_q8_k* x, float* y, int64_t nb);
void dequantize_iq4_xs(const block_iq4_xs* x, float* y, int64_t nb);
void quantize_q4_k(const float* x, block_q4_k* y, int64_t nb, const float* importance);
void quantize_q5_k(const float* x, block_q5_k* y, int64_t nb, const float* importance);
void quantize_q6_k(const float* x, block_q6_k* y, int64_t nb, const float* importance);
void quantize_q8_k(const float* x, block_q8_k* y, int64_t nb);
void quantize_iq4_xs(const float* x, block_iq4_xs* y, int64_t nb, const float* importance);

// Lane-split accumulation: the search loops keep 8 partial sums per quantity so the compiler can vectorise them
// without reassociating floating point (the sums are then added in a fixed order: results stay deterministic).
constexpr int LANES = 8;
inline float lane_sum(const float* a) { return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])); }

// IQ4 grid lookup: index of the k_iq4nl level nearest to v, ties to the upper level. The midpoints between levels
// are multiples of 1/2, so floor(2v) identifies the interval exactly; the table is indexed by floor(2v) + 256.
struct iq4_table {
    uint8_t idx[512];
};
constexpr iq4_table make_iq4_table() {
    iq4_table t{};
    for (int i = 0; i < 512; ++i) {
        const int two_v = i - 256;  // v in [two_v / 2, two_v / 2 + 1/2)
        int k = 0;
        while (k < 15 && two_v >= k_iq4nl[k] + k_iq4nl[k + 1]) ++k;  // v >= midpoint k
        t.idx[i] = uint8_t(k);
    }
    return t;
}
inline constexpr iq4_table k_iq4_table = make_iq4_table();
// v2 = 2 * v (the callers fold the 2 into their inverse scale). NaN maps to level 0.
inline int iq4_index2(float v2) {
    float u = v2 + 256.0f;
    u = u > 0.0f ? u : 0.0f;
    u = u < 511.0f ? u : 511.0f;
    return k_iq4_table.idx[static_cast<int>(u)];
}
inline int iq4_nearest(float v) { return iq4_index2(2.0f * v); }

// Best scale for n (a multiple of LANES) values on the IQ4 grid: candidate scales, each assignment's weighted
// least-squares scale, the best kept and polished by Lloyd passes; 0 for an all-zero block. w: weights, never null.
float iq4_best_scale(const float* x, const float* w, int n);

}  // namespace fathom::quant::detail
