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

struct table {
    isa level = isa::ISA_SCALAR;

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

}  // namespace fathom::kernels
