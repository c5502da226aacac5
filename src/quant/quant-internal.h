// Per-family entry points behind quant::quantize_row / dequantize_row, and small scalar helpers they share.
#pragma once
#include <cstdint>

#include "quant/blocks.h"

namespace fathom::quant::detail {

// Round to nearest, ties to even, for |v| < 2^22 (the caller bounds v); exact and independent of libm.
inline float round_even(float v) {
    constexpr float magic = 12582912.0f;  // 1.5 * 2^23
    return (v + magic) - magic;           // not folded without -ffast-math (which this project never uses)
}
inline int nearest_int(float v) { return static_cast<int>(round_even(v)); }

// Legacy 32-element types and IQ4_NL (quant-legacy.cpp). nb = number of blocks.
void dequantize_q4_0(const block_q4_0* x, float* y, int64_t nb);
void dequantize_q4_1(const block_q4_1* x, float* y, int64_t nb);
void dequantize_q5_0(const block_q5_0* x, float* y, int64_t nb);
void dequantize_q5_1(const block_q5_1* x, float* y, int64_t nb);
void dequantize_q8_0(const block_q8_0* x, float* y, int64_t nb);
void dequantize_q8_1(const block_q8_1* x, float* y, int64_t nb);
void dequantize_iq4_nl(const block_iq4_nl* x, float* y, int64_t nb);
void quantize_q4_0(const float* x, block_q4_0* y, int64_t nb);
void quantize_q4_1(const float* x, block_q4_1* y, int64_t nb);
void quantize_q5_0(const float* x, block_q5_0* y, int64_t nb);
void quantize_q5_1(const float* x, block_q5_1* y, int64_t nb);
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

// IQ4 helpers shared by IQ4_NL and IQ4_XS (quant-legacy.cpp).
// Index of the k_iq4nl level nearest to v (ties to the lower level).
int iq4_nearest(float v);
// Best scale for 32 (or n) values on the IQ4 grid: searches candidate scales, returns the least-squares scale of the
// best assignment (0 when the block is all zero). w: per-element weights (never null).
float iq4_best_scale(const float* x, const float* w, int n);

}  // namespace fathom::quant::detail
