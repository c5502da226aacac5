// R16 super-block types, IQ4_XS and Q6_K (16-row interleaved 256-element super-blocks x INT8 activation panels; Q6_K's
// panels carry 16-element half sums): the repack round trip is exact for quantised and raw blocks (every code and
// scale bit pattern), element values read from the packed layout as kernels.h states it equal the reference
// dequantisation, the scalar kernel matches a double-precision product of the reference dequantisation and the
// panel's codes, and every table the host supports matches the scalar kernel.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/kernel-test-util.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/repack.h"

namespace fathom {
namespace {

// One super-block type: its R16 bytes per 256 elements of 16 rows, where the F16 d sits in a GGUF block, how many
// elements the layout check steps over, and the value of element e (< 256) of row rr of a packed super-block.
struct super_type {
    dtype type;
    size_t r16_block;
    size_t d_offset;
    int64_t stride;
    int32_t sum_mode;
    float (*value)(const uint8_t* blk, int64_t rr, int64_t e);
};

float half(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return f16_to_f32(h);
}

// IQ4_XS: d * (ls_j - 32) * k_iq4nl[code], 32-element sub-blocks j of 4 x 64 B words at 160 + 256 j.
float iq4_xs_value(const uint8_t* blk, int64_t rr, int64_t e) {
    const int64_t j = e / 32, k = e % 32;
    const uint8_t byte = blk[160 + 256 * j + 64 * ((k % 16) / 4) + 4 * rr + (k % 4)];
    const int code = k < 16 ? (byte & 15) : (byte >> 4);
    return half(blk + 2 * rr) * float(int(blk[32 + 16 * j + rr]) - 32) * float(quant::k_iq4nl[code]);
}

// Q6_K: d * scale_{e/16} * (code - 32), code = low nibble (64-element chunk words) | high 2 bits (<< 4).
float q6_k_value(const uint8_t* blk, int64_t rr, int64_t e) {
    const int64_t c = e / 64, k = e % 64, h = k / 32, w = (k % 32) / 4;
    const uint8_t* chunk = blk + 288 + 768 * c;
    const int low4 = (chunk[64 * w + 4 * rr + k % 4] >> (4 * h)) & 15;
    const int high2 = (chunk[512 + 64 * (w / 2) + 4 * rr + k % 4] >> (4 * (w % 2) + 2 * h)) & 3;
    return half(blk + 2 * rr) * float(int8_t(blk[32 + 16 * (e / 16) + rr])) * float((low4 | high2 << 4) - 32);
}

const super_type k_types[] = {
    {dtype::DTYPE_IQ4_XS, 2208, 0, 7, 128, iq4_xs_value},
    {dtype::DTYPE_Q6_K, 3360, offsetof(quant::block_q6_k, d), 3, kernels::k_r16_sum_halves, q6_k_value},
};

class quant_r16_super : public ::testing::TestWithParam<super_type> {};

// n_rows rows of n elements: quantised from Gaussian floats, or (raw) random bytes with finite F16 scales.
std::vector<uint8_t> make_rows(const super_type& st, int64_t n_rows, int64_t n, bool raw, std::mt19937& rng) {
    const dtype k_t = st.type;
    const size_t rb = dtype_row_bytes(k_t, n);
    std::vector<uint8_t> out(rb * size_t(n_rows));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t r = 0; r < n_rows; ++r) {
        uint8_t* row = out.data() + size_t(r) * rb;
        if (!raw) {
            for (float& v : x) v = nd(rng);
            quant::quantize_row(k_t, x.data(), row, n);
            continue;
        }
        for (size_t i = 0; i < rb; ++i) row[i] = uint8_t(rng());
        for (int64_t b = 0; b < n / quant::QK_K; ++b) {  // d: a finite F16 of moderate size
            const uint16_t d = f32_to_f16(0.001f * float(int(rng() % 2001) - 1000));
            std::memcpy(row + size_t(b) * dtype_info(k_t).type_size + st.d_offset, &d, 2);
        }
    }
    return out;
}

TEST_P(quant_r16_super, repack_round_trip_is_exact) {
    const super_type& st = GetParam();
    const dtype k_t = st.type;
    std::mt19937 rng(3);
    ASSERT_EQ(quant::r16_block_bytes(k_t), st.r16_block / 8);
    for (bool raw : {false, true})
        for (int64_t n_rows : {1, 15, 16, 17, 40})
            for (int64_t n : {256, 512}) {
                const std::vector<uint8_t> src = make_rows(st, n_rows, n, raw, rng);
                const size_t rb = dtype_row_bytes(k_t, n);
                std::vector<uint8_t> packed(quant::r16_bytes(k_t, n_rows, n), 0xAB);
                ASSERT_EQ(packed.size(), size_t((n_rows + 15) / 16) * size_t(n / 256) * st.r16_block);
                quant::repack_r16(k_t, src.data(), rb, n_rows, n, packed.data());
                std::vector<uint8_t> back(rb);
                for (int64_t r = 0; r < n_rows; ++r) {
                    quant::unpack_r16_row(k_t, packed.data(), r, n, back.data());
                    ASSERT_EQ(std::memcmp(back.data(), src.data() + size_t(r) * rb, rb), 0)
                        << "row " << r << " of " << n_rows << ", n " << n << (raw ? " raw" : " quantised");
                }
                // element values, read from the packed layout as kernels.h states it
                std::vector<float> ref(static_cast<size_t>(n));
                for (int64_t r = 0; r < n_rows; ++r) {
                    quant::dequantize_row(k_t, src.data() + size_t(r) * rb, ref.data(), n);
                    const int64_t g = r / 16, rr = r % 16;
                    for (int64_t i = 0; i < n; i += st.stride) {
                        const uint8_t* blk =
                            packed.data() + (size_t(g) * size_t(n / 256) + size_t(i / 256)) * st.r16_block;
                        ASSERT_EQ(st.value(blk, rr, i % 256), ref[size_t(i)]) << "row " << r << " element " << i;
                    }
                }
            }
}

struct product {
    int64_t n_rows, n, n_tok;
    std::vector<uint8_t> packed;
    std::vector<uint8_t> panels;
    std::vector<double> exact;  // dequantised weights x the panels' dequantised codes, in double
    std::vector<double> scale;  // sum |w x| per output, for the tolerance
};

product make_product(const super_type& st, int64_t n_rows, int64_t n, int64_t n_tok, std::mt19937& rng) {
    const dtype k_t = st.type;
    product p{n_rows, n, n_tok, {}, {}, {}, {}};
    const std::vector<uint8_t> src = make_rows(st, n_rows, n, false, rng);
    const size_t rb = dtype_row_bytes(k_t, n);
    p.packed.resize(quant::r16_bytes(k_t, n_rows, n));
    quant::repack_r16(k_t, src.data(), rb, n_rows, n, p.packed.data());
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(size_t(n * n_tok));
    for (float& v : x) v = nd(rng);
    const kernels::table& sc = *kernels::for_isa(kernels::isa::ISA_SCALAR);
    const int64_t n_panels = (n_tok + 7) / 8, nb = n / 32;
    const size_t pbytes = size_t(nb) * kernels::k_r16_panel_block_bytes;
    p.panels.resize(pbytes * size_t(n_panels));
    for (int64_t q = 0; q < n_panels; ++q)
        sc.quantize_panel_q8(x.data() + q * 8 * n, n, std::min<int64_t>(8, n_tok - q * 8), p.panels.data() + q * pbytes,
                             n, kernels::r16_sum_mode(k_t));
    std::vector<float> w(static_cast<size_t>(n));
    p.exact.assign(size_t(n_rows * n_tok), 0.0);
    p.scale.assign(p.exact.size(), 0.0);
    for (int64_t r = 0; r < n_rows; ++r) {
        quant::dequantize_row(k_t, src.data() + size_t(r) * rb, w.data(), n);
        for (int64_t t = 0; t < n_tok; ++t) {
            const uint8_t* pan = p.panels.data() + size_t(t / 8) * pbytes;
            double acc = 0, mag = 0;
            for (int64_t i = 0; i < n; ++i) {
                const uint8_t* blk = pan + size_t(i / 32) * kernels::k_r16_panel_block_bytes;
                float dx;
                std::memcpy(&dx, blk + 256 + 4 * (t % 8), 4);
                const double xv = double(dx) * double(int8_t(blk[32 * (t % 8) + i % 32]));
                acc += double(w[size_t(i)]) * xv;
                mag += std::fabs(double(w[size_t(i)]) * xv);
            }
            p.exact[size_t(t * n_rows + r)] = acc;
            p.scale[size_t(t * n_rows + r)] = mag;
        }
    }
    return p;
}

std::vector<float> run(const kernels::table& tb, dtype k_t, const product& p) {
    std::vector<float> y(size_t(p.n_rows * p.n_tok), -7.0f);
    kernels::matmul_r16_for(tb, k_t)(p.packed.data(), p.n_rows, p.panels.data(), p.n_tok, y.data(), p.n_rows, p.n);
    return y;
}

TEST_P(quant_r16_super, scalar_matches_dequantised_product_and_simd_matches_scalar) {
    const super_type& st = GetParam();
    const dtype k_t = st.type;
    std::mt19937 rng(11);
    const kernels::table& sc = *kernels::for_isa(kernels::isa::ISA_SCALAR);
    ASSERT_NE(kernels::matmul_r16_for(sc, k_t), nullptr);
    EXPECT_EQ(kernels::r16_sum_mode(k_t), st.sum_mode);
    for (int64_t n_rows : {16, 17, 40})
        for (int64_t n : {256, 1024})
            for (int64_t n_tok : {1, 3, 8, 9, 17}) {
                const product p = make_product(st, n_rows, n, n_tok, rng);
                const std::vector<float> ys = run(sc, k_t, p);
                for (size_t i = 0; i < ys.size(); ++i)
                    ASSERT_NEAR(ys[i], p.exact[i], 1e-5 * p.scale[i] + 1e-6)
                        << "scalar, rows " << n_rows << " n " << n << " n_tok " << n_tok << " output " << i;
                for (const kernels::table* tb : test::host_tables()) {
                    if (tb->level == kernels::isa::ISA_SCALAR) continue;
                    const std::vector<float> yv = run(*tb, k_t, p);
                    for (size_t i = 0; i < yv.size(); ++i)
                        ASSERT_NEAR(yv[i], ys[i], 1e-5 * p.scale[i] + 1e-6)
                            << kernels::isa_name(tb->level) << ", rows " << n_rows << " n " << n << " n_tok " << n_tok
                            << " output " << i;
                }
            }
    // The AVX-512 VNNI level has its own kernel for the type (a level that inherits the scalar one, such as NEON,
    // keeps the type in the row layout: prepare_weight does not repack it there).
    if (const kernels::table* vnni = kernels::for_isa(kernels::isa::ISA_AVX512_VNNI)) {
        EXPECT_NE(kernels::matmul_r16_for(*vnni, k_t), kernels::matmul_r16_for(sc, k_t));
    }
    // So do the AVX2 level (maddubs + madd) and, on top of it, the AVX2 VNNI (256-bit vpdpbusd) and AVX-512 BW
    // (maddubs + madd on ZMM) levels.
    if (const kernels::table* avx2 = kernels::for_isa(kernels::isa::ISA_AVX2)) {
        EXPECT_NE(kernels::matmul_r16_for(*avx2, k_t), kernels::matmul_r16_for(sc, k_t));
        if (const kernels::table* avx2_vnni = kernels::for_isa(kernels::isa::ISA_AVX2_VNNI)) {
            EXPECT_NE(kernels::matmul_r16_for(*avx2_vnni, k_t), kernels::matmul_r16_for(*avx2, k_t));
        }
        if (const kernels::table* avx512 = kernels::for_isa(kernels::isa::ISA_AVX512)) {
            EXPECT_NE(kernels::matmul_r16_for(*avx512, k_t), kernels::matmul_r16_for(*avx2, k_t));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(types, quant_r16_super, ::testing::ValuesIn(k_types),
                         [](const ::testing::TestParamInfo<super_type>& i) { return dtype_name(i.param.type); });

}  // namespace
}  // namespace fathom
