// K-quant matmul microbenchmarks (Q4_K, Q5_K, Q6_K, IQ4_XS x Q8_K), one thread, on every ISA table this CPU has:
// GB/s of weight bytes read and GOP/s (2 * n_in * n_out * n_tok per call) at tinyllama shapes (n_in 2048,
// n_out 2048 / 5632) for 1, 4, 16 and 64 tokens. "dram" cycles through copies of the matrix spanning 1 GiB, so each
// call reads its weights from memory (the decode figure to compare with bench_stream); "hot" reuses one matrix that
// stays in cache (the compute-bound prefill figure). Also the Q8_K activation quantiser (GB/s of F32 input).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "kernels/kernels.h"
#include "quant/quant.h"

namespace {

using fathom::dtype;
namespace kernels = fathom::kernels;
namespace quant = fathom::quant;

constexpr size_t k_pool_bytes = size_t(1) << 30;
const dtype k_types[] = {dtype::DTYPE_Q4_K, dtype::DTYPE_Q5_K, dtype::DTYPE_Q6_K, dtype::DTYPE_IQ4_XS};

// Weights quantised from random data with the reference quantiser (one row, repeated: the speed does not depend on
// the values, and quantising 5632 rows would dominate start-up).
struct matrices {
    fathom::aligned_buffer buf;
    size_t matrix_bytes = 0, copies = 0;
};
const matrices& get_matrices(dtype type, int64_t n_out, int64_t n_in, bool dram) {
    static std::map<std::tuple<int, int64_t, int64_t, bool>, std::unique_ptr<matrices>> cache;
    const auto key = std::make_tuple(int(type), n_out, n_in, dram);
    if (auto it = cache.find(key); it != cache.end()) return *it->second;
    cache.clear();  // one pool at a time: the dram pools are large
    auto m = std::make_unique<matrices>();
    const size_t rb = fathom::dtype_row_bytes(type, n_in);
    m->matrix_bytes = rb * size_t(n_out);
    m->copies = dram ? std::max<size_t>(2, k_pool_bytes / m->matrix_bytes) : 1;
    m->buf.reset(m->matrix_bytes * m->copies);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    uint8_t* p = m->buf.as<uint8_t>();
    for (int r = 0; r < 8; ++r) {
        std::vector<float> x(static_cast<size_t>(n_in));
        for (auto& v : x) v = nd(rng);
        quant::quantize_row(type, x.data(), p + size_t(r) * rb, n_in);
    }
    for (int64_t r = 8; r < n_out; ++r) std::memcpy(p + size_t(r) * rb, p + size_t(r % 8) * rb, rb);
    for (size_t c = 1; c < m->copies; ++c) std::memcpy(p + c * m->matrix_bytes, p, m->matrix_bytes);
    return *cache.emplace(key, std::move(m)).first->second;
}

std::vector<float> activations(int64_t n) {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = nd(rng);
    return x;
}

void bm_matmul(benchmark::State& st, const kernels::table* t, dtype type, int64_t n_out, int64_t n_in, int64_t n_tok,
               bool dram) {
    const matrices& m = get_matrices(type, n_out, n_in, dram);
    const size_t rb = fathom::dtype_row_bytes(type, n_in);
    const size_t xrb = fathom::dtype_row_bytes(dtype::DTYPE_Q8_K, n_in);
    const std::vector<float> xf = activations(n_in * n_tok);
    fathom::aligned_buffer xq(xrb * size_t(n_tok));
    for (int64_t i = 0; i < n_tok; ++i)
        t->quantize_row_q8_k(xf.data() + i * n_in, xq.as<uint8_t>() + size_t(i) * xrb, n_in);
    std::vector<float> y(size_t(n_out * n_tok));
    const kernels::matmul_rows_q_fn fn = kernels::matmul_rows_q_for(*t, type);
    size_t c = 0;
    for (auto _ : st) {
        fn(m.buf.as<uint8_t>() + c * m.matrix_bytes, rb, n_out, xq.data(), xrb, n_tok, y.data(), n_out, n_in);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
        if (++c == m.copies) c = 0;
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(m.matrix_bytes));
    st.counters["GOPs"] = benchmark::Counter(2e-9 * double(n_in) * double(n_out) * double(n_tok),
                                             benchmark::Counter::kIsIterationInvariantRate);
}

void bm_quantize(benchmark::State& st, const kernels::table* t, int64_t n) {
    const std::vector<float> x = activations(n);
    std::vector<uint8_t> out(fathom::dtype_row_bytes(dtype::DTYPE_Q8_K, n));
    for (auto _ : st) {
        t->quantize_row_q8_k(x.data(), out.data(), n);
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
        benchmark::RegisterBenchmark(("quantize/q8_k/" + isa + "/n4096").c_str(), bm_quantize, t, int64_t(4096));
        for (dtype type : k_types)
            for (bool dram : {true, false})
                for (int64_t n_out : {int64_t(2048), int64_t(5632)})
                    for (int64_t n_tok : {int64_t(1), int64_t(4), int64_t(16), int64_t(64)}) {
                        if (dram && n_tok > 4) continue;  // prefill is compute-bound: the hot runs measure it
                        if (i == kernels::isa::ISA_SCALAR && n_tok > 4) continue;
                        const std::string name = std::string("matmul/") + fathom::dtype_name(type) + "/" + isa +
                                                 (dram ? "/dram/" : "/hot/") + std::to_string(n_out) + "x2048/tok" +
                                                 std::to_string(n_tok);
                        benchmark::RegisterBenchmark(name.c_str(), bm_matmul, t, type, n_out, int64_t(2048), n_tok,
                                                     dram)
                            ->Unit(benchmark::kMicrosecond);
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
