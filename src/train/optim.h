// Optimisation pieces of the training driver: AdamW (as torch.optim.AdamW), the warmup + cosine learning-rate
// schedule, and gradient clipping by the global L2 norm (computed in double with a fixed reduction order).
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread-pool.h"
#include "train/model.h"

namespace fathom::train {

struct adamw_params {
    float beta1 = 0.9f;
    float beta2 = 0.95f;
    float eps = 1e-8f;
    float weight_decay = 0.1f;  // decoupled; applied to tensors with param_tensor::matrix only
};

// AdamW over a flat parameter buffer laid out as `tensors` describes. One step, element i:
//   p -= lr * wd * p                   (matrix tensors only)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// with t the 1-based step count, as torch.optim.AdamW computes it (bias corrections in double, element math in
// float). The buffer is split over the pool in fixed chunks; every element's result is independent of the split.
class adamw {
public:
    adamw(const std::vector<param_tensor>& tensors, int64_t n_params, const adamw_params& p);

    // One update with learning rate lr; increments t() first.
    void step(thread_pool& pool, float* params, const float* grads, float lr);

    int64_t t() const { return t_; }
    void set_t(int64_t t) { t_ = t; }  // when restoring moments from a checkpoint
    const adamw_params& params() const { return p_; }

    std::vector<float> m;  // first moments, same layout as the parameters
    std::vector<float> v;  // second moments

private:
    struct span {
        int64_t begin, end;
        bool decay;
    };
    adamw_params p_;
    std::vector<span> chunks_;  // the tensors in buffer order, cut into fixed work items of at most 16K elements
    int64_t t_ = 0;
};

// Learning rate for update `step` (1-based; step 0 gives 0): linear warmup lr * step / warmup over the first
// `warmup` steps, then cosine decay from lr to min_lr, reaching min_lr at step `steps`. Beyond `steps`: min_lr.
double lr_at(int64_t step, int64_t steps, int64_t warmup, double lr, double min_lr);

// Global L2 norm of g[0, n) in double: fixed chunks summed in chunk order, so the result depends only on g.
double l2_norm(thread_pool& pool, const float* g, int64_t n);

// Clips like torch.nn.utils.clip_grad_norm_: when max_norm > 0 and the norm exceeds it, scales g by
// max_norm / (norm + 1e-6). Returns the norm before clipping.
double clip_grad_norm(thread_pool& pool, float* g, int64_t n, double max_norm);

}  // namespace fathom::train
