// The kernel table: one set of function pointers filled once at start-up from CPUID/XGETBV (see dispatch.cpp).
// Every entry has a scalar version (kernels-scalar.cpp) that is the oracle in tests.
// Weights are never assumed aligned (safetensors data can start at any byte); activations/scratch are 64-byte aligned.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace fathom::kernels {

enum class isa : int { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_AVX512_VNNI = 3, ISA_NEON = 4 };
const char* isa_name(isa i);

struct cpu_features {
    bool avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
    bool avx512_vnni = false, avx512_bf16 = false, avx_vnni = false;
    bool neon = false;
    bool os_avx = false, os_avx512 = false;  // XGETBV says the OS saves the YMM / ZMM state
};
// CPUID + XGETBV on x86 (OS support checked), compile-time on aarch64.
const cpu_features& detect_cpu();

// Rows-times-tokens product for one weight type:
//   for r in [0, n_rows), t in [0, n_tok): y[t*ldy + r] = dot(row r of W, x[t*ldx .. t*ldx+n))
// W row r starts at (const uint8_t*)w + r*w_row_bytes and holds n elements of the weight type.
// x is F32. n is a multiple of the type's block size. Kernels reuse each loaded weight across tokens.
using matmul_rows_fn = void (*)(const void* w, size_t w_row_bytes, int64_t n_rows, const float* x, int64_t ldx,
                                int64_t n_tok, float* y, int64_t ldy, int64_t n);

// Quantised weights times INT8 activations (integer dot products, one float scale multiply per block pair):
//   for r in [0, n_rows), t in [0, n_tok): y[t*ldy + r] = dot(row r of W, activation row t)
// W row r starts at (const uint8_t*)w + r*w_row_bytes and holds n elements in blocks of the weight type; activation
// row t starts at (const uint8_t*)xq + t*xq_row_bytes and holds n elements in blocks of quant::vec_dot_type(W type),
// as produced by the table's quantize_row_* entry. n is a multiple of the weight type's block size. The integer sum
// of each block pair is exact on every ISA; only the float accumulation order may differ from the scalar kernel.
using matmul_rows_q_fn = void (*)(const void* w, size_t w_row_bytes, int64_t n_rows, const void* xq,
                                  size_t xq_row_bytes, int64_t n_tok, float* y, int64_t ldy, int64_t n);
// F32 -> INT8 activation blocks, n a multiple of the block size; bit-exact with quant::quantize_row on every ISA.
using quantize_row_fn = void (*)(const float* x, void* y, int64_t n);

struct table {
    isa level = isa::ISA_SCALAR;

    // ---- INT8 activation quantisers
    quantize_row_fn quantize_row_q8_0 = nullptr;
    quantize_row_fn quantize_row_q8_1 = nullptr;
    quantize_row_fn quantize_row_q8_k = nullptr;

    // ---- quantised-weight matmuls (activations quantised to the paired type). Index via matmul_rows_q_for().
    matmul_rows_q_fn matmul_rows_q4_0 = nullptr;
    matmul_rows_q_fn matmul_rows_q4_1 = nullptr;
    matmul_rows_q_fn matmul_rows_q5_0 = nullptr;
    matmul_rows_q_fn matmul_rows_q5_1 = nullptr;
    matmul_rows_q_fn matmul_rows_q8_0 = nullptr;
    matmul_rows_q_fn matmul_rows_iq4_nl = nullptr;
    matmul_rows_q_fn matmul_rows_q4_k = nullptr;
    matmul_rows_q_fn matmul_rows_q5_k = nullptr;
    matmul_rows_q_fn matmul_rows_q6_k = nullptr;
    matmul_rows_q_fn matmul_rows_iq4_xs = nullptr;

    // ---- weight-type matmuls (decode / small batches). Index by weight type via matmul_rows_for().
    matmul_rows_fn matmul_rows_f32 = nullptr;
    matmul_rows_fn matmul_rows_f16 = nullptr;
    matmul_rows_fn matmul_rows_bf16 = nullptr;

    // ---- conversions (n elements, no alignment assumed)
    void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n) = nullptr;
    void (*bf16_to_f32)(const uint16_t* x, float* y, int64_t n) = nullptr;
    void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n) = nullptr;
    void (*f32_to_bf16)(const float* x, uint16_t* y, int64_t n) = nullptr;

    // ---- vector ops on F32
    float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
    void (*axpy_f32)(float a, const float* x, float* y, int64_t n) = nullptr;  // y += a*x
    void (*scale_f32)(float a, float* y, int64_t n) = nullptr;                 // y *= a
    // y = x / sqrt(mean(x^2) + eps) * w   (y may alias x)
    void (*rms_norm_f32)(const float* x, const float* w, float eps, float* y, int64_t n) = nullptr;
    // out = silu(gate) * up   (out may alias gate or up)
    void (*silu_mul_f32)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
    // in place: x = exp(x - max) / sum; returns nothing. n >= 1.
    void (*softmax_f32)(float* x, int64_t n) = nullptr;
    // y[i] = exp(x[i] - m), returns sum of y (used by the online-softmax attention tiles)
    float (*exp_sub_sum_f32)(const float* x, float m, float* y, int64_t n) = nullptr;
    float (*max_f32)(const float* x, int64_t n) = nullptr;
};

// The table for the best ISA this CPU supports (filled on first call, thread-safe).
const table& active();
// The table for a given ISA, or nullptr if this build/CPU does not support it (used by tests to compare with scalar).
const table* for_isa(isa i);
// Forces the active table (e.g. FATHOM_ISA=scalar in the environment is honoured by active() at first call).
// Returns false if the ISA is not available.
bool set_active(isa i);

// Picks the matmul entry for a weight type; nullptr if the type has no kernel.
matmul_rows_fn matmul_rows_for(const table& t, dtype w);
// Picks the quantised matmul for a weight type / the quantiser for an activation type; nullptr if none.
matmul_rows_q_fn matmul_rows_q_for(const table& t, dtype w);
quantize_row_fn quantize_row_for(const table& t, dtype act);

// Per-ISA fill functions of the quantised kernel families (each in its own file and namespace; dispatch.cpp calls
// them after the ISA's base table is filled). A family leaves an entry null when it has no kernel for that ISA; the
// ISA's table then inherits the entry of the level below (AVX-512 VNNI <- AVX-512 <- AVX2 <- scalar).
namespace scalar {
void fill_quant_legacy(table& t);  // kernels-quant-legacy-scalar.cpp: q8_0/q8_1 quantisers, q4_0 .. q8_0, iq4_nl
void fill_quant_k(table& t);       // kernels-quant-k-scalar.cpp: q8_k quantiser, q4_k, q5_k, q6_k, iq4_xs
}  // namespace scalar
namespace avx2 {
void fill_quant_legacy(table& t);  // kernels-quant-legacy-avx2.cpp
void fill_quant_k(table& t);       // kernels-quant-k-avx2.cpp
}  // namespace avx2
namespace avx512 {
void fill_quant_legacy(table& t);  // kernels-quant-legacy-avx512.cpp
void fill_quant_k(table& t);       // kernels-quant-k-avx512.cpp
}  // namespace avx512
namespace avx512_vnni {
void fill_quant_legacy(table& t);  // kernels-quant-legacy-avx512-vnni.cpp
void fill_quant_k(table& t);       // kernels-quant-k-avx512-vnni.cpp
}  // namespace avx512_vnni

}  // namespace fathom::kernels
