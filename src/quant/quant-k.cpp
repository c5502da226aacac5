// Reference quantise / dequantise of the 256-element super-block types: Q4_K, Q5_K, Q6_K, Q8_K, IQ4_XS.
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "quant/quant-internal.h"

namespace fathom::quant::detail {

namespace {

// Per-element weights of a (sub-)block: the caller's importance, or all ones when it is null or sums to zero there.
const float* block_weights(const float* importance, int64_t offset, int n, float* ones) {
    if (importance) {
        float s = 0.0f;
        for (int j = 0; j < n; ++j) s += importance[offset + j];
        if (s > 0.0f) return importance + offset;
    }
    for (int j = 0; j < n; ++j) ones[j] = 1.0f;
    return ones;
}

int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
// Clamp written so it compiles to min/max instructions; NaN goes to lo.
float clampf(float v, float lo, float hi) {
    v = v > lo ? v : lo;
    return v < hi ? v : hi;
}

// The element of x with the largest magnitude, keeping its sign.
float signed_absmax(const float* x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; ++j)
        if (std::fabs(x[j]) > amax) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    return max;
}

// Weighted squared error of x against dl * L - ml with L = round((x + ml) / dl) in [0, nmax]; codes go to L
// when it is not null. n is a multiple of LANES.
float err_scale_min(const float* x, const float* w, int n, float nmax, float dl, float ml, uint8_t* L) {
    const float id = dl != 0.0f ? 1.0f / dl : 0.0f;
    float acc[LANES] = {};
    for (int j0 = 0; j0 < n; j0 += LANES) {
        for (int k = 0; k < LANES; ++k) {
            const int j = j0 + k;
            const float l = clampf(round_even((x[j] + ml) * id), 0.0f, nmax);
            const float e = dl * l - ml - x[j];
            acc[k] += w[j] * e * e;
        }
    }
    if (L)  // a separate pass, so the error loop above vectorises
        for (int j = 0; j < n; ++j) L[j] = uint8_t(clampf(round_even((x[j] + ml) * id), 0.0f, nmax));
    return lane_sum(acc);
}

// Fits x[j] ~ scale * L[j] - min with integer L in [0, nmax], scale >= 0, min >= 0 (Q4_K / Q5_K sub-blocks):
// for each candidate inverse scale spanning the data range, assigns L by rounding and solves the weighted
// least-squares problem for (scale, min), keeping the pair with the lowest weighted squared error.
void fit_scale_min(const float* x, const float* w, int n, int nmax, float* scale, float* min) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < n; ++j) {
        lo = x[j] < lo ? x[j] : lo;
        hi = x[j] > hi ? x[j] : hi;
    }
    if (lo > 0.0f) lo = 0.0f;
    *scale = 0.0f;
    *min = -lo;
    if (!(hi > lo)) return;
    const float fmax = float(nmax);
    float aw[LANES] = {}, awx[LANES] = {}, awx2[LANES] = {};
    for (int j0 = 0; j0 < n; j0 += LANES) {
        for (int k = 0; k < LANES; ++k) {
            const int j = j0 + k;
            aw[k] += w[j];
            awx[k] += w[j] * x[j];
            awx2[k] += w[j] * x[j] * x[j];
        }
    }
    const double sw = lane_sum(aw), swx = lane_sum(awx), swx2 = lane_sum(awx2);
    // The plain min/max mapping is the baseline to beat.
    *scale = (hi - lo) / fmax;
    double best = err_scale_min(x, w, n, fmax, *scale, -lo, nullptr);
    for (int t = -10; t <= 10; t += 2) {  // inverse scales (nmax - 1 .. nmax + 1) / range
        const float is = (fmax + 0.1f * float(t)) / (hi - lo);
        float al[LANES] = {}, al2[LANES] = {}, axl[LANES] = {};
        for (int j0 = 0; j0 < n; j0 += LANES) {
            for (int k = 0; k < LANES; ++k) {
                const int j = j0 + k;
                const float l = clampf(round_even(is * (x[j] - lo)), 0.0f, fmax);
                al[k] += w[j] * l;
                al2[k] += w[j] * l * l;
                axl[k] += w[j] * x[j] * l;
            }
        }
        const double sl = lane_sum(al), sl2 = lane_sum(al2), sxl = lane_sum(axl);
        const double det = sw * sl2 - sl * sl;
        if (!(det > 0.0)) continue;
        double sc = (sw * sxl - sl * swx) / det;
        double b = (sl2 * swx - sl * sxl) / det;
        if (b > 0.0) {  // the format's offset is -min <= 0
            b = 0.0;
            sc = sxl / sl2;
        }
        if (!(sc > 0.0)) continue;
        const double err = swx2 - 2.0 * sc * sxl - 2.0 * b * swx + sc * sc * sl2 + 2.0 * sc * b * sl + b * b * sw;
        if (err < best) {
            best = err;
            *scale = float(sc);
            *min = float(-b);
        }
    }
}

// Least-squares score sum(w x l)^2 / sum(w l^2) of the assignment L = round(x * is) in [-nmax, nmax - 1], and its
// scale; -1 when every L is zero.
float score_symmetric(const float* x, const float* w, int n, float nmax, float is, float* s_out) {
    float axl[LANES] = {}, al2[LANES] = {};
    for (int j0 = 0; j0 < n; j0 += LANES) {
        for (int k = 0; k < LANES; ++k) {
            const int j = j0 + k;
            const float l = clampf(round_even(is * x[j]), -nmax, nmax - 1.0f);
            axl[k] += w[j] * x[j] * l;
            al2[k] += w[j] * l * l;
        }
    }
    const float sxl = lane_sum(axl), sl2 = lane_sum(al2);
    if (!(sl2 > 0.0f)) return -1.0f;
    *s_out = sxl / sl2;
    return sxl * sxl / sl2;
}

// Fits x[j] ~ scale * L[j] with integer L in [-nmax, nmax - 1] (Q6_K sub-blocks); scale may be negative so the
// extra negative level covers the element of largest magnitude. Candidates, least-squares scale, then Lloyd passes.
// (Candidates that clip the extreme element matter in 16-element sub-blocks: measured on gaussian data.)
float fit_scale_symmetric(const float* x, const float* w, int n, int nmax) {
    const float max = signed_absmax(x, n);
    if (max == 0.0f) return 0.0f;
    const float fmax = float(nmax);
    float best_s = 0.0f, best = -1.0f;
    for (int t = -6; t <= 6; ++t) {  // the extreme element on level -nmax, or up to 6 levels either side of it
        float s = 0.0f;
        const float sc = score_symmetric(x, w, n, fmax, -(fmax + float(t)) / max, &s);
        if (sc > best) {
            best = sc;
            best_s = s;
        }
    }
    for (int it = 0; it < 2 && best_s != 0.0f; ++it) {
        float s = 0.0f;
        const float sc = score_symmetric(x, w, n, fmax, 1.0f / best_s, &s);
        if (!(sc > best)) break;
        best = sc;
        best_s = s;
    }
    return best_s;
}

// Q4_K / Q5_K super-block: sub-block fits, 6-bit scales and mins under two f16 super-scales, then per sub-block the
// (scale, min) codes within one step of the rounded ones that give the lowest weighted error. Codes go to L[256].
void quantize_scale_min_superblock(const float* x, const float* w, int nmax, uint16_t* d_out, uint16_t* dmin_out,
                                   uint8_t* scales, uint8_t* L) {
    float sc[8], mn[8];
    float max_sc = 0.0f, max_mn = 0.0f;
    for (int ib = 0; ib < 8; ++ib) {
        fit_scale_min(x + 32 * ib, w + 32 * ib, 32, nmax, &sc[ib], &mn[ib]);
        max_sc = std::fmax(max_sc, sc[ib]);
        max_mn = std::fmax(max_mn, mn[ib]);
    }
    *d_out = f32_to_f16(max_sc / 63.0f);
    *dmin_out = f32_to_f16(max_mn / 63.0f);
    const float d = f16_to_f32(*d_out), dmin = f16_to_f32(*dmin_out);
    const float id = d != 0.0f ? 1.0f / d : 0.0f, idmin = dmin != 0.0f ? 1.0f / dmin : 0.0f;
    const float fmax = float(nmax);
    uint8_t ls[8], lm[8];
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = x + 32 * ib;
        const float* wb = w + 32 * ib;
        const int s0 = clamp_int(nearest_int(sc[ib] * id), 0, 63), m0 = clamp_int(nearest_int(mn[ib] * idmin), 0, 63);
        float best = err_scale_min(xb, wb, 32, fmax, d * float(s0), dmin * float(m0), nullptr);
        ls[ib] = uint8_t(s0);
        lm[ib] = uint8_t(m0);
        for (int s = s0 - 1; s <= s0 + 1; ++s) {
            for (int m = m0 - 1; m <= m0 + 1; ++m) {
                if (s < 0 || s > 63 || m < 0 || m > 63 || (s == s0 && m == m0)) continue;
                const float e = err_scale_min(xb, wb, 32, fmax, d * float(s), dmin * float(m), nullptr);
                if (e < best) {
                    best = e;
                    ls[ib] = uint8_t(s);
                    lm[ib] = uint8_t(m);
                }
            }
        }
        err_scale_min(xb, wb, 32, fmax, d * float(ls[ib]), dmin * float(lm[ib]), L + 32 * ib);
    }
    for (int j = 0; j < 4; ++j) {
        scales[j] = uint8_t(ls[j] | (ls[j + 4] >> 4) << 6);
        scales[j + 4] = uint8_t(lm[j] | (lm[j + 4] >> 4) << 6);
        scales[j + 8] = uint8_t((ls[j + 4] & 0xF) | (lm[j + 4] & 0xF) << 4);
    }
}

// Weighted squared error of x against dl * k_iq4nl[idx], idx nearest; indices go to q when it is not null.
float err_iq4(const float* x, const float* w, int n, float dl, uint8_t* q) {
    const float id2 = dl != 0.0f ? 2.0f / dl : 0.0f;
    float acc[LANES] = {};
    for (int j0 = 0; j0 < n; j0 += LANES) {
        for (int k = 0; k < LANES; ++k) {
            const int j = j0 + k;
            const int idx = iq4_index2(x[j] * id2);
            const float e = dl * float(k_iq4nl[idx]) - x[j];
            acc[k] += w[j] * e * e;
            if (q) q[j] = uint8_t(idx);
        }
    }
    return lane_sum(acc);
}

// Weighted squared error of x against dl * L, L = round(x / dl) in [-nmax, nmax - 1]; codes (L + nmax) go to q
// when it is not null.
float err_symmetric(const float* x, const float* w, int n, float nmax, float dl, uint8_t* q) {
    const float id = dl != 0.0f ? 1.0f / dl : 0.0f;
    float acc[LANES] = {};
    for (int j0 = 0; j0 < n; j0 += LANES) {
        for (int k = 0; k < LANES; ++k) {
            const int j = j0 + k;
            const float l = clampf(round_even(x[j] * id), -nmax, nmax - 1.0f);
            const float e = dl * l - x[j];
            acc[k] += w[j] * e * e;
        }
    }
    if (q)  // a separate pass, so the error loop above vectorises
        for (int j = 0; j < n; ++j) q[j] = uint8_t(clampf(round_even(x[j] * id), -nmax, nmax - 1.0f) + nmax);
    return lane_sum(acc);
}

}  // namespace

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
            y[i].qs[j] = to_int8(x[j] * id);  // nearbyintf, clamped to [-127, 127]
        }
        y[i].d = d;
        for (int k = 0; k < QK_K / 16; ++k) {
            int s = 0;
            for (int j = 0; j < 16; ++j) s += y[i].qs[16 * k + j];
            y[i].bsums[k] = static_cast<int16_t>(s);
        }
    }
}

// ---- weight quantisation

void quantize_q4_k(const float* x, block_q4_k* y, int64_t nb, const float* importance) {
    float ones[QK_K];
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        const float* w = block_weights(importance, i * QK_K, QK_K, ones);
        quantize_scale_min_superblock(x, w, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        for (int c = 0; c < 4; ++c)
            for (int l = 0; l < 32; ++l) y[i].qs[32 * c + l] = uint8_t(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

void quantize_q5_k(const float* x, block_q5_k* y, int64_t nb, const float* importance) {
    float ones[QK_K];
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        const float* w = block_weights(importance, i * QK_K, QK_K, ones);
        quantize_scale_min_superblock(x, w, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
        std::memset(y[i].qh, 0, sizeof y[i].qh);
        for (int c = 0; c < 4; ++c) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                y[i].qs[32 * c + l] = uint8_t((lo & 0xF) | (hi & 0xF) << 4);
                y[i].qh[l] = uint8_t(y[i].qh[l] | (lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
            }
        }
    }
}

void quantize_q6_k(const float* x, block_q6_k* y, int64_t nb, const float* importance) {
    float ones[QK_K];
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        const float* w = block_weights(importance, i * QK_K, QK_K, ones);
        float sc[16];
        for (int ib = 0; ib < 16; ++ib) sc[ib] = fit_scale_symmetric(x + 16 * ib, w + 16 * ib, 16, 32);
        // int8 sub-block scales: the largest-magnitude one maps to -128, the rest by rounding, each then moved by at
        // most one step where that lowers the sub-block's weighted error.
        const float max_sc = signed_absmax(sc, 16);
        y[i].d = f32_to_f16(max_sc / -128.0f);
        const float d = f16_to_f32(y[i].d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int ib = 0; ib < 16; ++ib) {
            const float* xb = x + 16 * ib;
            const float* wb = w + 16 * ib;
            const int s0 = clamp_int(nearest_int(sc[ib] * id), -128, 127);
            float best = err_symmetric(xb, wb, 16, 32.0f, d * float(s0), nullptr);
            int best_s = s0;
            for (int s = s0 - 1; s <= s0 + 1; s += 2) {
                if (s < -128 || s > 127) continue;
                const float e = err_symmetric(xb, wb, 16, 32.0f, d * float(s), nullptr);
                if (e < best) {
                    best = e;
                    best_s = s;
                }
            }
            y[i].scales[ib] = int8_t(best_s);
            err_symmetric(xb, wb, 16, 32.0f, d * float(best_s), L + 16 * ib);
        }
        for (int h = 0; h < 2; ++h) {
            const uint8_t* Lh = L + 128 * h;
            uint8_t* ql = y[i].ql + 64 * h;
            uint8_t* qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; ++l) {
                const uint8_t q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
                ql[l] = uint8_t((q1 & 0xF) | (q3 & 0xF) << 4);
                ql[l + 32] = uint8_t((q2 & 0xF) | (q4 & 0xF) << 4);
                qh[l] = uint8_t((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
            }
        }
    }
}

void quantize_iq4_xs(const float* x, block_iq4_xs* y, int64_t nb, const float* importance) {
    float ones[QK_K];
    uint8_t q[32];
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        const float* w = block_weights(importance, i * QK_K, QK_K, ones);
        float sc[8];
        for (int ib = 0; ib < 8; ++ib) sc[ib] = iq4_best_scale(x + 32 * ib, w + 32 * ib, 32);
        // 6-bit signed sub-block scales (ls - 32 in [-32, 31]): the largest-magnitude one maps to -32.
        const float max_sc = signed_absmax(sc, 8);
        y[i].d = f32_to_f16(max_sc / -32.0f);
        const float d = f16_to_f32(y[i].d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].scales_h = 0;
        std::memset(y[i].scales_l, 0, sizeof y[i].scales_l);
        for (int ib = 0; ib < 8; ++ib) {
            const float* xb = x + 32 * ib;
            const float* wb = w + 32 * ib;
            const int l0 = clamp_int(nearest_int(sc[ib] * id), -32, 31);
            int best_l = l0;
            float best = err_iq4(xb, wb, 32, d * float(l0), nullptr);
            for (int l = l0 - 1; l <= l0 + 1; l += 2) {
                if (l < -32 || l > 31) continue;
                const float e = err_iq4(xb, wb, 32, d * float(l), nullptr);
                if (e < best) {
                    best = e;
                    best_l = l;
                }
            }
            err_iq4(xb, wb, 32, d * float(best_l), q);
            const int ls = best_l + 32;
            y[i].scales_l[ib / 2] = uint8_t(y[i].scales_l[ib / 2] | (ls & 0xF) << (4 * (ib % 2)));
            y[i].scales_h = uint16_t(y[i].scales_h | (ls >> 4) << (2 * ib));
            for (int j = 0; j < 16; ++j) y[i].qs[16 * ib + j] = uint8_t(q[j] | q[j + 16] << 4);
        }
    }
}

}  // namespace fathom::quant::detail
