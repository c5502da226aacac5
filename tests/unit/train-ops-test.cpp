// Training ops: every backward against central finite differences of its forward (objective L = sum r * out with a
// fixed random r), forwards against direct double-precision loops, and gemm's transposes against a naive product.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "train/ops.h"

namespace fathom::train {
namespace {

std::vector<float> randn(size_t n, std::mt19937& rng, float sd = 1.0f) {
    std::normal_distribution<float> nd(0.0f, sd);
    std::vector<float> v(n);
    for (float& x : v) x = nd(rng);
    return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
    return s;
}

// Central differences of eval() (the objective) in each checked element of x against analytic[i]. Checks every
// element of small tensors, 150 random ones of larger.
void check_grad(const std::string& what, std::vector<float>& x, const std::vector<float>& analytic,
                const std::function<double()>& eval, float eps = 1e-2f, double atol = 2e-3, double rtol = 2e-2) {
    ASSERT_EQ(x.size(), analytic.size()) << what;
    std::mt19937 rng(5);
    std::vector<size_t> idx;
    if (x.size() <= 400) {
        for (size_t i = 0; i < x.size(); ++i) idx.push_back(i);
    } else {
        for (int i = 0; i < 150; ++i) idx.push_back(rng() % x.size());
    }
    int nonzero = 0;
    for (size_t i : idx) {
        const float keep = x[i];
        x[i] = keep + eps;
        const double lp = eval();
        x[i] = keep - eps;
        const double lm = eval();
        x[i] = keep;
        const double fd = (lp - lm) / (2.0 * double(eps));
        ASSERT_NEAR(double(analytic[i]), fd, atol + rtol * std::fabs(fd)) << what << " element " << i;
        nonzero += std::fabs(fd) > 1e-5;
    }
    EXPECT_GT(nonzero, int(idx.size()) / 4) << what << ": the gradient is mostly zero, the check proves little";
}

TEST(train_ops, gemm_all_transposes_match_naive) {
    thread_pool pool(2);
    std::mt19937 rng(1);
    for (int64_t m : {1, 7, 130})
        for (int64_t n : {1, 9, 200})
            for (int64_t k : {1, 5, 70})
                for (int ta = 0; ta < 2; ++ta)
                    for (int tb = 0; tb < 2; ++tb) {
                        const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;
                        const auto a = randn(size_t((ta ? k : m) * lda), rng);
                        const auto b = randn(size_t((tb ? n : k) * ldb), rng);
                        auto c = randn(size_t(m * ldc), rng);
                        const auto c0 = c;
                        gemm(pool, ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 2.0f, c.data(), ldc);
                        for (int64_t i = 0; i < m; ++i)
                            for (int64_t j = 0; j < n; ++j) {
                                double s = 0;
                                for (int64_t p = 0; p < k; ++p)
                                    s += double(ta ? a[size_t(p * lda + i)] : a[size_t(i * lda + p)]) *
                                         double(tb ? b[size_t(j * ldb + p)] : b[size_t(p * ldb + j)]);
                                const double want = 0.5 * s + 2.0 * double(c0[size_t(i * ldc + j)]);
                                ASSERT_NEAR(c[size_t(i * ldc + j)], want, 1e-4 * (1.0 + std::fabs(want)))
                                    << m << "x" << n << "x" << k << " ta " << ta << " tb " << tb;
                            }
                    }
}

TEST(train_ops, embedding_backward) {
    thread_pool pool(2);
    std::mt19937 rng(2);
    const int64_t n = 9, c = 6, vocab = 5;
    const std::vector<int32_t> tok = {0, 3, 3, 1, 4, 3, 0, 2, 3};
    auto wte = randn(size_t(vocab * c), rng);
    const auto r = randn(size_t(n * c), rng);
    std::vector<float> out(size_t(n * c)), dw(wte.size(), 0.0f);
    embedding_forward(pool, out.data(), tok.data(), wte.data(), n, c);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < c; ++j) ASSERT_EQ(out[size_t(i * c + j)], wte[size_t(tok[size_t(i)] * c + j)]);
    embedding_backward(pool, dw.data(), r.data(), tok.data(), n, c);
    check_grad("dwte", wte, dw, [&] {
        embedding_forward(pool, out.data(), tok.data(), wte.data(), n, c);
        return dot(out, r);
    });
}

TEST(train_ops, rmsnorm_forward_and_backward) {
    thread_pool pool(2);
    std::mt19937 rng(3);
    const int64_t n = 5, c = 24;
    const float eps = 1e-5f;
    auto x = randn(size_t(n * c), rng);
    auto w = randn(size_t(c), rng, 0.5f);
    for (float& v : w) v += 1.0f;
    const auto r = randn(size_t(n * c), rng);
    std::vector<float> out(x.size()), rstd(static_cast<size_t>(n)), dx(x.size(), 0.0f), dw(w.size(), 0.0f);
    rmsnorm_forward(pool, out.data(), rstd.data(), x.data(), w.data(), n, c, eps);
    for (int64_t i = 0; i < n; ++i) {
        double ss = 0;
        for (int64_t j = 0; j < c; ++j) ss += double(x[size_t(i * c + j)]) * x[size_t(i * c + j)];
        const double rs = 1.0 / std::sqrt(ss / double(c) + eps);
        for (int64_t j = 0; j < c; ++j)
            ASSERT_NEAR(out[size_t(i * c + j)], x[size_t(i * c + j)] * rs * w[size_t(j)], 1e-5);
    }
    rmsnorm_backward(pool, dx.data(), dw.data(), r.data(), x.data(), w.data(), rstd.data(), n, c);
    auto eval = [&] {
        rmsnorm_forward(pool, out.data(), rstd.data(), x.data(), w.data(), n, c, eps);
        return dot(out, r);
    };
    check_grad("dx", x, dx, eval);
    check_grad("dw", w, dw, eval);
}

TEST(train_ops, matmul_backward_with_bias) {
    thread_pool pool(2);
    std::mt19937 rng(4);
    const int64_t n = 7, c = 10, oc = 13;
    auto x = randn(size_t(n * c), rng), w = randn(size_t(oc * c), rng), b = randn(size_t(oc), rng);
    const auto r = randn(size_t(n * oc), rng);
    std::vector<float> out(size_t(n * oc)), dx(x.size(), 0.0f), dw(w.size(), 0.0f), db(b.size(), 0.0f);
    matmul_forward(pool, out.data(), x.data(), w.data(), b.data(), n, c, oc);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t o = 0; o < oc; ++o) {
            double s = b[size_t(o)];
            for (int64_t j = 0; j < c; ++j) s += double(x[size_t(i * c + j)]) * w[size_t(o * c + j)];
            ASSERT_NEAR(out[size_t(i * oc + o)], s, 1e-4);
        }
    matmul_backward(pool, dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), n, c, oc);
    auto eval = [&] {
        matmul_forward(pool, out.data(), x.data(), w.data(), b.data(), n, c, oc);
        return dot(out, r);
    };
    check_grad("dx", x, dx, eval);
    check_grad("dw", w, dw, eval);
    check_grad("dbias", b, db, eval);
}

TEST(train_ops, rope_backward_is_the_inverse_rotation) {
    thread_pool pool(2);
    std::mt19937 rng(5);
    const int64_t n = 6, n_head = 3, hd = 8, n_rot = 6;  // the last 2 dimensions of each head do not rotate
    std::vector<float> inv_freq(size_t(n_rot / 2));
    for (int64_t i = 0; i < n_rot / 2; ++i) inv_freq[size_t(i)] = std::pow(10000.0f, -2.0f * float(i) / float(n_rot));
    const std::vector<int32_t> pos = {0, 1, 2, 7, 30, 31};
    auto x = randn(size_t(n * n_head * hd), rng);
    const auto r = randn(x.size(), rng);
    std::vector<float> y = x;
    rope_forward(pool, y.data(), pos.data(), inv_freq.data(), n, n_head, hd, n_rot);
    for (int64_t i = 0; i < n; ++i)  // pair (0, 1) of head 1 by hand
        for (int64_t p = 0; p < n_rot / 2; ++p) {
            const double a = double(pos[size_t(i)]) * inv_freq[size_t(p)];
            const size_t o = size_t(i * n_head * hd + hd + 2 * p);
            ASSERT_NEAR(y[o], x[o] * std::cos(a) - x[o + 1] * std::sin(a), 1e-5);
            ASSERT_NEAR(y[o + 1], x[o] * std::sin(a) + x[o + 1] * std::cos(a), 1e-5);
        }
    std::vector<float> dx = r;
    rope_backward(pool, dx.data(), pos.data(), inv_freq.data(), n, n_head, hd, n_rot);
    check_grad("dx", x, dx, [&] {
        y = x;
        rope_forward(pool, y.data(), pos.data(), inv_freq.data(), n, n_head, hd, n_rot);
        return dot(y, r);
    });
}

TEST(train_ops, attention_forward_and_backward_gqa) {
    thread_pool pool(2);
    std::mt19937 rng(6);
    const int64_t b = 2, t = 7, n_head = 4, n_kv = 2, hd = 8;
    const int64_t ldq = n_head * hd, ldk = n_kv * hd;
    auto q = randn(size_t(b * t * ldq), rng), k = randn(size_t(b * t * ldk), rng), v = randn(size_t(b * t * ldk), rng);
    const auto r = randn(q.size(), rng);
    std::vector<float> out(q.size()), lse(size_t(b * n_head * t));
    attention_forward(pool, out.data(), lse.data(), q.data(), k.data(), v.data(), b, t, n_head, n_kv, hd);
    // direct softmax attention in double
    const double scale = 1.0 / std::sqrt(double(hd));
    for (int64_t s = 0; s < b; ++s)
        for (int64_t h = 0; h < n_head; ++h) {
            const int64_t g = h / (n_head / n_kv);
            for (int64_t i = 0; i < t; ++i) {
                std::vector<double> sc(size_t(i + 1));
                double m = -1e300;
                for (int64_t j = 0; j <= i; ++j) {
                    double d = 0;
                    for (int64_t c = 0; c < hd; ++c)
                        d += double(q[size_t((s * t + i) * ldq + h * hd + c)]) * k[size_t((s * t + j) * ldk + g * hd + c)];
                    sc[size_t(j)] = d * scale;
                    m = std::max(m, sc[size_t(j)]);
                }
                double z = 0;
                for (double& e : sc) z += (e = std::exp(e - m));
                ASSERT_NEAR(lse[size_t((s * n_head + h) * t + i)], m + std::log(z), 1e-4);
                for (int64_t c = 0; c < hd; ++c) {
                    double o = 0;
                    for (int64_t j = 0; j <= i; ++j) o += sc[size_t(j)] / z * v[size_t((s * t + j) * ldk + g * hd + c)];
                    ASSERT_NEAR(out[size_t((s * t + i) * ldq + h * hd + c)], o, 1e-4);
                }
            }
        }
    std::vector<float> dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size(), 0.0f);
    attention_backward(pool, dq.data(), dk.data(), dv.data(), r.data(), q.data(), k.data(), v.data(), out.data(),
                       lse.data(), b, t, n_head, n_kv, hd);
    auto eval = [&] {
        attention_forward(pool, out.data(), lse.data(), q.data(), k.data(), v.data(), b, t, n_head, n_kv, hd);
        return dot(out, r);
    };
    check_grad("dq", q, dq, eval);
    check_grad("dk", k, dk, eval);
    check_grad("dv", v, dv, eval);
}

TEST(train_ops, swiglu_backward) {
    thread_pool pool(2);
    std::mt19937 rng(7);
    const int64_t n = 300;
    auto g = randn(size_t(n), rng, 2.0f), u = randn(size_t(n), rng);
    const auto r = randn(size_t(n), rng);
    std::vector<float> out(static_cast<size_t>(n)), dg(size_t(n), 0.0f), du(size_t(n), 0.0f);
    swiglu_forward(pool, out.data(), g.data(), u.data(), n);
    for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(out[size_t(i)], g[size_t(i)] / (1.0 + std::exp(-double(g[size_t(i)]))) * u[size_t(i)], 1e-5);
    swiglu_backward(pool, dg.data(), du.data(), r.data(), g.data(), u.data(), n);
    auto eval = [&] {
        swiglu_forward(pool, out.data(), g.data(), u.data(), n);
        return dot(out, r);
    };
    check_grad("dgate", g, dg, eval);
    check_grad("dup", u, du, eval);
}

TEST(train_ops, cross_entropy_with_ignored_positions) {
    thread_pool pool(2);
    std::mt19937 rng(8);
    const int64_t n = 6, vocab = 40;
    auto logits = randn(size_t(n * vocab), rng, 3.0f);
    const std::vector<int32_t> targets = {3, -1, 39, 0, 17, -1};
    std::vector<float> losses(static_cast<size_t>(n));
    EXPECT_EQ(cross_entropy_forward(pool, losses.data(), logits.data(), targets.data(), n, vocab), 4);
    for (int64_t i = 0; i < n; ++i) {
        if (targets[size_t(i)] < 0) {
            EXPECT_EQ(losses[size_t(i)], 0.0f);
            continue;
        }
        double m = -1e300, z = 0;
        for (int64_t c = 0; c < vocab; ++c) m = std::max(m, double(logits[size_t(i * vocab + c)]));
        for (int64_t c = 0; c < vocab; ++c) z += std::exp(double(logits[size_t(i * vocab + c)]) - m);
        ASSERT_NEAR(losses[size_t(i)], m + std::log(z) - logits[size_t(i * vocab + targets[size_t(i)])], 1e-5);
    }
    const float scale = 0.25f;  // mean over the 4 counted positions
    std::vector<float> dl(logits.size());
    cross_entropy_backward(pool, dl.data(), logits.data(), targets.data(), n, vocab, scale);
    for (int64_t c = 0; c < vocab; ++c) EXPECT_EQ(dl[size_t(vocab + c)], 0.0f);  // ignored row
    check_grad("dlogits", logits, dl, [&] {
        cross_entropy_forward(pool, losses.data(), logits.data(), targets.data(), n, vocab);
        double s = 0;
        for (float l : losses) s += double(l) * scale;
        return s;
    });
    // in place gives the same
    std::vector<float> inplace = logits;
    cross_entropy_backward(pool, inplace.data(), inplace.data(), targets.data(), n, vocab, scale);
    EXPECT_EQ(inplace, dl);
}

}  // namespace
}  // namespace fathom::train
