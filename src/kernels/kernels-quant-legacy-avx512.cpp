// AVX-512 (F/BW/VL/DQ) legacy quantised kernels: Q8_0 / Q8_1 activation quantisers and the matmuls of Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, IQ4_NL weights with INT8 activations, dot products by maddubs + madd (tiles in
// kernels-quant-legacy-avx512-tiles.h).
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() and then trip -Wuninitialized (GCC PR105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstring>

#include "kernels/kernels-quant-legacy-avx512-tiles.h"

namespace fathom::kernels::avx512 {

namespace {

using ql512::prepared;
using ql512::wkind;
using quant::QK;

// maddubs multiplies unsigned by signed bytes and adds pairs into int16 (saturating). Unsigned codes (< 32) times
// activations (|q| <= 127) stay far below the limit; signed codes use |w| times sign(w) * x, at most 2 * 128 * 127.
// AVX-512 has no vpsignb: the activation is negated under the mask of negative codes.
struct dot_maddubs {
    template <wkind K>
    static prepared prepare(__m512i c) {
        if constexpr (K == wkind::SIGNED) return {_mm512_abs_epi8(c), _mm512_movepi8_mask(c)};
        else return {c, 0};
    }
    // Per activation block (32 codes): 8 int32 lanes summing to -sum(bias * x), grouped as dot() groups the
    // products, for the OFFSET kinds; the others need none.
    static constexpr bool wide_products = false;  // products pass through int16
    static constexpr int signed_bias = 0;
    template <wkind K>
    static constexpr bool needs_correction() { return K == wkind::OFFSET; }
    static __m256i correction(__m256i x, __m256i bias) {
        const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(bias, x), _mm256_set1_epi16(1));
        return _mm256_sub_epi32(_mm256_setzero_si256(), s);
    }
    template <wkind K>
    static __m512i dot(const prepared& w, __m512i x, __m512i corr) {
        const __m512i ones = _mm512_set1_epi16(1);
        if constexpr (K == wkind::SIGNED) {
            const __m512i xs = _mm512_mask_sub_epi8(x, w.neg, _mm512_setzero_si512(), x);
            return _mm512_madd_epi16(_mm512_maddubs_epi16(w.u, xs), ones);
        } else if constexpr (K == wkind::OFFSET) {
            return _mm512_add_epi32(_mm512_madd_epi16(_mm512_maddubs_epi16(w.u, x), ones), corr);
        } else {
            return _mm512_madd_epi16(_mm512_maddubs_epi16(w.u, x), ones);
        }
    }
};

// ---- activation quantisers (bit-exact with quant::quantize_row: d = amax / 127, q = round-to-even(x / d))
inline float hmax(__m512 v) {
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_cvtss_f32(v);
}
inline int32_t hsum_epi32(__m512i v) {
    __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s4);
}

// One block of 32: writes the codes, returns d and the sum of the codes. As the reference: NaN inputs are left out
// of max|x|, and a code that is NaN (from non-finite input) becomes 0, codes are clamped to [-127, 127].
inline float quantize_block_q8(const float* x, int8_t* qs, int32_t* sum) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    // maxps returns its second operand when either is NaN: NaN lanes of x never reach the running maximum
    const __m512 m = _mm512_max_ps(_mm512_abs_ps(v1), _mm512_max_ps(_mm512_abs_ps(v0), _mm512_setzero_ps()));
    const float amax = hmax(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 idv = _mm512_set1_ps(id), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    __m512i q[2];
    for (int i = 0; i < 2; ++i) {
        __m512 v = _mm512_mul_ps(i ? v1 : v0, idv);
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);  // NaN -> 0
        q[i] = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi));  // MXCSR default: to nearest even
    }
    *sum = hsum_epi32(_mm512_add_epi32(q[0], q[1]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(q[0]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(q[1]));
    return d;
}

inline uint16_t to_half(float f) { return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

void quantize_row_q8_0(const float* x, void* y, int64_t n) {
    uint8_t* out = static_cast<uint8_t*>(y);
    for (int64_t b = 0; b < n / QK; ++b, out += sizeof(quant::block_q8_0)) {
        int32_t sum;
        const uint16_t h = to_half(quantize_block_q8(x + b * QK, reinterpret_cast<int8_t*>(out + 2), &sum));
        std::memcpy(out, &h, 2);
    }
}

void quantize_row_q8_1(const float* x, void* y, int64_t n) {
    uint8_t* out = static_cast<uint8_t*>(y);
    for (int64_t b = 0; b < n / QK; ++b, out += sizeof(quant::block_q8_1)) {
        int32_t sum;
        const float d = quantize_block_q8(x + b * QK, reinterpret_cast<int8_t*>(out + 4), &sum);
        const uint16_t h[2] = {to_half(d), to_half(d * float(sum))};
        std::memcpy(out, h, 4);
    }
}

}  // namespace

void fill_quant_legacy(table& t) {
    t.quantize_row_q8_0 = quantize_row_q8_0;
    t.quantize_row_q8_1 = quantize_row_q8_1;
    ql512::fill_matmuls<dot_maddubs>(t);
}

}  // namespace fathom::kernels::avx512
