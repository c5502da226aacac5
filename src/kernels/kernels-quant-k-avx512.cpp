// AVX-512 (F/BW/VL/DQ) K-quant kernels: Q8_K activation quantiser, and Q4_K / Q5_K / Q6_K / IQ4_XS weights times
// Q8_K activations with vpmaddubsw + vpmaddwd (the body is kernels-quant-k-avx512-impl.h, shared with the VNNI file).
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() and then trip -Wuninitialized (GCC PR105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace fathom::kernels::avx512 {

namespace {
constexpr bool k_vnni = false;
#include "kernels/kernels-quant-k-avx512-impl.h"

// Q8_K: d = max|x| / 127, q = round-to-nearest-even(x / d) clamped to [-127, 127], bsums over 16-element groups.
// Bit-exact with quant::quantize_row: the same float products and the default (nearest-even) conversion.
void quantize_row_q8_k(const float* x, void* vy, int64_t n) {
    uint8_t* out = static_cast<uint8_t*>(vy);
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / qk::QK_K; ++i, x += qk::QK_K, out += qk::X_BYTES) {
        __m512 amax = _mm512_setzero_ps();
        for (int j = 0; j < qk::QK_K; j += 16)
            amax = _mm512_max_ps(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + j)), amax);
        const float d = _mm512_reduce_max_ps(amax) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const __m512 vid = _mm512_set1_ps(id), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
        int16_t bsums[16];
        for (int g = 0; g < 16; ++g) {
            // Clamped as floats, as the reference does, so x * id = +-inf (d subnormal) also gives +-127.
            const __m512i q = _mm512_cvtps_epi32(
                _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * g), vid), lo), hi));
            bsums[g] = int16_t(_mm512_reduce_add_epi32(q));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + qk::X_QS + 16 * g), _mm512_cvtepi32_epi8(q));
        }
        std::memcpy(out + qk::X_D, &d, 4);
        std::memcpy(out + qk::X_BS, bsums, sizeof bsums);
    }
}
}  // namespace

void fill_quant_k(table& t) {
    t.quantize_row_q8_k = quantize_row_q8_k;
    t.matmul_rows_q4_k = qk::matmul_rows<qk::q4_k>;
    t.matmul_rows_q5_k = qk::matmul_rows<qk::q5_k>;
    t.matmul_rows_q6_k = qk::matmul_rows<qk::q6_k>;
    t.matmul_rows_iq4_xs = qk::matmul_rows<qk::iq4_xs>;
}

}  // namespace fathom::kernels::avx512
