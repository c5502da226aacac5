// nn::matmul and get_row_f32 against a double-precision reference, every weight type, both paths, 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/thread-pool.h"
#include "io/model-file.h"
#include "kernels/kernel-test-util.h"
#include "nn/matmul.h"

namespace fathom {
namespace {

using test::encode;
using test::random_floats;

struct restore_state {
    kernels::isa level = kernels::active().level;
    ~restore_state() {
        kernels::set_active(level);
        nn::set_blas_min_tokens(0);
    }
};

// Runs one matmul case and checks every output against the double reference.
void check_case(thread_pool& pool, dtype type, int64_t n_in, int64_t n_out, int64_t n_tok, bool with_bias,
                size_t misalign, std::mt19937& rng, const std::string& what) {
    std::vector<float> wv = random_floats(rng, size_t(n_in * n_out));
    std::vector<float> wd;
    std::vector<uint8_t> bytes = encode(type, wv, &wd);
    std::vector<uint8_t> storage(bytes.size() + 64);
    std::memcpy(storage.data() + misalign, bytes.data(), bytes.size());

    io::tensor_entry w;
    w.name = "test.weight";
    w.type = type;
    w.ne = {n_in, n_out};
    w.data = storage.data() + misalign;
    w.nbytes = bytes.size();

    const int64_t ldx = n_in + 3, ldy = n_out + 5;
    std::vector<float> x = random_floats(rng, size_t(ldx * n_tok));
    std::vector<float> bias = random_floats(rng, size_t(n_out));
    std::vector<float> y(size_t(ldy * n_tok), 12345.0f);
    nn::matmul(pool, w, x.data(), ldx, n_tok, y.data(), ldy, with_bias ? bias.data() : nullptr);

    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t r = 0; r < n_out; ++r) {
            double ref = with_bias ? bias[size_t(r)] : 0.0, mag = std::fabs(ref);
            for (int64_t i = 0; i < n_in; ++i) {
                const double p = double(wd[size_t(r * n_in + i)]) * double(x[size_t(t * ldx + i)]);
                ref += p;
                mag += std::fabs(p);
            }
            const double got = y[size_t(t * ldy + r)];
            // F32 accumulation of up to ~1000 terms: well inside 1e-5 of the sum of |products|.
            ASSERT_NEAR(got, ref, 1e-5 * mag + 1e-30)
                << what << " t=" << t << " r=" << r;
        }
        // Padding between rows of y is left alone.
        for (int64_t r = n_out; r < ldy; ++r) ASSERT_EQ(y[size_t(t * ldy + r)], 12345.0f) << what;
    }
}

TEST(matmul, all_types_paths_threads_and_isas) {
    restore_state restore;
    std::mt19937 rng(7);
    const int64_t tokens[] = {1, 3, 8, 33, 130};
    const int64_t shapes[][2] = {{1, 1}, {7, 5}, {67, 37}, {300, 131}, {64, 16}};
    for (int threads : {1, 2}) {
        thread_pool pool(threads);
        for (const kernels::table* tab : test::host_tables()) {
            ASSERT_TRUE(kernels::set_active(tab->level));
            for (int64_t blas_min : {int64_t(16), int64_t(1) << 40}) {  // BLAS for n_tok >= 16, or kernels only
                nn::set_blas_min_tokens(blas_min);
                for (dtype type : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
                    for (const auto& sh : shapes) {
                        for (int64_t n_tok : tokens) {
                            const bool bias = (n_tok + sh[0]) % 2 == 1;
                            const size_t misalign = size_t(n_tok % 3);  // 0, 1 or 2 bytes off
                            std::string what = std::string(kernels::isa_name(tab->level)) + " " +
                                               test::type_name(type) + " threads=" + std::to_string(threads) +
                                               " blas_min=" + std::to_string(blas_min) + " n_in=" +
                                               std::to_string(sh[0]) + " n_out=" + std::to_string(sh[1]) +
                                               " n_tok=" + std::to_string(n_tok);
                            check_case(pool, type, sh[0], sh[1], n_tok, bias, misalign, rng, what);
                        }
                    }
                }
            }
        }
    }
}

TEST(matmul, larger_shape_both_paths) {
    // A shape big enough for several row blocks per thread and several BLAS panels.
    restore_state restore;
    std::mt19937 rng(11);
    thread_pool pool(2);
    for (dtype type : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
        nn::set_blas_min_tokens(16);
        check_case(pool, type, 1024 + 3, 700, 40, true, 0, rng, std::string("blas ") + test::type_name(type));
        nn::set_blas_min_tokens(int64_t(1) << 40);
        check_case(pool, type, 1024 + 3, 700, 40, true, 0, rng, std::string("kernel ") + test::type_name(type));
    }
    // Long rows: converted panels are sliced along n_in (the slices accumulate into Y), many slices per panel.
    thread_pool one(1);
    nn::set_blas_min_tokens(16);
    for (dtype type : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16})
        check_case(one, type, 8192 + 3, 500, 20, false, 1, rng, std::string("long rows ") + test::type_name(type));
    // Many rows: row panels are capped, so one thread works through several of them, each with several slices.
    for (dtype type : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16})
        check_case(one, type, 300, 2100, 20, true, 0, rng, std::string("many rows ") + test::type_name(type));
}

TEST(matmul, blas_threshold_knob) {
    restore_state restore;
    nn::set_blas_min_tokens(5);
    EXPECT_EQ(nn::blas_min_tokens(dtype::DTYPE_F32), 5);
    EXPECT_EQ(nn::blas_min_tokens(dtype::DTYPE_BF16), 5);
    nn::set_blas_min_tokens(0);
    EXPECT_GT(nn::blas_min_tokens(dtype::DTYPE_F32), 4);
    EXPECT_GE(nn::blas_min_tokens(dtype::DTYPE_F16), nn::blas_min_tokens(dtype::DTYPE_F32));
    for (dtype type : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16})
        EXPECT_GE(nn::blas_min_tokens(), nn::blas_min_tokens(type));
}

TEST(matmul, default_thresholds_on_both_sides) {
    // Default thresholds: token counts just below and at each type's threshold, checked against the reference.
    restore_state restore;
    nn::set_blas_min_tokens(0);
    std::mt19937 rng(13);
    thread_pool pool(2);
    for (dtype type : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
        const int64_t th = nn::blas_min_tokens(type);
        for (int64_t n_tok : {th - 1, th})
            check_case(pool, type, 129, 67, n_tok, true, 0, rng,
                       std::string("default threshold ") + test::type_name(type) + " n_tok=" + std::to_string(n_tok));
    }
}

TEST(matmul, unsupported_type_throws_naming_it) {
    thread_pool pool(1);
    std::vector<uint8_t> data(84 * 4);  // Q2_K: a known GGUF type without a kernel
    io::tensor_entry w;
    w.name = "blk.0.ffn_up.weight";
    w.type = dtype::DTYPE_Q2_K;
    w.ne = {256, 4};
    w.data = data.data();
    float x[256] = {}, y[4];
    try {
        nn::matmul(pool, w, x, 256, 1, y, 4);
        FAIL() << "expected an error";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::ERRC_UNSUPPORTED);
        EXPECT_NE(std::string(e.what()).find("q2_k"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos) << e.what();
    }
}

TEST(matmul, get_row_all_types) {
    std::mt19937 rng(3);
    const int64_t n_in = 37, n_rows = 9;
    for (dtype type : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
        std::vector<float> v = random_floats(rng, size_t(n_in * n_rows), -3.0f, 3.0f), dec;
        std::vector<uint8_t> bytes = encode(type, v, &dec);
        std::vector<uint8_t> storage(bytes.size() + 1);
        std::memcpy(storage.data() + 1, bytes.data(), bytes.size());  // unaligned on purpose
        io::tensor_entry w;
        w.name = "token_embd.weight";
        w.type = type;
        w.ne = {n_in, n_rows};
        w.data = storage.data() + 1;
        std::vector<float> out(static_cast<size_t>(n_in));
        for (int64_t r : {int64_t(0), int64_t(4), n_rows - 1}) {
            nn::get_row_f32(w, r, out.data());
            for (int64_t i = 0; i < n_in; ++i) ASSERT_EQ(out[size_t(i)], dec[size_t(r * n_in + i)]);
        }
        EXPECT_THROW(nn::get_row_f32(w, n_rows, out.data()), error);
        EXPECT_THROW(nn::get_row_f32(w, -1, out.data()), error);
    }
}

}  // namespace
}  // namespace fathom
