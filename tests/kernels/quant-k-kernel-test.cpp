// K-quant kernels (Q4_K, Q5_K, Q6_K, IQ4_XS x Q8_K) on every ISA the host supports: the Q8_K quantiser bit-exact
// with quant::quantize_row, the scalar kernel against a double-precision dot of the reference dequantisations, and
// every SIMD kernel against the scalar one, on random, quantised and extreme blocks with padded, unaligned rows.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel-test-util.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace fathom {
namespace {

using kernels::table;
using quant::QK_K;

const dtype k_types[] = {dtype::DTYPE_Q4_K, dtype::DTYPE_Q5_K, dtype::DTYPE_Q6_K, dtype::DTYPE_IQ4_XS};
const int64_t k_ns[] = {256, 512, 2048, 5632};
constexpr int64_t MAX_ROWS = 17, MAX_TOK = 9;

const table& scalar() { return *kernels::for_isa(kernels::isa::ISA_SCALAR); }

std::vector<const table*> simd_tables() {
    std::vector<const table*> v;
    for (const table* t : test::host_tables())
        if (t->level != kernels::isa::ISA_SCALAR) v.push_back(t);
    return v;
}

size_t block_bytes(dtype t) { return dtype_info(t).type_size; }
size_t row_bytes(dtype t, int64_t n) { return size_t(n / QK_K) * block_bytes(t); }

// Offsets of the f16 super-block scales inside a block (d, and dmin for Q4_K/Q5_K; -1 if none).
int d_offset(dtype t) { return t == dtype::DTYPE_Q6_K ? int(offsetof(quant::block_q6_k, d)) : 0; }
int dmin_offset(dtype t) { return t == dtype::DTYPE_Q4_K || t == dtype::DTYPE_Q5_K ? 2 : -1; }

void set_f16(uint8_t* p, float v) {
    const uint16_t h = f32_to_f16(v);
    std::memcpy(p, &h, 2);
}

enum class wmode { WMODE_RANDOM_BYTES, WMODE_QUANTIZED, WMODE_MAX_CODES, WMODE_MIN_CODES };

// n_rows rows of n elements of type t, back to back.
std::vector<uint8_t> make_weights(dtype t, int64_t n, int64_t n_rows, wmode mode, std::mt19937& rng) {
    const size_t rb = row_bytes(t, n), bb = block_bytes(t);
    std::vector<uint8_t> w(rb * size_t(n_rows));
    std::uniform_real_distribution<float> dd(0.002f, 0.05f);
    if (mode == wmode::WMODE_QUANTIZED) {
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> x(static_cast<size_t>(n));
        for (int64_t r = 0; r < n_rows; ++r) {
            const float scale = 0.01f + 0.1f * float(r % 5);
            for (auto& v : x) v = nd(rng) * scale + (r % 3 == 0 ? 0.02f : 0.0f);
            quant::quantize_row(t, x.data(), w.data() + size_t(r) * rb, n);
        }
        return w;
    }
    for (auto& b : w) b = uint8_t(rng());
    for (size_t off = 0; off < w.size(); off += bb) {
        uint8_t* blk = w.data() + off;
        if (mode != wmode::WMODE_RANDOM_BYTES) {
            // Every code at its extreme, scales at their extremes: 6-bit scales and mins 63, Q6_K scales alternating
            // 127 / -128, IQ4_XS ls 63 (scale +31) or 0 (scale -32).
            const uint8_t fill = mode == wmode::WMODE_MAX_CODES ? 0xFF : 0x00;
            std::memset(blk, fill, bb);
            if (t == dtype::DTYPE_Q4_K || t == dtype::DTYPE_Q5_K) {
                std::memset(blk + offsetof(quant::block_q4_k, scales), 0xFF, quant::K_SCALE_SIZE);
            } else if (t == dtype::DTYPE_Q6_K) {
                for (int j = 0; j < 16; ++j) blk[offsetof(quant::block_q6_k, scales) + j] = j % 2 ? 0x80 : 0x7F;
            }
            set_f16(blk + d_offset(t), 1.0f);
            if (dmin_offset(t) >= 0) set_f16(blk + dmin_offset(t), 1.0f);
            continue;
        }
        set_f16(blk + d_offset(t), dd(rng));
        if (dmin_offset(t) >= 0) set_f16(blk + dmin_offset(t), dd(rng));
        if (rng() % 16 == 0) set_f16(blk + d_offset(t), 0.0f);  // zero super-block scale
    }
    return w;
}

enum class amode { AMODE_QUANTIZED, AMODE_RANDOM_BLOCKS, AMODE_PLUS_127, AMODE_MINUS_127, AMODE_ALTERNATING };

// n_tok Q8_K activation rows of n elements, back to back.
std::vector<uint8_t> make_acts(int64_t n, int64_t n_tok, amode mode, std::mt19937& rng) {
    const size_t rb = row_bytes(dtype::DTYPE_Q8_K, n);
    std::vector<uint8_t> a(rb * size_t(n_tok));
    if (mode == amode::AMODE_QUANTIZED) {
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> x(static_cast<size_t>(n));
        for (int64_t t = 0; t < n_tok; ++t) {
            for (auto& v : x) v = nd(rng) * (1.0f + float(t));
            if (t == 2) std::fill(x.begin(), x.begin() + QK_K, 0.0f);  // an all-zero block: d = 0
            quant::quantize_row(dtype::DTYPE_Q8_K, x.data(), a.data() + size_t(t) * rb, n);
        }
        return a;
    }
    std::uniform_int_distribution<int> qd(-127, 127);
    std::uniform_real_distribution<float> dd(0.001f, 0.1f);
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t b = 0; b < n / QK_K; ++b) {
            quant::block_q8_k blk;
            blk.d = mode == amode::AMODE_RANDOM_BLOCKS ? dd(rng) : 1.0f;
            for (int j = 0; j < QK_K; ++j) {
                int q = 0;
                switch (mode) {
                    case amode::AMODE_RANDOM_BLOCKS:
                        q = qd(rng);
                        break;
                    case amode::AMODE_PLUS_127:
                        q = 127;
                        break;
                    case amode::AMODE_MINUS_127:
                        q = -127;
                        break;
                    default:
                        q = (j / 4 + t) % 2 ? 127 : -127;
                        break;
                }
                blk.qs[j] = int8_t(q);
            }
            for (int g = 0; g < 16; ++g) {
                int s = 0;
                for (int j = 0; j < 16; ++j) s += blk.qs[16 * g + j];
                blk.bsums[g] = int16_t(s);
            }
            std::memcpy(a.data() + size_t(t) * rb + size_t(b) * sizeof blk, &blk, sizeof blk);
        }
    }
    return a;
}

// Copies rows of `bytes` each into a buffer at `offset` past a 64-byte boundary with `stride` between rows.
struct strided {
    std::vector<uint8_t> storage;
    uint8_t* data = nullptr;
    size_t stride = 0;
};
strided place(const std::vector<uint8_t>& src, size_t bytes, int64_t rows, size_t stride, size_t offset) {
    strided s;
    s.storage.assign(stride * size_t(rows) + offset + 64, 0xA5);
    const size_t mis = size_t(reinterpret_cast<uintptr_t>(s.storage.data()) % 64);
    s.data = s.storage.data() + (64 - mis) % 64 + offset;
    s.stride = stride;
    for (int64_t r = 0; r < rows; ++r) std::memcpy(s.data + size_t(r) * stride, src.data() + size_t(r) * bytes, bytes);
    return s;
}

// Dequantised weights, and per element the magnitude bound a_i of the terms the kernels form before any
// cancellation: |d * sc * q| + |dmin * m| for Q4_K/Q5_K (the codes-zeroed dequantisation gives -dmin * m), |w| else.
void dequant_weights(dtype t, const std::vector<uint8_t>& w, int64_t n, int64_t n_rows, std::vector<float>* wd,
                     std::vector<float>* mag) {
    const size_t rb = row_bytes(t, n);
    wd->resize(size_t(n * n_rows));
    mag->resize(size_t(n * n_rows));
    for (int64_t r = 0; r < n_rows; ++r)
        quant::dequantize_row(t, w.data() + size_t(r) * rb, wd->data() + size_t(r * n), n);
    if (t != dtype::DTYPE_Q4_K && t != dtype::DTYPE_Q5_K) {
        for (size_t i = 0; i < wd->size(); ++i) (*mag)[i] = std::fabs((*wd)[i]);
        return;
    }
    std::vector<uint8_t> z = w;
    for (size_t off = 0; off < z.size(); off += block_bytes(t)) {
        if (t == dtype::DTYPE_Q4_K) {
            std::memset(z.data() + off + offsetof(quant::block_q4_k, qs), 0, QK_K / 2);
        } else {
            std::memset(z.data() + off + offsetof(quant::block_q5_k, qs), 0, QK_K / 2);
            std::memset(z.data() + off + offsetof(quant::block_q5_k, qh), 0, QK_K / 8);
        }
    }
    std::vector<float> o(static_cast<size_t>(n));
    for (int64_t r = 0; r < n_rows; ++r) {
        quant::dequantize_row(t, z.data() + size_t(r) * rb, o.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            const size_t k = size_t(r * n + i);
            (*mag)[k] = std::fabs((*wd)[k] - o[size_t(i)]) + std::fabs(o[size_t(i)]);
        }
    }
}

// Everything a comparison needs for one (type, n) case: placed weights/activations and double-precision references.
struct fixture {
    dtype type;
    int64_t n, rows, toks;
    strided w, x;
    std::vector<double> oracle, bound;  // [t * rows + r]: exact dot of the dequantisations, error bound
};

fixture make_fixture(dtype t, int64_t n, int64_t rows, int64_t toks, wmode wm, amode am, std::mt19937& rng) {
    fixture f;
    f.type = t;
    f.n = n;
    f.rows = rows;
    f.toks = toks;
    const std::vector<uint8_t> w = make_weights(t, n, rows, wm, rng);
    const std::vector<uint8_t> x = make_acts(n, toks, am, rng);
    const size_t wrb = row_bytes(t, n), xrb = row_bytes(dtype::DTYPE_Q8_K, n);
    f.w = place(w, wrb, rows, wrb + 7, 3);   // rows start at every alignment
    f.x = place(x, xrb, toks, xrb + 37, 1);  // activation rows unaligned too
    std::vector<float> wd, mag, xd(size_t(n * toks));
    dequant_weights(t, w, n, rows, &wd, &mag);
    for (int64_t k = 0; k < toks; ++k)
        quant::dequantize_row(dtype::DTYPE_Q8_K, x.data() + size_t(k) * xrb, xd.data() + size_t(k * n), n);
    // Error bound: every implementation forms the same exact integer sums; the float steps (int -> float, the
    // products with d_w, dmin_w, d_x and the sub-block scales, at most ~5 roundings per term) and the accumulation
    // over nb super-blocks plus up to 16 lanes (log2(16) = 4 levels of a tree or 16 sequential adds) each cost at
    // most FLT_EPSILON relative to the sum of term magnitudes, bounded by sum_i a_i * |x_i| (a_i from
    // dequant_weights). Two implementations differ by at most the sum of their errors; the dequantised oracle adds
    // two roundings per element. Hence 2 * (nb + 16 + 8) * FLT_EPSILON * sum a_i |x_i|.
    const double nb = double(n / QK_K);
    f.oracle.assign(size_t(rows * toks), 0.0);
    f.bound.assign(size_t(rows * toks), 0.0);
    for (int64_t k = 0; k < toks; ++k)
        for (int64_t r = 0; r < rows; ++r) {
            double s = 0, a = 0;
            for (int64_t i = 0; i < n; ++i) {
                const double xi = xd[size_t(k * n + i)];
                s += double(wd[size_t(r * n + i)]) * xi;
                a += double(mag[size_t(r * n + i)]) * std::fabs(xi);
            }
            f.oracle[size_t(k * rows + r)] = s;
            f.bound[size_t(k * rows + r)] = 2.0 * (nb + 24.0) * double(FLT_EPSILON) * a + 1e-30;
        }
    return f;
}

// Runs a table's kernel on the first `rows` rows and `toks` tokens into y (ldy = rows + 3, sentinel-filled).
std::vector<float> run(const table& tb, const fixture& f, int64_t rows, int64_t toks) {
    const int64_t ldy = rows + 3;
    std::vector<float> y(size_t(ldy * (toks + 1)), -7.0f);
    kernels::matmul_rows_q_for(tb, f.type)(f.w.data, f.w.stride, rows, f.x.data, f.x.stride, toks, y.data(), ldy, f.n);
    return y;
}

std::string label(const table& tb, const fixture& f, int64_t rows, int64_t toks) {
    return std::string(kernels::isa_name(tb.level)) + " " + test::type_name(f.type) + " n=" + std::to_string(f.n) +
           " rows=" + std::to_string(rows) + " toks=" + std::to_string(toks);
}

// Checks y against want (indexed [t * f.rows + r]) within the fixture's bound, and that nothing else was written.
void check(const std::vector<float>& y, const fixture& f, int64_t rows, int64_t toks, const std::vector<double>& want,
           const std::string& what) {
    const int64_t ldy = rows + 3;
    for (int64_t t = 0; t <= toks; ++t)
        for (int64_t r = 0; r < ldy; ++r) {
            const float got = y[size_t(t * ldy + r)];
            if (t == toks || r >= rows) {
                ASSERT_EQ(got, -7.0f) << what << ": wrote outside the output at r=" << r << " t=" << t;
                continue;
            }
            const size_t k = size_t(t * f.rows + r);
            ASSERT_NEAR(double(got), want[k], f.bound[k]) << what << " r=" << r << " t=" << t;
        }
}

TEST(quant_k_kernels, tables_complete) {
    for (const table* t : test::host_tables()) {
        SCOPED_TRACE(kernels::isa_name(t->level));
        EXPECT_NE(t->quantize_row_q8_k, nullptr);
        for (dtype ty : k_types) EXPECT_NE(kernels::matmul_rows_q_for(*t, ty), nullptr) << test::type_name(ty);
        EXPECT_EQ(kernels::quantize_row_for(*t, dtype::DTYPE_Q8_K), t->quantize_row_q8_k);
    }
    // Each x86 level has its own kernels (the VNNI level keeps the AVX-512 quantiser).
    const table* avx2 = kernels::for_isa(kernels::isa::ISA_AVX2);
    const table* avx512 = kernels::for_isa(kernels::isa::ISA_AVX512);
    const table* vnni = kernels::for_isa(kernels::isa::ISA_AVX512_VNNI);
    for (dtype ty : k_types) {
        if (avx2) {
            EXPECT_NE(kernels::matmul_rows_q_for(*avx2, ty), kernels::matmul_rows_q_for(scalar(), ty));
        }
        if (avx512) {
            EXPECT_NE(kernels::matmul_rows_q_for(*avx512, ty), kernels::matmul_rows_q_for(*avx2, ty));
        }
        if (vnni) {
            EXPECT_NE(kernels::matmul_rows_q_for(*vnni, ty), kernels::matmul_rows_q_for(*avx512, ty));
        }
    }
    if (avx2) {
        EXPECT_NE(avx2->quantize_row_q8_k, scalar().quantize_row_q8_k);
    }
    if (avx512) {
        EXPECT_NE(avx512->quantize_row_q8_k, avx2->quantize_row_q8_k);
    }
    if (vnni) {
        EXPECT_EQ(vnni->quantize_row_q8_k, avx512->quantize_row_q8_k);
    }
}

TEST(quant_k_kernels, quantize_q8_k_bit_exact) {
    std::mt19937 rng(11);
    for (int64_t n : {int64_t(256), int64_t(512), int64_t(2048), int64_t(5632)}) {
        std::vector<float> x = test::random_floats(rng, size_t(n), -3.0f, 3.0f);
        const int64_t nb = n / QK_K;
        // Per block: varied magnitudes, an all-zero block (d = 0), exact ties at d = 1 (x = k + 0.5 rounds to even),
        // a single huge value, subnormal-sized values, negative-only data.
        for (int64_t b = 0; b < nb; ++b) {
            float* blk = x.data() + b * QK_K;
            switch (b % 6) {
                case 0:
                    for (int j = 0; j < QK_K; ++j) blk[j] *= 1e-3f * float(b + 1);
                    break;
                case 1:
                    std::fill(blk, blk + QK_K, 0.0f);
                    break;
                case 2:
                    for (int j = 0; j < QK_K; ++j) blk[j] = float(j % 254 - 127) + (j % 2 ? 0.5f : -0.5f);
                    blk[0] = 127.0f;
                    blk[1] = -127.0f;
                    break;
                case 3:
                    blk[17] = 3e30f;
                    break;
                case 4:
                    for (int j = 0; j < QK_K; ++j) blk[j] *= 1e-39f;
                    break;
                default:
                    for (int j = 0; j < QK_K; ++j) blk[j] = -std::fabs(blk[j]) * 50.0f;
                    break;
            }
        }
        const size_t bytes = row_bytes(dtype::DTYPE_Q8_K, n);
        std::vector<uint8_t> ref(bytes + 1, 0x5A);
        quant::quantize_row(dtype::DTYPE_Q8_K, x.data(), ref.data(), n);
        for (const table* t : test::host_tables()) {
            std::vector<uint8_t> got(bytes + 1, 0x5A);
            t->quantize_row_q8_k(x.data(), got.data(), n);
            for (size_t i = 0; i <= bytes; ++i)
                ASSERT_EQ(got[i], ref[i])
                    << kernels::isa_name(t->level) << " n=" << n << " byte " << i << " (block "
                    << i / sizeof(quant::block_q8_k) << ", offset " << i % sizeof(quant::block_q8_k) << ")";
        }
    }
}

// (c) The scalar kernel against the double-precision dot of quant::dequantize_row(W) and dequantised activations.
TEST(quant_k_kernels, scalar_matches_dequantized_oracle) {
    std::mt19937 rng(12);
    for (dtype t : k_types)
        for (int64_t n : k_ns)
            for (wmode wm : {wmode::WMODE_RANDOM_BYTES, wmode::WMODE_QUANTIZED}) {
                const amode am = wm == wmode::WMODE_QUANTIZED ? amode::AMODE_QUANTIZED : amode::AMODE_RANDOM_BLOCKS;
                const fixture f = make_fixture(t, n, MAX_ROWS, MAX_TOK, wm, am, rng);
                for (int64_t rows : {int64_t(1), int64_t(5), MAX_ROWS})
                    for (int64_t toks : {int64_t(1), int64_t(4), MAX_TOK}) {
                        const std::vector<float> y = run(scalar(), f, rows, toks);
                        check(y, f, rows, toks, f.oracle, label(scalar(), f, rows, toks));
                        if (HasFatalFailure()) return;
                    }
            }
}

// (b) Every SIMD kernel against the scalar kernel: all row counts 1..17 and token counts 1..9.
TEST(quant_k_kernels, isa_matches_scalar) {
    std::mt19937 rng(13);
    for (dtype t : k_types)
        for (int64_t n : k_ns)
            for (wmode wm : {wmode::WMODE_RANDOM_BYTES, wmode::WMODE_QUANTIZED}) {
                const amode am = wm == wmode::WMODE_QUANTIZED ? amode::AMODE_QUANTIZED : amode::AMODE_RANDOM_BLOCKS;
                const fixture f = make_fixture(t, n, MAX_ROWS, MAX_TOK, wm, am, rng);
                const std::vector<float> full = run(scalar(), f, MAX_ROWS, MAX_TOK);
                std::vector<double> ref(size_t(MAX_ROWS * MAX_TOK));
                for (int64_t k = 0; k < MAX_TOK; ++k)
                    for (int64_t r = 0; r < MAX_ROWS; ++r)
                        ref[size_t(k * MAX_ROWS + r)] = full[size_t(k * (MAX_ROWS + 3) + r)];
                for (const table* tb : simd_tables())
                    for (int64_t rows = 1; rows <= MAX_ROWS; ++rows)
                        for (int64_t toks = 1; toks <= MAX_TOK; ++toks) {
                            const std::vector<float> y = run(*tb, f, rows, toks);
                            check(y, f, rows, toks, ref, label(*tb, f, rows, toks));
                            if (HasFatalFailure()) return;
                        }
            }
}

// All-max / all-min codes with extreme scales and mins, activations +-127, d = 1: the largest integer sums the
// formats allow, on every ISA against the oracle.
TEST(quant_k_kernels, extreme_values) {
    std::mt19937 rng(14);
    for (dtype t : k_types)
        for (int64_t n : {int64_t(256), int64_t(5632)})
            for (wmode wm : {wmode::WMODE_MAX_CODES, wmode::WMODE_MIN_CODES})
                for (amode am : {amode::AMODE_PLUS_127, amode::AMODE_MINUS_127, amode::AMODE_ALTERNATING}) {
                    const fixture f = make_fixture(t, n, 6, 5, wm, am, rng);
                    for (const table* tb : test::host_tables())
                        for (int64_t toks : {int64_t(1), int64_t(5)}) {
                            const std::vector<float> y = run(*tb, f, 6, toks);
                            check(y, f, 6, toks, f.oracle, label(*tb, f, 6, toks));
                            if (HasFatalFailure()) return;
                        }
                }
}

// Shapes past the kernels' internal blocking: long rows (decode panels), many rows (prefill row chunks) and many
// tokens (several token groups), zero-scale blocks mixed in.
TEST(quant_k_kernels, large_shapes) {
    std::mt19937 rng(15);
    struct shape {
        int64_t n, rows, toks;
    };
    for (dtype t : k_types)
        for (shape s : {shape{129 * 256, 3, 1}, shape{129 * 256, 2, 3}, shape{512, 131, 3}, shape{2048, 5, 21}}) {
            const fixture f =
                make_fixture(t, s.n, s.rows, s.toks, wmode::WMODE_RANDOM_BYTES, amode::AMODE_RANDOM_BLOCKS, rng);
            for (const table* tb : test::host_tables()) {
                const std::vector<float> y = run(*tb, f, s.rows, s.toks);
                check(y, f, s.rows, s.toks, f.oracle, label(*tb, f, s.rows, s.toks));
                if (HasFatalFailure()) return;
            }
        }
}

}  // namespace
}  // namespace fathom
