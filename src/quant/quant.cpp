// quant:: API: type facts and dispatch of quantize_row / dequantize_row to the per-family reference code.
//
// n must be a multiple of the type's block size and t a type is_quantized / can_quantize accepts: both are programmer
// errors (callers validate at load time), checked by assert in debug builds only. In release builds a trailing
// partial block is left untouched and an unsupported type writes nothing.
#include "quant/quant.h"

#include <cstring>

#include <cassert>

#include "quant/quant-internal.h"

namespace fathom::quant {

using D = dtype;

bool is_quantized(dtype t) {
    switch (t) {
        case D::DTYPE_Q4_0: case D::DTYPE_Q4_1: case D::DTYPE_Q5_0: case D::DTYPE_Q5_1: case D::DTYPE_Q8_0:
        case D::DTYPE_Q8_1: case D::DTYPE_IQ4_NL: case D::DTYPE_Q4_K: case D::DTYPE_Q5_K: case D::DTYPE_Q6_K:
        case D::DTYPE_Q8_K: case D::DTYPE_IQ4_XS:
            return true;
        default:
            return false;
    }
}

bool can_quantize(dtype t) {
    switch (t) {
        case D::DTYPE_Q4_0: case D::DTYPE_Q4_1: case D::DTYPE_Q5_0: case D::DTYPE_Q5_1: case D::DTYPE_Q8_0:
        case D::DTYPE_Q8_1: case D::DTYPE_IQ4_NL: case D::DTYPE_Q4_K: case D::DTYPE_Q5_K: case D::DTYPE_Q6_K:
        case D::DTYPE_Q8_K: case D::DTYPE_IQ4_XS:
            return true;
        default:
            return false;
    }
}

namespace {

void dequantize_aligned(dtype t, const void* x, float* y, int64_t n) {
    switch (t) {
        case D::DTYPE_Q4_0: return detail::dequantize_q4_0(static_cast<const block_q4_0*>(x), y, n / QK);
        case D::DTYPE_Q4_1: return detail::dequantize_q4_1(static_cast<const block_q4_1*>(x), y, n / QK);
        case D::DTYPE_Q5_0: return detail::dequantize_q5_0(static_cast<const block_q5_0*>(x), y, n / QK);
        case D::DTYPE_Q5_1: return detail::dequantize_q5_1(static_cast<const block_q5_1*>(x), y, n / QK);
        case D::DTYPE_Q8_0: return detail::dequantize_q8_0(static_cast<const block_q8_0*>(x), y, n / QK);
        case D::DTYPE_Q8_1: return detail::dequantize_q8_1(static_cast<const block_q8_1*>(x), y, n / QK);
        case D::DTYPE_IQ4_NL: return detail::dequantize_iq4_nl(static_cast<const block_iq4_nl*>(x), y, n / QK);
        case D::DTYPE_Q4_K: return detail::dequantize_q4_k(static_cast<const block_q4_k*>(x), y, n / QK_K);
        case D::DTYPE_Q5_K: return detail::dequantize_q5_k(static_cast<const block_q5_k*>(x), y, n / QK_K);
        case D::DTYPE_Q6_K: return detail::dequantize_q6_k(static_cast<const block_q6_k*>(x), y, n / QK_K);
        case D::DTYPE_Q8_K: return detail::dequantize_q8_k(static_cast<const block_q8_k*>(x), y, n / QK_K);
        case D::DTYPE_IQ4_XS: return detail::dequantize_iq4_xs(static_cast<const block_iq4_xs*>(x), y, n / QK_K);
        default: return;
    }
}

void quantize_aligned(dtype t, const float* x, void* y, int64_t n, const float* importance) {
    switch (t) {
        case D::DTYPE_Q4_0: return detail::quantize_q4_0(x, static_cast<block_q4_0*>(y), n / QK, importance);
        case D::DTYPE_Q4_1: return detail::quantize_q4_1(x, static_cast<block_q4_1*>(y), n / QK, importance);
        case D::DTYPE_Q5_0: return detail::quantize_q5_0(x, static_cast<block_q5_0*>(y), n / QK, importance);
        case D::DTYPE_Q5_1: return detail::quantize_q5_1(x, static_cast<block_q5_1*>(y), n / QK, importance);
        case D::DTYPE_Q8_0: return detail::quantize_q8_0(x, static_cast<block_q8_0*>(y), n / QK);
        case D::DTYPE_Q8_1: return detail::quantize_q8_1(x, static_cast<block_q8_1*>(y), n / QK);
        case D::DTYPE_IQ4_NL: return detail::quantize_iq4_nl(x, static_cast<block_iq4_nl*>(y), n / QK, importance);
        case D::DTYPE_Q4_K: return detail::quantize_q4_k(x, static_cast<block_q4_k*>(y), n / QK_K, importance);
        case D::DTYPE_Q5_K: return detail::quantize_q5_k(x, static_cast<block_q5_k*>(y), n / QK_K, importance);
        case D::DTYPE_Q6_K: return detail::quantize_q6_k(x, static_cast<block_q6_k*>(y), n / QK_K, importance);
        case D::DTYPE_Q8_K: return detail::quantize_q8_k(x, static_cast<block_q8_k*>(y), n / QK_K);
        case D::DTYPE_IQ4_XS: return detail::quantize_iq4_xs(x, static_cast<block_iq4_xs*>(y), n / QK_K, importance);
        default: return;
    }
}

// Blocks are read and written through their structs, which need 2-byte (4 for Q8_K) alignment; rows in files and
// caller buffers may start at any byte, so misaligned blocks go through an aligned copy one at a time.
bool misaligned(const void* p, dtype t) {
    const uintptr_t a = t == D::DTYPE_Q8_K ? alignof(block_q8_k) : 2;
    return reinterpret_cast<uintptr_t>(p) % a != 0;
}
constexpr size_t k_max_block_bytes = sizeof(block_q8_k);

}  // namespace

void dequantize_row(dtype t, const void* x, float* y, int64_t n) {
    assert(is_quantized(t) && n % dtype_info(t).block_size == 0);
    if (!misaligned(x, t)) return dequantize_aligned(t, x, y, n);
    const dtype_traits& tr = dtype_info(t);
    alignas(16) uint8_t block[k_max_block_bytes];
    for (int64_t b = 0; b < n / tr.block_size; ++b) {
        std::memcpy(block, static_cast<const uint8_t*>(x) + size_t(b) * tr.type_size, tr.type_size);
        dequantize_aligned(t, block, y + b * tr.block_size, tr.block_size);
    }
}

void quantize_row(dtype t, const float* x, void* y, int64_t n, const float* importance) {
    assert(can_quantize(t) && n % dtype_info(t).block_size == 0);
    if (!misaligned(y, t)) return quantize_aligned(t, x, y, n, importance);
    const dtype_traits& tr = dtype_info(t);
    alignas(16) uint8_t block[k_max_block_bytes];
    for (int64_t b = 0; b < n / tr.block_size; ++b) {
        quantize_aligned(t, x + b * tr.block_size, block, tr.block_size,
                         importance ? importance + b * tr.block_size : nullptr);
        std::memcpy(static_cast<uint8_t*>(y) + size_t(b) * tr.type_size, block, tr.type_size);
    }
}

dtype vec_dot_type(dtype w) {
    switch (w) {
        case D::DTYPE_Q4_0: case D::DTYPE_Q5_0: case D::DTYPE_Q8_0: case D::DTYPE_IQ4_NL:
            return D::DTYPE_Q8_0;
        case D::DTYPE_Q4_1: case D::DTYPE_Q5_1:
            return D::DTYPE_Q8_1;
        case D::DTYPE_Q4_K: case D::DTYPE_Q5_K: case D::DTYPE_Q6_K: case D::DTYPE_IQ4_XS:
            return D::DTYPE_Q8_K;
        default:
            return w;
    }
}

double bits_per_weight(dtype t) {
    const dtype_traits& info = dtype_info(t);
    return double(info.type_size) * 8.0 / double(info.block_size);
}

}  // namespace fathom::quant
