// Quantise / dequantise of the 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1 (searched scales), Q8_0, Q8_1, IQ4_NL.
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

// The element of x with the largest magnitude, keeping its sign (the first such element on ties; NaN ignored);
// n a multiple of LANES. The magnitude is found lane-wise (vectorised), then its first occurrence.
float signed_absmax(const float* x, int n) {
    float m[LANES] = {};
    for (int j0 = 0; j0 < n; j0 += LANES) {
        for (int k = 0; k < LANES; ++k) {
            const float a = std::fabs(x[j0 + k]);
            m[k] = a > m[k] ? a : m[k];
        }
    }
    float amax = m[0];
    for (int k = 1; k < LANES; ++k) amax = m[k] > amax ? m[k] : amax;
    if (amax == 0.0f) return 0.0f;
    for (int j = 0; j < n; ++j)
        if (std::fabs(x[j]) == amax) return x[j];
    return 0.0f;
}

// Rounds a scale to f16 and returns its inverse as the quantiser will use it (0 for a zero scale).
float inverse_of_f16(float d, uint16_t* h) {
    *h = f32_to_f16(d);
    float r = f16_to_f32(*h);
    return r != 0.0f ? 1.0f / r : 0.0f;
}

// ---- weight quantisers: weighted least-squares search over F16 scales
//
// Q4_0 / Q5_0 store value = d * c with c in [-half, half - 1]; Q4_1 / Q5_1 store value = d * c + m with c in
// [0, top]. Both try a set of starting scales around the max-based (reference) one: each is rounded to F16, the codes
// are chosen for the rounded scale (nearest, clamped) and the weighted squared error is measured. The k_chains starts
// whose codes admit the lowest least-squares error are then refitted: d (and m) solved by weighted least squares for
// those codes, rounded to F16, the codes re-chosen and the error measured again, up to k_refits times. The lowest
// measured error wins. The reference scale is one of the starts, so under its weights no block does worse than the
// max / min rule (up to rounding in the error sums). Errors come from the expansion sum w (x - d c - m)^2 in terms of
// code sums, so a pass over the block only chooses codes and accumulates them; scales are measured two at a time, the
// two passes interleaving to hide each other's latency.

constexpr float k_f16_max = 65504.0f;
constexpr int k_refits = 2;  // least-squares refits per chain
constexpr int k_chains = 2;  // starts that get refitted (the pairs below rely on it being 2)
// Symmetric starts: the divisor of the extreme element, -half (the reference rule) or half - 1, moved by these.
constexpr float k_sym_shifts[] = {0.0f, -0.4f, 0.4f, -0.8f};
// Asymmetric starts: the number of steps the range is split into, top (the reference rule) moved by these.
constexpr float k_asym_shifts[] = {0.0f, -1.0f / 3, 1.0f / 3, -2.0f / 3, 2.0f / 3, -1.0f, 1.0f, 4.0f / 3};

// v rounded to the nearest F16 value (ties to even), returned as a float: exactly f16_to_f32(f32_to_f16(v)) for
// |v| <= 65504 (up to the sign of zero); larger magnitudes (and NaN) are first clamped to +-65504, so a scale chosen
// here never becomes inf when stored.
inline float round_to_f16(float v) {
    v = v > -k_f16_max ? v : -k_f16_max;
    v = v < k_f16_max ? v : k_f16_max;
    uint32_t u;
    std::memcpy(&u, &v, 4);
    if ((u & 0x7fffffffu) < 0x38800000u) return round_even(v * 0x1p24f) * 0x1p-24f;  // F16 subnormal: step 2^-24
    u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;  // F16 normal: 10 mantissa bits, ties to even
    float r;
    std::memcpy(&r, &u, 4);
    return r;
}

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// Nearest code for v (ties to even) clamped to [lo, hi]; NaN gives lo, so the result is always an integer-valued
// float in range. (Rounding before clamping keeps the loops branch-free: GCC vectorises this form.)
inline float clamped_code(float v, float lo, float hi) {
    v = round_even(v);
    v = v > lo ? v : lo;
    return v < hi ? v : hi;
}

// Sum of a block's 32 terms in a fixed pairwise order (a is overwritten).
inline float sum_block(float* a) {
    for (int k = 0; k < QK / 2; ++k) a[k] += a[k + QK / 2];
    for (int k = 0; k < QK / 4; ++k) a[k] += a[k + QK / 4];
    return lane_sum(a);
}

// Scales (float bits, with the min's bits for the asymmetric types) already measured for one block, in a small
// open-addressed table; 0 marks a free slot (a zero scale is never measured).
class seen_keys {
public:
    // True when key is new (and records it); false when it was seen before or the table is half full.
    bool insert(uint64_t key) {
        if (2 * n_ >= SLOTS) return false;
        uint32_t i = uint32_t((key * 0x9E3779B97F4A7C15ull) >> 58);  // top 6 bits: 0..SLOTS-1
        while (k_[i] != 0) {
            if (k_[i] == key) return false;
            i = (i + 1) % SLOTS;
        }
        k_[i] = key;
        ++n_;
        return true;
    }

private:
    static constexpr int SLOTS = 64;
    uint64_t k_[SLOTS] = {};
    int n_ = 0;
};

// The k_chains refit starting points with the highest scores (the error reduction their least-squares fit offers).
struct best_starts {
    double score[k_chains];
    float d[k_chains] = {}, m[k_chains] = {};  // d = 0: no start
    int n = 0;
    void offer(double s, float dv, float mv) {
        if (n == k_chains && !(s > score[k_chains - 1])) return;
        int i = n < k_chains ? n++ : k_chains - 1;  // the slot to fill; when full, the last start drops out
        for (; i > 0 && s > score[i - 1]; --i) {
            score[i] = score[i - 1];
            d[i] = d[i - 1];
            m[i] = m[i - 1];
        }
        score[i] = s;
        d[i] = dv;
        m[i] = mv;
    }
};

// Codes of x for two symmetric scales d[0], d[1] (both != 0) in [lo, hi]; the sums sum w x c and sum w c^2 for
// each (wx = w * x).
void sym_eval2(const float* x, const float* w, const float* wx, const float* d, float lo, float hi, float* sxc,
               float* scc) {
    const float ia = 1.0f / d[0], ib = 1.0f / d[1];
    float xa[QK], ca[QK], xb[QK], cb[QK];
    for (int j = 0; j < QK; ++j) {
        const float a = clamped_code(x[j] * ia, lo, hi), b = clamped_code(x[j] * ib, lo, hi);
        xa[j] = wx[j] * a;
        ca[j] = w[j] * a * a;
        xb[j] = wx[j] * b;
        cb[j] = w[j] * b * b;
    }
    sxc[0] = sum_block(xa);
    scc[0] = sum_block(ca);
    sxc[1] = sum_block(xb);
    scc[1] = sum_block(cb);
}

// Weighted least-squares symmetric quantisation into unsigned codes 0..2*half-1 (Q4_0: half = 8, Q5_0: 16).
void quantize_symmetric(const float* x, const float* w, int half, uint16_t* d_out, uint8_t* q) {
    const float lo = float(-half), hi = float(half - 1);
    const float max = signed_absmax(x, QK);
    float best_d = 0.0f;
    if (max != 0.0f) {
        float wx[QK], wxx[QK];
        for (int j = 0; j < QK; ++j) {
            wx[j] = w[j] * x[j];
            wxx[j] = wx[j] * x[j];
        }
        const double sxx = sum_block(wxx);
        double best = INFINITY;  // the first measured scale is kept even when the errors overflow
        bool have = false;
        seen_keys seen;
        best_starts starts;
        // Measures the F16 scales d[0], d[1] (each skipped when zero or already measured). For each measured one,
        // refit[i] is the least-squares scale for its codes (0 when there is none) and score[i] its error reduction.
        auto measure2 = [&](const float* d_in, float* refit, double* score) {
            bool ok[2];
            for (int i = 0; i < 2; ++i) {
                ok[i] = d_in[i] != 0.0f && seen.insert(bits_of(d_in[i]));
                refit[i] = 0.0f;
            }
            if (!ok[0] && !ok[1]) return;
            const float d[2] = {ok[0] ? d_in[0] : d_in[1], ok[1] ? d_in[1] : d_in[0]};
            float sxc[2], scc[2];
            sym_eval2(x, w, wx, d, lo, hi, sxc, scc);
            for (int i = 0; i < 2; ++i) {
                if (!ok[i]) continue;
                const double err = sxx - 2.0 * double(d[i]) * sxc[i] + double(d[i]) * double(d[i]) * scc[i];
                if (err < best || !have) {
                    best = err;
                    best_d = d[i];
                    have = true;
                }
                if (scc[i] > 0.0f) {
                    refit[i] = sxc[i] / scc[i];
                    score[i] = double(sxc[i]) * double(sxc[i]) / double(scc[i]);
                }
            }
        };
        float refit[2] = {};
        double score[2] = {};
        for (float s : k_sym_shifts) {  // the extreme element on the wide end and on the narrow end
            const float d[2] = {round_to_f16(max / (lo + s)), round_to_f16(max / (hi + s))};
            measure2(d, refit, score);
            for (int i = 0; i < 2; ++i)
                if (refit[i] != 0.0f) starts.offer(score[i], refit[i], 0.0f);
        }
        float chain[2] = {starts.d[0], starts.d[1]};
        for (int r = 0; r < k_refits && (chain[0] != 0.0f || chain[1] != 0.0f); ++r) {
            const float d[2] = {round_to_f16(chain[0]), round_to_f16(chain[1])};
            measure2(d, chain, score);
        }
    }
    const float id = best_d != 0.0f ? 1.0f / best_d : 0.0f;
    for (int j = 0; j < QK; ++j) q[j] = uint8_t(int(clamped_code(x[j] * id, lo, hi)) + half);
    *d_out = f32_to_f16(best_d);
}

// Codes of x for two (d, m) pairs (d > 0) in [0, top]; the sums sum w c, sum w c^2, sum w x c for each (wx = w * x).
void asym_eval2(const float* x, const float* w, const float* wx, const float* d, const float* m, float top, float* sc,
                float* scc, float* sxc) {
    const float ia = 1.0f / d[0], ib = 1.0f / d[1];
    float ca[QK], cca[QK], xa[QK], cb[QK], ccb[QK], xb[QK];
    for (int j = 0; j < QK; ++j) {
        const float a = clamped_code((x[j] - m[0]) * ia, 0.0f, top), b = clamped_code((x[j] - m[1]) * ib, 0.0f, top);
        ca[j] = w[j] * a;
        cca[j] = ca[j] * a;
        xa[j] = wx[j] * a;
        cb[j] = w[j] * b;
        ccb[j] = cb[j] * b;
        xb[j] = wx[j] * b;
    }
    sc[0] = sum_block(ca);
    scc[0] = sum_block(cca);
    sxc[0] = sum_block(xa);
    sc[1] = sum_block(cb);
    scc[1] = sum_block(ccb);
    sxc[1] = sum_block(xb);
}

// Weighted least-squares min/scale quantisation into codes 0..levels-1 (Q4_1: 16 levels, Q5_1: 32).
void quantize_asymmetric(const float* x, const float* w, int levels, uint16_t* d_out, uint16_t* m_out, uint8_t* q) {
    const float top = float(levels - 1);
    float lo_l[LANES], hi_l[LANES];  // lane-wise min / max (vectorised)
    for (int k = 0; k < LANES; ++k) lo_l[k] = hi_l[k] = x[k];
    for (int j0 = LANES; j0 < QK; j0 += LANES) {
        for (int k = 0; k < LANES; ++k) {
            lo_l[k] = x[j0 + k] < lo_l[k] ? x[j0 + k] : lo_l[k];
            hi_l[k] = x[j0 + k] > hi_l[k] ? x[j0 + k] : hi_l[k];
        }
    }
    float lo = lo_l[0], hi = hi_l[0];
    for (int k = 1; k < LANES; ++k) {
        lo = lo_l[k] < lo ? lo_l[k] : lo;
        hi = hi_l[k] > hi ? hi_l[k] : hi;
    }
    float best_d = 0.0f, best_m = round_to_f16(lo);  // a constant block: d = 0, m = its value
    if (hi > lo) {
        // The search works on xs = x - lo (a min m is m - lo there), so that the error expansion below does not
        // cancel on blocks far from zero.
        float xs[QK], wx[QK], t[QK];
        for (int j = 0; j < QK; ++j) {
            xs[j] = x[j] - lo;
            wx[j] = w[j] * xs[j];
        }
        for (int j = 0; j < QK; ++j) t[j] = w[j];
        const double sw = sum_block(t);
        for (int j = 0; j < QK; ++j) t[j] = wx[j];
        const double sx = sum_block(t);
        for (int j = 0; j < QK; ++j) t[j] = wx[j] * xs[j];
        const double sxx = sum_block(t);
        double best = INFINITY;  // the first measured pair is kept even when the errors overflow
        bool have = false;
        seen_keys seen;
        best_starts starts;
        // Measures the F16 pairs (d[i], m[i]) (each skipped when d <= 0 or already measured). For each measured one,
        // (dn[i], mn[i]) is the least-squares fit for its codes (dn 0 when there is none or it is not positive) and
        // score[i] its error reduction.
        auto measure2 = [&](const float* d_in, const float* m_in, float* dn, float* mn, double* score) {
            bool ok[2];
            for (int i = 0; i < 2; ++i) {
                ok[i] = d_in[i] > 0.0f && seen.insert(uint64_t(bits_of(d_in[i])) << 32 | bits_of(m_in[i]));
                dn[i] = 0.0f;
            }
            if (!ok[0] && !ok[1]) return;
            const int a = ok[0] ? 0 : 1, b = ok[1] ? 1 : 0;
            const float d[2] = {d_in[a], d_in[b]}, m[2] = {m_in[a], m_in[b]};
            const float ms[2] = {m[0] - lo, m[1] - lo};
            float sc[2], scc[2], sxc[2];
            asym_eval2(xs, w, wx, d, ms, top, sc, scc, sxc);
            for (int i = 0; i < 2; ++i) {
                if (!ok[i]) continue;
                const double di = d[i], mi = ms[i];
                const double err = sxx - 2.0 * (di * sxc[i] + mi * sx) + di * di * scc[i] + 2.0 * di * mi * sc[i] +
                                   mi * mi * sw;
                if (err < best || !have) {
                    best = err;
                    best_d = d[i];
                    best_m = m[i];
                    have = true;
                }
                const double det = sw * scc[i] - double(sc[i]) * sc[i];
                if (!(det > 0.0)) continue;
                const double fd = (sw * sxc[i] - double(sc[i]) * sx) / det;
                const double fm = (double(scc[i]) * sx - double(sc[i]) * sxc[i]) / det;
                if (!(fd > 0.0) || !(fd < 1e30) || !(std::fabs(fm) < 1e30)) continue;
                dn[i] = float(fd);
                mn[i] = float(fm + double(lo));
                score[i] = fd * sxc[i] + fm * sx;
            }
        };
        const float range = hi - lo, m0 = round_to_f16(lo);
        constexpr int n_shifts = int(sizeof k_asym_shifts / sizeof k_asym_shifts[0]);
        static_assert(n_shifts % 2 == 0, "asymmetric starts are measured in pairs");
        float dn[2] = {}, mn[2] = {};
        double score[2] = {};
        for (int t0 = 0; t0 < n_shifts; t0 += 2) {  // m = the minimum, the range split into top + shift steps
            const float d[2] = {round_to_f16(range / (top + k_asym_shifts[t0])),
                                round_to_f16(range / (top + k_asym_shifts[t0 + 1]))};
            const float m[2] = {m0, m0};
            measure2(d, m, dn, mn, score);
            for (int i = 0; i < 2; ++i)
                if (dn[i] != 0.0f) starts.offer(score[i], dn[i], mn[i]);
        }
        float chain_d[2] = {starts.d[0], starts.d[1]}, chain_m[2] = {starts.m[0], starts.m[1]};
        for (int r = 0; r < k_refits && (chain_d[0] != 0.0f || chain_d[1] != 0.0f); ++r) {
            const float d[2] = {round_to_f16(chain_d[0]), round_to_f16(chain_d[1])};
            const float m[2] = {round_to_f16(chain_m[0]), round_to_f16(chain_m[1])};
            measure2(d, m, chain_d, chain_m, score);
        }
    }
    const float id = best_d != 0.0f ? 1.0f / best_d : 0.0f;
    for (int j = 0; j < QK; ++j) q[j] = uint8_t(clamped_code((x[j] - best_m) * id, 0.0f, top));
    *d_out = f32_to_f16(best_d);
    *m_out = f32_to_f16(best_m);
}

// Weights of block i: the caller's importance unless it is null or sums to <= 0 over the block, else all ones.
const float* block_weights(const float* importance, int64_t i) {
    static const float ones[QK] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                   1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    if (!importance) return ones;
    float sum = 0.0f;
    for (int j = 0; j < QK; ++j) sum += importance[i * QK + j];
    return sum > 0.0f ? importance + i * QK : ones;
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

void quantize_q4_0(const float* x, block_q4_0* y, int64_t nb, const float* importance) {
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        quantize_symmetric(x, block_weights(importance, i), 8, &y[i].d, q);
        pack_nibbles(q, y[i].qs);
    }
}

void quantize_q4_1(const float* x, block_q4_1* y, int64_t nb, const float* importance) {
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        quantize_asymmetric(x, block_weights(importance, i), 16, &y[i].d, &y[i].m, q);
        pack_nibbles(q, y[i].qs);
    }
}

void quantize_q5_0(const float* x, block_q5_0* y, int64_t nb, const float* importance) {
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        quantize_symmetric(x, block_weights(importance, i), 16, &y[i].d, q);
        pack_nibbles(q, y[i].qs);
        store_qh(y[i].qh, pack_fifth_bits(q));
    }
}

void quantize_q5_1(const float* x, block_q5_1* y, int64_t nb, const float* importance) {
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        quantize_asymmetric(x, block_weights(importance, i), 32, &y[i].d, &y[i].m, q);
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
    uint8_t q[QK];
    for (int64_t i = 0; i < nb; ++i, x += QK) {
        const float* w = block_weights(importance, i);
        float id = inverse_of_f16(iq4_best_scale(x, w, QK), &y[i].d);
        for (int j = 0; j < QK; ++j) q[j] = uint8_t(iq4_nearest(x[j] * id));
        pack_nibbles(q, y[i].qs);
    }
}

}  // namespace fathom::quant::detail
