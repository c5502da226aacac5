// The kernel table: one set of function pointers filled once at start-up from CPUID/XGETBV (see dispatch.cpp).
// Every entry has a scalar version (kernels-scalar.cpp) that is the oracle in tests.
// Weights are never assumed aligned (safetensors data can start at any byte); activations/scratch are 64-byte aligned.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace fathom::kernels {

// ISA_AVX2_VNNI: the AVX2 table plus 256-bit VEX vpdpbusd (AVX-VNNI: Alder Lake and later cores without AVX-512)
// for the R16 kernels; it sits beside the AVX-512 levels, which do not inherit from it.
enum class isa : int { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_AVX512_VNNI = 3, ISA_NEON = 4, ISA_AVX2_VNNI = 5 };
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

// ---- Interleaved 16-row ("R16") weights: the layout inference holds Q4_0, Q4_1, Q8_0, IQ4_NL, Q4_K, IQ4_XS and Q6_K
// matmul weights in after load (quant::repack_r16 writes it, nn::prepare_weight calls it). Rows go in groups of 16
// (the last group is zero-padded to 16 rows); each group is contiguous, block by block, 32 elements per block:
//   Q4_0, IQ4_NL  16 F16 d (row order), then 4 x 64 B of codes: bytes [64j + 4r, 64j + 4r + 4) are bytes 4j..4j+3 of
//                 row r's GGUF qs (j < 4), so low nibbles hold elements 4j..4j+3 and high nibbles 16+4j..16+4j+3. 288 B
//   Q4_1          16 F16 d, 16 F16 m, then the codes as for Q4_0.                                             320 B
//   Q8_0          16 F16 d, then 8 x 64 B: bytes [64j + 4r, 64j + 4r + 4) are qs[4j..4j+3] of row r (j < 8), each
//                 XOR 0x80 (code + 128 as an unsigned byte).                                                   544 B
//   Q4_K          per 256-element super-block (8 sub-blocks of 32) instead: 16 F16 d, 16 F16 dmin, then 8 x 16 scale
//                 bytes (byte 16j + r: row r's 6-bit scale of sub-block j), 8 x 16 min bytes (same order), then per
//                 64-element chunk c (c < 4) 8 x 64 B of codes: bytes [64w + 4r, 64w + 4r + 4) are qs[32c + 4w ..+4)
//                 of row r (w < 8): low nibbles are elements 64c + 4w..+3 (sub-block 2c), high nibbles 64c + 32 + 4w..+3
//                 (sub-block 2c + 1). Value = d * scale_j * code - dmin * min_j.                        2368 B / 256
//   IQ4_XS        per 256-element super-block: 16 F16 d, then 8 x 16 bytes of 6-bit scales (byte 16j + r: row r's
//                 ls_j, 0..63), then per sub-block j (j < 8) 4 x 64 B of codes: bytes [64w + 4r, 64w + 4r + 4) are
//                 qs[16j + 4w ..+4) of row r (w < 4), nibble order as Q4_0. Value = d * (ls_j - 32) * k_iq4nl[code].
//                                                                                                        2208 B / 256
//   Q6_K          per 256-element super-block: 16 F16 d, then 16 x 16 scale bytes (byte 32 + 16j + r: row r's int8
//                 scale of sub-block j = elements 16j..16j+15), then per 64-element chunk c (c < 4) 768 B at
//                 288 + 768c: 8 x 64 B of low 4 bits (bytes [64w + 4r, 64w + 4r + 4): low nibbles are elements
//                 64c + 4w..+3, high nibbles 64c + 32 + 4w..+3 of row r, w < 8), then 4 x 64 B of high 2 bits at
//                 +512: byte 64v + 4r + i holds the top bits of the codes in byte 4r + i of low-bit words 2v and 2v+1:
//                 bits 0-1 word 2v low nibble, 2-3 word 2v high nibble, 4-5 word 2v+1 low, 6-7 word 2v+1 high.
//                 code = low4 | high2 << 4 (0..63); value = d * scale_j * (code - 32).               3360 B / 256
// A group of n elements takes (n/32) * block bytes (quant::r16_block_bytes; per 32 elements 296 B for Q4_K, 276 B for
// IQ4_XS, 420 B for Q6_K).
//
// INT8 activation panels for the R16 kernels: tokens in panels of 8 (k_r16_panel), each panel block by block; per
// block of 32 elements: 8 x 32 int8 codes (token t at byte 32t), 8 F32 scales d, 8 32-bit sums: 320 B. Slots of
// tokens past n_tok are zero. Panel p starts at p * (n/32) * 320. Per token and block: d = max|x| / 127,
// codes = nearbyint(x * (127 / max|x|)) (all zero when max|x| = 0); the sum word is
//   sum_mode > 0:  int32  -sum_mode * sum(codes)   (the weight codes' unsigned bias: 8 for Q4_0, 128 for Q8_0 and
//                                                  IQ4_NL, whose kernels read codes + 128)
//   sum_mode == 0: F32    d * sum(codes)           (for the minimum terms of Q4_1 and Q4_K)
//   sum_mode == k_r16_sum_halves: two int16, sum(codes[0..16)) in the low half and sum(codes[16..32)) in the high
//                  half (Q6_K: each 16-element sub-block has its own scale, so its -32 bias needs its own sum)
constexpr int64_t k_r16_rows = 16;
constexpr int64_t k_r16_panel = 8;
constexpr size_t k_r16_panel_block_bytes = 320;
constexpr int32_t k_r16_sum_halves = -16;
// Quantises n_tok (1..8) token rows of x (row stride ldx, n a multiple of 32) into one panel.
using quantize_panel_fn = void (*)(const float* x, int64_t ldx, int64_t n_tok, void* panel, int64_t n,
                                   int32_t sum_mode);
// R16 weights times activation panels: for r < n_rows, t < n_tok:
//   y[t*ldy + r] = sum over blocks b of  dw[r,b] * dx[t,b] * sum_i value(w[r,b,i]) * code(x[t,b,i])  (+ for Q4_1
//                  m[r,b] * dx[t,b] * sum_i code(x[t,b,i]))
// w: the first 16-row group of ceil(n_rows/16); xp: the first panel of ceil(n_tok/8) consecutive ones. Rows of the
// last group past n_rows are not written. The sum_mode of the panels must be the weight type's (r16_sum_mode).
using matmul_r16_fn = void (*)(const void* w, int64_t n_rows, const void* xp, int64_t n_tok, float* y, int64_t ldy,
                               int64_t n);
// The panels' sum_mode for an R16 weight type (8, 0, 128, 128, 0, 128, k_r16_sum_halves for Q4_0, Q4_1, Q8_0,
// IQ4_NL, Q4_K, IQ4_XS, Q6_K; -1 otherwise).
int32_t r16_sum_mode(dtype w);

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

    // ---- R16 (interleaved) quantised weights with activation panels. Index via matmul_r16_for().
    quantize_panel_fn quantize_panel_q8 = nullptr;
    matmul_r16_fn matmul_r16_q4_0 = nullptr;
    matmul_r16_fn matmul_r16_q4_1 = nullptr;
    matmul_r16_fn matmul_r16_q8_0 = nullptr;
    matmul_r16_fn matmul_r16_iq4_nl = nullptr;
    matmul_r16_fn matmul_r16_q4_k = nullptr;
    matmul_r16_fn matmul_r16_iq4_xs = nullptr;
    matmul_r16_fn matmul_r16_q6_k = nullptr;

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
// The R16 matmul for a weight type; nullptr if the type has no R16 form or kernel.
matmul_r16_fn matmul_r16_for(const table& t, dtype w);

// Per-ISA fill functions of the quantised kernel families (each in its own file and namespace; dispatch.cpp calls
// them after the ISA's base table is filled). A family leaves an entry null when it has no kernel for that ISA; the
// ISA's table then inherits the entry of the level below (AVX-512 VNNI <- AVX-512 <- AVX2 <- scalar).
namespace scalar {
void fill_quant_legacy(table& t);  // kernels-quant-legacy-scalar.cpp: q8_0/q8_1 quantisers, q4_0 .. q8_0, iq4_nl
void fill_quant_k(table& t);       // kernels-quant-k-scalar.cpp: q8_k quantiser, q4_k, q5_k, q6_k, iq4_xs
void fill_quant_r16(table& t);     // kernels-quant-r16-scalar.cpp: panel quantiser, R16 q4_0, q4_1, q8_0, iq4_nl
}  // namespace scalar
namespace avx2 {
void fill_quant_legacy(table& t);  // kernels-quant-legacy-avx2.cpp
void fill_quant_k(table& t);       // kernels-quant-k-avx2.cpp
void fill_quant_r16(table& t);     // kernels-quant-r16-avx2.cpp
}  // namespace avx2
namespace avx2_vnni {
void fill_quant_r16(table& t);     // kernels-quant-r16-avx2-vnni.cpp (on top of the AVX2 table)
}  // namespace avx2_vnni
namespace avx512 {
void fill_quant_legacy(table& t);  // kernels-quant-legacy-avx512.cpp
void fill_quant_k(table& t);       // kernels-quant-k-avx512.cpp
void fill_quant_r16(table& t);     // kernels-quant-r16-avx512.cpp
}  // namespace avx512
namespace avx512_vnni {
void fill_quant_legacy(table& t);  // kernels-quant-legacy-avx512-vnni.cpp
void fill_quant_k(table& t);       // kernels-quant-k-avx512-vnni.cpp
void fill_quant_r16(table& t);     // kernels-quant-r16-avx512-vnni.cpp
}  // namespace avx512_vnni

}  // namespace fathom::kernels
