// Kernel microbenchmarks: matmul_rows per weight type and ISA at decode shapes (GB/s of weights read), matmul() at
// decode and prefill sizes (GB/s, GFLOP/s), and the token-count crossover between the kernel and BLAS paths.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/thread-pool.h"
#include "io/model-file.h"
#include "kernels/kernels.h"
#include "nn/matmul.h"

namespace {

using fathom::dtype;
namespace kernels = fathom::kernels;

size_t elem_size(dtype t) { return t == dtype::DTYPE_F32 ? 4 : 2; }

// Weights of a given type and shape, built once and shared by every benchmark that needs them.
struct weights {
    fathom::aligned_buffer buf;
    fathom::io::tensor_entry entry;
};
const weights& get_weights(dtype type, int64_t rows, int64_t cols) {
    static std::map<std::tuple<int, int64_t, int64_t>, std::unique_ptr<weights>> cache;
    auto key = std::make_tuple(int(type), rows, cols);
    auto it = cache.find(key);
    if (it != cache.end()) return *it->second;
    auto w = std::make_unique<weights>();
    const size_t n = size_t(rows * cols);
    w->buf.reset(n * elem_size(type));
    uint32_t s = 12345;
    for (size_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        const float v = float(int32_t(s >> 8) - (1 << 23)) * (1.0f / float(1 << 23)) * 0.05f;
        if (type == dtype::DTYPE_F32) w->buf.as<float>()[i] = v;
        else if (type == dtype::DTYPE_F16) w->buf.as<uint16_t>()[i] = fathom::f32_to_f16(v);
        else w->buf.as<uint16_t>()[i] = fathom::f32_to_bf16(v);
    }
    w->entry.name = "bench.weight";
    w->entry.type = type;
    w->entry.ne = {cols, rows};
    w->entry.data = w->buf.data();
    w->entry.nbytes = n * elem_size(type);
    return *cache.emplace(key, std::move(w)).first->second;
}

std::vector<float> activations(int64_t n) {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[size_t(i)] = float((i * 7) % 13) * 0.1f - 0.6f;
    return x;
}

// One thread, the table's matmul_rows over the whole matrix, one token: the decode GEMV.
void bm_matmul_rows(benchmark::State& st, const kernels::table* t, dtype type, int64_t rows, int64_t cols) {
    const weights& w = get_weights(type, rows, cols);
    std::vector<float> x = activations(cols), y(static_cast<size_t>(rows));
    kernels::matmul_rows_fn fn = kernels::matmul_rows_for(*t, type);
    const size_t rb = size_t(cols) * elem_size(type);
    for (auto _ : st) {
        fn(w.buf.data(), rb, rows, x.data(), cols, 1, y.data(), rows, cols);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(rb) * rows);
}

// matmul() through the pool (active table / BLAS as matmul() decides).
void bm_matmul(benchmark::State& st, dtype type, int64_t rows, int64_t cols, int64_t n_tok, int threads,
               int64_t blas_min) {
    const weights& w = get_weights(type, rows, cols);
    fathom::thread_pool pool(threads);
    std::vector<float> x = activations(cols * n_tok), y(static_cast<size_t>(rows * n_tok));
    fathom::nn::set_blas_min_tokens(blas_min);
    for (auto _ : st) {
        fathom::nn::matmul(pool, w.entry, x.data(), cols, n_tok, y.data(), rows);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    fathom::nn::set_blas_min_tokens(0);
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(w.entry.nbytes));
    st.counters["FLOP/s"] = benchmark::Counter(2.0 * double(n_tok) * double(rows) * double(cols),
                                               benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
}

// With --benchmark_repetitions, "min" (of times) and "max" (of rates) give best-case figures on a shared machine.
double stat_min(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); }
double stat_max(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); }
benchmark::internal::Benchmark* with_stats(benchmark::internal::Benchmark* b) {
    return b->ComputeStatistics("min", stat_min)->ComputeStatistics("max", stat_max);
}

const dtype k_types[] = {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16};
const int64_t k_decode_shapes[][2] = {{2048, 2048}, {5632, 2048}, {32000, 2048}};
constexpr int64_t k_never = int64_t(1) << 40;

void register_all() {
    for (kernels::isa i : {kernels::isa::ISA_SCALAR, kernels::isa::ISA_AVX2, kernels::isa::ISA_AVX512,
                           kernels::isa::ISA_AVX512_VNNI, kernels::isa::ISA_NEON}) {
        const kernels::table* t = kernels::for_isa(i);
        if (!t) continue;
        for (dtype type : k_types)
            for (const auto& s : k_decode_shapes) {
                std::string name = std::string("matmul_rows/") + fathom::dtype_name(type) + "/" +
                                   kernels::isa_name(i) + "/" + std::to_string(s[0]) + "x" + std::to_string(s[1]);
                with_stats(benchmark::RegisterBenchmark(name.c_str(), bm_matmul_rows, t, type, s[0], s[1]))
                    ->Unit(benchmark::kMicrosecond)
                    ->MinTime(0.3);
            }
    }
    // Decode through matmul() (active ISA) with 1 and 2 threads.
    for (dtype type : k_types)
        for (const auto& s : k_decode_shapes)
            for (int threads : {1, 2}) {
                std::string name = std::string("matmul_decode/") + fathom::dtype_name(type) + "/" +
                                   std::to_string(s[0]) + "x" + std::to_string(s[1]) + "/threads:" +
                                   std::to_string(threads);
                with_stats(benchmark::RegisterBenchmark(name.c_str(), bm_matmul, type, s[0], s[1], 1, threads, k_never))
                    ->Unit(benchmark::kMicrosecond)
                    ->MinTime(0.3)
                    ->UseRealTime();
            }
    // Prefill: 512 tokens through matmul() (BLAS path when built with it) and, for comparison, the kernel path, at the
    // tinyllama-1.1b shapes (rows x cols = n_out x n_in: attention q/o, k/v, FFN gate/up, FFN down).
    for (dtype type : k_types)
        for (const auto& s : {std::array<int64_t, 2>{2048, 2048}, std::array<int64_t, 2>{256, 2048},
                              std::array<int64_t, 2>{5632, 2048}, std::array<int64_t, 2>{2048, 5632}})
            for (int threads : {1, 2})
                for (bool blas : {true, false}) {
                    std::string name = std::string("matmul_prefill512/") + fathom::dtype_name(type) + "/" +
                                       std::to_string(s[0]) + "x" + std::to_string(s[1]) + "/" +
                                       (blas ? "blas" : "kernel") + "/threads:" + std::to_string(threads);
                    with_stats(benchmark::RegisterBenchmark(name.c_str(), bm_matmul, type, s[0], s[1], 512, threads,
                                                 blas ? int64_t(1) : k_never))
                        ->Unit(benchmark::kMillisecond)
                        ->MinTime(0.5)
                        ->UseRealTime();
                }
    // Crossover: small token counts, kernel path vs BLAS path, 2 threads, 2048x2048.
    for (dtype type : k_types)
        for (int64_t n_tok : {2, 4, 8, 12, 16, 24, 32, 48, 64})
            for (bool blas : {true, false}) {
                std::string name = std::string("matmul_tokens/") + fathom::dtype_name(type) + "/" +
                                   (blas ? "blas" : "kernel") + "/n_tok:" + std::to_string(n_tok);
                with_stats(benchmark::RegisterBenchmark(name.c_str(), bm_matmul, type, 2048, 2048, n_tok, 2,
                                             blas ? int64_t(1) : k_never))
                    ->Unit(benchmark::kMicrosecond)
                    ->MinTime(0.2)
                    ->UseRealTime();
            }
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
