// Scalar reference kernels: plain loops, always built, the oracle every SIMD table is tested against.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/kernels.h"

namespace fathom::kernels::scalar {

namespace {

inline float load_f32(const uint8_t* p, int64_t i) {
    float v;
    std::memcpy(&v, p + size_t(i) * 4, 4);
    return v;
}
inline uint16_t load_u16(const uint8_t* p, int64_t i) {
    uint16_t v;
    std::memcpy(&v, p + size_t(i) * 2, 2);
    return v;
}

struct load_f32_w {
    static float get(const uint8_t* p, int64_t i) { return load_f32(p, i); }
};
struct load_f16_w {
    static float get(const uint8_t* p, int64_t i) { return fathom::f16_to_f32(load_u16(p, i)); }
};
struct load_bf16_w {
    static float get(const uint8_t* p, int64_t i) { return fathom::bf16_to_f32(load_u16(p, i)); }
};

template <class L>
void matmul_rows(const void* w, size_t w_row_bytes, int64_t n_rows, const float* x, int64_t ldx, int64_t n_tok,
                 float* y, int64_t ldy, int64_t n) {
    const uint8_t* base = static_cast<const uint8_t*>(w);
    for (int64_t r = 0; r < n_rows; ++r) {
        const uint8_t* row = base + size_t(r) * w_row_bytes;
        for (int64_t t = 0; t < n_tok; ++t) {
            const float* xt = x + t * ldx;
            float acc = 0.0f;
            for (int64_t i = 0; i < n; ++i) acc += L::get(row, i) * xt[i];
            y[t * ldy + r] = acc;
        }
    }
}

// Conversions assume no alignment of either pointer (weights can sit at any byte), hence the memcpy accesses.
void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
    const uint8_t* xb = reinterpret_cast<const uint8_t*>(x);
    for (int64_t i = 0; i < n; ++i) {
        const float v = fathom::f16_to_f32(load_u16(xb, i));
        std::memcpy(y + i, &v, 4);
    }
}
void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
    const uint8_t* xb = reinterpret_cast<const uint8_t*>(x);
    for (int64_t i = 0; i < n; ++i) {
        const float v = fathom::bf16_to_f32(load_u16(xb, i));
        std::memcpy(y + i, &v, 4);
    }
}
void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
    const uint8_t* xb = reinterpret_cast<const uint8_t*>(x);
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t v = fathom::f32_to_f16(load_f32(xb, i));
        std::memcpy(y + i, &v, 2);
    }
}
void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
    const uint8_t* xb = reinterpret_cast<const uint8_t*>(x);
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t v = fathom::f32_to_bf16(load_f32(xb, i));
        std::memcpy(y + i, &v, 2);
    }
}

float dot_f32(const float* a, const float* b, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
    return acc;
}
void axpy_f32(float a, const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
void scale_f32(float a, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] *= a;
}
void rms_norm_f32(const float* x, const float* w, float eps, float* y, int64_t n) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
    const float inv = 1.0f / std::sqrt(ss / float(n) + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
}
void silu_mul_f32(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}
float max_f32(const float* x, int64_t n) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}
// exp(x - m); with m = -inf (every input -inf) all outputs are 0 rather than NaN.
float exp_sub_sum_f32(const float* x, float m, float* y, int64_t n) {
    if (std::isinf(m) && m < 0) m = 0.0f;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        y[i] = std::exp(x[i] - m);
        sum += y[i];
    }
    return sum;
}
// A row whose inputs are all -inf comes out as zeros.
void softmax_f32(float* x, int64_t n) {
    const float m = max_f32(x, n);
    const float sum = exp_sub_sum_f32(x, m, x, n);
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    scale_f32(inv, x, n);
}

}  // namespace

void fill_table_scalar(table& t) {
    t.level = isa::ISA_SCALAR;
    t.matmul_rows_f32 = matmul_rows<load_f32_w>;
    t.matmul_rows_f16 = matmul_rows<load_f16_w>;
    t.matmul_rows_bf16 = matmul_rows<load_bf16_w>;
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

}  // namespace fathom::kernels::scalar
