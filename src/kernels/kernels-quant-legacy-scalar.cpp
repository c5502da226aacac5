// Scalar legacy quantised kernels (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL weights x Q8_0 / Q8_1 activations): plain
// loops over block pairs with exact int32 code dot products; the oracle the SIMD tables are tested against.
#include <cstring>

#include "kernels/kernels.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace fathom::kernels::scalar {

namespace {

using quant::QK;

inline float half(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fathom::f16_to_f32(h);
}
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Each weight policy decodes one block at p into its 32 integer codes c (value = d * c, plus m for the _1 types)
// and reads its scale d (and min m).
struct w_q4_0 {
    static constexpr size_t bytes = sizeof(quant::block_q4_0);
    static constexpr bool has_min = false;
    static void decode(const uint8_t* p, int* c, float* d, float* m) {
        *d = half(p);
        *m = 0.0f;
        for (int j = 0; j < QK / 2; ++j) {
            c[j] = (p[2 + j] & 15) - 8;
            c[j + QK / 2] = (p[2 + j] >> 4) - 8;
        }
    }
};
struct w_q4_1 {
    static constexpr size_t bytes = sizeof(quant::block_q4_1);
    static constexpr bool has_min = true;
    static void decode(const uint8_t* p, int* c, float* d, float* m) {
        *d = half(p);
        *m = half(p + 2);
        for (int j = 0; j < QK / 2; ++j) {
            c[j] = p[4 + j] & 15;
            c[j + QK / 2] = p[4 + j] >> 4;
        }
    }
};
struct w_q5_0 {
    static constexpr size_t bytes = sizeof(quant::block_q5_0);
    static constexpr bool has_min = false;
    static void decode(const uint8_t* p, int* c, float* d, float* m) {
        *d = half(p);
        *m = 0.0f;
        const uint32_t qh = load_u32(p + 2);
        for (int j = 0; j < QK / 2; ++j) {
            c[j] = int((p[6 + j] & 15) | (((qh >> j) & 1u) << 4)) - 16;
            c[j + QK / 2] = int((p[6 + j] >> 4) | (((qh >> (j + QK / 2)) & 1u) << 4)) - 16;
        }
    }
};
struct w_q5_1 {
    static constexpr size_t bytes = sizeof(quant::block_q5_1);
    static constexpr bool has_min = true;
    static void decode(const uint8_t* p, int* c, float* d, float* m) {
        *d = half(p);
        *m = half(p + 2);
        const uint32_t qh = load_u32(p + 4);
        for (int j = 0; j < QK / 2; ++j) {
            c[j] = int((p[8 + j] & 15) | (((qh >> j) & 1u) << 4));
            c[j + QK / 2] = int((p[8 + j] >> 4) | (((qh >> (j + QK / 2)) & 1u) << 4));
        }
    }
};
struct w_q8_0 {
    static constexpr size_t bytes = sizeof(quant::block_q8_0);
    static constexpr bool has_min = false;
    static void decode(const uint8_t* p, int* c, float* d, float* m) {
        *d = half(p);
        *m = 0.0f;
        for (int j = 0; j < QK; ++j) c[j] = int8_t(p[2 + j]);
    }
};
struct w_iq4_nl {
    static constexpr size_t bytes = sizeof(quant::block_iq4_nl);
    static constexpr bool has_min = false;
    static void decode(const uint8_t* p, int* c, float* d, float* m) {
        *d = half(p);
        *m = 0.0f;
        for (int j = 0; j < QK / 2; ++j) {
            c[j] = quant::k_iq4nl[p[2 + j] & 15];
            c[j + QK / 2] = quant::k_iq4nl[p[2 + j] >> 4];
        }
    }
};

// Activation blocks: Q8_0 {d, qs[32]}, Q8_1 {d, s, qs[32]} (s = d * sum(qs), used by the weight min).
template <bool Q8_1>
struct act {
    static constexpr size_t bytes = Q8_1 ? sizeof(quant::block_q8_1) : sizeof(quant::block_q8_0);
    static constexpr size_t qs_offset = Q8_1 ? 4 : 2;
};

// Per block pair: exact int32 code dot product, then sum += d_w * d_x * sumi (+ m_w * s_x).
template <class W>
void matmul_rows_q(const void* w, size_t w_row_bytes, int64_t n_rows, const void* xq, size_t xq_row_bytes,
                   int64_t n_tok, float* y, int64_t ldy, int64_t n) {
    using X = act<W::has_min>;
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xq);
    const int64_t nb = n / QK;
    for (int64_t r = 0; r < n_rows; ++r) {
        const uint8_t* row = wb + size_t(r) * w_row_bytes;
        for (int64_t t = 0; t < n_tok; ++t) {
            const uint8_t* xt = xb + size_t(t) * xq_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < nb; ++b) {
                int c[QK];
                float dw, mw;
                W::decode(row + size_t(b) * W::bytes, c, &dw, &mw);
                const uint8_t* xblk = xt + size_t(b) * X::bytes;
                const int8_t* xqs = reinterpret_cast<const int8_t*>(xblk + X::qs_offset);
                int32_t sumi = 0;
                for (int j = 0; j < QK; ++j) sumi += c[j] * int32_t(xqs[j]);
                const float dx = half(xblk);
                sum += dw * dx * float(sumi);
                if constexpr (W::has_min) sum += mw * half(xblk + 2);
            }
            y[t * ldy + r] = sum;
        }
    }
}

void quantize_row_q8_0(const float* x, void* y, int64_t n) { quant::quantize_row(dtype::DTYPE_Q8_0, x, y, n); }
void quantize_row_q8_1(const float* x, void* y, int64_t n) { quant::quantize_row(dtype::DTYPE_Q8_1, x, y, n); }

}  // namespace

void fill_quant_legacy(table& t) {
    t.quantize_row_q8_0 = quantize_row_q8_0;
    t.quantize_row_q8_1 = quantize_row_q8_1;
    t.matmul_rows_q4_0 = matmul_rows_q<w_q4_0>;
    t.matmul_rows_q4_1 = matmul_rows_q<w_q4_1>;
    t.matmul_rows_q5_0 = matmul_rows_q<w_q5_0>;
    t.matmul_rows_q5_1 = matmul_rows_q<w_q5_1>;
    t.matmul_rows_q8_0 = matmul_rows_q<w_q8_0>;
    t.matmul_rows_iq4_nl = matmul_rows_q<w_iq4_nl>;
}

}  // namespace fathom::kernels::scalar
