// AdamW, the learning-rate schedule and global-norm gradient clipping for the training driver.
#include "train/optim.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace fathom::train {

namespace {

constexpr int64_t k_chunk = int64_t(1) << 14;  // elements per work item (fixed, independent of the thread count)

}  // namespace

adamw::adamw(const std::vector<param_tensor>& tensors, int64_t n_params, const adamw_params& p) : p_(p) {
    m.assign(size_t(n_params), 0.0f);
    v.assign(size_t(n_params), 0.0f);
    std::vector<span> spans;
    for (const param_tensor& t : tensors) {
        if (t.offset < 0 || t.size < 0 || t.offset + t.size > n_params)
            fail(errc::ERRC_INTERNAL, "adamw: tensor '" + t.name + "' lies outside the parameter buffer");
        spans.push_back({t.offset, t.offset + t.size, t.matrix});
    }
    std::sort(spans.begin(), spans.end(), [](const span& a, const span& b) { return a.begin < b.begin; });
    for (const span& s : spans)
        for (int64_t b = s.begin; b < s.end; b += k_chunk) chunks_.push_back({b, std::min(s.end, b + k_chunk), s.decay});
}

void adamw::step(thread_pool& pool, float* params, const float* grads, float lr) {
    ++t_;
    // Scalars as torch forms them: Python floats (double), cast to float where they meet the tensors.
    const double b1 = p_.beta1, b2 = p_.beta2;
    const float decay_mul = float(1.0 - double(lr) * double(p_.weight_decay));
    const float w1 = float(1.0 - b1);
    const float b2f = float(b2), w2 = float(1.0 - b2);
    const double bc1 = 1.0 - std::pow(b1, double(t_));
    const double bc2 = 1.0 - std::pow(b2, double(t_));
    const float step_size = float(double(lr) / bc1);
    const float bc2_sqrt = float(std::sqrt(bc2));
    const float eps = p_.eps;
    float* mm = m.data();
    float* vv = v.data();

    const bool any_decay = p_.weight_decay != 0.0f;
    pool.parallel_for(int64_t(chunks_.size()), 1, [&](int64_t c0, int64_t c1, int) {
        for (int64_t c = c0; c < c1; ++c) {
            const span& s = chunks_[size_t(c)];
            const bool decay = s.decay && any_decay;
            for (int64_t i = s.begin; i < s.end; ++i) {
                float p = params[i];
                const float g = grads[i];
                if (decay) p *= decay_mul;
                // torch.lerp(m, g, w) for w < 0.5: m + w * (g - m)
                const float mi = w1 < 0.5f ? mm[i] + w1 * (g - mm[i]) : g - (g - mm[i]) * (1.0f - w1);
                const float vi = vv[i] * b2f + w2 * (g * g);
                const float denom = std::sqrt(vi) / bc2_sqrt + eps;
                p += -step_size * (mi / denom);
                mm[i] = mi;
                vv[i] = vi;
                params[i] = p;
            }
        }
    });
}

double lr_at(int64_t step, int64_t steps, int64_t warmup, double lr, double min_lr) {
    if (step <= 0) return warmup > 0 ? 0.0 : lr;
    if (step < warmup) return lr * double(step) / double(warmup);
    if (step >= steps) return steps <= warmup ? lr : min_lr;
    const double progress = double(step - warmup) / double(steps - warmup);  // (0, 1)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * progress));
}

double l2_norm(thread_pool& pool, const float* g, int64_t n) {
    if (n <= 0) return 0.0;
    const int64_t n_chunks = (n + k_chunk - 1) / k_chunk;
    std::vector<double> partial(size_t(n_chunks), 0.0);
    pool.parallel_for(n_chunks, 1, [&](int64_t c0, int64_t c1, int) {
        for (int64_t c = c0; c < c1; ++c) {
            const int64_t b = c * k_chunk, e = std::min(n, b + k_chunk);
            // four interleaved accumulators (fixed order) keep the loop short without changing with threads
            double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            int64_t i = b;
            for (; i + 4 <= e; i += 4) {
                a0 += double(g[i]) * double(g[i]);
                a1 += double(g[i + 1]) * double(g[i + 1]);
                a2 += double(g[i + 2]) * double(g[i + 2]);
                a3 += double(g[i + 3]) * double(g[i + 3]);
            }
            for (; i < e; ++i) a0 += double(g[i]) * double(g[i]);
            partial[size_t(c)] = (a0 + a1) + (a2 + a3);
        }
    });
    double sum = 0.0;
    for (double p : partial) sum += p;
    return std::sqrt(sum);
}

double clip_grad_norm(thread_pool& pool, float* g, int64_t n, double max_norm) {
    const double norm = l2_norm(pool, g, n);
    if (max_norm > 0.0 && norm > max_norm && std::isfinite(norm)) {
        const float scale = float(max_norm / (norm + 1e-6));
        const int64_t n_chunks = (n + k_chunk - 1) / k_chunk;
        pool.parallel_for(n_chunks, 1, [&](int64_t c0, int64_t c1, int) {
            const int64_t b = c0 * k_chunk, e = std::min(n, c1 * k_chunk);
            for (int64_t i = b; i < e; ++i) g[i] *= scale;
        });
    }
    return norm;
}

}  // namespace fathom::train
