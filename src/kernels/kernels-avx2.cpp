// AVX2 + FMA + F16C kernels: register-tiled matmul_rows for F32/F16/BF16 weights, conversions, vector ops.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/kernels.h"

namespace fathom::kernels::avx2 {

namespace {

// Lane mask with the first k (0..8) lanes set, for maskload/maskstore.
inline __m256i tail_mask(int64_t k) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
inline float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// ---- weight loaders: 8 elements at byte pointer p (any alignment) as F32; load_part reads only k < 8 elements.
struct w_f32 {
    static constexpr size_t esize = 4;
    static __m256 load(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
    static __m256 load_part(const uint8_t* p, int64_t k) {
        alignas(32) float buf[8] = {};
        std::memcpy(buf, p, size_t(k) * 4);
        return _mm256_load_ps(buf);
    }
};
struct w_f16 {
    static constexpr size_t esize = 2;
    static __m256 load(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static __m256 load_part(const uint8_t* p, int64_t k) {
        alignas(16) uint16_t buf[8] = {};
        std::memcpy(buf, p, size_t(k) * 2);
        return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
    }
};
struct w_bf16 {
    static constexpr size_t esize = 2;
    static __m256 widen(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
    static __m256 load(const uint8_t* p) { return widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static __m256 load_part(const uint8_t* p, int64_t k) {
        alignas(16) uint16_t buf[8] = {};
        std::memcpy(buf, p, size_t(k) * 2);
        return widen(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
    }
};

// Software prefetch distance along each weight row (as in the AVX-512 file).
constexpr size_t k_prefetch_bytes = 2048;

// R weight rows x T tokens (R*T + R + 1 <= 16 ymm registers): each weight vector loaded once feeds T FMAs.
template <class W, int R, int T>
inline void tile(const uint8_t* w, size_t rb, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t n) {
    __m256 acc[R][T];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 wv[R];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const uint8_t* p = w + size_t(r) * rb + size_t(i) * W::esize;
            wv[r] = W::load(p);
            _mm_prefetch(reinterpret_cast<const char*>(p + k_prefetch_bytes), _MM_HINT_T0);
        }
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const __m256 xv = _mm256_loadu_ps(x + t * ldx + i);
            #pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (i < n) {
        const int64_t k = n - i;
        const __m256i m = tail_mask(k);
        __m256 wv[R];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = W::load_part(w + size_t(r) * rb + size_t(i) * W::esize, k);
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const __m256 xv = _mm256_maskload_ps(x + t * ldx + i, m);
            #pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) y[t * ldy + r] = hsum(acc[r][t]);
}

template <class W, int R>
inline void token_loop(const uint8_t* w, size_t rb, const float* x, int64_t ldx, int64_t n_tok, float* y,
                       int64_t ldy, int64_t n) {
    int64_t t = 0;
    for (; t + 2 <= n_tok; t += 2) tile<W, R, 2>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n);
    if (t < n_tok) tile<W, R, 1>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n);
}

template <class W>
void matmul_rows(const void* w, size_t w_row_bytes, int64_t n_rows, const float* x, int64_t ldx, int64_t n_tok,
                 float* y, int64_t ldy, int64_t n) {
    const uint8_t* base = static_cast<const uint8_t*>(w);
    int64_t r = 0;
    for (; r + 4 <= n_rows; r += 4)
        token_loop<W, 4>(base + size_t(r) * w_row_bytes, w_row_bytes, x, ldx, n_tok, y + r, ldy, n);
    for (; r < n_rows; ++r)
        token_loop<W, 1>(base + size_t(r) * w_row_bytes, w_row_bytes, x, ldx, n_tok, y + r, ldy, n);
}

// ---- exp: Cody-Waite range reduction, degree-7 Taylor polynomial, 2^n built in the exponent field.
// The upper clamp keeps n <= 127; inputs below ln(FLT_MIN) give 0 (so -inf gives 0); NaN stays NaN.
inline __m256 exp_ps(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654475f), hi = _mm256_set1_ps(88.02f);
    const __m256 keep = _mm256_cmp_ps(x, lo, _CMP_NLT_UQ);
    x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));  // operand order keeps NaN
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// ---- conversions
void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
    if (i < n) {
        alignas(32) float out[8];
        _mm256_store_ps(out, w_f16::load_part(reinterpret_cast<const uint8_t*>(x + i), n - i));
        std::memcpy(y + i, out, size_t(n - i) * 4);
    }
}
void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, w_bf16::load(reinterpret_cast<const uint8_t*>(x + i)));
    if (i < n) {
        alignas(32) float out[8];
        _mm256_store_ps(out, w_bf16::load_part(reinterpret_cast<const uint8_t*>(x + i), n - i));
        std::memcpy(y + i, out, size_t(n - i) * 4);
    }
}
// Round to nearest even (hardware); NaN becomes the canonical quiet NaN with the input's sign, as the scalar code.
inline __m128i to_f16(__m256 v) {
    __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    if (_mm256_movemask_ps(nan) == 0) return h;
    const __m256i u = _mm256_castps_si256(v);
    __m256i q = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x8000)),
                                _mm256_set1_epi32(0x7e00));
    q = _mm256_and_si256(q, _mm256_castps_si256(nan));  // 0 where not NaN
    const __m128i q16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m256i nm = _mm256_castps_si256(nan);
    const __m128i m16 = _mm_packs_epi32(_mm256_castsi256_si128(nm), _mm256_extracti128_si256(nm, 1));
    return _mm_blendv_epi8(h, q16, m16);
}
// Same integer rounding as fathom::f32_to_bf16: add 0x7fff + lsb, NaN -> quiet NaN keeping the top bits.
inline __m128i to_bf16(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    r = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(q), nan));
    // Values are < 0x10000, so the unsigned-saturating pack is exact; it interleaves 128-bit lanes, hence no permute.
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), to_f16(_mm256_loadu_ps(x + i)));
    if (i < n) {
        alignas(32) float in[8] = {};
        alignas(16) uint16_t out[8];
        std::memcpy(in, x + i, size_t(n - i) * 4);
        _mm_store_si128(reinterpret_cast<__m128i*>(out), to_f16(_mm256_load_ps(in)));
        std::memcpy(y + i, out, size_t(n - i) * 2);
    }
}
void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), to_bf16(_mm256_loadu_ps(x + i)));
    if (i < n) {
        alignas(32) float in[8] = {};
        alignas(16) uint16_t out[8];
        std::memcpy(in, x + i, size_t(n - i) * 4);
        _mm_store_si128(reinterpret_cast<__m128i*>(out), to_bf16(_mm256_load_ps(in)));
        std::memcpy(y + i, out, size_t(n - i) * 2);
    }
}

// ---- vector ops
float dot_f32(const float* a, const float* b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}
void axpy_f32(float a, const float* x, float* y, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, _mm256_fmadd_ps(av, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m)));
    }
}
void scale_f32(float a, float* y, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(av, _mm256_loadu_ps(y + i)));
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(av, _mm256_maskload_ps(y + i, m)));
    }
}
void rms_norm_f32(const float* x, const float* w, float eps, float* y, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        s0 = _mm256_fmadd_ps(a, a, s0);
        s1 = _mm256_fmadd_ps(b, b, s1);
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 a = _mm256_loadu_ps(x + i);
        s0 = _mm256_fmadd_ps(a, a, s0);
    }
    if (i < n) {
        const __m256 a = _mm256_maskload_ps(x + i, tail_mask(n - i));
        s1 = _mm256_fmadd_ps(a, a, s1);
    }
    const float ss = hsum(_mm256_add_ps(s0, s1));
    const __m256 inv = _mm256_set1_ps(1.0f / std::sqrt(ss / float(n) + eps));
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv), _mm256_loadu_ps(w + i)));
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m,
                            _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv), _mm256_maskload_ps(w + i, m)));
    }
}
inline __m256 silu_mul(__m256 g, __m256 u) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}
void silu_mul_f32(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, silu_mul(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(out + i, m, silu_mul(_mm256_maskload_ps(gate + i, m), _mm256_maskload_ps(up + i, m)));
    }
}
float max_f32(const float* x, int64_t n) {
    const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    __m256 m0 = ninf, m1 = ninf;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    }
    for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
    float m = hmax(_mm256_max_ps(m0, m1));
    for (; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}
float exp_sub_sum_f32(const float* x, float m, float* y, int64_t n) {
    if (std::isinf(m) && m < 0) m = 0.0f;  // every input is -inf: outputs 0, as the scalar code
    const __m256 mv = _mm256_set1_ps(m);
    __m256 s = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(y + i, e);
        s = _mm256_add_ps(s, e);
    }
    if (i < n) {
        const __m256i k = tail_mask(n - i);
        const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(k), exp_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), mv)));
        _mm256_maskstore_ps(y + i, k, e);
        s = _mm256_add_ps(s, e);
    }
    return hsum(s);
}
void softmax_f32(float* x, int64_t n) {
    const float m = max_f32(x, n);
    const float sum = exp_sub_sum_f32(x, m, x, n);
    scale_f32(sum > 0.0f ? 1.0f / sum : 0.0f, x, n);
}

}  // namespace

void fill_table_avx2(table& t) {
    t.level = isa::ISA_AVX2;
    t.matmul_rows_f32 = matmul_rows<w_f32>;
    t.matmul_rows_f16 = matmul_rows<w_f16>;
    t.matmul_rows_bf16 = matmul_rows<w_bf16>;
    t.f16_to_f32 = f16_to_f32;
    t.bf16_to_f32 = bf16_to_f32;
    t.f32_to_f16 = f32_to_f16;
    t.f32_to_bf16 = f32_to_bf16;
    t.dot_f32 = dot_f32;
    t.axpy_f32 = axpy_f32;
    t.scale_f32 = scale_f32;
    t.rms_norm_f32 = rms_norm_f32;
    t.silu_mul_f32 = silu_mul_f32;
    t.softmax_f32 = softmax_f32;
    t.exp_sub_sum_f32 = exp_sub_sum_f32;
    t.max_f32 = max_f32;
}

}  // namespace fathom::kernels::avx2
