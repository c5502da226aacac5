// Reference quantise / dequantise of the 256-element super-block types: Q4_K, Q5_K, Q6_K, Q8_K, IQ4_XS.
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "quant/quant-internal.h"

namespace fathom::quant::detail {

// ---- dequantisation

void dequantize_q4_k(const block_q4_k* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = f16_to_f32(x[i].d), dmin = f16_to_f32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        for (int c = 0; c < 4; ++c, q += 32, y += 64) {
            uint8_t sc, m;
            get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * float(sc), m1 = dmin * float(m);
            get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * float(sc), m2 = dmin * float(m);
            for (int l = 0; l < 32; ++l) {
                y[l] = d1 * float(q[l] & 0xF) - m1;
                y[l + 32] = d2 * float(q[l] >> 4) - m2;
            }
        }
    }
}

void dequantize_q5_k(const block_q5_k* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = f16_to_f32(x[i].d), dmin = f16_to_f32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        const uint8_t* qh = x[i].qh;
        for (int c = 0; c < 4; ++c, q += 32, y += 64) {
            uint8_t sc, m;
            get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * float(sc), m1 = dmin * float(m);
            get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * float(sc), m2 = dmin * float(m);
            for (int l = 0; l < 32; ++l) {
                int lo = (q[l] & 0xF) | ((qh[l] >> (2 * c)) & 1) << 4;
                int hi = (q[l] >> 4) | ((qh[l] >> (2 * c + 1)) & 1) << 4;
                y[l] = d1 * float(lo) - m1;
                y[l + 32] = d2 * float(hi) - m2;
            }
        }
    }
}

void dequantize_q6_k(const block_q6_k* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = f16_to_f32(x[i].d);
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        const int8_t* sc = x[i].scales;
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
                int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
                int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                y[l] = d * float(sc[is + 0]) * float(q1);
                y[l + 32] = d * float(sc[is + 2]) * float(q2);
                y[l + 64] = d * float(sc[is + 4]) * float(q3);
                y[l + 96] = d * float(sc[is + 6]) * float(q4);
            }
        }
    }
}

void dequantize_q8_k(const block_q8_k* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK_K)
        for (int j = 0; j < QK_K; ++j) y[j] = x[i].d * float(x[i].qs[j]);
}

void dequantize_iq4_xs(const block_iq4_xs* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = f16_to_f32(x[i].d);
        const uint8_t* qs = x[i].qs;
        for (int ib = 0; ib < QK_K / 32; ++ib, qs += 16, y += 32) {
            const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | ((x[i].scales_h >> (2 * ib)) & 3) << 4;
            const float dl = d * float(ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * float(k_iq4nl[qs[j] & 0xF]);
                y[j + 16] = dl * float(k_iq4nl[qs[j] >> 4]);
            }
        }
    }
}

// ---- activation quantisation

void quantize_q8_k(const float* x, block_q8_k* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < QK_K; ++j) amax = std::fmax(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < QK_K; ++j) {
            float v = std::nearbyint(x[j] * id);
            y[i].qs[j] = static_cast<int8_t>(v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v);
        }
        y[i].d = d;
        for (int k = 0; k < QK_K / 16; ++k) {
            int s = 0;
            for (int j = 0; j < 16; ++j) s += y[i].qs[16 * k + j];
            y[i].bsums[k] = static_cast<int16_t>(s);
        }
    }
}

}  // namespace fathom::quant::detail
