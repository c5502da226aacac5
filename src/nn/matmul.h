// Matrix products against model weights of any supported type, parallel over a thread pool.
#pragma once
#include <cstdint>

#include "core/thread-pool.h"
#include "io/model-file.h"

namespace fathom::nn {

// Y[t, r] = sum_i X[t, i] * W[r, i] (+ bias[r])  for t < n_tok, r < n_out.
// w: weight with ne = {n_in, n_out} (GGUF order), any type with a kernel: F32, F16, BF16, or a quantised block type
// (activations are then quantised per token row to the type's INT8 partner and the integer kernels run).
// x: n_tok rows of n_in floats, row stride ldx; y: n_tok rows of n_out floats, row stride ldy; bias: n_out or null.
// Small n_tok uses the kernel table's matmul_rows (weights streamed once for all tokens); large n_tok uses
// OpenBLAS sgemm on F32 (F16/BF16 row panels converted to F32 first) when built with BLAS.
void matmul(thread_pool& pool, const io::tensor_entry& w, const float* x, int64_t ldx, int64_t n_tok, float* y,
            int64_t ldy, const float* bias = nullptr);

// Readies a bound matmul weight of f for inference: Q4_0, Q4_1, Q8_0, IQ4_NL and Q4_K weights are repacked into the
// R16 layout (an owned buffer of about the same size; the file's pages for the tensor are released) when the active
// kernel table has its own R16 kernel for the type (not only the inherited scalar one). Returns true when repacked. FATHOM_REPACK=0 in the environment turns it off.
// Idempotent; the tensor must not be written to a file afterwards.
bool prepare_weight(io::model_file& f, const io::tensor_entry* w);
// Turns repacking in prepare_weight on or off for models loaded from now on (tests compare both layouts).
void set_repack_enabled(bool on);

// Token count from which matmul() takes the BLAS path (F32 sgemm, F16/BF16 via converted row panels); below it the
// kernel table's matmul_rows is used. Defaults depend on the weight type. For tests and tuning: n > 0 forces one
// threshold for every type, n <= 0 restores the defaults. No effect without BLAS.
void set_blas_min_tokens(int64_t n);
int64_t blas_min_tokens(dtype w);
// The largest of the per-type thresholds: from this many tokens on, every weight type takes the BLAS path.
int64_t blas_min_tokens();

// Prepares OpenBLAS once for calls from Fathom's own threads: one thread, and the kernels of the CPU it runs on
// (an OpenBLAS too old for the CPU model is switched from its SSE2 fallback to its AVX-512 / AVX2 kernels).
// matmul() calls it; other users of cblas_* (attention) must call it before their first call. No-op without BLAS.
void blas_setup();

// Copies row `row` of a (n_in, n_rows) weight (e.g. the token embedding) into out as F32 (quantised rows are
// dequantised).
void get_row_f32(const io::tensor_entry& w, int64_t row, float* out);

}  // namespace fathom::nn
