// Training ops of the Llama-family decoder as explicit forward / backward pairs on F32 buffers (llm.c style):
// embedding, RMSNorm, matmul, RoPE, causal GQA attention, SwiGLU, cross-entropy. Each backward ADDS its input
// gradients into the given buffers (callers zero them), so branches that reuse an input (the residual stream, GQA
// heads) sum without extra copies. Work is split over the pool in a fixed way, so results depend only on the inputs
// and the thread count.
#pragma once
#include <cstdint>

#include "core/thread-pool.h"

namespace fathom::train {

// Row-major C (m x n) = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T; lda/ldb/ldc are row strides.
// OpenBLAS sgemm when built with it (single-threaded calls over the pool's row split), else a blocked loop.
void gemm(thread_pool& pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// ---- embedding: out[i] = wte[tok[i]]                         out (n, c), wte (vocab, c)
void embedding_forward(thread_pool& pool, float* out, const int32_t* tok, const float* wte, int64_t n, int64_t c);
void embedding_backward(thread_pool& pool, float* dwte, const float* dout, const int32_t* tok, int64_t n, int64_t c);

// ---- RMSNorm: rstd[i] = 1 / sqrt(mean(x[i]^2) + eps), out[i] = x[i] * rstd[i] * w    x, out (n, c)
void rmsnorm_forward(thread_pool& pool, float* out, float* rstd, const float* x, const float* w, int64_t n, int64_t c,
                     float eps);
void rmsnorm_backward(thread_pool& pool, float* dx, float* dw, const float* dout, const float* x, const float* w,
                      const float* rstd, int64_t n, int64_t c);

// ---- matmul: out = x W^T (+ bias)             x (n, c), W (oc, c) (a GGUF weight's row-major layout), out (n, oc)
void matmul_forward(thread_pool& pool, float* out, const float* x, const float* w, const float* bias, int64_t n,
                    int64_t c, int64_t oc);
// dx += dout W; dw += dout^T x; dbias += column sums of dout. dx, dw or dbias may be null (not wanted).
void matmul_backward(thread_pool& pool, float* dx, float* dw, float* dbias, const float* dout, const float* x,
                     const float* w, int64_t n, int64_t c, int64_t oc);

// ---- RoPE (pairs (2i, 2i+1) of each head, ROPE_ORDER_NORMAL), in place on x (n, n_head * head_dim). Token i has
// position pos[i]; the angle of pair i is pos * inv_freq[i] (n_rot / 2 values, n_rot <= head_dim).
void rope_forward(thread_pool& pool, float* x, const int32_t* pos, const float* inv_freq, int64_t n, int64_t n_head,
                  int64_t head_dim, int64_t n_rot);
// The gradient through the rotation: rotates dx back by the same angles, in place.
void rope_backward(thread_pool& pool, float* dx, const int32_t* pos, const float* inv_freq, int64_t n, int64_t n_head,
                   int64_t head_dim, int64_t n_rot);

// ---- causal attention with grouped KV heads over b sequences of t tokens (token s of sequence j is row j*t + s):
// q (b*t, n_head*hd), k and v (b*t, n_kv*hd); query head h reads KV head h / (n_head / n_kv). Scores are
// q.k / sqrt(hd), masked to keys at or before the query. out (b*t, n_head*hd); lse (b, n_head, t) keeps each row's
// log-sum-exp, from which the backward recomputes the probabilities instead of storing them.
void attention_forward(thread_pool& pool, float* out, float* lse, const float* q, const float* k, const float* v,
                       int64_t b, int64_t t, int64_t n_head, int64_t n_kv, int64_t hd);
void attention_backward(thread_pool& pool, float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse, int64_t b, int64_t t,
                        int64_t n_head, int64_t n_kv, int64_t hd);

// ---- SwiGLU: out = silu(gate) * up                                             (n elements each)
void swiglu_forward(thread_pool& pool, float* out, const float* gate, const float* up, int64_t n);
void swiglu_backward(thread_pool& pool, float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                     int64_t n);

// ---- cross-entropy of logits (n, vocab) against targets (target < 0: position ignored, loss 0):
// losses[i] = logsumexp(logits[i]) - logits[i][target[i]]. Returns the number of counted positions.
int64_t cross_entropy_forward(thread_pool& pool, float* losses, const float* logits, const int32_t* targets, int64_t n,
                              int64_t vocab);
// dlogits[i] = scale * (softmax(logits[i]) - onehot(target[i])) for counted positions, 0 for ignored ones
// (written, not added). dlogits may alias logits.
void cross_entropy_backward(thread_pool& pool, float* dlogits, const float* logits, const int32_t* targets, int64_t n,
                            int64_t vocab, float scale);

}  // namespace fathom::train
