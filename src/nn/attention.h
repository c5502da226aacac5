// Causal multi-head attention over a KV cache: tiled, online-softmax (flash-attention style), GQA-aware.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread-pool.h"

namespace fathom::nn {

// KV cache layout, F32, for one (layer, sequence) block:
//   K:  [n_head_kv][n_ctx][head_dim]   key of position j for KV head h at k + (h*n_ctx + j)*head_dim
//   Vt: [n_head_kv][head_dim][n_ctx]   value dimension d of position j at vt + (h*head_dim + d)*n_ctx + j
// Both inner loops are then contiguous: scores stream K rows (one per key), and the weighted sum of values
// streams Vt rows (one per value dimension, over consecutive keys), so both are row-times-row products: the
// kernel table's matmul_rows_f32 for small tiles (decode), OpenBLAS sgemm for prefill tiles when built with BLAS.
// Each loaded key/value block is reused for every query row of the tile.
struct attention_dims {
    int64_t n_head = 0;     // query heads
    int64_t n_head_kv = 0;  // KV heads; n_head is a multiple (query head h uses KV head h / (n_head/n_head_kv))
    int64_t head_dim = 0;
    int64_t n_ctx = 0;      // positions per (layer, sequence) cache block
};

// The tokens of one sequence in a batch, in position order: token i is at position pos0 + i and attends to
// keys 0..pos0+i, which must already be in the cache block.
struct attention_seq {
    const float* k = nullptr;        // K block of this (layer, sequence)
    const float* vt = nullptr;       // Vt block of this (layer, sequence)
    const int32_t* rows = nullptr;   // n_tok row indices into q / out
    int64_t n_tok = 0;
    int64_t pos0 = 0;
};

// Per-thread scratch and split-key partial results; grows on first use and is then reused.
struct attention_scratch {
    std::vector<std::vector<float>> per_thread;
    std::vector<float> partial;
};

// For each sequence token (row r = seqs[s].rows[i]) and query head h:
//   out[r*ldo + h*head_dim ..] = sum_j softmax_j(q_h . k_j / sqrt(head_dim)) v_j   over keys j <= its position
// q rows hold n_head*head_dim floats (head h at offset h*head_dim), row stride ldq; out likewise with ldo.
// Work items are (sequence, KV head, tile of queries); the query heads of a GQA group are processed together
// so each K/V block is loaded once per group. When there are fewer items than threads can keep busy (decode),
// the key range is split into chunks whose partial (max, sum, accumulator) are merged at the end.
// Never materialises the n x n score matrix: scores exist for one tile x one key block at a time.
void attention(thread_pool& pool, const attention_dims& d, const attention_seq* seqs, int64_t n_seqs, const float* q,
               int64_t ldq, float* out, int64_t ldo, attention_scratch& scratch);

}  // namespace fathom::nn
