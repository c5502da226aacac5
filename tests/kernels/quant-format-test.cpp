// Block formats: dequantisation against an independent NumPy decoder, hand-built blocks, activation quantisers,
// round-trip error bounds, importance weighting, determinism and per-type facts.
//
// Dequantisation must match tests/reference/quant_ref.py bit for bit: both compute in float32 with one rounding per
// operation in the same order. (On targets whose baseline ISA has FMA the compiler may fuse q * d + m; the test then
// allows one rounding of the product, see k_fused_tolerance.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace fathom {
namespace {

using quant::QK;
using quant::QK_K;
using D = dtype;

#if defined(__FMA__) || defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
constexpr bool k_fused_tolerance = true;
#else
constexpr bool k_fused_tolerance = false;
#endif

const D k_all_types[] = {D::DTYPE_Q4_0, D::DTYPE_Q4_1, D::DTYPE_Q5_0, D::DTYPE_Q5_1, D::DTYPE_Q8_0, D::DTYPE_Q8_1,
                         D::DTYPE_IQ4_NL, D::DTYPE_Q4_K, D::DTYPE_Q5_K, D::DTYPE_Q6_K, D::DTYPE_Q8_K,
                         D::DTYPE_IQ4_XS};
const D k_weight_types[] = {D::DTYPE_Q4_0, D::DTYPE_Q4_1, D::DTYPE_Q5_0, D::DTYPE_Q5_1, D::DTYPE_Q8_0,
                            D::DTYPE_IQ4_NL, D::DTYPE_Q4_K, D::DTYPE_Q5_K, D::DTYPE_Q6_K, D::DTYPE_IQ4_XS};

int64_t block_size(D t) { return dtype_info(t).block_size; }
size_t type_size(D t) { return dtype_info(t).type_size; }

std::vector<float> dequant(D t, const std::vector<uint8_t>& blocks) {
    const int64_t n = int64_t(blocks.size() / type_size(t)) * block_size(t);
    std::vector<float> y(size_t(n), std::nanf(""));
    quant::dequantize_row(t, blocks.data(), y.data(), n);
    return y;
}

std::vector<uint8_t> quantize(D t, const std::vector<float>& x, const float* importance = nullptr) {
    std::vector<uint8_t> b(dtype_row_bytes(t, int64_t(x.size())), 0xA5);
    quant::quantize_row(t, x.data(), b.data(), int64_t(x.size()), importance);
    return b;
}

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, sigma);
    std::vector<float> v(n);
    for (float& x : v) x = g(rng);
    return v;
}

// Gaussian data where one element in 97 is ten times larger (outliers, as in real weight matrices).
std::vector<float> with_outliers(size_t n, uint32_t seed) {
    std::vector<float> v = gaussian(n, seed);
    for (size_t i = 13; i < n; i += 97) v[i] *= 10.0f;
    return v;
}

double rel_rmse(const std::vector<float>& x, const std::vector<float>& y, const std::vector<float>* w = nullptr) {
    double e = 0.0, s = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double wi = w ? (*w)[i] : 1.0;
        e += wi * (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
        s += wi * double(x[i]) * x[i];
    }
    return std::sqrt(e / s);
}

// ---- NumPy oracle

std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

// Runs cmd with stdout+stderr into a log; returns the exit status and the log text.
int run_logged(const std::string& cmd, const std::filesystem::path& log_path, std::string* log) {
    int rc = std::system((cmd + " > " + shell_quote(log_path.string()) + " 2>&1").c_str());
    std::ifstream in(log_path);
    log->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return rc;
}

std::filesystem::path make_temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fathom-quant-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return {};
    return tmpl;
}

// Random blocks of type t: random bytes everywhere, then every scale field set to a finite f16 (or f32 for Q8_K)
// of random sign and magnitude between 2^-10 and 2^4, so no NaN / Inf reaches the comparison.
std::vector<uint8_t> random_blocks(D t, int64_t nblocks, std::mt19937& rng) {
    std::vector<uint8_t> b(size_t(nblocks) * type_size(t));
    std::uniform_int_distribution<int> byte(0, 255);
    for (uint8_t& v : b) v = uint8_t(byte(rng));
    std::uniform_real_distribution<float> expo(-10.0f, 4.0f);
    std::bernoulli_distribution neg(0.5);
    auto scale = [&]() { return (neg(rng) ? -1.0f : 1.0f) * std::exp2(expo(rng)); };
    auto put16 = [&](uint8_t* p) {
        uint16_t h = f32_to_f16(scale());
        std::memcpy(p, &h, 2);
    };
    for (int64_t i = 0; i < nblocks; ++i) {
        uint8_t* p = b.data() + size_t(i) * type_size(t);
        switch (t) {
            case D::DTYPE_Q4_0: case D::DTYPE_Q5_0: case D::DTYPE_Q8_0: case D::DTYPE_IQ4_NL: case D::DTYPE_IQ4_XS:
                put16(p);
                break;
            case D::DTYPE_Q4_1: case D::DTYPE_Q5_1: case D::DTYPE_Q8_1: case D::DTYPE_Q4_K: case D::DTYPE_Q5_K:
                put16(p);
                put16(p + 2);
                break;
            case D::DTYPE_Q6_K:
                put16(p + offsetof(quant::block_q6_k, d));
                break;
            case D::DTYPE_Q8_K: {
                float f = scale();
                std::memcpy(p, &f, 4);
                break;
            }
            default:
                break;
        }
    }
    return b;
}

bool python_ready(std::string* why) {
    static int state = -1;
    static std::string reason;
    if (state < 0) {
        std::filesystem::path dir = make_temp_dir();
        std::string log;
        int rc = run_logged(shell_quote(FATHOM_PYTHON) + " -c 'import numpy'", dir / "probe.log", &log);
        std::filesystem::remove_all(dir);
        state = rc == 0 ? 1 : 0;
        reason = std::string(FATHOM_PYTHON) + " -c 'import numpy' exited with " + std::to_string(rc) + ": " + log;
    }
    *why = reason;
    return state == 1;
}

float block_max(const std::vector<float>& y, size_t i, int64_t bs) {
    float m = 0.0f;
    for (size_t j = i - i % size_t(bs); j < i - i % size_t(bs) + size_t(bs); ++j) m = std::fmax(m, std::fabs(y[j]));
    return m;
}

TEST(QuantFormat, DequantizeMatchesNumpyReference) {
    std::string why;
    if (!python_ready(&why)) GTEST_SKIP() << "NumPy reference test skipped: " << why;
    const std::filesystem::path dir = make_temp_dir();
    ASSERT_FALSE(dir.empty());
    std::mt19937 rng(1234);
    constexpr int64_t nblocks = 96;
    std::vector<std::vector<uint8_t>> blocks;
    std::string types;
    for (D t : k_all_types) {
        blocks.push_back(random_blocks(t, nblocks, rng));
        std::ofstream(dir / (std::string(dtype_name(t)) + ".bin"), std::ios::binary)
            .write(reinterpret_cast<const char*>(blocks.back().data()), std::streamsize(blocks.back().size()));
        types += std::string(" ") + dtype_name(t);
    }
    std::string log;
    const std::string cmd = shell_quote(FATHOM_PYTHON) + " " +
                            shell_quote(FATHOM_SOURCE_DIR "/tests/reference/quant_ref.py") + " " +
                            shell_quote(dir.string()) + types;
    ASSERT_EQ(run_logged(cmd, dir / "ref.log", &log), 0) << cmd << "\n" << log;
    size_t k = 0;
    for (D t : k_all_types) {
        const std::vector<float> ours = dequant(t, blocks[k++]);
        std::vector<float> ref(ours.size());
        std::ifstream in(dir / (std::string(dtype_name(t)) + ".f32"), std::ios::binary);
        in.read(reinterpret_cast<char*>(ref.data()), std::streamsize(ref.size() * sizeof(float)));
        ASSERT_TRUE(in) << dtype_name(t) << ": short reference output";
        const bool fused = k_fused_tolerance && (t == D::DTYPE_Q4_1 || t == D::DTYPE_Q5_1 || t == D::DTYPE_Q4_K ||
                                                 t == D::DTYPE_Q5_K);
        int mismatches = 0;
        for (size_t i = 0; i < ours.size() && mismatches < 5; ++i) {
            const bool same = std::memcmp(&ours[i], &ref[i], 4) == 0;
            // Fused multiply-add skips the product's rounding; bound it relative to the block's largest value.
            const bool close = fused && std::fabs(ours[i] - ref[i]) <= 1e-6f * block_max(ref, i, block_size(t));
            if (!same && !close) {
                ++mismatches;
                ADD_FAILURE() << dtype_name(t) << " element " << i << " (block " << i / size_t(block_size(t))
                              << "): ours " << ours[i] << " numpy " << ref[i];
            }
        }
    }
    std::filesystem::remove_all(dir);
}

// ---- hand-built blocks (each exposes a nibble / bit order: a wrong layout moves a value to another element)

template <class B>
std::vector<uint8_t> bytes_of(const B& b) {
    std::vector<uint8_t> v(sizeof b);
    std::memcpy(v.data(), &b, sizeof b);
    return v;
}

// Expects y == want everywhere except the listed (index, value) overrides.
void expect_values(const char* what, const std::vector<float>& y, float base,
                   std::initializer_list<std::pair<int, float>> special) {
    std::vector<float> want(y.size(), base);
    for (auto [i, v] : special) want[size_t(i)] = v;
    for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], want[i]) << what << " element " << i;
}

constexpr uint16_t H_ONE = 0x3C00, H_HALF = 0x3800, H_TWO = 0x4000, H_MINUS_ONE = 0xBC00, H_ZERO = 0;

TEST(QuantFormat, HandBuiltLegacyBlocks) {
    {
        quant::block_q4_0 b{};
        b.d = H_ONE;
        std::memset(b.qs, 0x88, sizeof b.qs);  // code 8 -> 0
        b.qs[3] = 0x2B;                        // element 3: 11 - 8, element 19: 2 - 8
        expect_values("q4_0", dequant(D::DTYPE_Q4_0, bytes_of(b)), 0.0f, {{3, 3.0f}, {19, -6.0f}});
    }
    {
        quant::block_q4_1 b{};
        b.d = H_HALF;
        b.m = H_MINUS_ONE;
        b.qs[5] = 0xF1;  // element 5: 0.5 * 1 - 1, element 21: 0.5 * 15 - 1
        expect_values("q4_1", dequant(D::DTYPE_Q4_1, bytes_of(b)), -1.0f, {{5, -0.5f}, {21, 6.5f}});
    }
    {
        quant::block_q5_0 b{};
        b.d = H_ONE;
        std::memset(b.qh, 0xFF, sizeof b.qh);  // fifth bits set, low bits 0: code 16 -> 0
        b.qs[2] = 0x53;                        // element 2: low 3, element 18: low 5
        b.qh[0] = 0xFB;                        // clear bit 2: element 2 -> 3 - 16
        b.qh[3] = 0x7F;                        // clear bit 31: element 31 -> 0 - 16
        expect_values("q5_0", dequant(D::DTYPE_Q5_0, bytes_of(b)), 0.0f, {{2, -13.0f}, {18, 5.0f}, {31, -16.0f}});
    }
    {
        quant::block_q5_1 b{};
        b.d = H_ONE;
        b.m = H_ZERO;
        b.qh[0] = 0x01;  // element 0: 16
        b.qs[0] = 0x70;  // element 16: low 7
        b.qh[2] = 0x01;  // bit 16: element 16: 7 + 16
        expect_values("q5_1", dequant(D::DTYPE_Q5_1, bytes_of(b)), 0.0f, {{0, 16.0f}, {16, 23.0f}});
    }
    {
        quant::block_q8_0 b{};
        b.d = H_TWO;
        b.qs[7] = -5;
        b.qs[31] = 127;
        expect_values("q8_0", dequant(D::DTYPE_Q8_0, bytes_of(b)), 0.0f, {{7, -10.0f}, {31, 254.0f}});
    }
    {
        quant::block_q8_1 b{};
        b.d = H_HALF;
        b.s = H_TWO;  // not used by dequantisation
        b.qs[0] = -128;
        expect_values("q8_1", dequant(D::DTYPE_Q8_1, bytes_of(b)), 0.0f, {{0, -64.0f}});
    }
    {
        quant::block_iq4_nl b{};
        b.d = H_HALF;
        std::memset(b.qs, 0x88, sizeof b.qs);  // level 1
        b.qs[0] = 0xF0;                        // element 0: level -127, element 16: level 113
        b.qs[9] = 0x78;                        // element 25: level -10
        expect_values("iq4_nl", dequant(D::DTYPE_IQ4_NL, bytes_of(b)), 0.5f, {{0, -63.5f}, {16, 56.5f}, {25, -5.0f}});
    }
}

TEST(QuantFormat, HandBuiltKBlocks) {
    // Q4_K / Q5_K scales: sub-block 0 (sc 1, m 0), 1 (sc 2, m 3), 5 (sc 17, m 33: high bits in bytes 1 and 5), the
    // rest 0.
    uint8_t scales[12] = {};
    scales[0] = 0x01;
    scales[1] = 0x02 | 0x40;  // sc1 = 2, high bits of sc5 = 01
    scales[5] = 0x03 | 0x80;  // m1 = 3, high bits of m5 = 10
    scales[9] = 0x11;         // low nibbles of sc5 (1) and m5 (1)
    {
        quant::block_q4_k b{};
        b.d = H_ONE;
        b.dmin = H_ONE;
        std::memcpy(b.scales, scales, 12);
        b.qs[0] = 0x05;   // element 0 (sub-block 0): 1 * 5
        b.qs[4] = 0x90;   // element 36 (sub-block 1, high nibble): 2 * 9 - 3
        b.qs[71] = 0xC0;  // element 167 (sub-block 5, chunk 2 high nibble): 17 * 12 - 33
        std::vector<float> y = dequant(D::DTYPE_Q4_K, bytes_of(b));
        for (int i = 32; i < 64; ++i) EXPECT_EQ(y[size_t(i)], i == 36 ? 15.0f : -3.0f) << "q4_k element " << i;
        for (int i = 160; i < 192; ++i) EXPECT_EQ(y[size_t(i)], i == 167 ? 171.0f : -33.0f) << "q4_k element " << i;
        EXPECT_EQ(y[0], 5.0f);
        EXPECT_EQ(y[36], 15.0f);
        EXPECT_EQ(y[167], 171.0f);
        EXPECT_EQ(y[4], 0.0f);
        EXPECT_EQ(y[135], 0.0f);  // low nibble of qs[71] (sub-block 4, scale 0)
        EXPECT_EQ(y[255], 0.0f);
    }
    {
        quant::block_q5_k b{};
        b.d = H_ONE;
        b.dmin = H_ONE;
        std::memcpy(b.scales, scales, 12);
        b.qs[0] = 0x05;
        b.qh[0] = 0x01;   // element 0: 5 + 16
        b.qs[71] = 0xC0;
        b.qh[7] = 0x20;   // bit 5 = 2 * chunk 2 + 1: element 167: 12 + 16
        b.qh[10] = 0x02;  // bit 1: element 32 + 10 (sub-block 1): 2 * 16 - 3
        std::vector<float> y = dequant(D::DTYPE_Q5_K, bytes_of(b));
        EXPECT_EQ(y[0], 21.0f);
        EXPECT_EQ(y[167], 17.0f * 28.0f - 33.0f);
        EXPECT_EQ(y[42], 29.0f);
        EXPECT_EQ(y[10], 0.0f);  // bit 0 of qh[10] clear
        EXPECT_EQ(y[33], -3.0f);
        EXPECT_EQ(y[160], -33.0f);
    }
    {
        quant::block_q6_k b{};
        b.d = H_ONE;
        for (int j = 0; j < 16; ++j) b.scales[j] = int8_t(j + 1);
        b.scales[15] = -2;
        std::memset(b.qh, 0xAA, sizeof b.qh);  // high bits 2 everywhere: code 32 -> 0
        b.ql[0] = 0xF5;    // element 0: 37 - 32 (scale 1); element 64: 47 - 32 (scale 5)
        b.ql[113] = 0x30;  // element 128 + 96 + 17 = 241: high nibble 3 ...
        b.qh[49] = 0x2A;   // ... with its bits 6-7 cleared: 3 - 32 (scale -2); element 177 keeps code 32
        b.ql[40] = 0x07;   // element 40 (ql[l + 32] low nibble, qh[8] bits 2-3): 39 - 32, scale 3
        std::vector<float> y = dequant(D::DTYPE_Q6_K, bytes_of(b));
        expect_values("q6_k", y, 0.0f, {{0, 5.0f}, {64, 75.0f}, {241, 58.0f}, {40, 21.0f}});
    }
    {
        quant::block_q8_k b{};
        b.d = 0.25f;
        b.qs[200] = 100;
        b.qs[3] = -127;
        b.bsums[0] = 1234;  // not used by dequantisation
        expect_values("q8_k", dequant(D::DTYPE_Q8_K, bytes_of(b)), 0.0f, {{200, 25.0f}, {3, -31.75f}});
    }
    {
        quant::block_iq4_xs b{};
        b.d = H_HALF;
        // ls = 33 (dl = 0.5) everywhere but sub-block 3 (ls = 0, dl = -16): low nibbles 1, high bits 2.
        std::memset(b.scales_l, 0x11, sizeof b.scales_l);
        b.scales_l[1] = 0x01;
        b.scales_h = 0xAA2A;
        std::memset(b.qs, 0x88, sizeof b.qs);  // level 1
        b.qs[50] = 0x08;                       // sub-block 3: element 96 + 2 level 1, element 96 + 18 level -127
        b.qs[0] = 0xF8;                        // element 16: level 113 (sub-block 0)
        std::vector<float> y = dequant(D::DTYPE_IQ4_XS, bytes_of(b));
        for (int i = 96; i < 128; ++i)
            EXPECT_EQ(y[size_t(i)], i == 114 ? 2032.0f : -16.0f) << "iq4_xs element " << i;
        EXPECT_EQ(y[16], 56.5f);
        EXPECT_EQ(y[0], 0.5f);
        EXPECT_EQ(y[255], 0.5f);
    }
}

// ---- activation quantisers (the SIMD versions must match these bit for bit)

TEST(QuantFormat, Q8_0ActivationCases) {
    {  // all zeros: d = 0, codes 0, no NaN
        std::vector<float> x(QK, 0.0f);
        quant::block_q8_0 b;
        quant::quantize_row(D::DTYPE_Q8_0, x.data(), &b, QK);
        EXPECT_EQ(b.d, 0);
        for (int8_t q : b.qs) EXPECT_EQ(q, 0);
    }
    {  // amax 127 -> d = 1 exactly; ties round to even
        std::vector<float> x = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.49f, -126.5f, 125.5f, 0.0f, -0.0f};
        x.resize(QK, 7.0f);
        quant::block_q8_0 b;
        quant::quantize_row(D::DTYPE_Q8_0, x.data(), &b, QK);
        EXPECT_EQ(b.d, H_ONE);
        const int8_t want[12] = {127, 0, 2, 2, 0, -2, -2, 3, -126, 126, 0, 0};
        for (int j = 0; j < 12; ++j) EXPECT_EQ(b.qs[j], want[j]) << "element " << j;
        EXPECT_EQ(b.qs[31], 7);
    }
    {  // amax on a negative value maps to -127
        std::vector<float> x(QK, 0.025f);
        x[5] = -2.54f;
        x[6] = 1.0f;
        quant::quantize_row(D::DTYPE_Q8_0, x.data(), nullptr, 0);  // n = 0 writes nothing
        quant::block_q8_0 b;
        quant::quantize_row(D::DTYPE_Q8_0, x.data(), &b, QK);
        EXPECT_EQ(b.d, f32_to_f16(2.54f / 127.0f));
        EXPECT_EQ(b.qs[5], -127);
        EXPECT_EQ(b.qs[6], 50);  // 1 / 0.02
        EXPECT_EQ(b.qs[0], 1);   // 1.25
    }
}

TEST(QuantFormat, Q8_1ActivationSum) {
    std::vector<float> x(2 * QK);
    for (int j = 0; j < 2 * QK; ++j) x[size_t(j)] = float((j * 37) % 255 - 127);  // amax 127: d = 1
    x[0] = 127.0f;
    x[QK] = -127.0f;
    std::vector<quant::block_q8_1> b(2);
    quant::quantize_row(D::DTYPE_Q8_1, x.data(), b.data(), 2 * QK);
    for (int i = 0; i < 2; ++i) {
        int sum = 0;
        for (int j = 0; j < QK; ++j) {
            EXPECT_EQ(b[size_t(i)].qs[j], int(x[size_t(i * QK + j)]));
            sum += int(x[size_t(i * QK + j)]);
        }
        EXPECT_EQ(b[size_t(i)].d, H_ONE);
        EXPECT_EQ(b[size_t(i)].s, f32_to_f16(float(sum))) << "block " << i;
    }
    // Q8_1 codes and d equal Q8_0's on the same data
    std::vector<float> g = gaussian(4 * QK, 5);
    std::vector<quant::block_q8_0> a(4);
    std::vector<quant::block_q8_1> c(4);
    quant::quantize_row(D::DTYPE_Q8_0, g.data(), a.data(), 4 * QK);
    quant::quantize_row(D::DTYPE_Q8_1, g.data(), c.data(), 4 * QK);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(a[size_t(i)].d, c[size_t(i)].d);
        EXPECT_EQ(std::memcmp(a[size_t(i)].qs, c[size_t(i)].qs, QK), 0);
        int sum = 0;
        for (int8_t q : c[size_t(i)].qs) sum += q;
        const float d = [&] {  // the unrounded d: amax / 127
            float amax = 0.0f;
            for (int j = 0; j < QK; ++j) amax = std::fmax(amax, std::fabs(g[size_t(i * QK + j)]));
            return amax / 127.0f;
        }();
        EXPECT_EQ(c[size_t(i)].s, f32_to_f16(d * float(sum)));
    }
}

TEST(QuantFormat, Q8_KActivationCases) {
    std::vector<float> x(QK_K);
    for (int j = 0; j < QK_K; ++j) x[size_t(j)] = float(j % 16) - 7.5f;  // ties at every element
    x[100] = -127.0f;                                                      // amax on a negative value: d = 1
    x[101] = 127.0f;
    quant::block_q8_k b;
    quant::quantize_row(D::DTYPE_Q8_K, x.data(), &b, QK_K);
    EXPECT_EQ(b.d, 1.0f);
    for (int j = 0; j < QK_K; ++j) {
        int want = int(std::nearbyint(x[size_t(j)]));
        EXPECT_EQ(b.qs[j], want) << "element " << j;
    }
    EXPECT_EQ(b.qs[0], -8);   // -7.5 -> -8 (even)
    EXPECT_EQ(b.qs[1], -6);   // -6.5 -> -6
    EXPECT_EQ(b.qs[8], 0);    // 0.5 -> 0
    EXPECT_EQ(b.qs[9], 2);    // 1.5 -> 2
    EXPECT_EQ(b.qs[100], -127);
    EXPECT_EQ(b.qs[101], 127);
    for (int k = 0; k < QK_K / 16; ++k) {
        int s = 0;
        for (int j = 0; j < 16; ++j) s += b.qs[16 * k + j];
        EXPECT_EQ(b.bsums[k], s) << "bsums " << k;
    }
    // codes 0..-8 then 0..8 in each 16: -8 -6 -6 -4 -4 -2 -2 0 0 2 2 4 4 6 6 8 -> 0, except block 6 (100, 101)
    EXPECT_EQ(b.bsums[0], 0);
    EXPECT_EQ(b.bsums[6], 6);  // elements 100 and 101 (codes -4, -2 in the pattern) became -127, 127

    std::vector<float> z(QK_K, 0.0f);
    quant::quantize_row(D::DTYPE_Q8_K, z.data(), &b, QK_K);
    EXPECT_EQ(b.d, 0.0f);
    for (int8_t q : b.qs) EXPECT_EQ(q, 0);
    for (int16_t s : b.bsums) EXPECT_EQ(s, 0);

    // Extremes: every element +-amax gives +-127 (never -128), bsums +-16 * 127.
    std::vector<float> e(QK_K);
    for (int j = 0; j < QK_K; ++j) e[size_t(j)] = (j / 16) % 2 ? -3.3f : 3.3f;
    quant::quantize_row(D::DTYPE_Q8_K, e.data(), &b, QK_K);
    EXPECT_EQ(b.d, 3.3f / 127.0f);
    for (int j = 0; j < QK_K; ++j) ASSERT_EQ(b.qs[j], (j / 16) % 2 ? -127 : 127) << j;
    for (int k = 0; k < QK_K / 16; ++k) EXPECT_EQ(b.bsums[k], k % 2 ? -16 * 127 : 16 * 127);
}

// ---- weight quantisers

struct bound {
    D t;
    double gauss, outliers;  // max relative RMSE on gaussian data / on data with outliers
};

// Measured relative RMSE, gaussian / outliers (n = 65536, seeds 42 / 43): q4_0 8.07 / 14.54 %, q4_1 6.96 / 8.97,
// q5_0 4.00 / 7.39, q5_1 3.36 / 4.36, q8_0 0.538 / 0.942, iq4_nl 7.34 / 11.08, q4_k 7.03 / 9.11, q5_k 3.47 / 4.49,
// q6_k 1.65 / 2.66, iq4_xs 7.41 / 11.28. (IQ4 trails q4_1 on one-sided outliers: its grid is centred on zero.) The
// legacy types' scale search took q4_0 from 8.59 / 14.94 %, q4_1 7.81 / 9.95, q5_0 4.27 / 7.52, q5_1 3.79 / 4.80.
const bound k_bounds[] = {
    {D::DTYPE_Q4_0, 0.082, 0.147},   {D::DTYPE_Q4_1, 0.071, 0.091},   {D::DTYPE_Q5_0, 0.041, 0.075},
    {D::DTYPE_Q5_1, 0.034, 0.045},   {D::DTYPE_Q8_0, 0.0056, 0.0098}, {D::DTYPE_IQ4_NL, 0.075, 0.115},
    {D::DTYPE_Q4_K, 0.072, 0.094},   {D::DTYPE_Q5_K, 0.036, 0.046},   {D::DTYPE_Q6_K, 0.0170, 0.0275},
    {D::DTYPE_IQ4_XS, 0.076, 0.117},
};

TEST(QuantFormat, RoundTripErrorBounds) {
    constexpr size_t n = 65536;
    const std::vector<float> g = gaussian(n, 42), o = with_outliers(n, 43);
    double q4_0_g = 0.0, q4_0_o = 0.0;
    for (const bound& b : k_bounds) {
        const double eg = rel_rmse(g, dequant(b.t, quantize(b.t, g)));
        const double eo = rel_rmse(o, dequant(b.t, quantize(b.t, o)));
        std::printf("  %-7s gaussian %.3f %%  outliers %.3f %%\n", dtype_name(b.t), 100 * eg, 100 * eo);
        EXPECT_LT(eg, b.gauss) << dtype_name(b.t) << " gaussian";
        EXPECT_LT(eo, b.outliers) << dtype_name(b.t) << " outliers";
        if (b.t == D::DTYPE_Q4_0) {
            q4_0_g = eg;
            q4_0_o = eo;
        }
        // (ratios to q4_0, gaussian / outliers: iq4_nl 0.91 / 0.76, q4_k 0.87 / 0.63, iq4_xs 0.92 / 0.78)
        if (b.t == D::DTYPE_Q4_K || b.t == D::DTYPE_IQ4_XS || b.t == D::DTYPE_IQ4_NL) {
            EXPECT_LT(eg, 0.95 * q4_0_g) << dtype_name(b.t) << " should beat q4_0 on gaussian data";
            EXPECT_LT(eo, 0.9 * q4_0_o) << dtype_name(b.t) << " should beat q4_0 on outliers";
        }
    }
}

TEST(QuantFormat, ImportanceLowersWeightedError) {
    constexpr size_t n = 32768;
    const std::vector<float> x = gaussian(n, 7);
    std::mt19937 rng(8);
    std::lognormal_distribution<float> ln(0.0f, 1.5f);
    std::vector<float> imp(n);
    for (float& v : imp) v = ln(rng);
    for (D t : {D::DTYPE_Q4_K, D::DTYPE_Q5_K, D::DTYPE_Q6_K, D::DTYPE_IQ4_XS, D::DTYPE_IQ4_NL}) {
        const double plain = rel_rmse(x, dequant(t, quantize(t, x)), &imp);
        const double weighted = rel_rmse(x, dequant(t, quantize(t, x, imp.data())), &imp);
        std::printf("  %-7s weighted error without importance %.3f %%, with %.3f %%\n", dtype_name(t), 100 * plain,
                    100 * weighted);
        EXPECT_LT(weighted, 0.9 * plain) << dtype_name(t);
        // and the unweighted error stays sane
        EXPECT_LT(rel_rmse(x, dequant(t, quantize(t, x, imp.data()))), 1.3 * rel_rmse(x, dequant(t, quantize(t, x))))
            << dtype_name(t);
    }
    // All-zero importance falls back to plain error weighting instead of degenerate scales.
    std::vector<float> zero(n, 0.0f);
    for (D t : {D::DTYPE_Q4_K, D::DTYPE_IQ4_XS, D::DTYPE_IQ4_NL, D::DTYPE_Q6_K})
        EXPECT_EQ(quantize(t, x, zero.data()), quantize(t, x)) << dtype_name(t);
}

TEST(QuantFormat, ExactValuesSurvive) {
    // Values already on a type's grid come back exactly.
    std::vector<float> x(QK);
    for (int j = 0; j < QK; ++j) x[size_t(j)] = 0.25f * float(j % 16 - 8);  // q4_0 grid, max -2 -> d = 0.25
    EXPECT_EQ(dequant(D::DTYPE_Q4_0, quantize(D::DTYPE_Q4_0, x)), x);
    for (int j = 0; j < QK; ++j) x[size_t(j)] = float(j - 16);  // q5_0 grid, d = 1
    EXPECT_EQ(dequant(D::DTYPE_Q5_0, quantize(D::DTYPE_Q5_0, x)), x);
    for (int j = 0; j < QK; ++j) x[size_t(j)] = 0.5f * float(j) - 3.0f;  // q5_1 grid: d = 0.5, m = -3
    EXPECT_EQ(dequant(D::DTYPE_Q5_1, quantize(D::DTYPE_Q5_1, x)), x);
    for (int j = 0; j < QK; ++j) x[size_t(j)] = 0.125f * float((j * 7) % 16) + 1.5f;  // q4_1 grid: d = 1/8, m = 1.5
    EXPECT_EQ(dequant(D::DTYPE_Q4_1, quantize(D::DTYPE_Q4_1, x)), x);
    for (int j = 0; j < QK; ++j) x[size_t(j)] = 0.25f * float(j % 16 - 8);  // and with importance
    std::vector<float> imp(QK);
    for (int j = 0; j < QK; ++j) imp[size_t(j)] = 1.0f + float(j % 5);
    for (D t : {D::DTYPE_Q4_0, D::DTYPE_Q4_1, D::DTYPE_Q5_0, D::DTYPE_Q5_1})
        EXPECT_EQ(dequant(t, quantize(t, x, imp.data())), x) << dtype_name(t);
    for (int j = 0; j < QK; ++j) x[size_t(j)] = 0.5f * float(quant::k_iq4nl[(j * 5) % 16]);  // iq4 grid, d = 0.5
    EXPECT_EQ(dequant(D::DTYPE_IQ4_NL, quantize(D::DTYPE_IQ4_NL, x)), x);
}

// ---- legacy weight quantisers (Q4_0, Q4_1, Q5_0, Q5_1): searched scales against the max / min rule

const D k_legacy_types[] = {D::DTYPE_Q4_0, D::DTYPE_Q4_1, D::DTYPE_Q5_0, D::DTYPE_Q5_1};

bool is_symmetric(D t) { return t == D::DTYPE_Q4_0 || t == D::DTYPE_Q5_0; }
int levels_of(D t) { return t == D::DTYPE_Q4_0 || t == D::DTYPE_Q4_1 ? 16 : 32; }

// Dequantised values under the reference rule these types were quantised with before the scale search, written from
// its definition: Q4_0 / Q5_0: d = max / -half (max: the signed element of largest magnitude), rounded to F16, codes
// round(x / d) clamped to [-half, half - 1]; Q4_1 / Q5_1: m = min and d = (max - min) / (levels - 1), both rounded to
// F16, codes round((x - m) / d) clamped to [0, levels - 1].
std::vector<float> reference_rule(D t, const std::vector<float>& x) {
    const int levels = levels_of(t);
    std::vector<float> y(x.size());
    for (size_t b = 0; b + QK <= x.size(); b += QK) {
        const float* p = x.data() + b;
        if (is_symmetric(t)) {
            const float half = float(levels / 2);
            float max = 0.0f;
            for (int j = 0; j < QK; ++j)
                if (std::fabs(p[j]) > std::fabs(max)) max = p[j];
            const float d = f16_to_f32(f32_to_f16(max / -half));
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int j = 0; j < QK; ++j) y[b + size_t(j)] = std::clamp(std::nearbyint(p[j] * id), -half, half - 1) * d;
        } else {
            const auto [lo, hi] = std::minmax_element(p, p + QK);
            const float d = f16_to_f32(f32_to_f16((*hi - *lo) / float(levels - 1)));
            const float m = f16_to_f32(f32_to_f16(*lo));
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int j = 0; j < QK; ++j)
                y[b + size_t(j)] = std::clamp(std::nearbyint((p[j] - m) * id), 0.0f, float(levels - 1)) * d + m;
        }
    }
    return y;
}

// Student-t with 4 degrees of freedom: heavy tails.
std::vector<float> student_t(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::student_t_distribution<float> t(4.0f);
    std::vector<float> v(n);
    for (float& x : v) x = t(rng);
    return v;
}

// Gaussian whose scale changes every 256 elements by a factor 10^U(-1, 1) (rows of different magnitude), plus a
// per-row offset of up to +-1 row sigma (blocks that are not centred on zero).
std::vector<float> row_scaled(size_t n, uint32_t seed) {
    std::vector<float> v = gaussian(n, seed);
    std::mt19937 rng(seed + 1);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (size_t r = 0; r < n; r += 256) {
        const float scale = std::pow(10.0f, u(rng)), offset = u(rng);
        for (size_t i = r; i < std::min(n, r + 256); ++i) v[i] = scale * (v[i] + offset);
    }
    return v;
}

double block_sq_error(const float* x, const float* y) {
    double e = 0.0;
    for (int j = 0; j < QK; ++j) e += (double(x[j]) - y[j]) * (double(x[j]) - y[j]);
    return e;
}

TEST(QuantFormat, LegacySearchBeatsReferenceRule) {
    constexpr size_t n = 65536;
    struct dist {
        const char* name;
        std::vector<float> x;
    };
    const dist dists[] = {{"gaussian", gaussian(n, 42)},
                          {"student-t4", student_t(n, 44)},
                          {"outliers", with_outliers(n, 43)},
                          {"row-scaled", row_scaled(n, 45)}};
    // Least relative gain 1 - searched / reference error required per type, on gaussian data and on the other three.
    // Measured (gaussian, student-t4, outliers, row-scaled): q4_0 6.0 / 4.0 / 2.7 / 6.0 %, q4_1 10.8 / 10.5 / 9.9 /
    // 10.7 %, q5_0 6.2 / 3.8 / 1.7 / 6.4 %, q5_1 11.4 / 10.5 / 9.1 / 11.2 %.
    struct want {
        D t;
        double gauss, other;
    };
    const want wants[] = {{D::DTYPE_Q4_0, 0.05, 0.02}, {D::DTYPE_Q4_1, 0.09, 0.08},
                          {D::DTYPE_Q5_0, 0.05, 0.01}, {D::DTYPE_Q5_1, 0.10, 0.08}};
    for (const want& w : wants) {
        for (const dist& d : dists) {
            const std::vector<float> ref = reference_rule(w.t, d.x), got = dequant(w.t, quantize(w.t, d.x));
            const double e_ref = rel_rmse(d.x, ref), e_new = rel_rmse(d.x, got);
            std::printf("  %-5s %-10s reference rule %.3f %%  searched %.3f %%  (%.1f %% lower)\n", dtype_name(w.t),
                        d.name, 100 * e_ref, 100 * e_new, 100 * (1 - e_new / e_ref));
            const double gain = &d == &dists[0] ? w.gauss : w.other;
            EXPECT_LT(e_new, (1 - gain) * e_ref) << dtype_name(w.t) << " " << d.name;
            // The reference scale is one of the search's starts, so no block may do worse than it, up to the
            // rounding of the search's error sums.
            int worse = 0;
            double worst = 0.0;
            for (size_t b = 0; b < n; b += QK) {
                const double er = block_sq_error(&d.x[b], &ref[b]), en = block_sq_error(&d.x[b], &got[b]);
                worst = std::max(worst, en / std::max(er, 1e-300));
                if (en > er * (1 + 1e-3)) ++worse;
            }
            EXPECT_EQ(worse, 0) << dtype_name(w.t) << " " << d.name << ": worst block error ratio " << worst;
        }
    }
}

TEST(QuantFormat, LegacyImportanceIsHonoured) {
    constexpr size_t n = 32768;
    const std::vector<float> x = gaussian(n, 7);
    std::mt19937 rng(8);
    std::lognormal_distribution<float> ln(0.0f, 1.5f);
    std::vector<float> imp(n);
    for (float& v : imp) v = ln(rng);
    // One element in eight (a different position in each block) matters 50 times more than the rest.
    std::vector<float> focus(n, 1.0f), mask(n, 0.0f);
    for (size_t i = 0; i < n; ++i)
        if (i % 8 == (i / QK) % 8) focus[i] = 50.0f, mask[i] = 1.0f;
    for (D t : k_legacy_types) {
        const std::vector<float> plain = dequant(t, quantize(t, x));
        const double plain_w = rel_rmse(x, plain, &imp);
        const double weighted_w = rel_rmse(x, dequant(t, quantize(t, x, imp.data())), &imp);
        const std::vector<float> focused = dequant(t, quantize(t, x, focus.data()));
        const double plain_f = rel_rmse(x, plain, &mask), focused_f = rel_rmse(x, focused, &mask);
        std::printf("  %-5s lognormal importance: weighted error %.3f %% -> %.3f %%; "
                    "focus elements %.3f %% -> %.3f %%\n", dtype_name(t), 100 * plain_w, 100 * weighted_w, 100 * plain_f, 100 * focused_f);
        // Measured ratios: weighted 0.88 (q4_0, q5_0) / 0.80 (q4_1, q5_1); focus 0.73 / 0.75 (q4_0 / q5_0) and 0.53
        // (q4_1, q5_1): one scale per block has less room than the asymmetric types' scale and min.
        const bool sym = is_symmetric(t);
        EXPECT_LT(weighted_w, (sym ? 0.92 : 0.85) * plain_w) << dtype_name(t);
        EXPECT_LT(focused_f, (sym ? 0.8 : 0.6) * plain_f) << dtype_name(t);
        // and the unweighted error stays sane
        EXPECT_LT(rel_rmse(x, focused), 1.3 * rel_rmse(x, plain)) << dtype_name(t);
    }
    // All-zero importance falls back to plain error weighting; importance 1 everywhere is plain error weighting.
    std::vector<float> zero(n, 0.0f), ones(n, 1.0f);
    for (D t : k_legacy_types) {
        EXPECT_EQ(quantize(t, x, zero.data()), quantize(t, x)) << dtype_name(t);
        EXPECT_EQ(quantize(t, x, ones.data()), quantize(t, x)) << dtype_name(t);
    }
}

bool all_finite(const std::vector<float>& y) {
    return std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); });
}

TEST(QuantFormat, LegacyEdgeCases) {
    for (D t : k_legacy_types) {
        const char* name = dtype_name(t);
        {  // all zero: stored scale and min are +0 and every value comes back exactly 0
            const std::vector<float> z(4 * QK, 0.0f);
            const std::vector<uint8_t> b = quantize(t, z);
            for (size_t i = 0; i < 4; ++i) {
                uint16_t d;
                std::memcpy(&d, b.data() + i * type_size(t), 2);
                EXPECT_EQ(d, 0) << name;
                if (!is_symmetric(t)) {
                    uint16_t m;
                    std::memcpy(&m, b.data() + i * type_size(t) + 2, 2);
                    EXPECT_EQ(m, 0) << name;
                }
            }
            for (float v : dequant(t, b)) ASSERT_EQ(v, 0.0f) << name;
        }
        // Tiny and F16-subnormal magnitudes: finite, and no block worse than the reference rule.
        for (float scale : {1e-30f, 1e-9f, 1e-6f, 1e-4f}) {
            std::vector<float> x = gaussian(8 * QK, 21);
            for (float& v : x) v *= scale;
            const std::vector<float> y = dequant(t, quantize(t, x)), ref = reference_rule(t, x);
            ASSERT_TRUE(all_finite(y)) << name << " scale " << scale;
            for (size_t b = 0; b < x.size(); b += QK)
                EXPECT_LE(block_sq_error(&x[b], &y[b]), block_sq_error(&x[b], &ref[b]) * (1 + 1e-3))
                    << name << " scale " << scale << " block " << b / QK;
            if (scale == 1e-30f) {
                for (float v : y) EXPECT_EQ(v, 0.0f) << name;  // below F16's range everything is 0
            }
        }
        {  // huge values: F16 scales saturate at 65504 instead of becoming inf (the reference rule gives inf / NaN)
            std::vector<float> x = gaussian(4 * QK, 22);
            for (float& v : x) v *= 1e30f;
            // and one huge element in an otherwise ordinary block
            for (int j = 0; j < QK; ++j) x[3 * QK + size_t(j)] = j == 7 ? 1e30f : 0.01f * float(j);
            const std::vector<float> y = dequant(t, quantize(t, x));
            ASSERT_TRUE(all_finite(y)) << name;
            EXPECT_FALSE(all_finite(reference_rule(t, x))) << name << ": the oracle should overflow here";
            for (size_t i = 0; i < 3 * QK; ++i) {  // saturated at F16's range, with the right sign
                EXPECT_GE(std::fabs(y[i]), 65504.0f) << name << " element " << i;
                EXPECT_EQ(y[i] > 0.0f, x[i] > 0.0f) << name << " element " << i;
            }
            EXPECT_GE(y[3 * QK + 7], 65504.0f * float(levels_of(t) / 2 - 1)) << name;
        }
        // A single non-zero element (scales in F16's normal range): zeros stay exact for the symmetric types, all
        // values within F16 precision.
        for (float v : {3.0f, -0.7f, 1e-3f, -0.05f}) {
            std::vector<float> x(2 * QK, 0.0f);
            x[5] = v;
            x[QK + 31] = -v;
            const std::vector<float> y = dequant(t, quantize(t, x));
            ASSERT_TRUE(all_finite(y)) << name;
            for (size_t i = 0; i < x.size(); ++i) {
                if (is_symmetric(t) && x[i] == 0.0f) {
                    EXPECT_EQ(y[i], 0.0f) << name << " v " << v << " element " << i;
                }
                EXPECT_NEAR(y[i], x[i], std::fabs(v) * 1e-3f) << name << " v " << v << " element " << i;
            }
        }
    }
}

// n must be a multiple of the block size (a programmer error, asserted in debug builds only); release builds
// process the whole blocks and leave the rest of the output alone.
TEST(QuantFormat, PartialBlockIsAProgrammerError) {
    std::vector<float> x = gaussian(QK + 5, 3);
#ifndef NDEBUG
    EXPECT_DEATH(quant::quantize_row(D::DTYPE_Q4_0, x.data(), std::vector<uint8_t>(64).data(), QK + 5), "");
#else
    std::vector<uint8_t> b(2 * sizeof(quant::block_q4_0), 0xEE);
    quant::quantize_row(D::DTYPE_Q4_0, x.data(), b.data(), QK + 5);
    for (size_t i = sizeof(quant::block_q4_0); i < b.size(); ++i) EXPECT_EQ(b[i], 0xEE);
    std::vector<float> y(QK + 5, -7.0f);
    quant::dequantize_row(D::DTYPE_Q4_0, b.data(), y.data(), QK + 5);
    for (int j = QK; j < QK + 5; ++j) EXPECT_EQ(y[size_t(j)], -7.0f);
    EXPECT_NE(y[0], -7.0f);
#endif
}

TEST(QuantFormat, ZeroInputGivesZeros) {
    for (D t : k_weight_types) {
        std::vector<float> z(QK_K * 2, 0.0f);
        std::vector<float> y = dequant(t, quantize(t, z));
        for (float v : y) ASSERT_EQ(v, 0.0f) << dtype_name(t);
    }
}

// NaN / Inf input (a corrupt or diverged tensor) must not crash or spill into other blocks.
TEST(QuantFormat, NonFiniteInputIsContained) {
    const std::vector<float> clean = gaussian(QK_K * 4, 11);
    std::vector<float> bad = clean;
    bad[QK_K + 3] = std::nanf("");
    bad[QK_K + 40] = INFINITY;
    bad[QK_K + 41] = -INFINITY;
    for (D t : k_all_types) {
        const std::vector<uint8_t> a = quantize(t, clean), b = quantize(t, bad);
        const size_t bytes = type_size(t) * size_t(QK_K / block_size(t));  // bytes per 256 elements
        EXPECT_TRUE(std::equal(a.begin(), a.begin() + int64_t(bytes), b.begin())) << dtype_name(t);
        EXPECT_TRUE(std::equal(a.begin() + int64_t(2 * bytes), a.end(), b.begin() + int64_t(2 * bytes)))
            << dtype_name(t);
        std::vector<float> y = dequant(t, b);  // runs; values of the corrupt blocks are unspecified
        EXPECT_EQ(y.size(), bad.size());
    }
}

TEST(QuantFormat, Deterministic) {
    const std::vector<float> x = with_outliers(QK_K * 16, 99);
    std::vector<float> imp(x.size());
    for (size_t i = 0; i < imp.size(); ++i) imp[i] = 1.0f + float(i % 7);
    for (D t : k_all_types) {
        if (!quant::can_quantize(t)) continue;
        EXPECT_EQ(quantize(t, x), quantize(t, x)) << dtype_name(t);
        EXPECT_EQ(quantize(t, x, imp.data()), quantize(t, x, imp.data())) << dtype_name(t);
        // rows are independent: quantising the second half alone gives the second half of the blocks
        std::vector<float> tail(x.begin() + int64_t(x.size() / 2), x.end());
        std::vector<uint8_t> whole = quantize(t, x), part = quantize(t, tail);
        EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + int64_t(whole.size() / 2))) << dtype_name(t);
    }
}

// ---- per-type facts

TEST(QuantFormat, TypeFacts) {
    for (D t : k_all_types) {
        EXPECT_TRUE(quant::is_quantized(t)) << dtype_name(t);
        EXPECT_TRUE(quant::can_quantize(t)) << dtype_name(t);
    }
    for (D t : {D::DTYPE_F32, D::DTYPE_F16, D::DTYPE_BF16, D::DTYPE_Q2_K, D::DTYPE_Q3_K, D::DTYPE_I8}) {
        EXPECT_FALSE(quant::is_quantized(t)) << dtype_name(t);
        EXPECT_FALSE(quant::can_quantize(t)) << dtype_name(t);
    }
    const std::pair<D, double> bpw[] = {
        {D::DTYPE_Q4_0, 4.5},   {D::DTYPE_Q4_1, 5.0},   {D::DTYPE_Q5_0, 5.5},  {D::DTYPE_Q5_1, 6.0},
        {D::DTYPE_Q8_0, 8.5},   {D::DTYPE_Q8_1, 9.0},   {D::DTYPE_IQ4_NL, 4.5}, {D::DTYPE_Q4_K, 4.5},
        {D::DTYPE_Q5_K, 5.5},   {D::DTYPE_Q6_K, 6.5625}, {D::DTYPE_Q8_K, 9.125}, {D::DTYPE_IQ4_XS, 4.25},
        {D::DTYPE_F32, 32.0},   {D::DTYPE_F16, 16.0},   {D::DTYPE_BF16, 16.0},
    };
    for (auto [t, b] : bpw) EXPECT_EQ(quant::bits_per_weight(t), b) << dtype_name(t);

    const std::pair<D, D> vdt[] = {
        {D::DTYPE_Q4_0, D::DTYPE_Q8_0}, {D::DTYPE_Q5_0, D::DTYPE_Q8_0},   {D::DTYPE_Q8_0, D::DTYPE_Q8_0},
        {D::DTYPE_IQ4_NL, D::DTYPE_Q8_0}, {D::DTYPE_Q4_1, D::DTYPE_Q8_1}, {D::DTYPE_Q5_1, D::DTYPE_Q8_1},
        {D::DTYPE_Q4_K, D::DTYPE_Q8_K}, {D::DTYPE_Q5_K, D::DTYPE_Q8_K},   {D::DTYPE_Q6_K, D::DTYPE_Q8_K},
        {D::DTYPE_IQ4_XS, D::DTYPE_Q8_K}, {D::DTYPE_F32, D::DTYPE_F32},   {D::DTYPE_F16, D::DTYPE_F16},
        {D::DTYPE_BF16, D::DTYPE_BF16},
    };
    for (auto [w, a] : vdt) EXPECT_EQ(quant::vec_dot_type(w), a) << dtype_name(w);
}

}  // namespace
}  // namespace fathom
