// Rotary position embeddings: per-batch cos/sin tables and in-place rotation in the NORMAL and NEOX pairings.
#pragma once
#include <cstdint>

namespace fathom {

// Which dimensions of a head are rotated together (within the first n_rot dimensions):
//   ROPE_ORDER_NORMAL: pairs (2i, 2i+1)         (llama.cpp GGUF files, whose Q/K rows are permuted for it)
//   ROPE_ORDER_NEOX:   pairs (i, i + n_rot/2)   (Hugging Face rotate_half, Qwen2, GPT-NeoX)
enum class rope_order { ROPE_ORDER_NORMAL, ROPE_ORDER_NEOX };

}  // namespace fathom

namespace fathom::nn {

// Fills cos/sin tables for n_tok positions: for token t and pair i < n_pairs,
//   angle = pos[t] * inv_freq[i],  cos_out[t*n_pairs + i] = cos(angle),  sin_out[...] = sin(angle).
// Angles are computed in double precision so long positions keep their accuracy.
void rope_tables(const float* inv_freq, int64_t n_pairs, const int32_t* pos, int64_t n_tok, float* cos_out,
                 float* sin_out);

// Rotates, in place, n_head heads of head_dim floats (head h starts at x + h*head_dim) of one token.
// Only the first n_rot dimensions of each head rotate (n_rot even, <= head_dim); cos/sin hold n_rot/2 values
// (one token's row of the tables above).
void rope_apply(rope_order order, float* x, int64_t n_head, int64_t head_dim, int64_t n_rot, const float* cos,
                const float* sin);

}  // namespace fathom::nn
