// Every kernel-table entry of every ISA this host supports, checked against the scalar table.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel-test-util.h"

namespace fathom {
namespace {

using kernels::table;
using test::random_floats;

const int64_t k_sizes[] = {1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100, 1000, 4096 + 3};

std::vector<const table*> simd_tables() {
    std::vector<const table*> v;
    for (const table* t : test::host_tables())
        if (t->level != kernels::isa::ISA_SCALAR) v.push_back(t);
    return v;
}

const table& scalar() { return *kernels::for_isa(kernels::isa::ISA_SCALAR); }

std::string label(const table* t, int64_t n) {
    return std::string(kernels::isa_name(t->level)) + " n=" + std::to_string(n);
}

TEST(isa_vs_scalar, tables_are_complete) {
    for (const table* t : test::host_tables()) {
        SCOPED_TRACE(kernels::isa_name(t->level));
        EXPECT_NE(t->matmul_rows_f32, nullptr);
        EXPECT_NE(t->matmul_rows_f16, nullptr);
        EXPECT_NE(t->matmul_rows_bf16, nullptr);
        EXPECT_NE(t->f16_to_f32, nullptr);
        EXPECT_NE(t->bf16_to_f32, nullptr);
        EXPECT_NE(t->f32_to_f16, nullptr);
        EXPECT_NE(t->f32_to_bf16, nullptr);
        EXPECT_NE(t->dot_f32, nullptr);
        EXPECT_NE(t->axpy_f32, nullptr);
        EXPECT_NE(t->scale_f32, nullptr);
        EXPECT_NE(t->rms_norm_f32, nullptr);
        EXPECT_NE(t->silu_mul_f32, nullptr);
        EXPECT_NE(t->softmax_f32, nullptr);
        EXPECT_NE(t->exp_sub_sum_f32, nullptr);
        EXPECT_NE(t->max_f32, nullptr);
    }
}

// matmul_rows: many n (tails), row counts around the 4-row tile, token counts around the token tiles,
// unaligned weight rows with padding between them, strided x and y.
TEST(isa_vs_scalar, matmul_rows_all_types) {
    std::mt19937 rng(1);
    const int64_t row_counts[] = {1, 3, 4, 5, 9};
    const int64_t tok_counts[] = {1, 2, 3, 4, 5, 7, 9};
    for (dtype type : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
        const size_t es = test::elem_size(type);
        for (int64_t n : k_sizes) {
            const int64_t max_rows = 9, max_tok = 9;
            const size_t rb = size_t(n) * es + 6;  // padded rows: every row starts at a different alignment
            std::vector<float> wv = random_floats(rng, size_t(n) * max_rows), wd;
            std::vector<uint8_t> enc = test::encode(type, wv, &wd);
            std::vector<uint8_t> storage(rb * max_rows + 8);
            const size_t off = size_t(n % 3) + 1;  // 1..3 bytes past an aligned address
            for (int64_t r = 0; r < max_rows; ++r)
                std::memcpy(storage.data() + off + size_t(r) * rb, enc.data() + size_t(r * n) * es, size_t(n) * es);
            const uint8_t* w = storage.data() + off;
            const int64_t ldx = n + 5;
            std::vector<float> x = random_floats(rng, size_t(ldx * max_tok));
            for (int64_t rows : row_counts) {
                for (int64_t toks : tok_counts) {
                    const int64_t ldy = rows + 2;
                    std::vector<float> ref(size_t(ldy * toks), -7.0f);
                    kernels::matmul_rows_for(scalar(), type)(w, rb, rows, x.data(), ldx, toks, ref.data(), ldy, n);
                    for (const table* t : simd_tables()) {
                        std::vector<float> got(size_t(ldy * toks), -7.0f);
                        kernels::matmul_rows_for(*t, type)(w, rb, rows, x.data(), ldx, toks, got.data(), ldy, n);
                        for (int64_t tk = 0; tk < toks; ++tk) {
                            for (int64_t r = 0; r < ldy; ++r) {
                                const size_t k = size_t(tk * ldy + r);
                                if (r >= rows) {
                                    ASSERT_EQ(got[k], -7.0f) << "wrote past the rows " << label(t, n);
                                    continue;
                                }
                                double mag = 0;
                                for (int64_t i = 0; i < n; ++i)
                                    mag += std::fabs(double(wd[size_t(r * n + i)]) * x[size_t(tk * ldx + i)]);
                                ASSERT_NEAR(got[k], ref[k], 1e-5 * mag + 1e-30)
                                    << test::type_name(type) << " " << label(t, n) << " rows=" << rows
                                    << " toks=" << toks << " r=" << r << " t=" << tk;
                            }
                        }
                    }
                }
            }
        }
    }
}

TEST(isa_vs_scalar, f16_bf16_to_f32_all_patterns_unaligned) {
    std::vector<uint16_t> all(65536);
    for (uint32_t i = 0; i < 65536; ++i) all[i] = uint16_t(i);
    std::vector<uint8_t> storage(65536 * 2 + 2);
    std::memcpy(storage.data() + 1, all.data(), 65536 * 2);
    const uint16_t* src = reinterpret_cast<const uint16_t*>(storage.data() + 1);  // odd address
    for (const table* t : simd_tables()) {
        for (int64_t n : {int64_t(65536), int64_t(65535), int64_t(13)}) {
            std::vector<float> a(size_t(n) + 1, 9.0f), b(size_t(n) + 1, 9.0f), c(size_t(n) + 1, 9.0f),
                d(size_t(n) + 1, 9.0f);
            scalar().f16_to_f32(src, a.data(), n);
            t->f16_to_f32(src, b.data(), n);
            scalar().bf16_to_f32(src, c.data(), n);
            t->bf16_to_f32(src, d.data(), n);
            for (int64_t i = 0; i < n; ++i) {
                const size_t k = size_t(i);
                if (std::isnan(a[k])) {
                    ASSERT_TRUE(std::isnan(b[k])) << label(t, n) << " f16 pattern " << i;
                } else {
                    ASSERT_EQ(std::memcmp(&a[k], &b[k], 4), 0) << label(t, n) << " f16 pattern " << i;
                }
                ASSERT_EQ(std::memcmp(&c[k], &d[k], 4), 0) << label(t, n) << " bf16 pattern " << i;
            }
            ASSERT_EQ(b[size_t(n)], 9.0f) << "wrote past the end";
            ASSERT_EQ(d[size_t(n)], 9.0f) << "wrote past the end";
        }
    }
}

// Special and random F32 bit patterns: results must be bit-identical to the scalar rounding.
std::vector<float> conversion_inputs() {
    std::vector<uint32_t> bits = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u,
                                  0x7f800001u, 0x00000001u, 0x807fffffu, 0x33000000u, 0x33000001u, 0x387fe000u,
                                  0x477fe000u, 0x477fefffu, 0x477ff000u, 0x47800000u, 0x7f7fffffu, 0xff7fffffu,
                                  0x3f801000u, 0x3f803000u, 0x3f808000u, 0x3f818000u, 0x3f7fffffu};
    std::mt19937 rng(5);
    for (int i = 0; i < 200000; ++i) bits.push_back(uint32_t(rng()));
    // Values in the F16 range, including its subnormals, and exact F16/BF16 midpoints.
    std::uniform_real_distribution<float> mag(-20.0f, 16.0f);
    for (int i = 0; i < 100000; ++i) {
        float v = std::ldexp(1.0f + float(rng() % 1024) / 1024.0f, int(mag(rng)));
        uint32_t u;
        std::memcpy(&u, &v, 4);
        bits.push_back(u);
        bits.push_back(u + 0x1000u);  // F16 midpoint when v is an F16 value
        bits.push_back((u & 0xffff0000u) | 0x8000u);  // BF16 midpoint
    }
    std::vector<float> out(bits.size());
    std::memcpy(out.data(), bits.data(), bits.size() * 4);
    return out;
}

TEST(isa_vs_scalar, f32_to_f16_bf16_bit_exact) {
    const std::vector<float> in = conversion_inputs();
    for (const table* t : simd_tables()) {
        for (int64_t n : {int64_t(in.size()), int64_t(in.size()) - 3, int64_t(5)}) {
            std::vector<uint16_t> a(size_t(n) + 1, 0x1234), b(size_t(n) + 1, 0x1234);
            scalar().f32_to_f16(in.data(), a.data(), n);
            t->f32_to_f16(in.data(), b.data(), n);
            for (int64_t i = 0; i <= n; ++i) {
                uint32_t u;
                std::memcpy(&u, &in[size_t(std::min(i, n - 1))], 4);
                ASSERT_EQ(a[size_t(i)], b[size_t(i)]) << label(t, n) << " f16 of 0x" << std::hex << u << std::dec
                                                      << " i=" << i;
            }
            scalar().f32_to_bf16(in.data(), a.data(), n);
            t->f32_to_bf16(in.data(), b.data(), n);
            for (int64_t i = 0; i <= n; ++i) {
                uint32_t u;
                std::memcpy(&u, &in[size_t(std::min(i, n - 1))], 4);
                ASSERT_EQ(a[size_t(i)], b[size_t(i)]) << label(t, n) << " bf16 of 0x" << std::hex << u << std::dec;
            }
        }
    }
}

TEST(isa_vs_scalar, dot_axpy_scale_max) {
    std::mt19937 rng(2);
    for (int64_t n : k_sizes) {
        std::vector<float> a = random_floats(rng, size_t(n)), b = random_floats(rng, size_t(n));
        double mag = 0;
        for (int64_t i = 0; i < n; ++i) mag += std::fabs(double(a[size_t(i)]) * b[size_t(i)]);
        const float ref_dot = scalar().dot_f32(a.data(), b.data(), n);
        const float ref_max = scalar().max_f32(a.data(), n);
        std::vector<float> ref_axpy = b, ref_scale = b;
        scalar().axpy_f32(0.37f, a.data(), ref_axpy.data(), n);
        scalar().scale_f32(-1.7f, ref_scale.data(), n);
        for (const table* t : simd_tables()) {
            EXPECT_NEAR(t->dot_f32(a.data(), b.data(), n), ref_dot, 1e-5 * mag) << label(t, n);
            EXPECT_EQ(t->max_f32(a.data(), n), ref_max) << label(t, n);
            std::vector<float> y = b;
            y.push_back(5.0f);
            t->axpy_f32(0.37f, a.data(), y.data(), n);
            for (int64_t i = 0; i < n; ++i) {
                const size_t k = size_t(i);
                ASSERT_NEAR(y[k], ref_axpy[k], 1e-6 * (std::fabs(b[k]) + std::fabs(0.37f * a[k])) + 1e-30)
                    << label(t, n) << " axpy i=" << i;
            }
            EXPECT_EQ(y[size_t(n)], 5.0f) << "axpy wrote past the end";
            y = b;
            y.push_back(5.0f);
            t->scale_f32(-1.7f, y.data(), n);
            for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[size_t(i)], ref_scale[size_t(i)]) << label(t, n);
            EXPECT_EQ(y[size_t(n)], 5.0f) << "scale wrote past the end";
        }
    }
}

TEST(isa_vs_scalar, max_with_infinities) {
    const float inf = std::numeric_limits<float>::infinity();
    for (int64_t n : {int64_t(1), int64_t(5), int64_t(16), int64_t(37)}) {
        std::vector<float> x(size_t(n), -inf);
        for (const table* t : test::host_tables()) EXPECT_EQ(t->max_f32(x.data(), n), -inf) << label(t, n);
        x[size_t(n - 1)] = -3.5f;
        for (const table* t : test::host_tables()) EXPECT_EQ(t->max_f32(x.data(), n), -3.5f) << label(t, n);
    }
}

TEST(isa_vs_scalar, rms_norm_including_in_place) {
    std::mt19937 rng(3);
    for (int64_t n : k_sizes) {
        std::vector<float> x = random_floats(rng, size_t(n), -4.0f, 4.0f), w = random_floats(rng, size_t(n));
        std::vector<float> ref(static_cast<size_t>(n));
        scalar().rms_norm_f32(x.data(), w.data(), 1e-5f, ref.data(), n);
        for (const table* t : simd_tables()) {
            std::vector<float> y(size_t(n) + 1, 5.0f), xi = x;
            t->rms_norm_f32(x.data(), w.data(), 1e-5f, y.data(), n);
            t->rms_norm_f32(xi.data(), w.data(), 1e-5f, xi.data(), n);  // y aliases x
            for (int64_t i = 0; i < n; ++i) {
                const size_t k = size_t(i);
                ASSERT_NEAR(y[k], ref[k], 1e-5 * std::fabs(ref[k]) + 1e-30) << label(t, n) << " i=" << i;
                ASSERT_EQ(xi[k], y[k]) << label(t, n) << " in place i=" << i;
            }
            EXPECT_EQ(y[size_t(n)], 5.0f);
        }
    }
}

TEST(isa_vs_scalar, silu_mul_including_aliasing) {
    std::mt19937 rng(4);
    for (int64_t n : k_sizes) {
        std::vector<float> g = random_floats(rng, size_t(n), -30.0f, 30.0f), u = random_floats(rng, size_t(n));
        std::vector<float> ref(static_cast<size_t>(n));
        scalar().silu_mul_f32(g.data(), u.data(), ref.data(), n);
        for (const table* t : simd_tables()) {
            std::vector<float> out(size_t(n) + 1, 5.0f), ga = g, ua = u;
            t->silu_mul_f32(g.data(), u.data(), out.data(), n);
            t->silu_mul_f32(ga.data(), u.data(), ga.data(), n);  // out aliases gate
            t->silu_mul_f32(g.data(), ua.data(), ua.data(), n);  // out aliases up
            for (int64_t i = 0; i < n; ++i) {
                const size_t k = size_t(i);
                ASSERT_NEAR(out[k], ref[k], 2e-6 * std::fabs(ref[k]) + 1e-30) << label(t, n) << " g=" << g[k];
                ASSERT_EQ(ga[k], out[k]);
                ASSERT_EQ(ua[k], out[k]);
            }
            EXPECT_EQ(out[size_t(n)], 5.0f);
        }
    }
}

TEST(isa_vs_scalar, softmax_and_exp_sub_sum) {
    std::mt19937 rng(6);
    const float inf = std::numeric_limits<float>::infinity();
    for (int64_t n : k_sizes) {
        std::vector<float> x = random_floats(rng, size_t(n), -30.0f, 30.0f);
        if (n > 3) x[2] = -inf;  // a masked position
        std::vector<float> ref = x;
        scalar().softmax_f32(ref.data(), n);
        const float m = scalar().max_f32(x.data(), n);
        std::vector<float> ref_e(static_cast<size_t>(n));
        const float ref_sum = scalar().exp_sub_sum_f32(x.data(), m, ref_e.data(), n);
        for (const table* t : simd_tables()) {
            std::vector<float> s = x;
            s.push_back(5.0f);
            t->softmax_f32(s.data(), n);
            std::vector<float> e(size_t(n) + 1, 5.0f);
            const float sum = t->exp_sub_sum_f32(x.data(), m, e.data(), n);
            EXPECT_NEAR(sum, ref_sum, 1e-5 * ref_sum) << label(t, n);
            for (int64_t i = 0; i < n; ++i) {
                const size_t k = size_t(i);
                ASSERT_FALSE(std::isnan(s[k])) << label(t, n);
                ASSERT_NEAR(s[k], ref[k], 1e-5 * ref[k] + 1e-37) << label(t, n) << " x=" << x[k];
                ASSERT_NEAR(e[k], ref_e[k], 2e-6 * ref_e[k] + 1e-37) << label(t, n) << " x=" << x[k];
            }
            EXPECT_EQ(s[size_t(n)], 5.0f);
            EXPECT_EQ(e[size_t(n)], 5.0f);
            if (n > 3) {
                EXPECT_EQ(s[2], 0.0f);
                EXPECT_EQ(e[2], 0.0f);
            }
        }
    }
}

}  // namespace
}  // namespace fathom
