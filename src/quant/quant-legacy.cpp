// Reference quantise / dequantise of the 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, IQ4_NL.
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "quant/quant-internal.h"

namespace fathom::quant::detail {

namespace {

uint32_t load_qh(const uint8_t* qh) { return uint32_t(qh[0]) | uint32_t(qh[1]) << 8 | uint32_t(qh[2]) << 16 | uint32_t(qh[3]) << 24; }
void store_qh(uint8_t* qh, uint32_t v) {
    for (int i = 0; i < 4; ++i) qh[i] = uint8_t(v >> (8 * i));
}

// The element of x with the largest magnitude, keeping its sign (the first such element on ties).
float signed_absmax(const float* x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; ++j) {
        float a = std::fabs(x[j]);
        if (a > amax) {
            amax = a;
            max = x[j];
        }
    }
    return max;
}

// Rounds a scale to f16 and returns its inverse as the quantiser will use it (0 for a zero scale).
float inverse_of_f16(float d, uint16_t* h) {
    *h = f32_to_f16(d);
    float r = f16_to_f32(*h);
    return r != 0.0f ? 1.0f / r : 0.0f;
}

// Symmetric "d = max / -half" quantisation into unsigned codes 0..2*half-1 (Q4_0: half = 8, Q5_0: half = 16).
void quantize_symmetric(const float* x, int half, uint16_t* d, uint8_t* q) {
    float max = signed_absmax(x, QK);
    float id = inverse_of_f16(max / float(-half), d);
    for (int j = 0; j < QK; ++j) {
        int v = nearest_int(x[j] * id) + half;
        q[j] = uint8_t(v < 0 ? 0 : v > 2 * half - 1 ? 2 * half - 1 : v);
    }
}

// Min/max quantisation into codes 0..levels-1 (Q4_1: 16 levels, Q5_1: 32).
void quantize_minmax(const float* x, int levels, uint16_t* d, uint16_t* m, uint8_t* q) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < QK; ++j) {
        lo = x[j] < lo ? x[j] : lo;
        hi = x[j] > hi ? x[j] : hi;
    }
    float id = inverse_of_f16((hi - lo) / float(levels - 1), d);
    *m = f32_to_f16(lo);
    float mr = f16_to_f32(*m);
    for (int j = 0; j < QK; ++j) {
        int v = nearest_int((x[j] - mr) * id);
        q[j] = uint8_t(v < 0 ? 0 : v > levels - 1 ? levels - 1 : v);
    }
}

// Packs 32 codes (< 16 in their low 4 bits) into the Q4_0 nibble order: element j low, element j + 16 high.
void pack_nibbles(const uint8_t* q, uint8_t* qs) {
    for (int j = 0; j < QK / 2; ++j) qs[j] = uint8_t((q[j] & 0xF) | (q[j + QK / 2] & 0xF) << 4);
}
uint32_t pack_fifth_bits(const uint8_t* q) {
    uint32_t qh = 0;
    for (int j = 0; j < QK; ++j) qh |= uint32_t((q[j] >> 4) & 1) << j;
    return qh;
}

// Q8_0 activation quantisation of one block (the spec SIMD versions match bit for bit); returns sum of q.
int quantize_q8_block(const float* x, uint16_t* dh, int8_t* qs, float* d_out) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < QK; ++j) {
        qs[j] = to_int8(x[j] * id);
        sum += qs[j];
    }
    *dh = f32_to_f16(d);
    *d_out = d;
    return sum;
}

// Weighted least-squares fit of x by d * k_iq4nl[idx], idx nearest to x * id: returns sum(w x l)^2 / sum(w l^2)
// (higher is better) and d.
float iq4_fit(const float* x, const float* w, int n, float id, float* d) {
    float aqx[LANES] = {}, aq2[LANES] = {};
    const float id2 = 2.0f * id;
    for (int j0 = 0; j0 < n; j0 += LANES) {
        for (int k = 0; k < LANES; ++k) {
            const int j = j0 + k;
            const float l = float(k_iq4nl[iq4_index2(x[j] * id2)]);
            aqx[k] += w[j] * x[j] * l;
            aq2[k] += w[j] * l * l;
        }
    }
    const float sumqx = lane_sum(aqx), sumq2 = lane_sum(aq2);
    if (!(sumq2 > 0.0f)) {
        *d = 0.0f;
        return 0.0f;
    }
    *d = sumqx / sumq2;
    return sumqx * sumqx / sumq2;
}

}  // namespace

float iq4_best_scale(const float* x, const float* w, int n) {
    float max = signed_absmax(x, n);
    if (max == 0.0f) return 0.0f;
    // Candidates map the extreme element to the grid's bottom (-127) or top (+113) level or up to 24 level units
    // inside it; each candidate's assignment gets its least-squares scale, the best score wins, then two Lloyd
    // passes (reassign to the new scale, refit) polish it.
    float best_d = 0.0f, best = -1.0f;
    for (int anchor : {-127, 113}) {
        for (int t = -24; t <= 24; t += 6) {
            float d = 0.0f;
            float score = iq4_fit(x, w, n, float(anchor + t) / max, &d);
            if (score > best) {
                best = score;
                best_d = d;
            }
        }
    }
    for (int it = 0; it < 2 && best_d != 0.0f; ++it) {
        float d = 0.0f;
        float score = iq4_fit(x, w, n, 1.0f / best_d, &d);
        if (!(score > best)) break;
        best = score;
        best_d = d;
    }
    return best_d;
}

// ---- dequantisation

void dequantize_q4_0(const block_q4_0* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d);
        for (int j = 0; j < QK / 2; ++j) {
            y[j] = float((x[i].qs[j] & 0xF) - 8) * d;
            y[j + QK / 2] = float((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_q4_1(const block_q4_1* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
        for (int j = 0; j < QK / 2; ++j) {
            y[j] = float(x[i].qs[j] & 0xF) * d + m;
            y[j + QK / 2] = float(x[i].qs[j] >> 4) * d + m;
        }
    }
}

void dequantize_q5_0(const block_q5_0* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK / 2; ++j) {
            int lo = (x[i].qs[j] & 0xF) | int((qh >> j) & 1) << 4;
            int hi = (x[i].qs[j] >> 4) | int((qh >> (j + QK / 2)) & 1) << 4;
            y[j] = float(lo - 16) * d;
            y[j + QK / 2] = float(hi - 16) * d;
        }
    }
}

void dequantize_q5_1(const block_q5_1* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK / 2; ++j) {
            int lo = (x[i].qs[j] & 0xF) | int((qh >> j) & 1) << 4;
            int hi = (x[i].qs[j] >> 4) | int((qh >> (j + QK / 2)) & 1) << 4;
            y[j] = float(lo) * d + m;
            y[j + QK / 2] = float(hi) * d + m;
        }
    }
}

void dequantize_q8_0(const block_q8_0* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d);
        for (int j = 0; j < QK; ++j) y[j] = float(x[i].qs[j]) * d;
    }
}

void dequantize_q8_1(const block_q8_1* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d);
        for (int j = 0; j < QK; ++j) y[j] = float(x[i].qs[j]) * d;
    }
}

void dequantize_iq4_nl(const block_iq4_nl* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d);
        for (int j = 0; j < QK / 2; ++j) {
            y[j] = d * float(k_iq4nl[x[i].qs[j] & 0xF]);
            y[j + QK / 2] = d * float(k_iq4nl[x[i].qs[j] >> 4]);
        }
    }
}

// ---- quantisation

void quantize_q4_0(const float* x, block_q4_0* y, int64_t nb) {
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        quantize_symmetric(x, 8, &y[i].d, q);
        pack_nibbles(q, y[i].qs);
    }
}

void quantize_q4_1(const float* x, block_q4_1* y, int64_t nb) {
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        quantize_minmax(x, 16, &y[i].d, &y[i].m, q);
        pack_nibbles(q, y[i].qs);
    }
}

void quantize_q5_0(const float* x, block_q5_0* y, int64_t nb) {
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        quantize_symmetric(x, 16, &y[i].d, q);
        pack_nibbles(q, y[i].qs);
        store_qh(y[i].qh, pack_fifth_bits(q));
    }
}

void quantize_q5_1(const float* x, block_q5_1* y, int64_t nb) {
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        quantize_minmax(x, 32, &y[i].d, &y[i].m, q);
        pack_nibbles(q, y[i].qs);
        store_qh(y[i].qh, pack_fifth_bits(q));
    }
}

void quantize_q8_0(const float* x, block_q8_0* y, int64_t nb) {
    float d;
    for (int64_t i = 0; i < nb; ++i, x += QK) quantize_q8_block(x, &y[i].d, y[i].qs, &d);
}

void quantize_q8_1(const float* x, block_q8_1* y, int64_t nb) {
    float d;
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        int sum = quantize_q8_block(x, &y[i].d, y[i].qs, &d);
        y[i].s = f32_to_f16(d * float(sum));
    }
}

void quantize_iq4_nl(const float* x, block_iq4_nl* y, int64_t nb, const float* importance) {
    float ones[QK];
    for (float& o : ones) o = 1.0f;
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        const float* w = ones;  // the caller's importance unless it is all zero over this block
        if (importance) {
            float sum = 0.0f;
            for (int j = 0; j < QK; ++j) sum += importance[i * QK + j];
            if (sum > 0.0f) w = importance + i * QK;
        }
        float id = inverse_of_f16(iq4_best_scale(x, w, QK), &y[i].d);
        for (int j = 0; j < QK; ++j) q[j] = uint8_t(iq4_nearest(x[j] * id));
        pack_nibbles(q, y[i].qs);
    }
}

}  // namespace fathom::quant::detail
