// Forward / backward pairs of the training ops (see ops.h): OpenBLAS sgemm for every matrix product, the kernel
// table's vectorised max / exp-sum for the softmaxes, fixed per-thread splits for reductions.
#include "train/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/kernels.h"
#include "nn/matmul.h"
#include "nn/rope.h"

#if defined(FATHOM_HAVE_BLAS)
#include <cblas.h>
#endif

namespace fathom::train {

namespace {

// One thread's C (m x n) = alpha op(A) op(B) + beta C.
void gemm_st(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
#if defined(FATHOM_HAVE_BLAS)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
                alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
#else
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t i = 0; i < m; ++i) {
        std::fill(row.begin(), row.end(), 0.0f);
        for (int64_t p = 0; p < k; ++p) {
            const float av = ta ? a[p * lda + i] : a[i * lda + p];
            if (av == 0.0f) continue;
            if (tb)
                for (int64_t j = 0; j < n; ++j) row[size_t(j)] += av * b[j * ldb + p];
            else
                for (int64_t j = 0; j < n; ++j) row[size_t(j)] += av * b[p * ldb + j];
        }
        float* ci = c + i * ldc;
        for (int64_t j = 0; j < n; ++j) ci[j] = alpha * row[size_t(j)] + (beta == 0.0f ? 0.0f : beta * ci[j]);
    }
#endif
}

// The kernel table (vectorised max and exp-sum).
const kernels::table& kt() { return kernels::active(); }

}  // namespace

void gemm(thread_pool& pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    nn::blas_setup();
    const int nt = pool.size();
    // Split the larger side of C into 64-aligned slices, one per thread.
    constexpr int64_t align = 64;
    if (n >= m) {
        const int64_t per = std::max<int64_t>(align, (n + nt - 1) / nt / align * align + align);
        const int64_t parts = (n + per - 1) / per;
        pool.parallel_for(parts, 1, [&](int64_t p0, int64_t p1, int) {
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t j0 = p * per, nj = std::min(per, n - j0);
                gemm_st(trans_a, trans_b, m, nj, k, alpha, a, lda, trans_b ? b + j0 * ldb : b + j0, ldb, beta, c + j0,
                        ldc);
            }
        });
    } else {
        const int64_t per = std::max<int64_t>(align, (m + nt - 1) / nt / align * align + align);
        const int64_t parts = (m + per - 1) / per;
        pool.parallel_for(parts, 1, [&](int64_t p0, int64_t p1, int) {
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t i0 = p * per, ni = std::min(per, m - i0);
                gemm_st(trans_a, trans_b, ni, n, k, alpha, trans_a ? a + i0 : a + i0 * lda, lda, b, ldb, beta,
                        c + i0 * ldc, ldc);
            }
        });
    }
}

// ---- embedding

void embedding_forward(thread_pool& pool, float* out, const int32_t* tok, const float* wte, int64_t n, int64_t c) {
    pool.parallel_for(n, 16, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i) std::memcpy(out + i * c, wte + int64_t(tok[i]) * c, size_t(c) * sizeof(float));
    });
}

void embedding_backward(thread_pool& pool, float* dwte, const float* dout, const int32_t* tok, int64_t n, int64_t c) {
    // Each thread owns a range of columns, so rows hit by several tokens are summed in token order.
    pool.parallel_for_static(c, [&](int64_t c0, int64_t c1, int) {
        for (int64_t i = 0; i < n; ++i) {
            float* d = dwte + int64_t(tok[i]) * c;
            const float* g = dout + i * c;
            for (int64_t j = c0; j < c1; ++j) d[j] += g[j];
        }
    });
}

// ---- RMSNorm

void rmsnorm_forward(thread_pool& pool, float* out, float* rstd, const float* x, const float* w, int64_t n, int64_t c,
                     float eps) {
    pool.parallel_for(n, 8, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i) {
            const float* xi = x + i * c;
            double ss = 0;
            for (int64_t j = 0; j < c; ++j) ss += double(xi[j]) * double(xi[j]);
            const float r = float(1.0 / std::sqrt(ss / double(c) + double(eps)));
            rstd[i] = r;
            float* o = out + i * c;
            for (int64_t j = 0; j < c; ++j) o[j] = xi[j] * r * w[j];
        }
    });
}

void rmsnorm_backward(thread_pool& pool, float* dx, float* dw, const float* dout, const float* x, const float* w,
                      const float* rstd, int64_t n, int64_t c) {
    const int nt = pool.size();
    std::vector<float> partial(size_t(nt) * size_t(c), 0.0f);
    pool.parallel_for_static(n, [&](int64_t i0, int64_t i1, int tid) {
        float* pw = partial.data() + size_t(tid) * size_t(c);
        for (int64_t i = i0; i < i1; ++i) {
            const float* xi = x + i * c;
            const float* g = dout + i * c;
            const float r = rstd[i];
            double dot = 0;  // sum_j w_j g_j x_j
            for (int64_t j = 0; j < c; ++j) {
                dot += double(w[j]) * double(g[j]) * double(xi[j]);
                pw[j] += g[j] * xi[j] * r;
            }
            const float k = float(dot) * r * r * r / float(c);
            float* d = dx + i * c;
            for (int64_t j = 0; j < c; ++j) d[j] += r * w[j] * g[j] - k * xi[j];
        }
    });
    for (int t = 0; t < nt; ++t) {
        const float* pw = partial.data() + size_t(t) * size_t(c);
        for (int64_t j = 0; j < c; ++j) dw[j] += pw[j];
    }
}

// ---- matmul

void matmul_forward(thread_pool& pool, float* out, const float* x, const float* w, const float* bias, int64_t n,
                    int64_t c, int64_t oc) {
    gemm(pool, false, true, n, oc, c, 1.0f, x, c, w, c, 0.0f, out, oc);
    if (bias)
        pool.parallel_for(n, 16, [&](int64_t i0, int64_t i1, int) {
            for (int64_t i = i0; i < i1; ++i)
                for (int64_t o = 0; o < oc; ++o) out[i * oc + o] += bias[o];
        });
}

void matmul_backward(thread_pool& pool, float* dx, float* dw, float* dbias, const float* dout, const float* x,
                     const float* w, int64_t n, int64_t c, int64_t oc) {
    if (dx) gemm(pool, false, false, n, c, oc, 1.0f, dout, oc, w, c, 1.0f, dx, c);
    if (dw) gemm(pool, true, false, oc, c, n, 1.0f, dout, oc, x, c, 1.0f, dw, c);
    if (dbias)
        pool.parallel_for_static(oc, [&](int64_t o0, int64_t o1, int) {
            for (int64_t i = 0; i < n; ++i)
                for (int64_t o = o0; o < o1; ++o) dbias[o] += dout[i * oc + o];
        });
}

// ---- RoPE

namespace {

void rope_rotate(thread_pool& pool, float* x, const int32_t* pos, const float* inv_freq, int64_t n, int64_t n_head,
                 int64_t head_dim, int64_t n_rot, bool inverse) {
    const int64_t pairs = n_rot / 2;
    if (pairs <= 0) return;
    pool.parallel_for(n, 16, [&](int64_t i0, int64_t i1, int) {
        std::vector<float> cs(static_cast<size_t>(pairs)), sn(static_cast<size_t>(pairs));
        for (int64_t i = i0; i < i1; ++i) {
            nn::rope_tables(inv_freq, pairs, pos + i, 1, cs.data(), sn.data());
            if (inverse)
                for (float& s : sn) s = -s;
            nn::rope_apply(rope_order::ROPE_ORDER_NORMAL, x + i * n_head * head_dim, n_head, head_dim, n_rot, cs.data(),
                           sn.data());
        }
    });
}

}  // namespace

void rope_forward(thread_pool& pool, float* x, const int32_t* pos, const float* inv_freq, int64_t n, int64_t n_head,
                  int64_t head_dim, int64_t n_rot) {
    rope_rotate(pool, x, pos, inv_freq, n, n_head, head_dim, n_rot, false);
}

void rope_backward(thread_pool& pool, float* dx, const int32_t* pos, const float* inv_freq, int64_t n, int64_t n_head,
                   int64_t head_dim, int64_t n_rot) {
    rope_rotate(pool, dx, pos, inv_freq, n, n_head, head_dim, n_rot, true);
}

// ---- attention

// Query rows go in blocks of k_qblock; block [i0, i1) only meets keys [0, i1), so the products skip most of the
// masked upper triangle (at t = 512 about 45 % of the attention arithmetic).
constexpr int64_t k_qblock = 64;

void attention_forward(thread_pool& pool, float* out, float* lse, const float* q, const float* k, const float* v,
                       int64_t b, int64_t t, int64_t n_head, int64_t n_kv, int64_t hd) {
    nn::blas_setup();
    const int64_t ldq = n_head * hd, ldk = n_kv * hd, group = n_head / n_kv;
    const float scale = 1.0f / std::sqrt(float(hd));
    const kernels::table& K = kt();
    pool.parallel_for(b * n_kv, 1, [&](int64_t j0, int64_t j1, int) {
        thread_local std::vector<float> s;
        if (s.size() < size_t(k_qblock * t)) s.resize(size_t(k_qblock * t));
        for (int64_t j = j0; j < j1; ++j) {
            const int64_t seq = j / n_kv, g = j % n_kv;
            const float* kb = k + seq * t * ldk + g * hd;
            const float* vb = v + seq * t * ldk + g * hd;
            for (int64_t h = g * group; h < (g + 1) * group; ++h) {
                const float* qb = q + seq * t * ldq + h * hd;
                float* ob = out + seq * t * ldq + h * hd;
                float* l = lse + (seq * n_head + h) * t;
                for (int64_t i0 = 0; i0 < t; i0 += k_qblock) {
                    const int64_t i1 = std::min(t, i0 + k_qblock), nq = i1 - i0;  // keys 0..i1-1
                    gemm_st(false, true, nq, i1, hd, scale, qb + i0 * ldq, ldq, kb, ldk, 0.0f, s.data(), i1);
                    for (int64_t r = 0; r < nq; ++r) {
                        const int64_t i = i0 + r;
                        float* row = s.data() + r * i1;
                        const float m = K.max_f32(row, i + 1);
                        const float sum = K.exp_sub_sum_f32(row, m, row, i + 1);
                        l[i] = m + std::log(sum);
                        const float inv = 1.0f / sum;
                        for (int64_t c = 0; c <= i; ++c) row[c] *= inv;
                        std::fill(row + i + 1, row + i1, 0.0f);
                    }
                    gemm_st(false, false, nq, hd, i1, 1.0f, s.data(), i1, vb, ldk, 0.0f, ob + i0 * ldq, ldq);
                }
            }
        }
    });
}

void attention_backward(thread_pool& pool, float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse, int64_t b, int64_t t,
                        int64_t n_head, int64_t n_kv, int64_t hd) {
    nn::blas_setup();
    const int64_t ldq = n_head * hd, ldk = n_kv * hd, group = n_head / n_kv;
    const float scale = 1.0f / std::sqrt(float(hd));
    // One task per (sequence, KV head): the group's query heads add into that KV head's dK and dV in head order.
    pool.parallel_for(b * n_kv, 1, [&](int64_t j0, int64_t j1, int) {
        thread_local std::vector<float> p, dp;
        if (p.size() < size_t(k_qblock * t)) {
            p.resize(size_t(k_qblock * t));
            dp.resize(size_t(k_qblock * t));
        }
        for (int64_t j = j0; j < j1; ++j) {
            const int64_t seq = j / n_kv, g = j % n_kv;
            const float* kb = k + seq * t * ldk + g * hd;
            const float* vb = v + seq * t * ldk + g * hd;
            float* dkb = dk + seq * t * ldk + g * hd;
            float* dvb = dv + seq * t * ldk + g * hd;
            for (int64_t h = g * group; h < (g + 1) * group; ++h) {
                const int64_t off = seq * t * ldq + h * hd;
                const float* qb = q + off;
                const float* ob = out + off;
                const float* gb = dout + off;
                const float* l = lse + (seq * n_head + h) * t;
                for (int64_t i0 = 0; i0 < t; i0 += k_qblock) {
                    const int64_t i1 = std::min(t, i0 + k_qblock), nq = i1 - i0;
                    // P = exp(scale q k^T - lse), causal
                    gemm_st(false, true, nq, i1, hd, scale, qb + i0 * ldq, ldq, kb, ldk, 0.0f, p.data(), i1);
                    for (int64_t r = 0; r < nq; ++r) {
                        const int64_t i = i0 + r;
                        float* row = p.data() + r * i1;
                        for (int64_t c = 0; c <= i; ++c) row[c] = std::exp(row[c] - l[i]);
                        std::fill(row + i + 1, row + i1, 0.0f);
                    }
                    // dP = dO V^T; dS = P * (dP - rowsum(dO * O)) (the softmax backward), masked with P
                    gemm_st(false, true, nq, i1, hd, 1.0f, gb + i0 * ldq, ldq, vb, ldk, 0.0f, dp.data(), i1);
                    for (int64_t r = 0; r < nq; ++r) {
                        const int64_t i = i0 + r;
                        double d = 0;
                        for (int64_t c = 0; c < hd; ++c) d += double(gb[i * ldq + c]) * double(ob[i * ldq + c]);
                        const float* pr = p.data() + r * i1;
                        float* dr = dp.data() + r * i1;
                        for (int64_t c = 0; c <= i; ++c) dr[c] = pr[c] * (dr[c] - float(d));
                        std::fill(dr + i + 1, dr + i1, 0.0f);
                    }
                    // dV[0:i1] += P^T dO;  dQ[i0:i1] += s dS K;  dK[0:i1] += s dS^T Q
                    gemm_st(true, false, i1, hd, nq, 1.0f, p.data(), i1, gb + i0 * ldq, ldq, 1.0f, dvb, ldk);
                    gemm_st(false, false, nq, hd, i1, scale, dp.data(), i1, kb, ldk, 1.0f, dq + off + i0 * ldq, ldq);
                    gemm_st(true, false, i1, hd, nq, scale, dp.data(), i1, qb + i0 * ldq, ldq, 1.0f, dkb, ldk);
                }
            }
        }
    });
}

// ---- SwiGLU

void swiglu_forward(thread_pool& pool, float* out, const float* gate, const float* up, int64_t n) {
    pool.parallel_for(n, 4096, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i) {
            const float g = gate[i];
            out[i] = g / (1.0f + std::exp(-g)) * up[i];
        }
    });
}

void swiglu_backward(thread_pool& pool, float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                     int64_t n) {
    pool.parallel_for(n, 4096, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i) {
            const float g = gate[i];
            const float sg = 1.0f / (1.0f + std::exp(-g));
            dgate[i] += dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
            dup[i] += dout[i] * g * sg;
        }
    });
}

// ---- cross-entropy

int64_t cross_entropy_forward(thread_pool& pool, float* losses, const float* logits, const int32_t* targets, int64_t n,
                              int64_t vocab) {
    const kernels::table& K = kt();
    pool.parallel_for(n, 4, [&](int64_t i0, int64_t i1, int) {
        thread_local std::vector<float> e;
        if (e.size() < size_t(vocab)) e.resize(size_t(vocab));
        for (int64_t i = i0; i < i1; ++i) {
            const int32_t tg = targets[i];
            if (tg < 0 || tg >= vocab) {
                losses[i] = 0.0f;
                continue;
            }
            const float* x = logits + i * vocab;
            const float m = K.max_f32(x, vocab);
            const float sum = K.exp_sub_sum_f32(x, m, e.data(), vocab);
            losses[i] = m + std::log(sum) - x[tg];
        }
    });
    int64_t counted = 0;
    for (int64_t i = 0; i < n; ++i) counted += targets[i] >= 0 && targets[i] < vocab;
    return counted;
}

void cross_entropy_backward(thread_pool& pool, float* dlogits, const float* logits, const int32_t* targets, int64_t n,
                            int64_t vocab, float scale) {
    const kernels::table& K = kt();
    pool.parallel_for(n, 4, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i) {
            const int32_t tg = targets[i];
            float* d = dlogits + i * vocab;
            if (tg < 0 || tg >= vocab) {
                std::fill(d, d + vocab, 0.0f);
                continue;
            }
            const float* x = logits + i * vocab;
            const float m = K.max_f32(x, vocab);
            const float sum = K.exp_sub_sum_f32(x, m, d, vocab);
            const float f = scale / sum;
            for (int64_t c = 0; c < vocab; ++c) d[c] *= f;
            d[tg] -= scale;
        }
    });
}

}  // namespace fathom::train
