// Rotary position embeddings (see rope.h).
#include "nn/rope.h"

#include <cmath>

namespace fathom::nn {

void rope_tables(const float* inv_freq, int64_t n_pairs, const int32_t* pos, int64_t n_tok, float* cos_out,
                 float* sin_out) {
    for (int64_t t = 0; t < n_tok; ++t) {
        const double p = double(pos[t]);
        float* c = cos_out + t * n_pairs;
        float* s = sin_out + t * n_pairs;
        for (int64_t i = 0; i < n_pairs; ++i) {
            const double a = p * double(inv_freq[i]);
            c[i] = float(std::cos(a));
            s[i] = float(std::sin(a));
        }
    }
}

namespace {

void rotate_normal(float* __restrict x, int64_t n_pairs, const float* __restrict c, const float* __restrict s) {
    for (int64_t i = 0; i < n_pairs; ++i) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * c[i] - x1 * s[i];
        x[2 * i + 1] = x0 * s[i] + x1 * c[i];
    }
}

void rotate_neox(float* __restrict x, int64_t n_pairs, const float* __restrict c, const float* __restrict s) {
    float* __restrict lo = x;
    float* __restrict hi = x + n_pairs;
    for (int64_t i = 0; i < n_pairs; ++i) {
        const float x0 = lo[i], x1 = hi[i];
        lo[i] = x0 * c[i] - x1 * s[i];
        hi[i] = x0 * s[i] + x1 * c[i];
    }
}

}  // namespace

void rope_apply(rope_order order, float* x, int64_t n_head, int64_t head_dim, int64_t n_rot, const float* cos,
                const float* sin) {
    const int64_t n_pairs = n_rot / 2;
    if (order == rope_order::ROPE_ORDER_NEOX) {
        for (int64_t h = 0; h < n_head; ++h) rotate_neox(x + h * head_dim, n_pairs, cos, sin);
    } else {
        for (int64_t h = 0; h < n_head; ++h) rotate_normal(x + h * head_dim, n_pairs, cos, sin);
    }
}

}  // namespace fathom::nn
