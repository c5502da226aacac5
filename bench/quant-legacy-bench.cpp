// Legacy quantised matmul microbenchmarks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL x INT8), one thread, every ISA table
// this CPU has: GB/s of weight bytes streamed and GOP/s (2 * n_in * n_out * n_tok per call) at tinyllama shapes
// (n_in 2048, n_out 2048 / 5632) for 1, 4, 16 and 64 tokens, one token at n_out 512 (weights resident in L2: the
// kernel's compute limit) and at n_in 5632 (the FFN down projection). "hot" reuses one matrix (cache-resident);
// "dram" walks a pool of copies larger than the last-level cache, so every call streams its weights from memory.
// Also the activation quantisers (GB/s of F32 input).
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

namespace {

using fathom::dtype;
namespace kernels = fathom::kernels;
namespace quant = fathom::quant;

constexpr size_t k_dram_pool_bytes = size_t(1) << 30;  // > the 300 MiB L3 of the benchmark machine

const dtype k_types[] = {dtype::DTYPE_Q4_0, dtype::DTYPE_Q4_1, dtype::DTYPE_Q5_0,
                         dtype::DTYPE_Q5_1, dtype::DTYPE_Q8_0, dtype::DTYPE_IQ4_NL};

// Random codes with sane F16 scales (the kernels' speed does not depend on the values).
void fill_weights(uint8_t* p, dtype type, int64_t rows, int64_t cols, uint32_t seed) {
    const size_t bb = fathom::dtype_info(type).type_size;
    const size_t nblocks = size_t(rows * cols / quant::QK);
    std::mt19937 rng(seed);
    for (size_t i = 0; i < nblocks * bb; ++i) p[i] = uint8_t(rng());
    const bool with_min = type == dtype::DTYPE_Q4_1 || type == dtype::DTYPE_Q5_1;
    for (size_t b = 0; b < nblocks; ++b) {
        const uint16_t d = fathom::f32_to_f16(0.001f + float(rng() % 1000) * 1e-5f);
        std::memcpy(p + b * bb, &d, 2);
        if (with_min) std::memcpy(p + b * bb + 2, &d, 2);
    }
}

// Weight matrices: one copy (hot) or a pool of copies spanning k_dram_pool_bytes (dram), built once per shape.
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
    w->matrix_bytes = fathom::dtype_row_bytes(type, cols) * size_t(rows);
    w->copies = dram ? std::max<size_t>(2, k_dram_pool_bytes / w->matrix_bytes) : 1;
    w->buf.reset(w->matrix_bytes * w->copies);
    fill_weights(w->buf.as<uint8_t>(), type, rows, cols, 7);
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

void bm_matmul(benchmark::State& st, const kernels::table* t, dtype type, int64_t n_out, int64_t n_in, int64_t n_tok,
               bool dram) {
    const weight_pool& w = get_pool(type, n_out, n_in, dram);
    const dtype act = quant::vec_dot_type(type);
    const size_t xrb = fathom::dtype_row_bytes(act, n_in);
    const std::vector<float> xf = activations(n_in * n_tok, 3);
    std::vector<uint8_t> xq(xrb * size_t(n_tok));
    for (int64_t i = 0; i < n_tok; ++i)
        kernels::quantize_row_for(*t, act)(xf.data() + i * n_in, xq.data() + size_t(i) * xrb, n_in);
    std::vector<float> y(size_t(n_out * n_tok));
    const kernels::matmul_rows_q_fn fn = kernels::matmul_rows_q_for(*t, type);
    const size_t rb = fathom::dtype_row_bytes(type, n_in);
    size_t c = 0;
    for (auto _ : st) {
        fn(w.buf.as<uint8_t>() + c * w.matrix_bytes, rb, n_out, xq.data(), xrb, n_tok, y.data(), n_out, n_in);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
        if (++c == w.copies) c = 0;
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(w.matrix_bytes));
    st.counters["GOPs"] = benchmark::Counter(2e-9 * double(n_in) * double(n_out) * double(n_tok),
                                             benchmark::Counter::kIsIterationInvariantRate);
}

void bm_quantize(benchmark::State& st, const kernels::table* t, dtype act, int64_t n) {
    const std::vector<float> x = activations(n, 5);
    std::vector<uint8_t> out(fathom::dtype_row_bytes(act, n));
    const kernels::quantize_row_fn fn = kernels::quantize_row_for(*t, act);
    for (auto _ : st) {
        fn(x.data(), out.data(), n);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * n * 4);
}

void register_all() {
    for (kernels::isa i : {kernels::isa::ISA_SCALAR, kernels::isa::ISA_AVX2, kernels::isa::ISA_AVX512,
                           kernels::isa::ISA_AVX512_VNNI, kernels::isa::ISA_NEON}) {
        const kernels::table* t = kernels::for_isa(i);
        if (!t) continue;
        const std::string isa = kernels::isa_name(i);
        for (dtype act : {dtype::DTYPE_Q8_0, dtype::DTYPE_Q8_1})
            benchmark::RegisterBenchmark(
                ("quantize/" + std::string(fathom::dtype_name(act)) + "/" + isa + "/n4096").c_str(), bm_quantize, t,
                act, int64_t(4096));
        for (dtype type : k_types) {
            for (bool dram : {false, true}) {
                for (auto [n_out, n_in] :
                     {std::pair<int64_t, int64_t>{512, 2048}, {2048, 2048}, {5632, 2048}, {2048, 5632}}) {
                    for (int64_t n_tok : {int64_t(1), int64_t(4), int64_t(16), int64_t(64)}) {
                        if (dram && n_tok > 4) continue;  // prefill is compute-bound: the hot runs cover it
                        if ((n_out == 512 || n_in == 5632) && n_tok > 1) continue;  // decode-only shapes
                        if (n_out == 512 && dram) continue;  // L2-resident decode: the compute limit
                        if (i == kernels::isa::ISA_SCALAR && n_tok > 4) continue;
                        const std::string name = std::string("matmul/") + fathom::dtype_name(type) + "/" + isa + "/" +
                                                 (dram ? "dram/" : "hot/") + std::to_string(n_out) + "x" +
                                                 std::to_string(n_in) + "/tok" + std::to_string(n_tok);
                        benchmark::RegisterBenchmark(name.c_str(), bm_matmul, t, type, n_out, n_in, n_tok, dram)
                            ->Unit(benchmark::kMicrosecond);
                    }
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
