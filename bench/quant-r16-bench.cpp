// R16 quantised matmul microbenchmarks (16-row interleaved Q4_0, Q8_0, IQ4_NL, Q4_1, Q4_K, IQ4_XS and Q6_K weights x
// 8-token INT8 panels), one thread, every ISA table this CPU has (a type is left out on a level that only inherits
// the scalar kernel for it): GB/s of weight bytes streamed and GOP/s (2 * n_in * n_out * n_tok
// per call) at tinyllama shapes (n_out x n_in: 2048 x 2048, 5632 x 2048, 2048 x 5632). One token runs "dram": a pool
// of weight copies larger than the last-level cache is walked, so every call streams its weights from memory; 8, 64
// and 256 tokens run "hot" (one matrix, cache-resident). Names follow bench/quant-legacy-bench.cpp, so the two compare
// line by line. Also the panel quantiser (GB/s of F32 input).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "kernels/kernels.h"
#include "quant/quant.h"
#include "quant/repack.h"

namespace {

using fathom::dtype;
namespace kernels = fathom::kernels;
namespace quant = fathom::quant;

constexpr size_t k_dram_pool_bytes = size_t(1) << 30;  // > the 300 MiB L3 of the benchmark machine

const dtype k_types[] = {dtype::DTYPE_Q4_0, dtype::DTYPE_Q8_0,   dtype::DTYPE_IQ4_NL, dtype::DTYPE_Q4_1,
                         dtype::DTYPE_Q4_K, dtype::DTYPE_IQ4_XS, dtype::DTYPE_Q6_K};

// Random codes with sane F16 scales in GGUF row order (the kernels' speed does not depend on the values; Q4_K's
// packed 6-bit scales and mins stay random bytes).
void fill_weights(uint8_t* p, dtype type, int64_t rows, int64_t cols, uint32_t seed) {
    const size_t bb = fathom::dtype_info(type).type_size;
    const size_t nblocks = size_t(rows * cols / fathom::dtype_info(type).block_size);
    std::mt19937 rng(seed);
    for (size_t i = 0; i < nblocks * bb; ++i) p[i] = uint8_t(rng());
    const bool with_min = type == dtype::DTYPE_Q4_1 || type == dtype::DTYPE_Q4_K;
    for (size_t b = 0; b < nblocks; ++b) {
        const uint16_t d = fathom::f32_to_f16(0.001f + float(rng() % 1000) * 1e-5f);
        std::memcpy(p + b * bb, &d, 2);
        if (with_min) std::memcpy(p + b * bb + 2, &d, 2);
    }
}

// Repacked weight matrices: one copy (hot) or a pool of copies spanning k_dram_pool_bytes (dram), built once per shape.
struct weight_pool {
    fathom::aligned_buffer buf;
    size_t matrix_bytes = 0;
    size_t copies = 0;
};
const weight_pool& get_pool(dtype type, int64_t rows, int64_t cols, bool dram) {
    static std::map<std::tuple<int, int64_t, int64_t, bool>, std::unique_ptr<weight_pool>> cache;
    const auto key = std::make_tuple(int(type), rows, cols, dram);
    auto it = cache.find(key);
    if (it != cache.end()) return *it->second;
    cache.clear();  // keep one pool alive at a time (the dram pools are large)
    auto w = std::make_unique<weight_pool>();
    std::vector<uint8_t> gguf(fathom::dtype_row_bytes(type, cols) * size_t(rows));
    fill_weights(gguf.data(), type, rows, cols, 7);
    w->matrix_bytes = quant::r16_bytes(type, rows, cols);
    w->copies = dram ? std::max<size_t>(2, k_dram_pool_bytes / w->matrix_bytes) : 1;
    w->buf.reset(w->matrix_bytes * w->copies);
    quant::repack_r16(type, gguf.data(), fathom::dtype_row_bytes(type, cols), rows, cols, w->buf.as<uint8_t>());
    for (size_t c = 1; c < w->copies; ++c)
        std::memcpy(w->buf.as<uint8_t>() + c * w->matrix_bytes, w->buf.as<uint8_t>(), w->matrix_bytes);
    return *cache.emplace(key, std::move(w)).first->second;
}

std::vector<float> activations(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = u(rng);
    return x;
}

// n_tok token rows of n_in floats -> ceil(n_tok / 8) panels (64-byte aligned, as the scratch the kernels get).
fathom::aligned_buffer make_panels(const kernels::table* t, dtype type, const float* x, int64_t n_in, int64_t n_tok) {
    const size_t panel_bytes = size_t(n_in / quant::QK) * kernels::k_r16_panel_block_bytes;
    const int64_t panels = (n_tok + kernels::k_r16_panel - 1) / kernels::k_r16_panel;
    fathom::aligned_buffer buf(panel_bytes * size_t(panels));
    for (int64_t p = 0; p < panels; ++p)
        t->quantize_panel_q8(x + p * kernels::k_r16_panel * n_in, n_in,
                             std::min(kernels::k_r16_panel, n_tok - p * kernels::k_r16_panel),
                             buf.as<uint8_t>() + size_t(p) * panel_bytes, n_in, kernels::r16_sum_mode(type));
    return buf;
}

void bm_matmul(benchmark::State& st, const kernels::table* t, dtype type, int64_t n_out, int64_t n_in, int64_t n_tok,
               bool dram) {
    const weight_pool& w = get_pool(type, n_out, n_in, dram);
    const std::vector<float> xf = activations(n_in * n_tok, 3);
    const fathom::aligned_buffer xp = make_panels(t, type, xf.data(), n_in, n_tok);
    std::vector<float> y(size_t(n_out * n_tok));
    const kernels::matmul_r16_fn fn = kernels::matmul_r16_for(*t, type);
    size_t c = 0;
    for (auto _ : st) {
        fn(w.buf.as<uint8_t>() + c * w.matrix_bytes, n_out, xp.data(), n_tok, y.data(), n_out, n_in);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
        if (++c == w.copies) c = 0;
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(w.matrix_bytes));
    st.counters["GOPs"] = benchmark::Counter(2e-9 * double(n_in) * double(n_out) * double(n_tok),
                                             benchmark::Counter::kIsIterationInvariantRate);
}

void bm_quantize(benchmark::State& st, const kernels::table* t, int64_t n) {
    const std::vector<float> x = activations(n * kernels::k_r16_panel, 5);
    fathom::aligned_buffer out(size_t(n / quant::QK) * kernels::k_r16_panel_block_bytes);
    for (auto _ : st) {
        t->quantize_panel_q8(x.data(), n, kernels::k_r16_panel, out.data(), n, 8);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * n * kernels::k_r16_panel * 4);
}

void register_all() {
    for (kernels::isa i : {kernels::isa::ISA_SCALAR, kernels::isa::ISA_AVX2, kernels::isa::ISA_AVX2_VNNI,
                           kernels::isa::ISA_AVX512, kernels::isa::ISA_AVX512_VNNI, kernels::isa::ISA_NEON}) {
        const kernels::table* t = kernels::for_isa(i);
        if (!t) continue;
        const std::string isa = kernels::isa_name(i);
        benchmark::RegisterBenchmark(("quantize_panel/" + isa + "/n4096").c_str(), bm_quantize, t, int64_t(4096));
        const kernels::table* sc = kernels::for_isa(kernels::isa::ISA_SCALAR);
        for (dtype type : k_types) {
            if (i != kernels::isa::ISA_SCALAR && kernels::matmul_r16_for(*t, type) == kernels::matmul_r16_for(*sc, type))
                continue;
            for (auto [n_out, n_in] : {std::pair<int64_t, int64_t>{2048, 2048}, {5632, 2048}, {2048, 5632}}) {
                for (int64_t n_tok : {int64_t(1), int64_t(8), int64_t(64), int64_t(256)}) {
                    const bool dram = n_tok == 1;  // decode streams its weights; prefill is compute-bound
                    if (i == kernels::isa::ISA_SCALAR && n_tok > 8) continue;
                    const std::string name = std::string("matmul_r16/") + fathom::dtype_name(type) + "/" + isa + "/" +
                                             (dram ? "dram/" : "hot/") + std::to_string(n_out) + "x" +
                                             std::to_string(n_in) + "/tok" + std::to_string(n_tok);
                    benchmark::RegisterBenchmark(name.c_str(), bm_matmul, t, type, n_out, n_in, n_tok, dram)
                        ->Unit(benchmark::kMicrosecond);
                }
            }
        }
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
