// The scalar table against double-precision formulas written here, exp accuracy and softmax invariants on every
// table, F16/BF16 rounding (core/dtype.h and the tables), and CPU dispatch.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/kernel-test-util.h"

namespace fathom {
namespace {

using kernels::table;
using test::random_floats;

const table& scalar() { return *kernels::for_isa(kernels::isa::ISA_SCALAR); }

// ---- scalar table vs double formulas

TEST(scalar_oracle, matmul_rows_matches_double) {
    std::mt19937 rng(21);
    const int64_t n = 301, rows = 7, toks = 3;
    for (dtype type : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
        std::vector<float> wv = random_floats(rng, size_t(n * rows)), wd;
        std::vector<uint8_t> w = test::encode(type, wv, &wd);
        std::vector<float> x = random_floats(rng, size_t(n * toks)), y(size_t(rows * toks));
        kernels::matmul_rows_for(scalar(), type)(w.data(), size_t(n) * test::elem_size(type), rows, x.data(), n, toks,
                                                  y.data(), rows, n);
        for (int64_t t = 0; t < toks; ++t)
            for (int64_t r = 0; r < rows; ++r) {
                double ref = 0, mag = 0;
                for (int64_t i = 0; i < n; ++i) {
                    const double p = double(wd[size_t(r * n + i)]) * x[size_t(t * n + i)];
                    ref += p;
                    mag += std::fabs(p);
                }
                EXPECT_NEAR(y[size_t(t * rows + r)], ref, 1e-5 * mag) << test::type_name(type);
            }
    }
}

TEST(scalar_oracle, vector_ops_match_double) {
    std::mt19937 rng(22);
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(100), int64_t(4099)}) {
        std::vector<float> a = random_floats(rng, size_t(n), -3.0f, 3.0f), b = random_floats(rng, size_t(n));
        double dot = 0, mag = 0, ss = 0;
        for (int64_t i = 0; i < n; ++i) {
            dot += double(a[size_t(i)]) * b[size_t(i)];
            mag += std::fabs(double(a[size_t(i)]) * b[size_t(i)]);
            ss += double(a[size_t(i)]) * a[size_t(i)];
        }
        EXPECT_NEAR(scalar().dot_f32(a.data(), b.data(), n), dot, 1e-5 * mag);

        std::vector<float> y = b;
        scalar().axpy_f32(-0.5f, a.data(), y.data(), n);
        for (int64_t i = 0; i < n; ++i)
            EXPECT_NEAR(y[size_t(i)], double(b[size_t(i)]) - 0.5 * a[size_t(i)], 1e-6 * (1 + std::fabs(a[size_t(i)])));

        y = b;
        scalar().scale_f32(3.0f, y.data(), n);
        for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y[size_t(i)], 3.0 * b[size_t(i)], 1e-6 * std::fabs(3.0 * b[size_t(i)]));

        const double inv = 1.0 / std::sqrt(ss / double(n) + 1e-6);
        scalar().rms_norm_f32(a.data(), b.data(), 1e-6f, y.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            const double ref = a[size_t(i)] * inv * b[size_t(i)];
            EXPECT_NEAR(y[size_t(i)], ref, 1e-5 * std::fabs(ref) + 1e-30);
        }

        scalar().silu_mul_f32(a.data(), b.data(), y.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            const double g = a[size_t(i)];
            const double ref = g / (1.0 + std::exp(-g)) * b[size_t(i)];
            EXPECT_NEAR(y[size_t(i)], ref, 1e-6 * std::fabs(ref) + 1e-30);
        }

        double mx = -1e300;
        for (float v : a) mx = std::max(mx, double(v));
        EXPECT_EQ(scalar().max_f32(a.data(), n), float(mx));

        double sum = 0;
        for (float v : a) sum += std::exp(double(v) - mx);
        y = a;
        scalar().softmax_f32(y.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            const double ref = std::exp(double(a[size_t(i)]) - mx) / sum;
            EXPECT_NEAR(y[size_t(i)], ref, 1e-5 * ref);
        }
    }
}

// ---- exp accuracy and softmax invariants on every table

TEST(kernel_exp, relative_error_over_softmax_range) {
    // exp_sub_sum with m = 0 gives exp(x) directly.
    std::vector<float> x;
    for (int i = 0; i <= 200000; ++i) x.push_back(-87.0f + 87.0f * float(i) / 200000.0f);  // softmax range
    for (int i = 0; i <= 2000; ++i) x.push_back(88.0f * float(i) / 2000.0f);               // and positives
    const int64_t n = int64_t(x.size());
    for (const table* t : test::host_tables()) {
        std::vector<float> y(x.size());
        t->exp_sub_sum_f32(x.data(), 0.0f, y.data(), n);
        double worst = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            const double ref = std::exp(double(x[i]));
            worst = std::max(worst, std::fabs(y[i] - ref) / ref);
        }
        EXPECT_LT(worst, 1e-6) << kernels::isa_name(t->level);
    }
}

TEST(kernel_exp, very_negative_and_minus_inf_give_zero) {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> x = {-88.5f, -100.0f, -1e4f, -1e30f, -std::numeric_limits<float>::max(), -inf, 0.0f};
    while (x.size() < 37) x.push_back(-inf);  // across vector widths and a tail
    for (const table* t : test::host_tables()) {
        std::vector<float> y(x.size(), 5.0f);
        const float s = t->exp_sub_sum_f32(x.data(), 0.0f, y.data(), int64_t(x.size()));
        for (size_t i = 0; i < x.size(); ++i) {
            ASSERT_FALSE(std::isnan(y[i])) << kernels::isa_name(t->level) << " x=" << x[i];
            if (i != 6) {
                EXPECT_LT(y[i], 1e-37f) << kernels::isa_name(t->level) << " x=" << x[i];
            }
        }
        EXPECT_FLOAT_EQ(y[6], 1.0f);
        EXPECT_FLOAT_EQ(s, 1.0f);
        // silu of a very negative gate is ~0, never NaN
        std::vector<float> g = {-100.0f, -1000.0f, -88.0f, 100.0f}, u = {1, 1, 1, 1}, o(4);
        t->silu_mul_f32(g.data(), u.data(), o.data(), 4);
        for (int i = 0; i < 3; ++i) EXPECT_NEAR(o[size_t(i)], 0.0f, 1e-30f) << kernels::isa_name(t->level);
        EXPECT_FLOAT_EQ(o[3], 100.0f);
    }
}

TEST(kernel_softmax, sums_to_one_and_all_masked_row_is_zero) {
    std::mt19937 rng(23);
    const float inf = std::numeric_limits<float>::infinity();
    for (const table* t : test::host_tables()) {
        for (int64_t n : {int64_t(1), int64_t(3), int64_t(17), int64_t(1000), int64_t(32768 + 5)}) {
            std::vector<float> x = random_floats(rng, size_t(n), -50.0f, 50.0f);
            t->softmax_f32(x.data(), n);
            double s = 0;
            for (float v : x) {
                ASSERT_GE(v, 0.0f);
                s += v;
            }
            EXPECT_NEAR(s, 1.0, 1e-5) << kernels::isa_name(t->level) << " n=" << n;
            std::vector<float> masked(size_t(n), -inf);
            t->softmax_f32(masked.data(), n);
            for (float v : masked) ASSERT_EQ(v, 0.0f) << kernels::isa_name(t->level);
        }
        // Huge logits: no overflow thanks to the max subtraction.
        std::vector<float> big = {1e30f, 1e30f, -1e30f};
        t->softmax_f32(big.data(), 3);
        EXPECT_FLOAT_EQ(big[0], 0.5f);
        EXPECT_FLOAT_EQ(big[1], 0.5f);
        EXPECT_EQ(big[2], 0.0f);
    }
}

// ---- F16 / BF16 conversions against formulas written here

double f16_value(uint16_t h) {  // independent decoder
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 0) v = std::ldexp(double(m), -24);
    else if (e == 31) v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
    else v = std::ldexp(1.0 + m / 1024.0, e - 15);
    return s ? -v : v;
}

// Converts every input with core/dtype.h and with each table's vector converter; all must give `expect`.
void expect_f16(float in, uint16_t expect, const char* what) {
    EXPECT_EQ(fathom::f32_to_f16(in), expect) << what << " core, input " << in;
    for (const table* t : test::host_tables()) {
        uint16_t out[17];
        float buf[17];
        for (float& b : buf) b = in;
        t->f32_to_f16(buf, out, 17);
        for (uint16_t o : out) EXPECT_EQ(o, expect) << what << " " << kernels::isa_name(t->level) << " input " << in;
    }
}
void expect_bf16(float in, uint16_t expect, const char* what) {
    EXPECT_EQ(fathom::f32_to_bf16(in), expect) << what << " core, input " << in;
    for (const table* t : test::host_tables()) {
        uint16_t out[17];
        float buf[17];
        for (float& b : buf) b = in;
        t->f32_to_bf16(buf, out, 17);
        for (uint16_t o : out) EXPECT_EQ(o, expect) << what << " " << kernels::isa_name(t->level) << " input " << in;
    }
}

TEST(conversions, f16_decode_matches_formula_all_patterns) {
    std::vector<uint16_t> all(65536);
    for (uint32_t i = 0; i < 65536; ++i) all[i] = uint16_t(i);
    for (const table* t : test::host_tables()) {
        std::vector<float> out(65536);
        t->f16_to_f32(all.data(), out.data(), 65536);
        for (uint32_t i = 0; i < 65536; ++i) {
            const double ref = f16_value(uint16_t(i));
            if (std::isnan(ref)) {
                ASSERT_TRUE(std::isnan(out[i])) << i;
                ASSERT_TRUE(std::isnan(fathom::f16_to_f32(uint16_t(i)))) << i;
            } else {
                ASSERT_EQ(double(out[i]), ref) << kernels::isa_name(t->level) << " pattern " << i;
                ASSERT_EQ(double(fathom::f16_to_f32(uint16_t(i))), ref) << "core pattern " << i;
                ASSERT_EQ(std::signbit(out[i]), bool(i & 0x8000)) << i;
            }
        }
    }
}

TEST(conversions, f16_round_trip_ties_subnormals_overflow) {
    // Every finite F16 value survives F16 -> F32 -> F16.
    for (uint32_t h = 0; h < 65536; ++h) {
        if (((h >> 10) & 31) == 31) continue;
        const float f = float(f16_value(uint16_t(h)));
        ASSERT_EQ(fathom::f32_to_f16(f), uint16_t(h)) << h;
    }
    // Midpoints between neighbours (positive, finite, below the max) round to the even mantissa; a hair off goes
    // to the nearer one. Checked on a stride of patterns through core and the tables.
    for (uint32_t h = 0; h < 0x7bff; h += 37) {
        const double lo = f16_value(uint16_t(h)), hi = f16_value(uint16_t(h + 1));
        const float mid = float((lo + hi) / 2);  // exact in F32
        ASSERT_EQ(double(mid), (lo + hi) / 2);
        const uint16_t even = (h & 1) ? uint16_t(h + 1) : uint16_t(h);
        expect_f16(mid, even, "tie");
        expect_f16(-mid, uint16_t(even | 0x8000), "negative tie");
        expect_f16(std::nextafter(mid, 0.0f), uint16_t(h), "below tie");
        expect_f16(std::nextafter(mid, 1e9f), uint16_t(h + 1), "above tie");
    }
    expect_f16(std::ldexp(1.0f, -24), 0x0001, "smallest subnormal");
    expect_f16(std::ldexp(1.0f, -25), 0x0000, "half the smallest subnormal ties to 0");
    expect_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f), 0x0001, "just above half rounds up");
    expect_f16(std::ldexp(3.0f, -25), 0x0002, "1.5 x smallest ties to even 2");
    expect_f16(std::ldexp(1023.0f, -24), 0x03ff, "largest subnormal");
    expect_f16(std::ldexp(1.0f, -14), 0x0400, "smallest normal");
    expect_f16(1e-10f, 0x0000, "underflow");
    expect_f16(65504.0f, 0x7bff, "max");
    expect_f16(65519.0f, 0x7bff, "below overflow threshold");
    expect_f16(65520.0f, 0x7c00, "overflow threshold ties up to inf");
    expect_f16(1e10f, 0x7c00, "overflow");
    expect_f16(-1e10f, 0xfc00, "negative overflow");
    expect_f16(std::numeric_limits<float>::infinity(), 0x7c00, "inf");
    expect_f16(-std::numeric_limits<float>::infinity(), 0xfc00, "-inf");
    expect_f16(-0.0f, 0x8000, "-0");
    expect_f16(std::numeric_limits<float>::quiet_NaN(), 0x7e00, "NaN");
    expect_f16(-std::numeric_limits<float>::quiet_NaN(), 0xfe00, "-NaN");
}

TEST(conversions, bf16_round_trip_ties_nan) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint32_t u = h << 16;
        float f;
        std::memcpy(&f, &u, 4);
        EXPECT_EQ(std::memcmp(&f, &u, 4), 0);
        if (std::isnan(f)) {
            uint16_t r = fathom::f32_to_bf16(f);
            ASSERT_TRUE(std::isnan(fathom::bf16_to_f32(r))) << h;
            continue;
        }
        ASSERT_EQ(fathom::f32_to_bf16(f), uint16_t(h)) << h;
        ASSERT_EQ(std::memcmp(&u, &f, 4), 0);
    }
    const auto from_bits = [](uint32_t u) {
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    };
    expect_bf16(from_bits(0x3f808000u), 0x3f80, "tie to even (down)");
    expect_bf16(from_bits(0x3f818000u), 0x3f82, "tie to even (up)");
    expect_bf16(from_bits(0x3f808001u), 0x3f81, "above tie");
    expect_bf16(from_bits(0x3f807fffu), 0x3f80, "below tie");
    expect_bf16(from_bits(0x00008000u), 0x0000, "subnormal tie to even 0");
    expect_bf16(from_bits(0x00018000u), 0x0002, "subnormal tie to even 2");
    expect_bf16(from_bits(0x7f7fffffu), 0x7f80, "max float rounds to inf");
    expect_bf16(std::numeric_limits<float>::infinity(), 0x7f80, "inf");
    expect_bf16(-std::numeric_limits<float>::infinity(), 0xff80, "-inf");
    expect_bf16(from_bits(0x7f800001u), 0x7fc0, "signalling NaN becomes quiet");
    expect_bf16(from_bits(0xffc00000u), 0xffc0, "-NaN");
    for (const table* t : test::host_tables()) {
        uint16_t in[5] = {0x7f80, 0xff80, 0x0001, 0x8001, 0x7fc0};
        float out[5];
        t->bf16_to_f32(in, out, 5);
        EXPECT_EQ(out[0], std::numeric_limits<float>::infinity());
        EXPECT_EQ(out[1], -std::numeric_limits<float>::infinity());
        EXPECT_EQ(double(out[2]), std::ldexp(1.0, -133));
        EXPECT_EQ(double(out[3]), -std::ldexp(1.0, -133));
        EXPECT_TRUE(std::isnan(out[4]));
    }
}

// ---- dispatch

#if defined(__x86_64__)
std::set<std::string> cpuinfo_flags() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    std::set<std::string> flags;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream ss(line.substr(line.find(':') + 1));
        std::string f;
        while (ss >> f) flags.insert(f);
        break;
    }
    return flags;
}
#endif

TEST(dispatch, names_levels_and_selection) {
    using kernels::isa;
    EXPECT_STREQ(kernels::isa_name(isa::ISA_SCALAR), "scalar");
    EXPECT_STREQ(kernels::isa_name(isa::ISA_AVX2), "avx2");
    EXPECT_STREQ(kernels::isa_name(isa::ISA_AVX512), "avx512");
    EXPECT_STREQ(kernels::isa_name(isa::ISA_AVX512_VNNI), "avx512_vnni");
    EXPECT_STREQ(kernels::isa_name(isa::ISA_NEON), "neon");
    EXPECT_STREQ(kernels::isa_name(isa::ISA_AVX2_VNNI), "avx2_vnni");
    for (isa i : {isa::ISA_SCALAR, isa::ISA_AVX2, isa::ISA_AVX2_VNNI, isa::ISA_AVX512, isa::ISA_AVX512_VNNI,
                  isa::ISA_NEON}) {
        const table* t = kernels::for_isa(i);
        if (t) {
            EXPECT_EQ(t->level, i) << "table reports its own level honestly";
        }
    }
    ASSERT_NE(kernels::for_isa(isa::ISA_SCALAR), nullptr);
    // The VNNI level exists exactly when the CPU has AVX-512 VNNI on top of the AVX-512 level.
    EXPECT_EQ(kernels::for_isa(isa::ISA_AVX512_VNNI) != nullptr,
              kernels::for_isa(isa::ISA_AVX512) != nullptr && kernels::detect_cpu().avx512_vnni);
    // The AVX-VNNI level exists exactly when the CPU has AVX-VNNI on top of the AVX2 level.
    EXPECT_EQ(kernels::for_isa(isa::ISA_AVX2_VNNI) != nullptr,
              kernels::for_isa(isa::ISA_AVX2) != nullptr && kernels::detect_cpu().avx_vnni);

    const isa before = kernels::active().level;
    const char* env = std::getenv("FATHOM_ISA");
    if (!env || !*env) {  // best available
        isa best = isa::ISA_SCALAR;
        for (isa i : {isa::ISA_NEON, isa::ISA_AVX2, isa::ISA_AVX2_VNNI, isa::ISA_AVX512, isa::ISA_AVX512_VNNI})
            if (kernels::for_isa(i)) best = i;
        EXPECT_EQ(before, best);
    }
    EXPECT_TRUE(kernels::set_active(isa::ISA_SCALAR));
    EXPECT_EQ(kernels::active().level, isa::ISA_SCALAR);
    EXPECT_EQ(&kernels::active(), kernels::for_isa(isa::ISA_SCALAR));
    const isa missing = kernels::for_isa(isa::ISA_NEON) ? isa::ISA_AVX2 : isa::ISA_NEON;  // never both
    EXPECT_FALSE(kernels::set_active(missing));
    EXPECT_EQ(kernels::active().level, isa::ISA_SCALAR) << "a failed set_active leaves the table alone";
    EXPECT_TRUE(kernels::set_active(before));

    const table& s = scalar();
    EXPECT_EQ(kernels::matmul_rows_for(s, dtype::DTYPE_F32), s.matmul_rows_f32);
    EXPECT_EQ(kernels::matmul_rows_for(s, dtype::DTYPE_F16), s.matmul_rows_f16);
    EXPECT_EQ(kernels::matmul_rows_for(s, dtype::DTYPE_BF16), s.matmul_rows_bf16);
    EXPECT_EQ(kernels::matmul_rows_for(s, dtype::DTYPE_Q4_0), nullptr);
    EXPECT_EQ(kernels::matmul_rows_for(s, dtype::DTYPE_I32), nullptr);
}

// Checks FATHOM_ISA when it is set (the child runs below set it) and prints the active level for the parent.
TEST(dispatch, active_honours_env) {
    const char* env = std::getenv("FATHOM_ISA");
    const kernels::isa level = kernels::active().level;
    std::printf("active=%s\n", kernels::isa_name(level));
    if (!env) return;
    for (kernels::isa i : {kernels::isa::ISA_SCALAR, kernels::isa::ISA_AVX2, kernels::isa::ISA_AVX512,
                           kernels::isa::ISA_NEON})
        if (std::string(env) == kernels::isa_name(i) && kernels::for_isa(i)) {
            EXPECT_EQ(level, i);
        }
}

std::string run_child(const std::string& isa) {
    char self[4096];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return "";
    self[len] = 0;
    const std::string cmd =
        "FATHOM_ISA=" + isa + " '" + self + "' --gtest_filter=dispatch.active_honours_env 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return "";
    std::string out;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
    return out;
}

TEST(dispatch, env_override_in_child_process) {
    using kernels::isa;
    isa best = isa::ISA_SCALAR;
    for (isa i : {isa::ISA_NEON, isa::ISA_AVX2, isa::ISA_AVX2_VNNI, isa::ISA_AVX512, isa::ISA_AVX512_VNNI})
        if (kernels::for_isa(i)) best = i;
    const std::string best_line = std::string("active=") + kernels::isa_name(best);
    std::string out = run_child("scalar");
    if (out.find("[==========]") == std::string::npos)  // e.g. under a user-mode emulator without binfmt
        GTEST_SKIP() << "cannot re-run this test binary: " << out;
    EXPECT_NE(out.find("active=scalar"), std::string::npos) << out;
    EXPECT_NE(out.find("PASSED"), std::string::npos) << out;
    for (isa i : {isa::ISA_AVX2, isa::ISA_AVX512, isa::ISA_NEON}) {
        out = run_child(kernels::isa_name(i));
        if (kernels::for_isa(i)) {
            EXPECT_NE(out.find(std::string("active=") + kernels::isa_name(i)), std::string::npos) << out;
        } else {  // unavailable: warning, then the best table
            EXPECT_NE(out.find("not available"), std::string::npos) << out;
            EXPECT_NE(out.find(best_line), std::string::npos) << out;
        }
    }
    out = run_child("bogus");
    EXPECT_NE(out.find("unknown FATHOM_ISA"), std::string::npos) << out;
    EXPECT_NE(out.find(best_line), std::string::npos) << out;
}

TEST(dispatch, cpu_features_agree_with_proc_cpuinfo) {
#if defined(__x86_64__)
    const std::set<std::string> fl = cpuinfo_flags();
    if (fl.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags";
    const kernels::cpu_features& f = kernels::detect_cpu();
    // The kernel lists a flag only when the OS enables the state, so each must match CPUID + XGETBV.
    EXPECT_EQ(f.avx2, fl.count("avx2") == 1);
    EXPECT_EQ(f.fma, fl.count("fma") == 1);
    EXPECT_EQ(f.f16c, fl.count("f16c") == 1);
    EXPECT_EQ(f.avx512f, fl.count("avx512f") == 1);
    EXPECT_EQ(f.avx512bw, fl.count("avx512bw") == 1);
    EXPECT_EQ(f.avx512vl, fl.count("avx512vl") == 1);
    EXPECT_EQ(f.avx512dq, fl.count("avx512dq") == 1);
    EXPECT_EQ(f.avx512_vnni, fl.count("avx512_vnni") == 1);
    EXPECT_EQ(f.avx512_bf16, fl.count("avx512_bf16") == 1);
    EXPECT_EQ(f.avx_vnni, fl.count("avx_vnni") == 1);
    EXPECT_FALSE(f.neon);
    EXPECT_TRUE(!f.avx512f || f.os_avx512);
    EXPECT_TRUE(!f.avx2 || f.os_avx);
    const bool want_avx2 = f.avx2 && f.fma && f.f16c;
    EXPECT_EQ(kernels::for_isa(kernels::isa::ISA_AVX2) != nullptr, want_avx2);
    EXPECT_EQ(kernels::for_isa(kernels::isa::ISA_AVX512) != nullptr,
              want_avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq);
#else
    GTEST_SKIP() << "x86 only";
#endif
}

}  // namespace
}  // namespace fathom
