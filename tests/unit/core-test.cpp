// Core runtime tests: dtype table and conversions, tensor views, aligned buffers, mmap, thread pool.
#include <gtest/gtest.h>

#include <stdexcept>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/mmap.h"
#include "core/tensor.h"
#include "core/thread-pool.h"

using namespace fathom;

TEST(dtype, table_sizes_match_ggml) {
    EXPECT_EQ(dtype_row_bytes(dtype::DTYPE_F32, 10), 40u);
    EXPECT_EQ(dtype_row_bytes(dtype::DTYPE_F16, 10), 20u);
    EXPECT_EQ(dtype_row_bytes(dtype::DTYPE_BF16, 10), 20u);
    EXPECT_EQ(dtype_row_bytes(dtype::DTYPE_Q4_0, 64), 36u);
    EXPECT_EQ(dtype_row_bytes(dtype::DTYPE_Q8_0, 64), 68u);
    EXPECT_EQ(dtype_row_bytes(dtype::DTYPE_Q4_K, 512), 288u);
    EXPECT_EQ(dtype_row_bytes(dtype::DTYPE_Q6_K, 256), 210u);
    EXPECT_THROW(dtype_row_bytes(dtype::DTYPE_Q4_0, 33), error);
    EXPECT_FALSE(dtype_known(4));   // removed Q4_2
    EXPECT_FALSE(dtype_known(999));
    dtype t;
    ASSERT_TRUE(dtype_from_name("BF16", &t));
    EXPECT_EQ(t, dtype::DTYPE_BF16);
    EXPECT_FALSE(dtype_from_name("f8", &t));
}

// Independent F16 decode via ldexp, for every one of the 65536 bit patterns.
static double f16_reference(uint16_t h) {
    int sign = (h >> 15) ? -1 : 1;
    int exp = (h >> 10) & 31;
    int mant = h & 1023;
    if (exp == 0) return sign * std::ldexp(double(mant), -24);
    if (exp == 31) return mant ? NAN : sign * INFINITY;
    return sign * std::ldexp(double(1024 + mant), exp - 25);
}

TEST(dtype, f16_decode_all_patterns) {
    for (uint32_t h = 0; h < 65536; ++h) {
        double ref = f16_reference(uint16_t(h));
        float got = f16_to_f32(uint16_t(h));
        if (std::isnan(ref)) {
            EXPECT_TRUE(std::isnan(got)) << h;
        } else {
            ASSERT_EQ(double(got), ref) << h;
            ASSERT_EQ(std::signbit(got), bool(h & 0x8000)) << h;
        }
    }
}

TEST(dtype, f16_encode_round_trip_and_rounding) {
    // Every finite f16 value round-trips exactly.
    for (uint32_t h = 0; h < 65536; ++h) {
        if (((h >> 10) & 31) == 31) continue;
        ASSERT_EQ(f32_to_f16(f16_to_f32(uint16_t(h))), h) << h;
    }
    // Nearest-even rounding: check random floats against the two neighbouring f16 values.
    uint32_t state = 12345;
    for (int i = 0; i < 200000; ++i) {
        state = state * 1664525u + 1013904223u;
        float x = std::ldexp(float(state >> 8) / float(1 << 24) * 2 - 1, int(state % 40) - 25);
        uint16_t h = f32_to_f16(x);
        double got = f16_to_f32(h);
        double err = std::fabs(got - double(x));
        // No other finite f16 is closer.
        for (int d : {-1, 1}) {
            uint16_t n = uint16_t(h + d);
            if (((n >> 10) & 31) == 31 || ((h ^ n) & 0x8000)) continue;
            ASSERT_LE(err, std::fabs(double(f16_to_f32(n)) - double(x))) << x;
        }
    }
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7bffu);
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00u);  // tie rounds to even -> inf
    EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00u);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001u);  // smallest subnormal
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000u);  // tie to even -> 0
    EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001u);
    EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
}

TEST(dtype, bf16_round_nearest_even) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80u);
    float x;
    uint32_t u = 0x3f808000u;  // exactly halfway between 0x3f80 and 0x3f81 -> even (0x3f80)
    std::memcpy(&x, &u, 4);
    EXPECT_EQ(f32_to_bf16(x), 0x3f80u);
    u = 0x3f818000u;  // halfway, odd below -> rounds up to 0x3f82
    std::memcpy(&x, &u, 4);
    EXPECT_EQ(f32_to_bf16(x), 0x3f82u);
    u = 0x3f808001u;
    std::memcpy(&x, &u, 4);
    EXPECT_EQ(f32_to_bf16(x), 0x3f81u);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
    EXPECT_EQ(bf16_to_f32(0xc040u), -3.0f);
}

TEST(tensor, view_strides) {
    std::vector<float> data(6 * 4);
    tensor_view v = make_view(dtype::DTYPE_F32, data.data(), {6, 4});
    EXPECT_EQ(v.n_dims, 2);
    EXPECT_EQ(v.nelements(), 24);
    EXPECT_EQ(v.rows(), 4);
    EXPECT_EQ(v.nb[1], 24u);
    EXPECT_EQ(v.row(2), reinterpret_cast<const uint8_t*>(data.data()) + 48);
    tensor_view q = make_view(dtype::DTYPE_Q8_0, nullptr, {64, 3});
    EXPECT_EQ(q.nb[1], 68u);
}

TEST(tensor, aligned_buffer) {
    aligned_buffer b(100);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
    EXPECT_EQ(b.size(), 100u);
    for (size_t i = 0; i < 100; ++i) ASSERT_EQ(b.as<uint8_t>()[i], 0);
    aligned_buffer c = std::move(b);
    EXPECT_EQ(b.data(), nullptr);
    EXPECT_EQ(c.size(), 100u);
    // Large buffers come from anonymous mappings: still aligned and zero, and writable to the last byte.
    aligned_buffer big(size_t(3) << 20);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % 64, 0u);
    const uint8_t* p = big.as<uint8_t>();
    EXPECT_EQ(p[0] | p[big.size() / 2] | p[big.size() - 1], 0);
    big.as<uint8_t>()[big.size() - 1] = 7;
    aligned_buffer moved;
    moved = std::move(big);
    EXPECT_EQ(moved.as<uint8_t>()[moved.size() - 1], 7);
    moved.reset(10);  // back to the heap
    EXPECT_EQ(moved.size(), 10u);
    EXPECT_EQ(moved.as<uint8_t>()[9], 0);
}

TEST(mmap, maps_file_and_reports_missing) {
    auto path = std::filesystem::temp_directory_path() / ("fathom-mmap-" + std::to_string(::getpid()));
    {
        std::ofstream f(path, std::ios::binary);
        f << "hello mmap";
    }
    {
        mapped_file m(path.string());
        ASSERT_EQ(m.size(), 10u);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), m.size()), "hello mmap");
    }
    std::filesystem::remove(path);
    try {
        mapped_file m(path.string());
        FAIL() << "expected an error";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::ERRC_IO);
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
    }
}

TEST(thread_pool, parallel_for_covers_range_exactly_once) {
    for (int nt : {1, 2, 3, 4}) {
        thread_pool pool(nt);
        EXPECT_EQ(pool.size(), nt);
        for (int64_t n : {0, 1, 7, 1000, 12345}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            for (auto& h : hits) h = 0;
            std::atomic<int> max_thread{-1};
            pool.parallel_for(n, 3, [&](int64_t b, int64_t e, int t) {
                for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
                int cur = max_thread.load();
                while (t > cur && !max_thread.compare_exchange_weak(cur, t)) {}
            });
            for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n=" << n << " i=" << i;
            EXPECT_LT(max_thread.load(), nt);
        }
    }
}

TEST(thread_pool, static_split_and_many_rounds) {
    thread_pool pool(2);
    int64_t total = 0;
    for (int round = 0; round < 2000; ++round) {
        std::vector<int64_t> partial(2, 0);
        pool.parallel_for_static(round, [&](int64_t b, int64_t e, int t) {
            for (int64_t i = b; i < e; ++i) partial[size_t(t)] += i;
        });
        int64_t s = partial[0] + partial[1];
        ASSERT_EQ(s, int64_t(round) * (round - 1) / 2);
        total += s;
    }
    EXPECT_GT(total, 0);
    std::atomic<int> ran{0};
    pool.run([&](int, int n) {
        EXPECT_EQ(n, 2);
        ran++;
    });
    EXPECT_EQ(ran.load(), 2);
}

TEST(thread_pool, exceptions_reach_the_caller) {
    for (int threads : {1, 2, 4}) {
        thread_pool pool(threads);
        for (int thrower = 0; thrower < threads; ++thrower) {  // from a worker or from the caller's share
            EXPECT_THROW(pool.run([&](int t, int) {
                if (t == thrower) throw std::runtime_error("boom");
            }),
                         std::runtime_error);
        }
        EXPECT_THROW(pool.parallel_for(1000, 1, [&](int64_t, int64_t e, int) {
            if (e > 500) throw std::runtime_error("late chunk");
        }),
                     std::runtime_error);
        // the pool still works afterwards
        std::atomic<int64_t> sum{0};
        pool.parallel_for(100, 1, [&](int64_t b, int64_t e, int) { sum += e - b; });
        EXPECT_EQ(sum.load(), 100);
    }
}

TEST(thread_pool, default_size_is_physical_cores) {
    thread_pool pool;
    EXPECT_EQ(pool.size(), physical_core_count());
    EXPECT_GE(pool.size(), 1);
}
