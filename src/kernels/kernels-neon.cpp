// AArch64 NEON kernels: register-tiled matmul_rows for F32/F16/BF16 weights, conversions, vector ops.
#include <arm_neon.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/kernels.h"

namespace fathom::kernels::neon {

namespace {

// Partial vectors: the first k (< 4) elements, the rest zero / not written. Byte pointers, any alignment.
inline float32x4_t load_f32_part(const float* p, int64_t k) {
    float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    std::memcpy(buf, p, size_t(k) * 4);
    return vld1q_f32(buf);
}
inline void store_f32_part(float* p, float32x4_t v, int64_t k) {
    float buf[4];
    vst1q_f32(buf, v);
    std::memcpy(p, buf, size_t(k) * 4);
}
inline float32x4_t loadu_f32(const uint8_t* p) { return vreinterpretq_f32_u8(vld1q_u8(p)); }
inline uint16x4_t loadu_u16x4(const uint8_t* p) { return vreinterpret_u16_u8(vld1_u8(p)); }

// ---- weight loaders: 4 elements at byte pointer p (any alignment) as F32; load_part reads only k < 4 elements.
struct w_f32 {
    static constexpr size_t esize = 4;
    static float32x4_t load(const uint8_t* p) { return loadu_f32(p); }
};
struct w_f16 {
    static constexpr size_t esize = 2;
    static float32x4_t load(const uint8_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(loadu_u16x4(p))); }
};
struct w_bf16 {
    static constexpr size_t esize = 2;
    static float32x4_t load(const uint8_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(loadu_u16x4(p), 16)); }
};
template <class W> inline float32x4_t load_part(const uint8_t* p, int64_t k) {
    alignas(16) uint8_t buf[16] = {};
    std::memcpy(buf, p, size_t(k) * W::esize);
    return W::load(buf);
}

// R weight rows x T tokens: every weight vector loaded once feeds T FMAs.
template <class W, int R, int T>
inline void tile(const uint8_t* w, size_t rb, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t n) {
    float32x4_t acc[R][T];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) acc[r][t] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t wv[R];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = W::load(w + size_t(r) * rb + size_t(i) * W::esize);
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const float32x4_t xv = vld1q_f32(x + t * ldx + i);
            #pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][t] = vfmaq_f32(acc[r][t], wv[r], xv);
        }
    }
    if (i < n) {
        const int64_t k = n - i;
        float32x4_t wv[R];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = load_part<W>(w + size_t(r) * rb + size_t(i) * W::esize, k);
        #pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const float32x4_t xv = load_f32_part(x + t * ldx + i, k);
            #pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][t] = vfmaq_f32(acc[r][t], wv[r], xv);
        }
    }
    #pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) y[t * ldy + r] = vaddvq_f32(acc[r][t]);
}

template <class W, int R>
inline void token_loop(const uint8_t* w, size_t rb, const float* x, int64_t ldx, int64_t n_tok, float* y,
                       int64_t ldy, int64_t n) {
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4) tile<W, R, 4>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n);
    switch (n_tok - t) {
        case 3: tile<W, R, 3>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n); break;
        case 2: tile<W, R, 2>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n); break;
        case 1: tile<W, R, 1>(w, rb, x + t * ldx, ldx, y + t * ldy, ldy, n); break;
        default: break;
    }
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
inline float32x4_t exp_ps(float32x4_t x) {
    const float32x4_t lo = vdupq_n_f32(-87.33654475f), hi = vdupq_n_f32(88.02f);
    const uint32x4_t under = vcltq_f32(x, lo);                   // false for NaN
    const uint32x4_t nan = vmvnq_u32(vceqq_f32(x, x));
    x = vbslq_f32(nan, x, vminq_f32(vmaxq_f32(x, lo), hi));
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    const float32x4_t v = vbslq_f32(nan, x, vmulq_f32(p, vreinterpretq_f32_s32(e)));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), under));
}

// ---- conversions
void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
    const uint8_t* xb = reinterpret_cast<const uint8_t*>(x);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = w_f16::load(xb + size_t(i) * 2);
        std::memcpy(y + i, &v, 16);
    }
    if (i < n) store_f32_part(y + i, load_part<w_f16>(xb + size_t(i) * 2, n - i), n - i);
}
void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
    const uint8_t* xb = reinterpret_cast<const uint8_t*>(x);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = w_bf16::load(xb + size_t(i) * 2);
        std::memcpy(y + i, &v, 16);
    }
    if (i < n) store_f32_part(y + i, load_part<w_bf16>(xb + size_t(i) * 2, n - i), n - i);
}
// Round to nearest even (FPCR default); NaN becomes the canonical quiet NaN with the input's sign, as the scalar code.
inline uint16x4_t to_f16(float32x4_t v) {
    const uint16x4_t h = vreinterpret_u16_f16(vcvt_f16_f32(v));
    const uint32x4_t nan = vmvnq_u32(vceqq_f32(v, v));
    const uint32x4_t u = vreinterpretq_u32_f32(v);
    const uint32x4_t q = vorrq_u32(vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(0x8000)), vdupq_n_u32(0x7e00));
    return vbsl_u16(vmovn_u32(nan), vmovn_u32(q), h);
}
// Same integer rounding as fathom::f32_to_bf16: add 0x7fff + lsb, NaN -> quiet NaN keeping the top bits.
inline uint16x4_t to_bf16(float32x4_t v) {
    const uint32x4_t u = vreinterpretq_u32_f32(v);
    const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    const uint32x4_t r = vshrq_n_u32(vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7fff)), lsb), 16);
    const uint32x4_t q = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(0x40));
    const uint32x4_t nan = vmvnq_u32(vceqq_f32(v, v));
    return vmovn_u32(vbslq_u32(nan, q, r));
}
template <uint16x4_t (*Conv)(float32x4_t)>
void f32_to_half(const float* x, uint16_t* y, int64_t n) {
    const uint8_t* xb = reinterpret_cast<const uint8_t*>(x);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint16x4_t h = Conv(loadu_f32(xb + size_t(i) * 4));
        std::memcpy(y + i, &h, 8);
    }
    if (i < n) {
        float in[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        std::memcpy(in, xb + size_t(i) * 4, size_t(n - i) * 4);
        const uint16x4_t h = Conv(vld1q_f32(in));
        std::memcpy(y + i, &h, size_t(n - i) * 2);
    }
}

// ---- vector ops
float dot_f32(const float* a, const float* b, int64_t n) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    if (i < n) s1 = vfmaq_f32(s1, load_f32_part(a + i, n - i), load_f32_part(b + i, n - i));
    return vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
}
void axpy_f32(float a, const float* x, float* y, int64_t n) {
    const float32x4_t av = vdupq_n_f32(a);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), av, vld1q_f32(x + i)));
    if (i < n) store_f32_part(y + i, vfmaq_f32(load_f32_part(y + i, n - i), av, load_f32_part(x + i, n - i)), n - i);
}
void scale_f32(float a, float* y, int64_t n) {
    const float32x4_t av = vdupq_n_f32(a);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(av, vld1q_f32(y + i)));
    if (i < n) store_f32_part(y + i, vmulq_f32(av, load_f32_part(y + i, n - i)), n - i);
}
void rms_norm_f32(const float* x, const float* w, float eps, float* y, int64_t n) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        s0 = vfmaq_f32(s0, a, a);
        s1 = vfmaq_f32(s1, b, b);
    }
    for (; i + 4 <= n; i += 4) {
        const float32x4_t a = vld1q_f32(x + i);
        s0 = vfmaq_f32(s0, a, a);
    }
    if (i < n) {
        const float32x4_t a = load_f32_part(x + i, n - i);
        s1 = vfmaq_f32(s1, a, a);
    }
    const float ss = vaddvq_f32(vaddq_f32(s0, s1));
    const float32x4_t inv = vdupq_n_f32(1.0f / std::sqrt(ss / float(n) + eps));
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), inv), vld1q_f32(w + i)));
    if (i < n)
        store_f32_part(y + i, vmulq_f32(vmulq_f32(load_f32_part(x + i, n - i), inv), load_f32_part(w + i, n - i)),
                       n - i);
}
inline float32x4_t silu_mul(float32x4_t g, float32x4_t u) {
    const float32x4_t e = exp_ps(vnegq_f32(g));
    return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), u);
}
void silu_mul_f32(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, silu_mul(vld1q_f32(gate + i), vld1q_f32(up + i)));
    if (i < n) store_f32_part(out + i, silu_mul(load_f32_part(gate + i, n - i), load_f32_part(up + i, n - i)), n - i);
}
float max_f32(const float* x, int64_t n) {
    const float32x4_t ninf = vdupq_n_f32(-std::numeric_limits<float>::infinity());
    float32x4_t m0 = ninf, m1 = ninf;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        m0 = vmaxq_f32(m0, vld1q_f32(x + i));
        m1 = vmaxq_f32(m1, vld1q_f32(x + i + 4));
    }
    for (; i + 4 <= n; i += 4) m0 = vmaxq_f32(m0, vld1q_f32(x + i));
    float m = vmaxvq_f32(vmaxq_f32(m0, m1));
    for (; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}
float exp_sub_sum_f32(const float* x, float m, float* y, int64_t n) {
    if (std::isinf(m) && m < 0) m = 0.0f;  // every input is -inf: outputs 0, as the scalar code
    const float32x4_t mv = vdupq_n_f32(m);
    float32x4_t s = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t e = exp_ps(vsubq_f32(vld1q_f32(x + i), mv));
        vst1q_f32(y + i, e);
        s = vaddq_f32(s, e);
    }
    float sum = vaddvq_f32(s);
    if (i < n) {
        float e[4];
        vst1q_f32(e, exp_ps(vsubq_f32(load_f32_part(x + i, n - i), mv)));
        for (int64_t k = 0; k < n - i; ++k) {
            y[i + k] = e[k];
            sum += e[k];
        }
    }
    return sum;
}
void softmax_f32(float* x, int64_t n) {
    const float m = max_f32(x, n);
    const float sum = exp_sub_sum_f32(x, m, x, n);
    scale_f32(sum > 0.0f ? 1.0f / sum : 0.0f, x, n);
}

}  // namespace

void fill_table_neon(table& t) {
    t.level = isa::ISA_NEON;
    t.matmul_rows_f32 = matmul_rows<w_f32>;
    t.matmul_rows_f16 = matmul_rows<w_f16>;
    t.matmul_rows_bf16 = matmul_rows<w_bf16>;
    t.f16_to_f32 = f16_to_f32;
    t.bf16_to_f32 = bf16_to_f32;
    t.f32_to_f16 = f32_to_half<to_f16>;
    t.f32_to_bf16 = f32_to_half<to_bf16>;
    t.dot_f32 = dot_f32;
    t.axpy_f32 = axpy_f32;
    t.scale_f32 = scale_f32;
    t.rms_norm_f32 = rms_norm_f32;
    t.silu_mul_f32 = silu_mul_f32;
    t.softmax_f32 = softmax_f32;
    t.exp_sub_sum_f32 = exp_sub_sum_f32;
    t.max_f32 = max_f32;
}

}  // namespace fathom::kernels::neon
