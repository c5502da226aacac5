// Scalar K-quant kernels (Q4_K, Q5_K, Q6_K, IQ4_XS weights times Q8_K activations) and the Q8_K quantiser entry:
// the oracle the SIMD versions are tested against. Integer sums per sub-block, one float step per super-block.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "kernels/kernels.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace fathom::kernels::scalar {

namespace {

using quant::QK_K;

// Weights are never assumed aligned: every multi-byte field is read through memcpy.
inline float load_f16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return f16_to_f32(h);
}
inline float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}

// One Q8_K activation super-block, read field by field.
struct act_block {
    float d;
    const int8_t* qs;
    int16_t bsums[16];
};
inline act_block read_act(const uint8_t* p) {
    act_block a;
    a.d = load_f32(p + offsetof(quant::block_q8_k, d));
    a.qs = reinterpret_cast<const int8_t*>(p + offsetof(quant::block_q8_k, qs));
    std::memcpy(a.bsums, p + offsetof(quant::block_q8_k, bsums), sizeof a.bsums);
    return a;
}

// Unpacked weight super-block: codes in element order, per-sub-block integer scales (and mins), float factors.
struct unpacked {
    int8_t q[QK_K];  // Q4_K/Q5_K: 0..31, Q6_K: -32..31, IQ4_XS: the k_iq4nl level
    int32_t sc[16];  // per sub-block (8 of 32 elements, or 16 of 16 for Q6_K)
    int32_t m[8];    // Q4_K/Q5_K mins
    float d, dmin;
};

void unpack_scales_k4(const uint8_t* scales, unpacked& u) {
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        quant::get_scale_min_k4(j, scales, &sc, &m);
        u.sc[j] = sc;
        u.m[j] = m;
    }
}

struct q4_k {
    static constexpr size_t block_bytes = sizeof(quant::block_q4_k);
    static constexpr int sub = 32;  // elements per sub-block
    static constexpr bool has_min = true;
    static void unpack(const uint8_t* p, unpacked& u) {
        using B = quant::block_q4_k;
        u.d = load_f16(p + offsetof(B, d));
        u.dmin = load_f16(p + offsetof(B, dmin));
        unpack_scales_k4(p + offsetof(B, scales), u);
        const uint8_t* qs = p + offsetof(B, qs);
        for (int c = 0; c < 4; ++c)
            for (int l = 0; l < 32; ++l) {
                u.q[64 * c + l] = int8_t(qs[32 * c + l] & 0xF);
                u.q[64 * c + 32 + l] = int8_t(qs[32 * c + l] >> 4);
            }
    }
};

struct q5_k {
    static constexpr size_t block_bytes = sizeof(quant::block_q5_k);
    static constexpr int sub = 32;
    static constexpr bool has_min = true;
    static void unpack(const uint8_t* p, unpacked& u) {
        using B = quant::block_q5_k;
        u.d = load_f16(p + offsetof(B, d));
        u.dmin = load_f16(p + offsetof(B, dmin));
        unpack_scales_k4(p + offsetof(B, scales), u);
        const uint8_t* qs = p + offsetof(B, qs);
        const uint8_t* qh = p + offsetof(B, qh);
        for (int c = 0; c < 4; ++c)
            for (int l = 0; l < 32; ++l) {
                u.q[64 * c + l] = int8_t((qs[32 * c + l] & 0xF) | ((qh[l] >> (2 * c)) & 1) << 4);
                u.q[64 * c + 32 + l] = int8_t((qs[32 * c + l] >> 4) | ((qh[l] >> (2 * c + 1)) & 1) << 4);
            }
    }
};

struct q6_k {
    static constexpr size_t block_bytes = sizeof(quant::block_q6_k);
    static constexpr int sub = 16;
    static constexpr bool has_min = false;
    static void unpack(const uint8_t* p, unpacked& u) {
        using B = quant::block_q6_k;
        u.d = load_f16(p + offsetof(B, d));
        u.dmin = 0.0f;
        const int8_t* sc = reinterpret_cast<const int8_t*>(p + offsetof(B, scales));
        for (int j = 0; j < 16; ++j) u.sc[j] = sc[j];
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = p + offsetof(B, ql) + 64 * h;
            const uint8_t* qh = p + offsetof(B, qh) + 32 * h;
            int8_t* q = u.q + 128 * h;
            for (int l = 0; l < 32; ++l) {
                q[l] = int8_t(((ql[l] & 0xF) | (qh[l] & 3) << 4) - 32);
                q[l + 32] = int8_t(((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32);
                q[l + 64] = int8_t(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
                q[l + 96] = int8_t(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
            }
        }
    }
};

struct iq4_xs {
    static constexpr size_t block_bytes = sizeof(quant::block_iq4_xs);
    static constexpr int sub = 32;
    static constexpr bool has_min = false;
    static void unpack(const uint8_t* p, unpacked& u) {
        using B = quant::block_iq4_xs;
        u.d = load_f16(p + offsetof(B, d));
        u.dmin = 0.0f;
        uint16_t sh;
        std::memcpy(&sh, p + offsetof(B, scales_h), 2);
        const uint8_t* sl = p + offsetof(B, scales_l);
        const uint8_t* qs = p + offsetof(B, qs);
        for (int j = 0; j < 8; ++j) {
            const int ls = ((sl[j / 2] >> (4 * (j % 2))) & 0xF) | ((sh >> (2 * j)) & 3) << 4;
            u.sc[j] = ls - 32;
            for (int l = 0; l < 16; ++l) {
                u.q[32 * j + l] = quant::k_iq4nl[qs[16 * j + l] & 0xF];
                u.q[32 * j + 16 + l] = quant::k_iq4nl[qs[16 * j + l] >> 4];
            }
        }
    }
};

// y[t*ldy + r] = sum over super-blocks of d_x * (d_w * sum_j sc_j * dot_j - dmin_w * sum_j m_j * bsums_j).
// Each weight super-block is unpacked once and used for every token.
template <class T>
void matmul_rows(const void* w, size_t w_row_bytes, int64_t n_rows, const void* xq, size_t xq_row_bytes, int64_t n_tok,
                 float* y, int64_t ldy, int64_t n) {
    const int64_t nb = n / QK_K;
    constexpr int n_sub = QK_K / T::sub;
    const uint8_t* xbase = static_cast<const uint8_t*>(xq);
    unpacked u;
    for (int64_t r = 0; r < n_rows; ++r) {
        const uint8_t* row = static_cast<const uint8_t*>(w) + size_t(r) * w_row_bytes;
        for (int64_t t = 0; t < n_tok; ++t) y[t * ldy + r] = 0.0f;
        for (int64_t b = 0; b < nb; ++b) {
            T::unpack(row + size_t(b) * T::block_bytes, u);
            for (int64_t t = 0; t < n_tok; ++t) {
                const act_block a = read_act(xbase + size_t(t) * xq_row_bytes + size_t(b) * sizeof(quant::block_q8_k));
                int32_t sumi = 0;
                for (int j = 0; j < n_sub; ++j) {
                    int32_t dot = 0;
                    for (int l = 0; l < T::sub; ++l)
                        dot += int32_t(u.q[T::sub * j + l]) * int32_t(a.qs[T::sub * j + l]);
                    sumi += u.sc[j] * dot;
                }
                float v;
                if constexpr (T::has_min) {
                    int32_t summs = 0;
                    for (int j = 0; j < 8; ++j)
                        summs += u.m[j] * (int32_t(a.bsums[2 * j]) + int32_t(a.bsums[2 * j + 1]));
                    v = a.d * (u.d * float(sumi) - u.dmin * float(summs));
                } else {
                    v = a.d * u.d * float(sumi);
                }
                y[t * ldy + r] += v;
            }
        }
    }
}

void quantize_row_q8_k(const float* x, void* y, int64_t n) { quant::quantize_row(dtype::DTYPE_Q8_K, x, y, n); }

}  // namespace

void fill_quant_k(table& t) {
    t.quantize_row_q8_k = quantize_row_q8_k;
    t.matmul_rows_q4_k = matmul_rows<q4_k>;
    t.matmul_rows_q5_k = matmul_rows<q5_k>;
    t.matmul_rows_q6_k = matmul_rows<q6_k>;
    t.matmul_rows_iq4_xs = matmul_rows<iq4_xs>;
}

}  // namespace fathom::kernels::scalar
