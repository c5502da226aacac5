// AVX-512 (F/BW/VL/DQ) kernels: register-tiled matmul_rows for F32/F16/BF16 weights, conversions, vector ops.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() and then trip -Wuninitialized (GCC PR105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/kernels.h"

namespace fathom::kernels::avx512 {

namespace {

inline __mmask16 tail_mask(int64_t k) { return __mmask16((1u << k) - 1u); }  // k in [0, 16)

// Horizontal reductions by full-width shuffles (GCC 12's _mm512_reduce_* trip -Wuninitialized).
inline float hsum(__m512 v) {
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_cvtss_f32(v);
}
inline float hmax(__m512 v) {
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_cvtss_f32(v);
}

// ---- weight loaders: 16 elements at byte pointer p (any alignment) as F32
struct w_f32 {
    static constexpr size_t esize = 4;
    static __m512 load(const uint8_t* p) { return _mm512_loadu_ps(p); }
    static __m512 load_mask(const uint8_t* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct w_f16 {
    static constexpr size_t esize = 2;
    static __m512 load(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static __m512 load_mask(const uint8_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct w_bf16 {
    static constexpr size_t esize = 2;
    static __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
    static __m512 load(const uint8_t* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static __m512 load_mask(const uint8_t* p, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};

// Software prefetch distance along each weight row: measured ~10-15% more single-thread GEMV bandwidth than the
// hardware prefetchers alone (2048 bytes beat 512 and 1024 on this Xeon).
constexpr size_t k_prefetch_bytes = 2048;

// With more than one token tile, the dot products run over blocks of this many elements (partial sums added into
// y), so a 4-row weight block stays in L1 while every token tile passes over it.
constexpr int64_t k_block = 1024;

// R weight rows x T tokens over n elements: every weight vector loaded once feeds T FMAs.
// y = dot (acc = false) or y += dot (acc = true).
template <class W, int R, int T>
inline void tile(const uint8_t* w, size_t rb, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t n, bool add) {
    __m512 acc[R][T];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 wv[R];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const uint8_t* p = w + size_t(r) * rb + size_t(i) * W::esize;
            wv[r] = W::load(p);
            _mm_prefetch(reinterpret_cast<const char*>(p + k_prefetch_bytes), _MM_HINT_T0);
        }
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const __m512 xv = _mm512_loadu_ps(x + t * ldx + i);
            #pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        __m512 wv[R];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = W::load_mask(w + size_t(r) * rb + size_t(i) * W::esize, m);
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + t * ldx + i);
            #pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) y[t * ldy + r] = (add ? y[t * ldy + r] : 0.0f) + hsum(acc[r][t]);
}

template <class W, int R>
inline void token_loop(const uint8_t* w, size_t rb, const float* x, int64_t ldx, int64_t n_tok, float* y,
                       int64_t ldy, int64_t n, bool add) {
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4) tile<W, R, 4>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n, add);
    switch (n_tok - t) {
        case 3: tile<W, R, 3>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n, add); break;
        case 2: tile<W, R, 2>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n, add); break;
        case 1: tile<W, R, 1>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n, add); break;
        default: break;
    }
}

template <class W>
void matmul_rows(const void* w, size_t w_row_bytes, int64_t n_rows, const float* x, int64_t ldx, int64_t n_tok,
                 float* y, int64_t ldy, int64_t n) {
    const uint8_t* base = static_cast<const uint8_t*>(w);
    const int64_t kb = n_tok > 4 ? k_block : n;
    for (int64_t i0 = 0;;) {
        const int64_t len = std::min(kb, n - i0);
        const bool add = i0 > 0;
        const uint8_t* wb = base + size_t(i0) * W::esize;
        int64_t r = 0;
        for (; r + 4 <= n_rows; r += 4)
            token_loop<W, 4>(wb + size_t(r) * w_row_bytes, w_row_bytes, x + i0, ldx, n_tok, y + r, ldy, len, add);
        for (; r < n_rows; ++r)
            token_loop<W, 1>(wb + size_t(r) * w_row_bytes, w_row_bytes, x + i0, ldx, n_tok, y + r, ldy, len, add);
        i0 += len;
        if (i0 >= n) break;
    }
}

// ---- exp: Cody-Waite range reduction to |r| <= ln2/2, degree-7 Taylor polynomial (truncation < 1e-8
// relative), scaled by 2^n with scalef. Inputs below ln(FLT_MIN) give 0 (so -inf gives 0), NaN stays NaN.
inline __m512 exp_ps(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.33654475f), hi = _mm512_set1_ps(88.3762626647949f);
    const __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ);  // false only for x < lo
    x = _mm512_min_ps(hi, _mm512_max_ps(lo, x));                     // operand order keeps NaN
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_mov_ps(keep, _mm512_scalef_ps(p, n));
}

// ---- conversions
void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
    }
}
void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, w_bf16::load(reinterpret_cast<const uint8_t*>(x + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, w_bf16::load_mask(reinterpret_cast<const uint8_t*>(x + i), m));
    }
}
// Round to nearest even (hardware); NaN becomes the canonical quiet NaN with the input's sign, as the scalar code.
inline __m256i to_f16(__m512 v) {
    const __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    if (!nan) return h;
    const __m512i u = _mm512_castps_si512(v);
    const __m512i q = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x8000)),
                                      _mm512_set1_epi32(0x7e00));
    return _mm256_mask_blend_epi16(__mmask16(nan), h, _mm512_cvtepi32_epi16(q));
}
void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), to_f16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm256_mask_storeu_epi16(y + i, m, to_f16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
// Same integer rounding as fathom::f32_to_bf16: add 0x7fff + lsb, NaN -> quiet NaN keeping the top bits.
inline __m256i to_bf16(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i q = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, r, q));
}
void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), to_bf16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm256_mask_storeu_epi16(y + i, m, to_bf16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

// ---- vector ops
float dot_f32(const float* a, const float* b, int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
void axpy_f32(float a, const float* x, float* y, int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}
void scale_f32(float a, float* y, int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(av, _mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(av, _mm512_maskz_loadu_ps(m, y + i)));
    }
}
void rms_norm_f32(const float* x, const float* w, float eps, float* y, int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        s0 = _mm512_fmadd_ps(a, a, s0);
        s1 = _mm512_fmadd_ps(b, b, s1);
    }
    for (; i + 16 <= n; i += 16) {
        const __m512 a = _mm512_loadu_ps(x + i);
        s0 = _mm512_fmadd_ps(a, a, s0);
    }
    if (i < n) {
        const __m512 a = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        s1 = _mm512_fmadd_ps(a, a, s1);
    }
    const float ss = hsum(_mm512_add_ps(s0, s1));
    const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt(ss / float(n) + eps));
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), inv), _mm512_loadu_ps(w + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv),
                                            _mm512_maskz_loadu_ps(m, w + i)));
    }
}
inline __m512 silu_mul(__m512 g, __m512 u) {
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}
void silu_mul_f32(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, silu_mul(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(out + i, m, silu_mul(_mm512_maskz_loadu_ps(m, gate + i), _mm512_maskz_loadu_ps(m, up + i)));
    }
}
float max_f32(const float* x, int64_t n) {
    const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512 m0 = ninf, m1 = ninf;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i + 16 <= n; i += 16) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
    if (i < n) m1 = _mm512_max_ps(m1, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
    return hmax(_mm512_max_ps(m0, m1));
}
float exp_sub_sum_f32(const float* x, float m, float* y, int64_t n) {
    if (std::isinf(m) && m < 0) m = 0.0f;  // every input is -inf: outputs 0, as the scalar code
    const __m512 mv = _mm512_set1_ps(m);
    __m512 s = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mv));
        _mm512_storeu_ps(y + i, e);
        s = _mm512_add_ps(s, e);
    }
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 e = _mm512_maskz_mov_ps(k, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv)));
        _mm512_mask_storeu_ps(y + i, k, e);
        s = _mm512_add_ps(s, e);
    }
    return hsum(s);
}
void softmax_f32(float* x, int64_t n) {
    const float m = max_f32(x, n);
    const float sum = exp_sub_sum_f32(x, m, x, n);
    scale_f32(sum > 0.0f ? 1.0f / sum : 0.0f, x, n);
}

}  // namespace

void fill_table_avx512(table& t) {
    t.level = isa::ISA_AVX512;
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

}  // namespace fathom::kernels::avx512
