// INT4 group-size study: error of the standard GGUF 4-bit types against candidate group-wise INT4 formats (symmetric
// and asymmetric, groups of 64 and 128, F16 scales), on weights and on W x, at equal bits per weight.
//
// Candidate formats, defined here (not stored by Fathom):
//   sym  gG: block = { f16 d; uint8 qs[G/2] },          value = d * (q - 8),  q in 0..15   (4 + 16/G bpw)
//   asym gG: block = { f16 d; f16 m; uint8 qs[G/2] },   value = d * q + m,    q in 0..15   (4 + 32/G bpw)
// Their quantisers search a few candidate scales per group (scales rounded to F16 before the codes are chosen, then a
// least-squares refit), so they are at least as good as Q4_0's / Q4_1's reference rule; the g32 rows check that.
//
// Usage: int4_group_study [ROWS] [COLS]   (defaults 256 x 4096; COLS a multiple of 256)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "quant/quant.h"

namespace {

using fathom::dtype;

// ---- deterministic random numbers (xoshiro256**, seeded by splitmix64; Box-Muller normals) ----
struct rng {
    uint64_t s[4];
    explicit rng(uint64_t seed) {
        for (auto& v : s) {
            seed += 0x9e3779b97f4a7c15ull;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            v = z ^ (z >> 31);
        }
    }
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t next() {
        const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return r;
    }
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double normal() {
        const double u1 = 1.0 - uniform(), u2 = uniform();  // u1 in (0, 1]
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
};

enum dist_kind { DIST_GAUSS, DIST_STUDENT_T4, DIST_OUTLIERS, DIST_ROW_SCALE, DIST_COUNT };
const char* const DIST_NAMES[DIST_COUNT] = {"gauss", "student-t4", "gauss+0.1%@10s", "row-scale 10x"};

// Weights of roughly LLM magnitude (sigma 0.02), row-major rows x cols.
std::vector<float> make_weights(dist_kind k, int64_t rows, int64_t cols) {
    const double sigma = 0.02;
    rng r(1000 + uint64_t(k));
    std::vector<float> w(size_t(rows * cols));
    for (int64_t i = 0; i < rows; ++i) {
        const double row_sigma = k == DIST_ROW_SCALE ? sigma * std::pow(10.0, r.uniform() - 0.5) : sigma;
        for (int64_t j = 0; j < cols; ++j) {
            double v = r.normal();
            if (k == DIST_STUDENT_T4) {  // z / sqrt(chi2_4 / 4), rescaled to unit variance (t4 variance is 2)
                double chi2 = 0;
                for (int d = 0; d < 4; ++d) {
                    const double z = r.normal();
                    chi2 += z * z;
                }
                v = v / std::sqrt(chi2 / 4.0) / std::sqrt(2.0);
            }
            w[size_t(i * cols + j)] = float(row_sigma * v);
        }
    }
    if (k == DIST_OUTLIERS) {  // 0.1 % of the entries replaced by +-10 sigma
        const int64_t n = rows * cols, n_out = n / 1000;
        for (int64_t c = 0; c < n_out; ++c) {
            const int64_t at = int64_t(r.next() % uint64_t(n));
            w[size_t(at)] = float((r.next() & 1) ? 10.0 * sigma : -10.0 * sigma);
        }
    }
    return w;
}

int code_for(float x, float inv_d, int lo, int hi) {
    const int q = int(std::nearbyint(x * inv_d));
    return std::clamp(q, lo, hi);
}

// ---- candidate symmetric format: value = d * (q - 8) ----

// Best F16 d (and its codes, q - 8 in -8..7) for one group: candidate scales map the largest-magnitude value to -8
// or +7 with the denominator perturbed by up to +-1 in steps of 0.1, each rounded to F16, codes chosen for the rounded
// d, then d refitted by least squares (rounded again, codes recomputed). Keeps the lowest squared error.
uint16_t quantize_sym_group(const float* x, int g, int8_t* best_q) {
    float amax = 0, vmax = 0;
    for (int i = 0; i < g; ++i)
        if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), vmax = x[i];
    for (int i = 0; i < g; ++i) best_q[i] = 0;
    if (amax == 0) return fathom::f32_to_f16(0.0f);
    std::vector<int8_t> q(size_t(g), 0);
    double best_err = std::numeric_limits<double>::infinity();
    uint16_t best_d = 0;
    auto try_d = [&](float d_raw) {
        for (int pass = 0; pass < 3; ++pass) {
            const uint16_t dh = fathom::f32_to_f16(d_raw);
            const float d = fathom::f16_to_f32(dh);
            if (!(std::fabs(d) > 0) || !std::isfinite(d)) return;
            const float inv = 1.0f / d;
            double err = 0, sxq = 0, sqq = 0;
            for (int i = 0; i < g; ++i) {
                q[size_t(i)] = int8_t(code_for(x[i], inv, -8, 7));
                const double e = double(d) * q[size_t(i)] - x[i];
                err += e * e;
                sxq += double(x[i]) * q[size_t(i)];
                sqq += double(q[size_t(i)]) * q[size_t(i)];
            }
            if (err < best_err) best_err = err, best_d = dh, std::copy(q.begin(), q.end(), best_q);
            if (sqq == 0) return;
            const float refit = float(sxq / sqq);
            if (fathom::f32_to_f16(refit) == dh) return;  // converged
            d_raw = refit;
        }
    };
    for (int k = -10; k <= 10; ++k) {
        try_d(vmax / (-8.0f + 0.1f * float(k)));
        try_d(vmax / (7.0f + 0.1f * float(k)));
    }
    return best_d;
}

// ---- candidate asymmetric format: value = d * q + m ----

// Best F16 (d, m): Q4_1's rule (m = min, d = range / 15) plus codes from perturbed inverse scales (15 + 0.1 k) / range,
// each followed by a joint least-squares fit of d and m; scales rounded to F16 before codes; two refits per start.
void quantize_asym_group(const float* x, int g, uint16_t* d_out, uint16_t* m_out, uint8_t* best_q) {
    float mn = x[0], mx = x[0];
    for (int i = 1; i < g; ++i) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
    for (int i = 0; i < g; ++i) best_q[i] = 0;
    *d_out = fathom::f32_to_f16(0.0f);
    *m_out = fathom::f32_to_f16(mn);
    if (mx == mn) return;
    std::vector<uint8_t> q(size_t(g), 0);
    double best_err = std::numeric_limits<double>::infinity();
    // Least-squares (d, m) for given codes; false when all codes are equal.
    auto fit = [&](const uint8_t* l, float* d, float* m) {
        double sl = 0, sll = 0, sx = 0, slx = 0;
        for (int i = 0; i < g; ++i) sl += l[i], sll += double(l[i]) * l[i], sx += x[i], slx += double(l[i]) * x[i];
        const double det = g * sll - sl * sl;
        if (det <= 0) return false;
        *d = float((g * slx - sl * sx) / det);
        *m = float((sll * sx - sl * slx) / det);
        return true;
    };
    auto try_dm = [&](float d_raw, float m_raw) {
        for (int pass = 0; pass < 3; ++pass) {
            const uint16_t dh = fathom::f32_to_f16(d_raw), mh = fathom::f32_to_f16(m_raw);
            const float d = fathom::f16_to_f32(dh), m = fathom::f16_to_f32(mh);
            if (!(d > 0) || !std::isfinite(d) || !std::isfinite(m)) return;
            const float inv = 1.0f / d;
            double err = 0;
            for (int i = 0; i < g; ++i) {
                q[size_t(i)] = uint8_t(code_for(x[i] - m, inv, 0, 15));
                const double e = double(d) * q[size_t(i)] + m - x[i];
                err += e * e;
            }
            if (err < best_err) best_err = err, *d_out = dh, *m_out = mh, std::copy(q.begin(), q.end(), best_q);
            float d2, m2;
            if (!fit(q.data(), &d2, &m2)) return;
            if (fathom::f32_to_f16(d2) == dh && fathom::f32_to_f16(m2) == mh) return;  // converged
            d_raw = d2, m_raw = m2;
        }
    };
    try_dm((mx - mn) / 15.0f, mn);
    std::vector<uint8_t> l(static_cast<size_t>(g));
    for (int k = -10; k <= 10; ++k) {
        const float iscale = (15.0f + 0.1f * float(k)) / (mx - mn);
        for (int i = 0; i < g; ++i) l[size_t(i)] = uint8_t(code_for(x[i] - mn, iscale, 0, 15));
        float d, m;
        if (fit(l.data(), &d, &m)) try_dm(d, m);
    }
}

// A candidate format packed into bytes, so its bits per weight come from its real size.
struct candidate {
    std::string name;
    int group;
    bool asym;
    size_t block_bytes() const { return size_t(asym ? 4 : 2) + size_t(group / 2); }
    double bpw() const { return 8.0 * double(block_bytes()) / group; }

    std::vector<uint8_t> quantize(const float* x, int64_t n) const {
        std::vector<uint8_t> out(size_t(n / group) * block_bytes());
        std::vector<uint8_t> codes(static_cast<size_t>(group));
        std::vector<int8_t> scodes(static_cast<size_t>(group));
        for (int64_t b = 0; b < n / group; ++b) {
            uint8_t* blk = out.data() + size_t(b) * block_bytes();
            const float* xb = x + b * group;
            uint16_t d, m = 0;
            if (asym) {
                quantize_asym_group(xb, group, &d, &m, codes.data());
            } else {
                d = quantize_sym_group(xb, group, scodes.data());
                for (int i = 0; i < group; ++i) codes[size_t(i)] = uint8_t(scodes[size_t(i)] + 8);
            }
            std::memcpy(blk, &d, 2);
            if (asym) std::memcpy(blk + 2, &m, 2);
            uint8_t* qs = blk + (asym ? 4 : 2);
            for (int i = 0; i < group / 2; ++i) qs[i] = uint8_t(codes[size_t(i)] | (codes[size_t(i + group / 2)] << 4));
        }
        return out;
    }

    void dequantize(const uint8_t* in, float* y, int64_t n) const {
        for (int64_t b = 0; b < n / group; ++b) {
            const uint8_t* blk = in + size_t(b) * block_bytes();
            uint16_t dh, mh = 0;
            std::memcpy(&dh, blk, 2);
            if (asym) std::memcpy(&mh, blk + 2, 2);
            const float d = fathom::f16_to_f32(dh), m = fathom::f16_to_f32(mh);
            const uint8_t* qs = blk + (asym ? 4 : 2);
            float* yb = y + b * group;
            for (int i = 0; i < group / 2; ++i) {
                const int lo = qs[i] & 15, hi = qs[i] >> 4;
                yb[i] = asym ? d * float(lo) + m : d * float(lo - 8);
                yb[i + group / 2] = asym ? d * float(hi) + m : d * float(hi - 8);
            }
        }
    }
};

struct result {
    double bpw = 0, w_rel = 0, y_rel = 0;
};

// Relative RMS error of the dequantised weights and of W x over several Gaussian x (double accumulation).
result measure(const std::vector<float>& w, const std::vector<float>& wq, const std::vector<float>& xs, int64_t rows,
               int64_t cols, int n_x) {
    result r;
    double e2 = 0, w2 = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        const double e = double(wq[i]) - w[i];
        e2 += e * e;
        w2 += double(w[i]) * w[i];
    }
    r.w_rel = std::sqrt(e2 / w2);
    double ye2 = 0, y2 = 0;
    for (int v = 0; v < n_x; ++v) {
        const float* x = xs.data() + size_t(v) * size_t(cols);
        for (int64_t i = 0; i < rows; ++i) {
            const float* a = w.data() + i * cols;
            const float* b = wq.data() + i * cols;
            double y = 0, yq = 0;
            for (int64_t j = 0; j < cols; ++j) y += double(a[j]) * x[j], yq += double(b[j]) * x[j];
            ye2 += (yq - y) * (yq - y);
            y2 += y * y;
        }
    }
    r.y_rel = std::sqrt(ye2 / y2);
    return r;
}

struct format_row {
    std::string name;
    bool standard;
    dtype type;          // standard types
    const candidate* c;  // candidates
};

}  // namespace

int main(int argc, char** argv) {
    const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 256;
    const int64_t cols = argc > 2 ? std::atoll(argv[2]) : 4096;
    if (rows <= 0 || cols <= 0 || cols % 256 != 0) {
        std::fprintf(stderr, "usage: int4_group_study [ROWS] [COLS]   (COLS a positive multiple of 256)\n");
        return 2;
    }
    const int n_x = 8;
    std::vector<float> xs(size_t(n_x) * size_t(cols));
    {
        rng r(77);
        for (auto& v : xs) v = float(r.normal());
    }

    const candidate own_sym32{"own sym g32", 32, false}, own_asym32{"own asym g32", 32, true};
    const candidate sym64{"sym g64", 64, false}, sym128{"sym g128", 128, false};
    const candidate asym64{"asym g64", 64, true}, asym128{"asym g128", 128, true};
    const std::vector<format_row> formats = {
        {"Q4_0", true, dtype::DTYPE_Q4_0, nullptr},
        {"Q4_1", true, dtype::DTYPE_Q4_1, nullptr},
        {"IQ4_NL", true, dtype::DTYPE_IQ4_NL, nullptr},
        {"IQ4_XS", true, dtype::DTYPE_IQ4_XS, nullptr},
        {"Q4_K", true, dtype::DTYPE_Q4_K, nullptr},
        {"Q5_0", true, dtype::DTYPE_Q5_0, nullptr},
        {"Q8_0", true, dtype::DTYPE_Q8_0, nullptr},
        {own_sym32.name, false, dtype::DTYPE_F32, &own_sym32},
        {own_asym32.name, false, dtype::DTYPE_F32, &own_asym32},
        {sym64.name, false, dtype::DTYPE_F32, &sym64},
        {sym128.name, false, dtype::DTYPE_F32, &sym128},
        {asym64.name, false, dtype::DTYPE_F32, &asym64},
        {asym128.name, false, dtype::DTYPE_F32, &asym128},
    };

    // res[format][dist]
    std::vector<std::vector<result>> res(formats.size(), std::vector<result>(DIST_COUNT));
    const int64_t n = rows * cols;
    for (int k = 0; k < DIST_COUNT; ++k) {
        const std::vector<float> w = make_weights(dist_kind(k), rows, cols);
        std::vector<float> wq(static_cast<size_t>(n));
        for (size_t f = 0; f < formats.size(); ++f) {
            const format_row& fr = formats[f];
            double bpw;
            if (fr.standard) {
                const size_t row_bytes = fathom::dtype_row_bytes(fr.type, cols);
                std::vector<uint8_t> buf(row_bytes);
                for (int64_t i = 0; i < rows; ++i) {
                    fathom::quant::quantize_row(fr.type, w.data() + i * cols, buf.data(), cols, nullptr);
                    fathom::quant::dequantize_row(fr.type, buf.data(), wq.data() + i * cols, cols);
                }
                bpw = fathom::quant::bits_per_weight(fr.type);
            } else {
                const std::vector<uint8_t> buf = fr.c->quantize(w.data(), n);
                fr.c->dequantize(buf.data(), wq.data(), n);
                bpw = 8.0 * double(buf.size()) / double(n);
            }
            res[f][size_t(k)] = measure(w, wq, xs, rows, cols, n_x);
            res[f][size_t(k)].bpw = bpw;
        }
    }

    std::printf("## INT4 group study: %lld x %lld weights per distribution (sigma 0.02), W x over %d Gaussian x\n\n",
                (long long)rows, (long long)cols, n_x);
    std::printf("Relative RMS error, weights (W) and matrix-vector product (Wx); standard types via quant::quantize_row "
                "(importance null).\n\n");
    std::printf("| format | bpw |");
    for (int k = 0; k < DIST_COUNT; ++k) std::printf(" %s W | %s Wx |", DIST_NAMES[k], DIST_NAMES[k]);
    std::printf("\n|---|---|");
    for (int k = 0; k < DIST_COUNT; ++k) std::printf("---|---|");
    std::printf("\n");
    for (size_t f = 0; f < formats.size(); ++f) {
        std::printf("| %s | %.3f |", formats[f].name.c_str(), res[f][0].bpw);
        for (int k = 0; k < DIST_COUNT; ++k) std::printf(" %.4f | %.4f |", res[f][size_t(k)].w_rel, res[f][size_t(k)].y_rel);
        std::printf("\n");
    }

    auto index_of = [&](const std::string& name) {
        for (size_t f = 0; f < formats.size(); ++f)
            if (formats[f].name == name) return f;
        std::fprintf(stderr, "int4_group_study: no format %s\n", name.c_str());
        std::exit(1);
    };

    // Search-quality check: the candidates' search, run on the g32 formats, must be as good as the library's Q4_0 /
    // Q4_1 quantisers (same formats, same bits; within 2 %, since the library's own search is of the same kind).
    std::printf("\nSearch check (own g32 W error / library W error, must be <= 1.02):");
    bool check_ok = true;
    for (int k = 0; k < DIST_COUNT; ++k) {
        const double s = res[index_of("own sym g32")][size_t(k)].w_rel / res[index_of("Q4_0")][size_t(k)].w_rel;
        const double a = res[index_of("own asym g32")][size_t(k)].w_rel / res[index_of("Q4_1")][size_t(k)].w_rel;
        check_ok = check_ok && s <= 1.02 && a <= 1.02;
        std::printf(" %s: sym/Q4_0 %.3f, asym/Q4_1 %.3f;", DIST_NAMES[k], s, a);
    }
    std::printf(" %s\n", check_ok ? "ok" : "FAILED");

    // Equal-bits comparison: each candidate against the best standard type of its tier (same or nearest-above bpw).
    struct tier {
        const char* cand;
        std::vector<std::string> refs;
    };
    const std::vector<tier> tiers = {
        {"sym g128", {"IQ4_XS"}},
        {"sym g64", {"IQ4_XS"}},
        {"asym g128", {"IQ4_XS"}},
        {"asym g64", {"Q4_0", "IQ4_NL", "Q4_K"}},
    };
    std::printf("\nEqual bits: candidate error / error of the best standard type of the tier (< 1: candidate better).\n"
                "'adj' scales the candidate's error by 2^(bpw_cand - bpw_ref), i.e. ~6 dB per bit, to credit a "
                "candidate that uses fewer bits than its reference.\n\n");
    std::printf("| candidate | bpw | reference (bpw) |");
    for (int k = 0; k < DIST_COUNT; ++k) std::printf(" %s W | %s Wx |", DIST_NAMES[k], DIST_NAMES[k]);
    std::printf(" beats all (raw) | beats all (adj) |\n|---|---|---|");
    for (int k = 0; k < DIST_COUNT; ++k) std::printf("---|---|");
    std::printf("---|---|\n");
    bool any_wins = false;
    for (const tier& t : tiers) {
        const size_t c = index_of(t.cand);
        bool wins_all = true, wins_raw = true;
        std::string ref_names;
        for (const std::string& r : t.refs) {
            char b[64];
            std::snprintf(b, sizeof b, "%s%s (%.3g)", ref_names.empty() ? "" : ", ", r.c_str(),
                          res[index_of(r)][0].bpw);
            ref_names += b;
        }
        std::printf("| %s | %.3f | best of %s |", t.cand, res[c][0].bpw, ref_names.c_str());
        for (int k = 0; k < DIST_COUNT; ++k) {
            size_t best_w = index_of(t.refs[0]), best_y = best_w;
            for (const std::string& r : t.refs) {
                if (res[index_of(r)][size_t(k)].w_rel < res[best_w][size_t(k)].w_rel) best_w = index_of(r);
                if (res[index_of(r)][size_t(k)].y_rel < res[best_y][size_t(k)].y_rel) best_y = index_of(r);
            }
            const result& cr = res[c][size_t(k)];
            const double rw = cr.w_rel / res[best_w][size_t(k)].w_rel, ry = cr.y_rel / res[best_y][size_t(k)].y_rel;
            const double adj_w = rw * std::pow(2.0, cr.bpw - res[best_w][size_t(k)].bpw);
            const double adj_y = ry * std::pow(2.0, cr.bpw - res[best_y][size_t(k)].bpw);
            wins_raw = wins_raw && rw < 1.0 && ry < 1.0;
            wins_all = wins_all && adj_w < 1.0 && adj_y < 1.0;
            std::printf(" %.3f (adj %.3f) %s | %.3f (adj %.3f) %s |", rw, adj_w, formats[best_w].name.c_str(), ry, adj_y,
                        formats[best_y].name.c_str());
        }
        any_wins = any_wins || wins_all || wins_raw;
        std::printf(" %s | %s |\n", wins_raw ? "yes" : "no", wins_all ? "yes" : "no");
    }
    std::printf("\nVerdict: %s\n", any_wins ? "a candidate beats the standard types at equal bits on every distribution"
                                            : "no candidate beats the standard types at equal bits on every "
                                              "distribution; keep the standard GGUF types");
    return check_ok ? 0 : 1;
}
