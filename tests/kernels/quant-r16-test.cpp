// R16 kernels (16-row interleaved Q4_0 / Q4_1 / Q8_0 / IQ4_NL / Q4_K weights x INT8 activation panels):
// quant::repack_r16 and unpack_r16_row against the byte layout of kernels.h (and the Q4_K element values against the
// reference dequantisation), the panel quantiser against its definition, the scalar matmuls against a double-precision
// product of the reference dequantisations, and every SIMD table the host supports against the scalar one (quantiser
// byte-identical, matmuls within 1e-5 of the products' magnitude).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel-test-util.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/repack.h"

namespace fathom {
namespace {

using kernels::table;

const dtype k_types[] = {dtype::DTYPE_Q4_0, dtype::DTYPE_Q4_1, dtype::DTYPE_Q8_0, dtype::DTYPE_IQ4_NL,
                         dtype::DTYPE_Q4_K};
constexpr int QK = quant::QK;
constexpr int64_t k_panel = kernels::k_r16_panel;
constexpr size_t k_pb = kernels::k_r16_panel_block_bytes;
constexpr double k_rel = 1e-5;  // allowed error, relative to sum |w_i x_i| of the product

const table& scalar() { return *kernels::for_isa(kernels::isa::ISA_SCALAR); }
std::vector<const table*> simd_tables() {
    std::vector<const table*> v;
    for (const table* t : test::host_tables())
        if (t->level != kernels::isa::ISA_SCALAR) v.push_back(t);
    return v;
}
constexpr size_t k_q4k_r16 = 2368;  // R16 Q4_K super-block of 16 rows, as kernels.h states it
bool is_q4k(dtype t) { return t == dtype::DTYPE_Q4_K; }
size_t gguf_block(dtype t) { return dtype_info(t).type_size; }
int64_t gguf_block_elems(dtype t) { return dtype_info(t).block_size; }
int n_halves(dtype t) { return t == dtype::DTYPE_Q4_1 || is_q4k(t) ? 2 : 1; }  // F16 words per row in a block header
// GGUF block header bytes before the codes (Q4_K: d, dmin and the 12 packed scale bytes).
size_t gguf_header(dtype t) { return is_q4k(t) ? 4 + size_t(quant::K_SCALE_SIZE) : size_t(2 * n_halves(t)); }
// R16 bytes per packed block (a Q4_K super-block covers 256 elements) as kernels.h states them.
size_t r16_block(dtype t) {
    return is_q4k(t) ? k_q4k_r16 : t == dtype::DTYPE_Q8_0 ? 544 : t == dtype::DTYPE_Q4_1 ? 320 : 288;
}
// The row lengths a test runs per type: Q4_K needs whole 256-element super-blocks.
std::vector<int64_t> lengths(dtype t, std::vector<int64_t> legacy, std::vector<int64_t> q4k) {
    return is_q4k(t) ? q4k : legacy;
}
void wr16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
float rdf(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
int32_t rdi(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- weights

enum class wmode {
    QUANTIZED,  // quant::quantize_row of random floats; some rows all zero, some blocks with a zero scale
    RAW,        // random code bytes (every code, Q8_0's -128 included; every Q4_K 6-bit scale and min, as the packed
                // scale bytes are random too) with random F16 scales
    EXTREME,    // largest unsigned codes (15, Q8_0 127 / -128 in pairs, IQ4_NL level -127, Q4_K scales and mins 63)
                // with big scales
};

// rows GGUF rows of n elements, row r at out + r * stride.
void make_rows(dtype t, int64_t rows, int64_t n, wmode mode, std::mt19937& rng, uint8_t* out, size_t stride) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const size_t rb = dtype_row_bytes(t, n), bb = gguf_block(t), hdr = gguf_header(t);
    const int64_t nb = n / gguf_block_elems(t);
    for (int64_t r = 0; r < rows; ++r) {
        uint8_t* row = out + size_t(r) * stride;
        if (mode == wmode::QUANTIZED) {
            std::vector<float> v(static_cast<size_t>(n), 0.0f);
            const float s = r % 5 == 3 ? 2.0e4f : std::ldexp(1.0f, int(rng() % 13) - 6);
            if (r % 7 != 6)  // every 7th row all zero
                for (auto& e : v) e = s * (u(rng) + (n_halves(t) == 2 ? 0.4f : 0.0f));
            quant::quantize_row(t, v.data(), row, n);
            for (int64_t b = 0; b < nb; ++b) {
                if (rng() % 9 == 0) wr16(row + size_t(b) * bb, rng() % 2 ? 0x0000 : 0x8000);
                if (is_q4k(t) && rng() % 9 == 0) wr16(row + size_t(b) * bb + 2, 0x0000);  // dmin 0
            }
        } else {
            for (size_t i = 0; i < rb; ++i) row[i] = uint8_t(rng());
            for (int64_t b = 0; b < nb; ++b) {
                uint8_t* blk = row + size_t(b) * bb;
                const float s = mode == wmode::EXTREME ? 8.0f : 0.05f;
                wr16(blk, f32_to_f16(u(rng) * s));
                if (n_halves(t) == 2) wr16(blk + 2, f32_to_f16(u(rng) * s * 10.0f));
                if (mode == wmode::EXTREME && is_q4k(t))  // scales and mins all 63
                    std::memset(blk + 4, 0xFF, size_t(quant::K_SCALE_SIZE));
                if (mode == wmode::EXTREME)
                    for (size_t i = 0; i < bb - hdr; ++i) {
                        uint8_t c = 0xFF;                                           // nibbles 15
                        if (t == dtype::DTYPE_IQ4_NL) c = 0x00;                     // level -127
                        if (t == dtype::DTYPE_Q8_0) c = (i / 2) % 2 ? 0x80 : 0x7F;  // -128 / 127 in pairs
                        blk[hdr + i] = c;
                    }
            }
        }
    }
}

// The byte kernels.h puts at offset o of block b of group g, read from GGUF rows (row r at src + r * stride).
uint8_t expected_packed(dtype t, const uint8_t* src, size_t stride, int64_t n_rows, int64_t g, int64_t b, size_t o) {
    const size_t hb = size_t(32 * n_halves(t));
    int64_t r;
    size_t at;  // byte of the GGUF block
    bool flip = false;
    if (o < hb) {  // 16 F16 d (then 16 F16 m), row order
        r = int64_t((o % 32) / 2);
        at = 2 * (o / 32) + o % 2;
    } else {  // 64-byte code words: bytes [64j + 4r, 64j + 4r + 4) are qs[4j .. 4j + 3] of row r
        const size_t c = o - hb;
        r = int64_t((c % 64) / 4);
        at = size_t(2 * n_halves(t)) + 4 * (c / 64) + c % 4;
        flip = t == dtype::DTYPE_Q8_0;
    }
    const int64_t row = g * 16 + r;
    if (row >= n_rows) return 0;
    const uint8_t v = src[size_t(row) * stride + size_t(b) * gguf_block(t) + at];
    return flip ? uint8_t(v ^ 0x80) : v;
}

// The 6-bit scale and min of sub-block j from a GGUF Q4_K block's 12 packed scale bytes (GGUF's get_scale_min_k4).
void q4k_scale_min(const uint8_t* q, int j, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// The byte kernels.h puts at offset o of Q4_K super-block b of group g: 16 F16 d, 16 F16 dmin, 8 x 16 scales, 8 x 16
// mins (byte 16j + r: row r, sub-block j), then per chunk c 8 x 64 B: bytes [64w + 4r, +4) are qs[32c + 4w, +4).
uint8_t expected_packed_q4k(const uint8_t* src, size_t stride, int64_t n_rows, int64_t g, int64_t b, size_t o) {
    int64_t r;
    int field = 0;  // 0: a byte of the GGUF block, 1: a scale, 2: a min
    size_t at = 0;  // GGUF byte, or sub-block for a scale or min
    if (o < 64) {
        r = int64_t((o % 32) / 2);
        at = 2 * (o / 32) + o % 2;
    } else if (o < 320) {
        field = o < 192 ? 1 : 2;
        r = int64_t((o - 64) % 16);
        at = ((o - 64) / 16) % 8;
    } else {
        const size_t c = (o - 320) / 512, q = (o - 320) % 512;
        r = int64_t((q % 64) / 4);
        at = 4 + size_t(quant::K_SCALE_SIZE) + 32 * c + 4 * (q / 64) + q % 4;
    }
    const int64_t row = g * 16 + r;
    if (row >= n_rows) return 0;
    const uint8_t* blk = src + size_t(row) * stride + size_t(b) * sizeof(quant::block_q4_k);
    if (field == 0) return blk[at];
    int sc = 0, m = 0;
    q4k_scale_min(blk + 4, int(at), &sc, &m);
    return uint8_t(field == 1 ? sc : m);
}

// Each packed Q4_K element's value as kernels.h defines it, d * scale_j * code - dmin * min_j, against the reference
// dequantisation of the GGUF row.
void check_q4k_values(const uint8_t* packed, const uint8_t* src, size_t stride, int64_t n_rows, int64_t n,
                      const std::string& what) {
    const int64_t nsb = n / quant::QK_K;
    std::vector<float> ref(static_cast<size_t>(n));
    for (int64_t row = 0; row < n_rows; ++row) {
        quant::dequantize_row(dtype::DTYPE_Q4_K, src + size_t(row) * stride, ref.data(), n);
        const int64_t g = row / 16, r = row % 16;
        for (int64_t b = 0; b < nsb; ++b) {
            const uint8_t* pb = packed + size_t(g * nsb + b) * k_q4k_r16;
            uint16_t hd, hm;
            std::memcpy(&hd, pb + 2 * r, 2);
            std::memcpy(&hm, pb + 32 + 2 * r, 2);
            const double d = f16_to_f32(hd), dmin = f16_to_f32(hm);
            for (int e = 0; e < quant::QK_K; ++e) {
                const int c = e / 64, hi = (e % 64) / 32, k = e % 32, j = 2 * c + hi;
                const uint8_t byte = pb[320 + 512 * c + 64 * (k / 4) + 4 * r + k % 4];
                const int code = hi ? byte >> 4 : byte & 15;
                const double want = d * pb[64 + 16 * j + r] * code - dmin * pb[192 + 16 * j + r];
                const double got = ref[size_t(b * quant::QK_K + e)];
                ASSERT_NEAR(got, want, 1e-6 * (std::fabs(want) + std::fabs(dmin * pb[192 + 16 * j + r])))
                    << what << " row " << row << " element " << b * quant::QK_K + e;
            }
        }
    }
}

TEST(quant_r16, repack_layout_and_round_trip) {
    std::mt19937 rng(5);
    for (dtype t : k_types) {
        for (int64_t n_rows : {1, 15, 16, 17, 40}) {
            for (int64_t n : lengths(t, {32, 96, 256}, {256, 512})) {
                for (wmode mode : {wmode::QUANTIZED, wmode::RAW, wmode::EXTREME}) {
                    const std::string what = std::string(dtype_name(t)) + " rows=" + std::to_string(n_rows) +
                                             " n=" + std::to_string(n);
                    const size_t rb = dtype_row_bytes(t, n), stride = rb + 2;  // odd base, even stride: all odd
                    std::vector<uint8_t> src(1 + stride * size_t(n_rows) + 8, 0xEE);
                    make_rows(t, n_rows, n, mode, rng, src.data() + 1, stride);
                    const int64_t groups = div_up(n_rows, 16), nb = n / (is_q4k(t) ? quant::QK_K : QK);
                    const size_t bytes = quant::r16_bytes(t, n_rows, n);
                    ASSERT_EQ(quant::r16_block_bytes(t), is_q4k(t) ? r16_block(t) / 8 : r16_block(t)) << what;
                    ASSERT_EQ(bytes, size_t(groups * nb) * r16_block(t)) << what;
                    std::vector<uint8_t> packed(bytes + 1 + 16, 0xA5);  // packed at an odd address too
                    quant::repack_r16(t, src.data() + 1, stride, n_rows, n, packed.data() + 1);
                    ASSERT_EQ(packed[0], 0xA5) << what;
                    for (size_t i = bytes + 1; i < packed.size(); ++i) ASSERT_EQ(packed[i], 0xA5) << what;
                    // every byte where kernels.h puts it, rows past n_rows zero
                    for (int64_t g = 0; g < groups; ++g)
                        for (int64_t b = 0; b < nb; ++b)
                            for (size_t o = 0; o < r16_block(t); ++o) {
                                const size_t at = 1 + size_t(g * nb + b) * r16_block(t) + o;
                                const uint8_t want =
                                    is_q4k(t) ? expected_packed_q4k(src.data() + 1, stride, n_rows, g, b, o)
                                              : expected_packed(t, src.data() + 1, stride, n_rows, g, b, o);
                                ASSERT_EQ(packed[at], want)
                                    << what << " group " << g << " block " << b << " byte " << o;
                            }
                    if (is_q4k(t)) check_q4k_values(packed.data() + 1, src.data() + 1, stride, n_rows, n, what);
                    // unpack gives back exactly the source row, no more bytes
                    for (int64_t r = 0; r < n_rows; ++r) {
                        std::vector<uint8_t> out(1 + rb + 4, 0x5A);
                        quant::unpack_r16_row(t, packed.data() + 1, r, n, out.data() + 1);
                        ASSERT_EQ(out[0], 0x5A) << what;
                        ASSERT_EQ(std::memcmp(out.data() + 1, src.data() + 1 + size_t(r) * stride, rb), 0)
                            << what << " row " << r;
                        for (size_t i = 1 + rb; i < out.size(); ++i) ASSERT_EQ(out[i], 0x5A) << what;
                    }
                }
            }
        }
    }
}

// ---- activations

// n_tok rows of n floats (stride ldx) that probe the quantiser: ties, zeros, a lone value, big and small magnitudes.
std::vector<float> activation_rows(std::mt19937& rng, int64_t n_tok, int64_t n, int64_t ldx, int zero_token = -1) {
    std::vector<float> x(size_t(n_tok * ldx) + 8, 0.0f);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::uniform_int_distribution<int> e(-40, 40);
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t b = 0; b < n / QK; ++b) {
            float* v = x.data() + t * ldx + b * QK;
            if (t == zero_token) continue;  // the whole token zero
            switch ((t * 7 + b) % 9) {
                case 0:  // amax 127: id = 1, exact ties k + 0.5 round to even
                    for (int j = 0; j < QK; ++j) v[j] = float(j - 16) + 0.5f;
                    v[5] = -127.0f;
                    break;
                case 1:  // all zero (signed zeros): d = 0, codes 0
                    for (int j = 0; j < QK; ++j) v[j] = (j & 1) ? -0.0f : 0.0f;
                    break;
                case 2:  // one non-zero element
                    v[size_t(b + t) % QK] = -3.25e-3f;
                    break;
                case 3:  // large magnitude
                    for (int j = 0; j < QK; ++j) v[j] = u(rng) * 1.0e25f;
                    break;
                case 4:  // all at +-amax: codes +-127
                    for (int j = 0; j < QK; ++j) v[j] = (t % 2 ? -1.0f : 1.0f) * 6.5f;
                    break;
                default: {
                    const float s = std::ldexp(1.0f, e(rng));
                    for (int j = 0; j < QK; ++j) v[j] = u(rng) * s;
                }
            }
        }
    }
    return x;
}

// Quantises n_tok token rows into ceil(n_tok / 8) panels with a table's quantiser.
std::vector<uint8_t> make_panels(const table& tb, const float* x, int64_t ldx, int64_t n_tok, int64_t n,
                                 int32_t sum_mode) {
    const size_t panel_bytes = size_t(n / QK) * k_pb;
    std::vector<uint8_t> p(size_t(div_up(n_tok, k_panel)) * panel_bytes, 0xA5);
    for (int64_t t0 = 0; t0 < n_tok; t0 += k_panel)
        tb.quantize_panel_q8(x + t0 * ldx, ldx, std::min(k_panel, n_tok - t0),
                             p.data() + size_t(t0 / k_panel) * panel_bytes, n, sum_mode);
    return p;
}

// The panel quantiser against kernels.h: per token and block d = max|x| / 127, codes = nearbyint(x * (127 / max|x|))
// (0 when max|x| = 0), the sum word per sum_mode; slots past n_tok zero. Also each code times d is within d / 2
// (plus rounding) of x.
void check_panel_definition(const uint8_t* panel, const float* x, int64_t ldx, int64_t n_tok, int64_t n,
                            int32_t sum_mode, const std::string& what) {
    for (int64_t b = 0; b < n / QK; ++b) {
        const uint8_t* pb = panel + size_t(b) * k_pb;
        for (int64_t t = 0; t < k_panel; ++t) {
            const std::string at = what + " block " + std::to_string(b) + " token " + std::to_string(t);
            const int8_t* q = reinterpret_cast<const int8_t*>(pb + 32 * t);
            if (t >= n_tok) {
                for (int i = 0; i < QK; ++i) ASSERT_EQ(q[i], 0) << at;
                ASSERT_EQ(rdi(pb + 256 + 4 * t), 0) << at;
                ASSERT_EQ(rdi(pb + 288 + 4 * t), 0) << at;
                continue;
            }
            const float* xb = x + t * ldx + b * QK;
            float amax = 0.0f;
            for (int i = 0; i < QK; ++i) amax = std::max(amax, std::fabs(xb[i]));
            const float d = rdf(pb + 256 + 4 * t);
            ASSERT_EQ(d, amax / 127.0f) << at;
            int32_t sum = 0, qmax = 0;
            for (int i = 0; i < QK; ++i) {
                const int32_t want = amax > 0.0f ? int32_t(std::nearbyint(xb[i] * (127.0f / amax))) : 0;
                ASSERT_EQ(int32_t(q[i]), want) << at << " element " << i;
                ASSERT_LE(std::fabs(double(q[i]) * double(d) - double(xb[i])), 0.50002 * double(d)) << at;
                sum += q[i];
                qmax = std::max(qmax, int32_t(std::abs(q[i])));
            }
            ASSERT_EQ(qmax, amax > 0.0f ? 127 : 0) << at;
            if (sum_mode == kernels::k_r16_sum_halves) {
                int32_t lo = 0;
                for (int i = 0; i < QK / 2; ++i) lo += q[i];
                int16_t h[2];
                std::memcpy(h, pb + 288 + 4 * t, 4);
                ASSERT_EQ(int32_t(h[0]), lo) << at;
                ASSERT_EQ(int32_t(h[1]), sum - lo) << at;
            } else if (sum_mode > 0) {
                ASSERT_EQ(rdi(pb + 288 + 4 * t), -sum_mode * sum) << at;
            } else {
                ASSERT_EQ(rdf(pb + 288 + 4 * t), d * float(sum)) << at;
            }
        }
    }
}

TEST(quant_r16, panel_quantiser_matches_definition) {
    std::mt19937 rng(17);
    for (const table* tb : test::host_tables()) {
        for (int32_t sum_mode : {8, 128, 0, kernels::k_r16_sum_halves}) {
            for (int64_t n : {32, 96, 2048}) {
                for (int64_t n_tok = 1; n_tok <= k_panel; ++n_tok) {
                    const int64_t ldx = n + 3;  // rows at unaligned addresses
                    const std::vector<float> x = activation_rows(rng, n_tok, n, ldx, n_tok > 2 ? 1 : -1);
                    std::vector<uint8_t> p(size_t(n / QK) * k_pb + 16, 0xA5);
                    tb->quantize_panel_q8(x.data() + 1, ldx, n_tok, p.data(), n, sum_mode);
                    for (size_t i = size_t(n / QK) * k_pb; i < p.size(); ++i) ASSERT_EQ(p[i], 0xA5);
                    check_panel_definition(p.data(), x.data() + 1, ldx, n_tok, n, sum_mode,
                                           std::string(kernels::isa_name(tb->level)) + " mode " +
                                               std::to_string(sum_mode) + " n=" + std::to_string(n) +
                                               " n_tok=" + std::to_string(n_tok));
                }
            }
        }
    }
}

TEST(quant_r16, panel_quantiser_simd_bit_exact) {
    std::mt19937 rng(23);
    for (const table* tb : simd_tables()) {
        for (int32_t sum_mode : {8, 128, 0, kernels::k_r16_sum_halves}) {
            for (int64_t n : {32, 256, 5632}) {
                for (int64_t n_tok = 1; n_tok <= k_panel; ++n_tok) {
                    const int64_t ldx = n + 5;
                    const std::vector<float> x = activation_rows(rng, n_tok, n, ldx, n_tok == 5 ? 3 : -1);
                    const size_t bytes = size_t(n / QK) * k_pb;
                    std::vector<uint8_t> ref(bytes, 0xA5), got(bytes, 0x5A);
                    scalar().quantize_panel_q8(x.data() + 3, ldx, n_tok, ref.data(), n, sum_mode);
                    tb->quantize_panel_q8(x.data() + 3, ldx, n_tok, got.data(), n, sum_mode);
                    for (size_t i = 0; i < bytes; ++i)
                        ASSERT_EQ(got[i], ref[i]) << kernels::isa_name(tb->level) << " mode " << sum_mode
                                                  << " n=" << n << " n_tok=" << n_tok << " byte " << i
                                                  << " (block " << i / k_pb << ", offset " << i % k_pb << ")";
                }
            }
        }
    }
}

// ---- matmuls

// Weights (GGUF rows and their R16 form at an odd address), activation panels, and the double-precision oracle of
// every product: dot(dequantize_row(W row), codes * d of the panel), with sum |w_i x_i| as its magnitude.
struct problem {
    dtype type{};
    int64_t n_rows = 0, n = 0, n_tok = 0;
    std::vector<uint8_t> packed_store;
    const uint8_t* packed = nullptr;
    std::vector<uint8_t> panels;
    std::vector<double> oracle, mag;  // [t * n_rows + r]
};

problem make_problem(dtype type, int64_t n_rows, int64_t n, int64_t n_tok, wmode wm, bool extreme_x,
                     std::mt19937& rng) {
    problem p;
    p.type = type;
    p.n_rows = n_rows;
    p.n = n;
    p.n_tok = n_tok;
    const size_t rb = dtype_row_bytes(type, n);
    std::vector<uint8_t> gguf(rb * size_t(n_rows));
    make_rows(type, n_rows, n, wm, rng, gguf.data(), rb);
    const size_t bytes = quant::r16_bytes(type, n_rows, n);
    p.packed_store.assign(bytes + 3, 0xEE);
    p.packed = p.packed_store.data() + 3;
    quant::repack_r16(type, gguf.data(), rb, n_rows, n, p.packed_store.data() + 3);

    const int64_t ldx = n + 1;
    std::vector<float> x = activation_rows(rng, n_tok, n, ldx, n_tok > 3 ? 2 : -1);
    if (extreme_x)  // all codes +127, or -127, with the big blocks' scales: the largest pair sums
        for (int64_t t = 0; t < n_tok; ++t)
            for (int64_t i = 0; i < n; ++i) x[size_t(t * ldx + i)] = (t + i / QK) % 3 == 1 ? -1.0e3f : 1.0e3f;
    p.panels = make_panels(scalar(), x.data(), ldx, n_tok, n, kernels::r16_sum_mode(type));

    std::vector<double> wd(size_t(n_rows * n)), xd(size_t(n_tok * n));
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = 0; r < n_rows; ++r) {
        quant::dequantize_row(type, gguf.data() + size_t(r) * rb, row.data(), n);
        for (int64_t i = 0; i < n; ++i) wd[size_t(r * n + i)] = row[size_t(i)];
    }
    const size_t panel_bytes = size_t(n / QK) * k_pb;
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t b = 0; b < n / QK; ++b) {
            const uint8_t* pb = p.panels.data() + size_t(t / k_panel) * panel_bytes + size_t(b) * k_pb;
            const int64_t s = t % k_panel;
            const double d = rdf(pb + 256 + 4 * s);
            for (int i = 0; i < QK; ++i)
                xd[size_t(t * n + b * QK + i)] = double(reinterpret_cast<const int8_t*>(pb + 32 * s)[i]) * d;
        }
    p.oracle.assign(size_t(n_rows * n_tok), 0.0);
    p.mag.assign(size_t(n_rows * n_tok), 0.0);
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t r = 0; r < n_rows; ++r) {
            double dot = 0.0, m = 0.0;
            for (int64_t i = 0; i < n; ++i) {
                const double v = wd[size_t(r * n + i)] * xd[size_t(t * n + i)];
                dot += v;
                m += std::fabs(v);
            }
            p.oracle[size_t(t * n_rows + r)] = dot;
            p.mag[size_t(t * n_rows + r)] = m;
        }
    return p;
}

std::string label(const table& tb, const problem& p, wmode wm, bool extreme_x) {
    return std::string(kernels::isa_name(tb.level)) + " " + dtype_name(p.type) + " rows=" + std::to_string(p.n_rows) +
           " n=" + std::to_string(p.n) + " n_tok=" + std::to_string(p.n_tok) + " w=" + std::to_string(int(wm)) +
           (extreme_x ? " x=extreme" : "");
}

// Runs a table's R16 kernel into y (ldy = n_rows + 5, sentinel-filled) and checks nothing else was written: not the
// padded rows of the last group, not the rows up to ldy, nothing past the last token.
std::vector<float> run(const table& tb, const problem& p, const std::string& what) {
    const int64_t ldy = p.n_rows + 5;
    const float sentinel = -777.25f;
    std::vector<float> y(size_t(ldy * p.n_tok) + 32, sentinel);
    const kernels::matmul_r16_fn fn = kernels::matmul_r16_for(tb, p.type);
    EXPECT_NE(fn, nullptr) << what;
    if (!fn) return y;
    fn(p.packed, p.n_rows, p.panels.data(), p.n_tok, y.data(), ldy, p.n);
    int64_t stray = 0, first = -1;
    for (size_t i = 0; i < y.size(); ++i) {
        const int64_t t = int64_t(i) / ldy, r = int64_t(i) % ldy;
        if ((t >= p.n_tok || r >= p.n_rows) && y[i] != sentinel) {
            ++stray;
            if (first < 0) first = int64_t(i);
        }
    }
    EXPECT_EQ(stray, 0) << what << " wrote outside its outputs, first at t=" << first / ldy << " r=" << first % ldy;
    return y;
}

TEST(quant_r16, scalar_matmul_matches_dequantised_oracle) {
    std::mt19937 rng(29);
    for (dtype type : k_types) {
        for (int64_t n_rows : {1, 16, 17, 40}) {
            for (int64_t n : lengths(type, {32, 256, 1024}, {256, 1024})) {
                for (int64_t n_tok : {1, 3, 8, 9, 17}) {
                    for (wmode wm : {wmode::QUANTIZED, wmode::RAW, wmode::EXTREME}) {
                        const bool ex = wm == wmode::EXTREME && n_tok % 2 == 1;
                        const problem p = make_problem(type, n_rows, n, n_tok, wm, ex, rng);
                        const std::string what = label(scalar(), p, wm, ex);
                        const std::vector<float> y = run(scalar(), p, what);
                        const int64_t ldy = n_rows + 5;
                        for (int64_t t = 0; t < n_tok; ++t)
                            for (int64_t r = 0; r < n_rows; ++r) {
                                const double want = p.oracle[size_t(t * n_rows + r)];
                                const double tol = k_rel * p.mag[size_t(t * n_rows + r)];
                                ASSERT_NEAR(double(y[size_t(t * ldy + r)]), want, tol)
                                    << what << " t=" << t << " r=" << r;
                            }
                    }
                }
            }
        }
    }
}

TEST(quant_r16, tables_have_their_own_kernels) {
    for (dtype type : k_types) {
        ASSERT_NE(kernels::matmul_r16_for(scalar(), type), nullptr);
        EXPECT_EQ(kernels::r16_sum_mode(type), type == dtype::DTYPE_Q4_0                           ? 8
                                               : type == dtype::DTYPE_Q4_1 || type == dtype::DTYPE_Q4_K ? 0
                                                                                                   : 128)
            << dtype_name(type);
    }
    EXPECT_EQ(kernels::matmul_r16_for(scalar(), dtype::DTYPE_Q5_0), nullptr);
    EXPECT_EQ(kernels::r16_sum_mode(dtype::DTYPE_Q5_0), -1);
    const table* avx2 = kernels::for_isa(kernels::isa::ISA_AVX2);
    const table* avx512 = kernels::for_isa(kernels::isa::ISA_AVX512);
    const table* vnni = kernels::for_isa(kernels::isa::ISA_AVX512_VNNI);
    if (avx2) {
        EXPECT_NE(avx2->quantize_panel_q8, scalar().quantize_panel_q8);
        for (dtype type : k_types)
            EXPECT_NE(kernels::matmul_r16_for(*avx2, type), kernels::matmul_r16_for(scalar(), type))
                << dtype_name(type);
    }
    if (avx2 && avx512) {
        EXPECT_NE(avx512->quantize_panel_q8, avx2->quantize_panel_q8);
        for (dtype type : k_types)
            EXPECT_NE(kernels::matmul_r16_for(*avx512, type), kernels::matmul_r16_for(*avx2, type)) << dtype_name(type);
    }
    const table* avx2_vnni = kernels::for_isa(kernels::isa::ISA_AVX2_VNNI);
    if (avx2 && avx2_vnni) {
        EXPECT_EQ(avx2_vnni->quantize_panel_q8, avx2->quantize_panel_q8);  // inherited
        for (dtype type : k_types) {
            EXPECT_NE(kernels::matmul_r16_for(*avx2_vnni, type), nullptr) << dtype_name(type);
            EXPECT_NE(kernels::matmul_r16_for(*avx2_vnni, type), kernels::matmul_r16_for(*avx2, type))
                << dtype_name(type);
        }
    }
    if (avx512 && vnni) {
        EXPECT_EQ(vnni->quantize_panel_q8, avx512->quantize_panel_q8);  // inherited
        for (dtype type : k_types)
            EXPECT_NE(kernels::matmul_r16_for(*vnni, type), kernels::matmul_r16_for(*avx512, type)) << dtype_name(type);
    }
}

TEST(quant_r16, simd_matmuls_match_scalar) {
    const std::vector<const table*> tables = simd_tables();
    if (tables.empty()) GTEST_SKIP() << "no SIMD table on this host";
    std::mt19937 rng(31);
    for (dtype type : k_types) {
        for (int64_t n_rows : {16, 17, 48}) {
            for (int64_t n : lengths(type, {32, 256, 2048}, {256, 2048})) {
                for (int64_t n_tok : {1, 2, 3, 7, 8, 9, 16, 17, 33}) {
                    const wmode wm = n_tok % 3 == 0 ? wmode::RAW : n_tok % 3 == 1 ? wmode::QUANTIZED : wmode::EXTREME;
                    const bool ex = wm == wmode::EXTREME && n_tok % 2 == 1;
                    const problem p = make_problem(type, n_rows, n, n_tok, wm, ex, rng);
                    const std::vector<float> ref = run(scalar(), p, label(scalar(), p, wm, ex));
                    for (const table* tb : tables) {
                        const std::string what = label(*tb, p, wm, ex);
                        const std::vector<float> y = run(*tb, p, what);
                        const int64_t ldy = n_rows + 5;
                        for (int64_t t = 0; t < n_tok; ++t)
                            for (int64_t r = 0; r < n_rows; ++r) {
                                const size_t i = size_t(t * ldy + r);
                                const double tol = k_rel * p.mag[size_t(t * n_rows + r)];
                                ASSERT_NEAR(double(y[i]), double(ref[i]), tol) << what << " t=" << t << " r=" << r;
                            }
                    }
                }
            }
        }
    }
}

// n_rows = 0, n_tok = 0 and n = 0 are no-ops or write zeros, on every table.
TEST(quant_r16, empty_shapes) {
    std::vector<uint8_t> w(544 * 8, 0x11), panel(k_pb * 8, 0);  // 16 rows of 256 elements of any type
    for (const table* tb : test::host_tables())
        for (dtype type : k_types) {
            const kernels::matmul_r16_fn fn = kernels::matmul_r16_for(*tb, type);
            std::vector<float> y(64, 5.0f);
            fn(w.data(), 0, panel.data(), 3, y.data(), 16, 256);
            fn(w.data(), 16, panel.data(), 0, y.data(), 16, 256);
            for (float v : y) ASSERT_EQ(v, 5.0f) << kernels::isa_name(tb->level) << " " << dtype_name(type);
            fn(w.data(), 3, panel.data(), 2, y.data(), 4, 0);
            for (int i = 0; i < 8; ++i)
                ASSERT_EQ(y[size_t(i)], i % 4 < 3 ? 0.0f : 5.0f) << kernels::isa_name(tb->level) << " "
                                                                  << dtype_name(type) << " " << i;
        }
}

}  // namespace
}  // namespace fathom
