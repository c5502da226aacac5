// Quantisation formats: reference (scalar) quantise / dequantise of every supported block type, the activation type
// each weight type is paired with in the integer kernels, and per-type facts. The kernels in src/kernels are checked
// against these functions.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "quant/blocks.h"

namespace fathom::quant {

// True for the block types this build can dequantise (and run): q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, iq4_nl, q4_k,
// q5_k, q6_k, q8_k, iq4_xs.
bool is_quantized(dtype t);
// True for the types quantize_row can produce: q4_0, q4_1, q5_0, q5_1, q8_0, iq4_nl, q4_k, q5_k, q6_k, iq4_xs
// (plus q8_1 / q8_k, the activation types).
bool can_quantize(dtype t);

// Reference dequantisation of n elements (n a multiple of the type's block size) from blocks at x into y.
// Written from the formats' definitions; the oracle for every kernel.
void dequantize_row(dtype t, const void* x, float* y, int64_t n);

// Quantises n floats (n a multiple of the block size) into blocks of type t at y. `importance` (n weights >= 0, may
// be null) weights each element's squared error in the scale search of the types that search (K-quants, IQ4).
// Deterministic. Rounding is to nearest, ties to even, so SIMD activation quantisers can match it bit for bit.
void quantize_row(dtype t, const float* x, void* y, int64_t n, const float* importance = nullptr);

// The activation block type the integer kernels pair with weight type w: q8_0 for q4_0, q5_0, q8_0, iq4_nl; q8_1 for
// q4_1, q5_1; q8_k for q4_k, q5_k, q6_k, iq4_xs. Returns w itself for float types.
dtype vec_dot_type(dtype w);

// Bits per weight of a type, block scales included (e.g. 4.5 for q4_0).
double bits_per_weight(dtype t);

}  // namespace fathom::quant
