// Legacy quantised kernels (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL x Q8_0/Q8_1) on every ISA the host supports:
// activation quantisers bit-exact with quant::quantize_row, SIMD matmuls against the scalar kernel, the scalar kernel
// against a double-precision product of the reference dequantisations, and extreme codes / zero scales exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel-test-util.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace fathom {
namespace {

using kernels::table;

const dtype k_types[] = {dtype::DTYPE_Q4_0, dtype::DTYPE_Q4_1, dtype::DTYPE_Q5_0,
                         dtype::DTYPE_Q5_1, dtype::DTYPE_Q8_0, dtype::DTYPE_IQ4_NL};
constexpr int QK = quant::QK;
constexpr double k_u = 1.0 / (1 << 24);  // F32 unit roundoff

const table& scalar() { return *kernels::for_isa(kernels::isa::ISA_SCALAR); }
std::vector<const table*> simd_tables() {
    std::vector<const table*> v;
    for (const table* t : test::host_tables())
        if (t->level != kernels::isa::ISA_SCALAR) v.push_back(t);
    return v;
}
size_t block_bytes(dtype t) { return dtype_info(t).type_size; }
bool has_min(dtype t) { return t == dtype::DTYPE_Q4_1 || t == dtype::DTYPE_Q5_1; }
uint16_t rd16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
void wr16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// ---- activation quantisers

// Blocks of 32 that probe the rounding and scale edge cases, then random blocks of many magnitudes.
std::vector<float> quantiser_inputs(std::mt19937& rng, int64_t n) {
    std::vector<float> x(static_cast<size_t>(n));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::uniform_int_distribution<int> e(-30, 30);
    for (int64_t b = 0; b < n / QK; ++b) {
        float* v = x.data() + b * QK;
        switch (b % 8) {
            case 0:  // amax 127 -> d = 1, id = 1: exact ties k + 0.5 round to even
                for (int j = 0; j < QK; ++j) v[j] = float(j - 16) + 0.5f;
                v[0] = 127.0f;
                break;
            case 1:  // all zero: d = 0, id = 0
                for (int j = 0; j < QK; ++j) v[j] = (j & 1) ? -0.0f : 0.0f;
                break;
            case 2:  // one non-zero element, negative
                for (int j = 0; j < QK; ++j) v[j] = 0.0f;
                v[size_t(b) % QK] = -3.25f;
                break;
            case 3:  // f16 overflow of d (stored as inf); codes still from the F32 d
                for (int j = 0; j < QK; ++j) v[j] = u(rng) * 3.0e7f;
                break;
            case 4:  // tiny magnitudes: d is an F32 subnormal, 1/d finite (even blocks) or infinite (odd ones)
                for (int j = 0; j < QK; ++j) v[j] = u(rng) * (b % 16 == 4 ? 1.0e-36f : 1.0e-38f);
                break;
            case 5:  // non-finite input: NaN left out of max|x| and coded 0, infinities give d = inf, codes 0 / +-127
                for (int j = 0; j < QK; ++j) v[j] = u(rng);
                v[3] = std::numeric_limits<float>::quiet_NaN();
                v[28] = -std::numeric_limits<float>::quiet_NaN();
                if (b % 16 == 5) v[7] = std::numeric_limits<float>::infinity();
                if (b % 32 == 5) v[9] = -std::numeric_limits<float>::infinity();
                break;
            default:
                const float s = std::ldexp(1.0f, e(rng));
                for (int j = 0; j < QK; ++j) v[j] = u(rng) * s;
        }
    }
    return x;
}

TEST(quant_legacy_kernels, tables_are_complete_and_filled_per_isa) {
    const table* prev = nullptr;
    for (const table* t : test::host_tables()) {
        SCOPED_TRACE(kernels::isa_name(t->level));
        EXPECT_NE(t->quantize_row_q8_0, nullptr);
        EXPECT_NE(t->quantize_row_q8_1, nullptr);
        for (dtype w : k_types) {
            ASSERT_NE(kernels::matmul_rows_q_for(*t, w), nullptr) << dtype_name(w);
            // Every x86 level has its own matmuls (VNNI differs from AVX-512 BW); NEON inherits scalar for now, and
            // the AVX2 VNNI level adds only R16 kernels to the AVX2 table (the next level is compared with AVX2).
            if (t->level == kernels::isa::ISA_AVX2_VNNI) continue;
            if (prev && t->level != kernels::isa::ISA_NEON) {
                EXPECT_NE(kernels::matmul_rows_q_for(*t, w), kernels::matmul_rows_q_for(*prev, w)) << dtype_name(w);
            }
        }
        prev = t;
    }
}

TEST(quant_legacy_kernels, quantisers_bit_exact) {
    std::mt19937 rng(11);
    for (int64_t n : {int64_t(32), int64_t(64), int64_t(4096), int64_t(5632)}) {
        const std::vector<float> x = quantiser_inputs(rng, n);
        for (dtype act : {dtype::DTYPE_Q8_0, dtype::DTYPE_Q8_1}) {
            const size_t bytes = dtype_row_bytes(act, n);
            std::vector<uint8_t> ref(bytes + 16, 0xA5);
            quant::quantize_row(act, x.data(), ref.data(), n);
            for (const table* t : test::host_tables()) {
                std::vector<uint8_t> got(bytes + 16, 0xA5);
                kernels::quantize_row_for(*t, act)(x.data(), got.data(), n);
                for (size_t i = 0; i < bytes + 16; ++i)
                    ASSERT_EQ(got[i], ref[i]) << kernels::isa_name(t->level) << " " << dtype_name(act) << " n=" << n
                                              << " byte " << i << " (block " << i / block_bytes(act) << ")";
            }
        }
    }
}

// ---- matmuls

// One weight matrix (rows_max rows of n elements, padded row stride, unaligned start) and tok_max activation rows
// (padded stride), with the double-precision oracle of every product and the magnitude bounding its rounding.
struct problem {
    dtype type{}, act{};
    int64_t n = 0, rows_max = 0, tok_max = 0;
    size_t rb = 0, xrb = 0;
    std::vector<uint8_t> wstore, xstore;
    const uint8_t* w = nullptr;
    const uint8_t* x = nullptr;
    std::vector<double> oracle, mag;  // [t * rows_max + r]

    // Fills the oracle from the reference dequantisations: dot(dequant W row, dequant x row), plus, for the types
    // with a min, m * (s - sum of the dequantised x) per block, since the format pairs m with the stored s.
    void build_oracle() {
        std::vector<float> wd(size_t(rows_max * n)), xd(size_t(tok_max * n));
        for (int64_t r = 0; r < rows_max; ++r) quant::dequantize_row(type, w + size_t(r) * rb, &wd[size_t(r * n)], n);
        for (int64_t t = 0; t < tok_max; ++t) quant::dequantize_row(act, x + size_t(t) * xrb, &xd[size_t(t * n)], n);
        oracle.assign(size_t(rows_max * tok_max), 0.0);
        mag.assign(size_t(rows_max * tok_max), 0.0);
        const int64_t nb = n / QK;
        for (int64_t t = 0; t < tok_max; ++t) {
            for (int64_t r = 0; r < rows_max; ++r) {
                double dot = 0, m = 0;
                for (int64_t b = 0; b < nb; ++b) {
                    double xs = 0, xa = 0;
                    for (int j = 0; j < QK; ++j) {
                        const double a = wd[size_t(r * n + b * QK + j)], c = xd[size_t(t * n + b * QK + j)];
                        dot += a * c;  // exact in double: 24-bit times 19-bit significands
                        m += std::fabs(a * c);
                        xs += c;
                        xa += std::fabs(c);
                    }
                    if (has_min(type)) {
                        const uint8_t* wb = w + size_t(r) * rb + size_t(b) * block_bytes(type);
                        const uint8_t* xb = x + size_t(t) * xrb + size_t(b) * block_bytes(act);
                        const double mw = f16_to_f32(rd16(wb + 2)), sx = f16_to_f32(rd16(xb + 2));
                        dot += mw * (sx - xs);
                        m += std::fabs(mw) * (xa + std::fabs(sx));
                    }
                }
                oracle[size_t(t * rows_max + r)] = dot;
                mag[size_t(t * rows_max + r)] = m;
            }
        }
    }
};

// Weights: raw random codes with random scales (every code pattern, incl. Q8_0's -128), or quantize_row of random
// floats (realistic); some blocks get a zero (or negative-zero) scale. Activations: quantize_row of random floats of
// varying magnitude, with some all-zero blocks (d = 0).
problem make_problem(dtype type, int64_t n, int64_t rows_max, int64_t tok_max, bool raw_codes, size_t w_pad,
                     size_t x_pad, std::mt19937& rng) {
    problem p;
    p.type = type;
    p.act = quant::vec_dot_type(type);
    p.n = n;
    p.rows_max = rows_max;
    p.tok_max = tok_max;
    const size_t wrow = dtype_row_bytes(type, n), xrow = dtype_row_bytes(p.act, n);
    p.rb = wrow + w_pad;
    p.xrb = xrow + x_pad;
    const size_t woff = 1 + size_t(rng() % 7), xoff = size_t(rng() % 5);  // unaligned weights, odd activations
    p.wstore.assign(woff + p.rb * size_t(rows_max), 0xEE);
    p.xstore.assign(xoff + p.xrb * size_t(tok_max), 0xEE);
    uint8_t* w = p.wstore.data() + woff;
    uint8_t* x = p.xstore.data() + xoff;
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const int64_t nb = n / QK;
    const size_t bb = block_bytes(type);
    for (int64_t r = 0; r < rows_max; ++r) {
        uint8_t* row = w + size_t(r) * p.rb;
        if (raw_codes) {
            for (size_t i = 0; i < wrow; ++i) row[i] = uint8_t(rng());
            for (int64_t b = 0; b < nb; ++b) {
                uint8_t* blk = row + size_t(b) * bb;
                wr16(blk, f32_to_f16(u(rng) * 0.05f));
                if (has_min(type)) wr16(blk + 2, f32_to_f16(u(rng) * 0.5f));
            }
        } else {
            std::vector<float> v(static_cast<size_t>(n));
            for (auto& e : v) e = u(rng) + 0.3f * u(rng) * u(rng);
            quant::quantize_row(type, v.data(), row, n);
        }
        for (int64_t b = 0; b < nb; ++b)
            if (rng() % 11 == 0) wr16(row + size_t(b) * bb, rng() % 2 ? 0x0000 : 0x8000);
    }
    for (int64_t t = 0; t < tok_max; ++t) {
        std::vector<float> v(static_cast<size_t>(n));
        const float s = std::ldexp(1.0f, int(rng() % 9) - 4);
        for (int64_t b = 0; b < nb; ++b) {
            const bool zero = rng() % 13 == 0;
            for (int j = 0; j < QK; ++j) v[size_t(b * QK + j)] = zero ? 0.0f : u(rng) * s;
        }
        quant::quantize_row(p.act, v.data(), x + size_t(t) * p.xrb, n);
    }
    p.w = w;
    p.x = x;
    p.build_oracle();
    return p;
}

// Runs a table's kernel on the first rows x toks of the problem into y (ldy = rows + 3, sentinel-filled) and checks
// nothing outside the outputs was written.
std::vector<float> run(const table& t, const problem& p, int64_t rows, int64_t toks, const std::string& what) {
    const int64_t ldy = rows + 3;
    std::vector<float> y(size_t(ldy * toks), -777.0f);
    kernels::matmul_rows_q_for(t, p.type)(p.w, p.rb, rows, p.x, p.xrb, toks, y.data(), ldy, p.n);
    for (int64_t tk = 0; tk < toks; ++tk)
        for (int64_t r = rows; r < ldy; ++r)
            EXPECT_EQ(y[size_t(tk * ldy + r)], -777.0f) << what << " wrote past the rows at t=" << tk << " r=" << r;
    return y;
}

std::string label(const table& t, const problem& p, int64_t rows, int64_t toks) {
    return std::string(kernels::isa_name(t.level)) + " " + dtype_name(p.type) + " n=" + std::to_string(p.n) +
           " rows=" + std::to_string(rows) + " toks=" + std::to_string(toks);
}

// Rounding bounds. Each kernel's block terms d_w*d_x*sumi (and m_w*s_x) are exact integers times products of two
// F32 scales; the scalar kernel adds nb of them in one F32 chain, the SIMD kernels in lanes whose terms are partial
// sums of the same products, plus a few reduction / chunk additions. Recursive summation of k terms errs by at most
// (k - 1 + 3 per-term roundings) * u * sum|terms| to first order, and every term is bounded by the products
// |w_i x_i| and |m_w| (|x_i| + |s_x|) summed in `mag`. Hence:
//   scalar vs oracle: (nb + 8) u mag;   SIMD vs scalar: both errors, (2 nb + 24) u mag (chunk adds: nb / 64 <= 8).
// At n = 4096 that is 2.7e-5 (SIMD) / 8.1e-6 (scalar) of mag; typical errors are ~sqrt(nb) u mag.
double tol_oracle(const problem& p, double mag) { return double(p.n / QK + 8) * k_u * mag + 1e-30; }
double tol_simd(const problem& p, double mag) { return double(2 * (p.n / QK) + 24) * k_u * mag + 1e-30; }

const int64_t k_rows[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17};
const int64_t k_toks[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

void check_problem(const problem& p) {
    // Scalar against the oracle, on the full shape and a few sub-shapes.
    for (int64_t rows : {p.rows_max, int64_t(1), int64_t(5)}) {
        for (int64_t toks : {p.tok_max, int64_t(1), int64_t(2)}) {
            const std::string what = label(scalar(), p, rows, toks);
            const std::vector<float> y = run(scalar(), p, rows, toks, what);
            for (int64_t t = 0; t < toks; ++t)
                for (int64_t r = 0; r < rows; ++r) {
                    const size_t k = size_t(t * p.rows_max + r);
                    ASSERT_NEAR(y[size_t(t * (rows + 3) + r)], p.oracle[k], tol_oracle(p, p.mag[k]))
                        << what << " vs oracle t=" << t << " r=" << r;
                }
        }
    }
    const std::vector<float> ref = run(scalar(), p, p.rows_max, p.tok_max, "scalar");
    const int64_t ldr = p.rows_max + 3;
    for (const table* t : simd_tables()) {
        for (int64_t rows : k_rows) {
            if (rows > p.rows_max) continue;
            for (int64_t toks : k_toks) {
                if (toks > p.tok_max) continue;
                const std::string what = label(*t, p, rows, toks);
                const std::vector<float> y = run(*t, p, rows, toks, what);
                for (int64_t tk = 0; tk < toks; ++tk)
                    for (int64_t r = 0; r < rows; ++r) {
                        const double mag = p.mag[size_t(tk * p.rows_max + r)];
                        ASSERT_NEAR(y[size_t(tk * (rows + 3) + r)], ref[size_t(tk * ldr + r)], tol_simd(p, mag))
                            << what << " vs scalar t=" << tk << " r=" << r;
                    }
            }
        }
    }
}

TEST(quant_legacy_kernels, matmul_vs_scalar_and_oracle) {
    std::mt19937 rng(3);
    for (dtype type : k_types) {
        for (int64_t n : {int64_t(32), int64_t(64), int64_t(4096), int64_t(5632)}) {
            for (bool raw : {true, false}) {
                SCOPED_TRACE(std::string(dtype_name(type)) + " n=" + std::to_string(n) +
                             (raw ? " raw codes" : " quantised"));
                // Padding between rows: none, odd, and more than a cache line.
                const size_t w_pad = raw ? 5 : (n > 64 ? 67 : 0), x_pad = raw ? 0 : 36;
                check_problem(make_problem(type, n, 17, 9, raw, w_pad, x_pad, rng));
            }
        }
    }
}

// Many blocks (chunked prefill path: more than 64 blocks and more than 4 tokens) with many token tiles.
TEST(quant_legacy_kernels, matmul_many_tokens) {
    std::mt19937 rng(4);
    for (dtype type : k_types) {
        SCOPED_TRACE(dtype_name(type));
        const problem p = make_problem(type, 2048 + 96, 6, 19, true, 3, 4, rng);
        const std::vector<float> ref = run(scalar(), p, 6, 19, "scalar");
        for (int64_t t = 0; t < 19; ++t)
            for (int64_t r = 0; r < 6; ++r) {
                const size_t k = size_t(t * 6 + r);
                ASSERT_NEAR(ref[size_t(t * 9 + r)], p.oracle[k], tol_oracle(p, p.mag[k]));
            }
        for (const table* tb : simd_tables()) {
            const std::vector<float> y = run(*tb, p, 6, 19, label(*tb, p, 6, 19));
            for (int64_t t = 0; t < 19; ++t)
                for (int64_t r = 0; r < 6; ++r)
                    ASSERT_NEAR(y[size_t(t * 9 + r)], ref[size_t(t * 9 + r)], tol_simd(p, p.mag[size_t(t * 6 + r)]))
                        << label(*tb, p, 6, 19) << " t=" << t << " r=" << r;
        }
    }
}

// Rows longer than one prepared chunk of activation blocks (1024 blocks for one token, 256 for four): partial sums
// of the chunks are added into y.
TEST(quant_legacy_kernels, matmul_long_rows_few_tokens) {
    std::mt19937 rng(6);
    const int64_t n = QK * (1024 + 3), rows = 9;
    for (dtype type : k_types) {
        SCOPED_TRACE(dtype_name(type));
        const problem p = make_problem(type, n, rows, 4, true, 0, 2, rng);
        for (int64_t toks = 1; toks <= 4; ++toks) {
            const std::vector<float> ref = run(scalar(), p, rows, toks, "scalar");
            for (int64_t t = 0; t < toks; ++t)
                for (int64_t r = 0; r < rows; ++r) {
                    const size_t k = size_t(t * rows + r);
                    ASSERT_NEAR(ref[size_t(t * (rows + 3) + r)], p.oracle[k], tol_oracle(p, p.mag[k]));
                }
            for (const table* tb : simd_tables()) {
                const std::vector<float> y = run(*tb, p, rows, toks, label(*tb, p, rows, toks));
                for (int64_t t = 0; t < toks; ++t)
                    for (int64_t r = 0; r < rows; ++r) {
                        const size_t k = size_t(t * (rows + 3) + r);
                        ASSERT_NEAR(y[k], ref[k], tol_simd(p, p.mag[size_t(t * rows + r)]))
                            << label(*tb, p, rows, toks) << " t=" << t << " r=" << r;
                    }
            }
        }
    }
}

// n = 0 (a multiple of every block size): every output is the empty sum, nothing is read.
TEST(quant_legacy_kernels, empty_rows_give_zero) {
    const uint8_t dummy[64] = {};
    for (dtype type : k_types)
        for (const table* t : test::host_tables()) {
            std::vector<float> y(3 * 11, -5.0f);
            kernels::matmul_rows_q_for(*t, type)(dummy, 0, 9, dummy, 0, 3, y.data(), 11, 0);
            for (int64_t k = 0; k < 33; ++k)
                EXPECT_EQ(y[size_t(k)], k % 11 < 9 ? 0.0f : -5.0f) << kernels::isa_name(t->level) << " " << k;
        }
}

// The bounds are tight enough to see a single weight code off by one step.
TEST(quant_legacy_kernels, tolerance_detects_one_code_step) {
    std::mt19937 rng(5);
    for (dtype type : k_types) {
        problem p = make_problem(type, 64, 1, 1, false, 0, 0, rng);
        // The oracle with element j of the weight row moved by one code step (d_w) must miss the tolerance.
        std::vector<float> xd(64);
        quant::dequantize_row(p.act, p.x, xd.data(), 64);
        double step = 0;  // the largest |d_w * x_j| over the row (blocks may have a zero scale)
        for (int i = 0; i < 64; ++i) {
            const double dw = f16_to_f32(rd16(p.w + size_t(i / QK) * block_bytes(type)));
            if (std::fabs(dw * xd[size_t(i)]) > std::fabs(step)) step = dw * xd[size_t(i)];
        }
        const double moved = p.oracle[0] + step;
        const std::vector<float> y = run(scalar(), p, 1, 1, "scalar");
        EXPECT_NEAR(y[0], p.oracle[0], tol_oracle(p, p.mag[0])) << dtype_name(type);
        EXPECT_GT(std::fabs(double(y[0]) - moved), tol_simd(p, p.mag[0])) << dtype_name(type);
    }
}

// Extreme codes and activations with scales 1 and 1/2 (and zero): every sum is an integer small enough to be exact
// in F32, so all ISAs must agree with the integer oracle exactly. Covers int16 saturation in maddubs (|w| = 128 times
// 127) and the code offsets.
TEST(quant_legacy_kernels, extreme_codes_exact) {
    const int64_t n = 512, nb = n / QK, rows = 7, toks = 5;
    for (dtype type : k_types) {
        const dtype act = quant::vec_dot_type(type);
        const size_t bb = block_bytes(type), xb = block_bytes(act);
        const size_t rb = size_t(nb) * bb, xrb = size_t(nb) * xb;
        std::vector<uint8_t> w(rb * rows), x(xrb * toks);
        // Weight rows: all-ones codes, all-zero codes, alternating, and (Q8_0) -128 / 127 / -127.
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t b = 0; b < nb; ++b) {
                uint8_t* blk = w.data() + size_t(r) * rb + size_t(b) * bb;
                const uint8_t fills[rows] = {0xFF, 0x00, 0x80, 0x7F, 0x81, 0x0F, 0xF0};
                const uint8_t fill = fills[r];
                std::memset(blk, fill, bb);
                wr16(blk, r == 6 && b % 3 == 0 ? 0x0000 : 0x3C00);                // d = 1 (or 0)
                if (has_min(type)) wr16(blk + 2, r % 2 ? 0xC000 : 0x4000);        // m = -2 / 2
            }
        }
        // Activations: +127, -127, alternating, zero block, mixed scale 1/2.
        std::vector<int> sums;
        for (int64_t t = 0; t < toks; ++t) {
            for (int64_t b = 0; b < nb; ++b) {
                uint8_t* blk = x.data() + size_t(t) * xrb + size_t(b) * xb;
                int8_t* qs = reinterpret_cast<int8_t*>(blk + (act == dtype::DTYPE_Q8_1 ? 4 : 2));
                int sum = 0;
                for (int j = 0; j < QK; ++j) {
                    const int mixed = (j * 37) % 255 - 127;
                    qs[j] = int8_t(t == 0 ? 127 : t == 1 ? -127 : t == 2 ? ((j & 1) ? 127 : -127) : t == 3 ? 0 : mixed);
                    sum += qs[j];
                }
                const float d = t == 4 ? 0.5f : 1.0f;
                wr16(blk, t == 3 ? 0 : f32_to_f16(d));
                if (act == dtype::DTYPE_Q8_1) wr16(blk + 2, f32_to_f16(t == 3 ? 0.0f : d * float(sum)));
            }
        }
        // Integer oracle from the dequantised values (exact: small integers and halves).
        std::vector<float> wd(static_cast<size_t>(n)), xd(static_cast<size_t>(n));
        std::vector<double> expect(size_t(rows * toks));
        for (int64_t t = 0; t < toks; ++t) {
            quant::dequantize_row(act, x.data() + size_t(t) * xrb, xd.data(), n);
            for (int64_t r = 0; r < rows; ++r) {
                quant::dequantize_row(type, w.data() + size_t(r) * rb, wd.data(), n);
                double s = 0;
                for (int64_t i = 0; i < n; ++i) s += double(wd[size_t(i)]) * xd[size_t(i)];
                expect[size_t(t * rows + r)] = s;  // for Q4_1/Q5_1, s = d * sum(q) exactly here
            }
        }
        for (const table* tb : test::host_tables()) {
            std::vector<float> y(size_t(rows * toks), -1.0f);
            kernels::matmul_rows_q_for(*tb, type)(w.data(), rb, rows, x.data(), xrb, toks, y.data(), rows, n);
            for (int64_t k = 0; k < rows * toks; ++k)
                ASSERT_EQ(double(y[size_t(k)]), expect[size_t(k)])
                    << kernels::isa_name(tb->level) << " " << dtype_name(type) << " r=" << k % rows
                    << " t=" << k / rows;
        }
    }
}

}  // namespace
}  // namespace fathom
