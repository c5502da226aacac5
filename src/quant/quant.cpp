// quant:: API: type facts and dispatch of quantize_row / dequantize_row to the per-family reference code.
//
// n must be a multiple of the type's block size and t a type is_quantized / can_quantize accepts: both are programmer
// errors (callers validate at load time), checked by assert in debug builds only. In release builds a trailing
// partial block is left untouched and an unsupported type writes nothing.
#include "quant/quant.h"

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

void dequantize_row(dtype t, const void* x, float* y, int64_t n) {
    assert(is_quantized(t) && n % dtype_info(t).block_size == 0);
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

void quantize_row(dtype t, const float* x, void* y, int64_t n, const float* importance) {
    assert(can_quantize(t) && n % dtype_info(t).block_size == 0);
    switch (t) {
        case D::DTYPE_Q4_0: return detail::quantize_q4_0(x, static_cast<block_q4_0*>(y), n / QK);
        case D::DTYPE_Q4_1: return detail::quantize_q4_1(x, static_cast<block_q4_1*>(y), n / QK);
        case D::DTYPE_Q5_0: return detail::quantize_q5_0(x, static_cast<block_q5_0*>(y), n / QK);
        case D::DTYPE_Q5_1: return detail::quantize_q5_1(x, static_cast<block_q5_1*>(y), n / QK);
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
