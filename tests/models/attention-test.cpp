// Tiled online-softmax attention against a naive float64 attention; RoPE orderings against direct formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/thread-pool.h"
#include "nn/attention.h"
#include "nn/rope.h"

namespace fathom {
namespace {

struct attn_setup {
    int64_t n_head = 8, n_head_kv = 2, head_dim = 64, n_ctx = 0;
};

// One (layer, sequence) cache block filled with random keys/values for positions [0, n_keys).
struct cache_block {
    std::vector<float> k, vt;  // layouts from nn/attention.h
    std::vector<double> kd, vd; // [kvh][pos][d] copies for the naive reference
};

cache_block make_block(const attn_setup& a, int64_t n_keys, std::mt19937_64& rng) {
    cache_block b;
    b.k.assign(size_t(a.n_head_kv * a.n_ctx * a.head_dim), 0.0f);
    b.vt.assign(b.k.size(), 0.0f);
    b.kd.assign(size_t(a.n_head_kv * n_keys * a.head_dim), 0.0);
    b.vd.assign(b.kd.size(), 0.0);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (int64_t h = 0; h < a.n_head_kv; ++h)
        for (int64_t j = 0; j < n_keys; ++j)
            for (int64_t d = 0; d < a.head_dim; ++d) {
                const float kv = 2.0f * dist(rng), vv = dist(rng);
                b.k[size_t((h * a.n_ctx + j) * a.head_dim + d)] = kv;
                b.vt[size_t((h * a.head_dim + d) * a.n_ctx + j)] = vv;
                b.kd[size_t((h * n_keys + j) * a.head_dim + d)] = kv;
                b.vd[size_t((h * n_keys + j) * a.head_dim + d)] = vv;
            }
    return b;
}

// Naive attention of one query head at position pos over keys 0..pos.
std::vector<double> naive(const attn_setup& a, const cache_block& b, int64_t n_keys, const float* qh, int64_t kvh,
                          int64_t pos) {
    std::vector<double> s(size_t(pos + 1));
    double mx = -INFINITY;
    for (int64_t j = 0; j <= pos; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < a.head_dim; ++d) dot += double(qh[d]) * b.kd[size_t((kvh * n_keys + j) * a.head_dim + d)];
        s[size_t(j)] = dot / std::sqrt(double(a.head_dim));
        mx = std::max(mx, s[size_t(j)]);
    }
    double sum = 0;
    for (auto& x : s) sum += (x = std::exp(x - mx));
    std::vector<double> o(size_t(a.head_dim), 0.0);
    for (int64_t j = 0; j <= pos; ++j)
        for (int64_t d = 0; d < a.head_dim; ++d)
            o[size_t(d)] += s[size_t(j)] / sum * b.vd[size_t((kvh * n_keys + j) * a.head_dim + d)];
    return o;
}

// Runs `n_tok` queries at positions pos0.. of one sequence through nn::attention; returns max abs error.
double check(const attn_setup& setup, int64_t pos0, int64_t n_tok, int n_threads, uint64_t seed) {
    attn_setup a = setup;
    const int64_t n_keys = pos0 + n_tok;
    a.n_ctx = n_keys + 5;  // a cache block longer than the sequence
    std::mt19937_64 rng(seed);
    cache_block blk = make_block(a, n_keys, rng);
    const int64_t n_q = a.n_head * a.head_dim, ld = n_q + 8;  // padded rows
    std::vector<float> q(size_t(n_tok * ld)), out(size_t(n_tok * ld), NAN);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& x : q) x = dist(rng);
    std::vector<int32_t> rows(static_cast<size_t>(n_tok));
    for (int64_t i = 0; i < n_tok; ++i) rows[size_t(i)] = int32_t(n_tok - 1 - i);  // rows need not be in order

    nn::attention_seq sq;
    sq.k = blk.k.data();
    sq.vt = blk.vt.data();
    sq.rows = rows.data();
    sq.n_tok = n_tok;
    sq.pos0 = pos0;
    nn::attention_dims d{a.n_head, a.n_head_kv, a.head_dim, a.n_ctx};
    thread_pool pool(n_threads);
    nn::attention_scratch scratch;
    nn::attention(pool, d, &sq, 1, q.data(), ld, out.data(), ld, scratch);

    double worst = 0;
    const int64_t group = a.n_head / a.n_head_kv;
    for (int64_t i = 0; i < n_tok; ++i) {
        const int64_t r = rows[size_t(i)];
        for (int64_t h = 0; h < a.n_head; ++h) {
            auto ref = naive(a, blk, n_keys, q.data() + r * ld + h * a.head_dim, h / group, pos0 + i);
            for (int64_t e = 0; e < a.head_dim; ++e) {
                const double diff = std::fabs(double(out[size_t(r * ld + h * a.head_dim + e)]) - ref[size_t(e)]);
                worst = std::isnan(diff) ? INFINITY : std::max(worst, diff);
            }
        }
    }
    return worst;
}

TEST(attention, prefill_matches_naive_across_tile_boundaries) {
    for (int64_t n : {1, 63, 64, 65, 300})
        for (int threads : {1, 2})
            EXPECT_LT(check(attn_setup{}, 0, n, threads, uint64_t(n)), 2e-5) << "n=" << n << " threads=" << threads;
}

TEST(attention, continuation_and_decode_match_naive) {
    // New tokens after a cached prefix, and single-token decode at lengths around block boundaries.
    for (int64_t pos0 : {1, 63, 64, 65, 127, 128, 129, 299, 300})
        for (int64_t n_tok : {1, 3, 40})
            EXPECT_LT(check(attn_setup{}, pos0, n_tok, 2, uint64_t(pos0 * 7 + n_tok)), 2e-5) << pos0 << "+" << n_tok;
}

TEST(attention, split_keys_for_few_work_items) {
    // One KV head (MQA) and a single query: the key range is split over threads and merged.
    attn_setup mqa;
    mqa.n_head = 4;
    mqa.n_head_kv = 1;
    mqa.head_dim = 32;
    for (int64_t pos0 : {511, 1000, 1500})
        for (int threads : {2, 3, 4})
            EXPECT_LT(check(mqa, pos0, 1, threads, uint64_t(pos0 + threads)), 2e-5) << pos0 << " threads " << threads;
    // MHA-like group of 1 and odd head_dim multiples.
    attn_setup mha;
    mha.n_head = 3;
    mha.n_head_kv = 3;
    mha.head_dim = 24;
    EXPECT_LT(check(mha, 0, 300, 2, 77), 2e-5);
    EXPECT_LT(check(mha, 700, 2, 2, 78), 2e-5);
}

TEST(attention, several_sequences_in_one_call) {
    attn_setup a;
    a.n_head = 4;
    a.n_head_kv = 2;
    a.head_dim = 16;
    a.n_ctx = 200;
    std::mt19937_64 rng(5);
    const int64_t n_q = a.n_head * a.head_dim;
    // seq 0: positions 10..29 (20 new), seq 1: positions 0..6, seq 2: position 150; rows interleaved.
    const int64_t pos0[3] = {10, 0, 150}, n_new[3] = {20, 7, 1};
    std::vector<cache_block> blocks;
    for (int s = 0; s < 3; ++s) blocks.push_back(make_block(a, pos0[s] + n_new[s], rng));
    std::vector<int32_t> rows[3];
    int32_t next = 0;
    for (int64_t i = 0; i < 20; ++i)
        for (int s = 0; s < 3; ++s)
            if (i < n_new[s]) rows[s].push_back(next++);
    std::vector<float> q(size_t(next * n_q)), out(q.size(), NAN);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& x : q) x = dist(rng);
    std::vector<nn::attention_seq> seqs(3);
    for (int s = 0; s < 3; ++s) seqs[size_t(s)] = {blocks[size_t(s)].k.data(), blocks[size_t(s)].vt.data(), rows[s].data(), n_new[s], pos0[s]};
    thread_pool pool(2);
    nn::attention_scratch scratch;
    nn::attention(pool, {a.n_head, a.n_head_kv, a.head_dim, a.n_ctx}, seqs.data(), 3, q.data(), n_q, out.data(), n_q, scratch);
    double worst = 0;
    for (int s = 0; s < 3; ++s)
        for (int64_t i = 0; i < n_new[s]; ++i)
            for (int64_t h = 0; h < a.n_head; ++h) {
                const int64_t r = rows[s][size_t(i)];
                auto ref = naive(a, blocks[size_t(s)], pos0[s] + n_new[s], q.data() + r * n_q + h * a.head_dim, h / 2, pos0[s] + i);
                for (int64_t e = 0; e < a.head_dim; ++e)
                    worst = std::max(worst, std::fabs(double(out[size_t(r * n_q + h * a.head_dim + e)]) - ref[size_t(e)]));
            }
    EXPECT_LT(worst, 2e-5);
}

TEST(rope, normal_and_neox_match_direct_formulas) {
    const int64_t head_dim = 12, n_rot = 8, n_pairs = 4, n_head = 2;
    std::vector<float> inv(n_pairs);
    for (int64_t i = 0; i < n_pairs; ++i) inv[size_t(i)] = float(std::pow(10000.0, -2.0 * double(i) / double(n_rot)));
    const int32_t pos[2] = {0, 37};
    std::vector<float> c(2 * n_pairs), s(2 * n_pairs);
    nn::rope_tables(inv.data(), n_pairs, pos, 2, c.data(), s.data());
    for (int64_t i = 0; i < n_pairs; ++i) {
        EXPECT_FLOAT_EQ(c[size_t(i)], 1.0f);
        EXPECT_FLOAT_EQ(s[size_t(i)], 0.0f);
        EXPECT_NEAR(c[size_t(n_pairs + i)], std::cos(37.0 * double(inv[size_t(i)])), 1e-7);
        EXPECT_NEAR(s[size_t(n_pairs + i)], std::sin(37.0 * double(inv[size_t(i)])), 1e-7);
    }
    std::vector<float> x(n_head * head_dim);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 0.25f - 3.0f;
    const float* cc = c.data() + n_pairs;
    const float* ss = s.data() + n_pairs;
    for (rope_order order : {rope_order::ROPE_ORDER_NORMAL, rope_order::ROPE_ORDER_NEOX}) {
        std::vector<float> y = x;
        nn::rope_apply(order, y.data(), n_head, head_dim, n_rot, cc, ss);
        for (int64_t h = 0; h < n_head; ++h) {
            const float* xh = x.data() + h * head_dim;
            const float* yh = y.data() + h * head_dim;
            for (int64_t i = 0; i < n_pairs; ++i) {
                const int64_t a = order == rope_order::ROPE_ORDER_NORMAL ? 2 * i : i;
                const int64_t b = order == rope_order::ROPE_ORDER_NORMAL ? 2 * i + 1 : i + n_pairs;
                EXPECT_NEAR(yh[a], xh[a] * cc[i] - xh[b] * ss[i], 1e-5);
                EXPECT_NEAR(yh[b], xh[a] * ss[i] + xh[b] * cc[i], 1e-5);
            }
            for (int64_t e = n_rot; e < head_dim; ++e) EXPECT_EQ(yh[e], xh[e]);  // past n_rot: untouched
        }
    }
}

}  // namespace
}  // namespace fathom
