// R16 repacking: GGUF row-major quantised weights <-> the interleaved 16-row layout of the R16 kernels (see
// kernels/kernels.h for the byte layout).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace fathom::quant {

constexpr int64_t QK_R16 = 32;  // elements per R16 block

// Bytes per 32 elements of a 16-row group (288 Q4_0/IQ4_NL, 320 Q4_1, 544 Q8_0, 296 Q4_K = 2368 per 256-element
// super-block, 276 IQ4_XS = 2208 per super-block, 420 Q6_K = 3360 per super-block); 0 if w has no R16 form.
size_t r16_block_bytes(dtype w);
// Bytes of a whole repacked (n_rows x n) weight: ceil(n_rows/16) groups of (n/32) blocks.
size_t r16_bytes(dtype w, int64_t n_rows, int64_t n);
// Repacks rows [0, n_rows) of a row-major weight (row r at src + r*row_bytes, n elements, n a multiple of the
// type's block size) into
// dst (r16_bytes); rows past n_rows in the last group are zero. No alignment needed.
void repack_r16(dtype w, const void* src, size_t row_bytes, int64_t n_rows, int64_t n, void* dst);
// Writes row `row` of a repacked weight back in its GGUF block form (dtype_row_bytes(w, n) bytes): the exact bytes
// repack_r16 read.
void unpack_r16_row(dtype w, const void* packed, int64_t row, int64_t n, void* dst);

}  // namespace fathom::quant
