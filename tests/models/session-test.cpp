// Session: KV-cache decode, multi-sequence batches, truncate and batch validation on in-memory tiny models.
// The one-batch logits these compare with are themselves checked against NumPy in reference-test.cpp.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "models/llama.h"
#include "models/model-test-util.h"
#include "runtime/session.h"

namespace fathom {
namespace {

using test::max_rel_diff;
using test::tiny_spec;
using logits_t = std::vector<std::vector<float>>;

std::unique_ptr<llama_model> tiny(const tiny_spec& s = tiny_spec()) { return llama_model::load(test::make_tiny_model(s)); }

void collect(const session& s, const llama_model& m, logits_t* out) {
    for (int64_t i = 0; i < s.n_logits(); ++i) out->emplace_back(s.logits(i), s.logits(i) + m.hp.n_vocab);
}

// Feeds `tokens` of sequence 0 as the given chunk sizes; returns the logits of every token.
logits_t run_steps(session& s, const llama_model& m, const std::vector<int32_t>& tokens, const std::vector<int64_t>& steps,
                   int32_t first_pos = 0) {
    logits_t out;
    size_t at = 0;
    for (int64_t n : steps) {
        std::vector<batch_token> b;
        for (int64_t i = 0; i < n; ++i, ++at) b.push_back({tokens[at], int32_t(first_pos + int32_t(at)), 0, true});
        s.decode(b);
        collect(s, m, &out);
    }
    return out;
}

session_params params(int64_t n_ctx, int32_t n_seq = 1, int32_t n_threads = 2, int64_t n_batch = 512) {
    session_params p;
    p.n_ctx = n_ctx;
    p.n_seq = n_seq;
    p.n_threads = n_threads;
    p.n_batch = n_batch;
    return p;
}

std::string error_of(const std::function<void()>& f, errc* code = nullptr) {
    try {
        f();
    } catch (const error& e) {
        if (code) *code = e.code();
        return e.what();
    }
    return "(no error)";
}

TEST(session, decode_with_cache_matches_one_batch) {
    auto m = tiny();
    const auto tokens = test::random_tokens(64, m->hp.n_vocab, 3);
    const logits_t ref = test::run_one_batch(*m, tokens);
    {
        session s(*m, params(64));
        std::vector<int64_t> steps = {40};
        steps.insert(steps.end(), 24, 1);
        EXPECT_LE(max_rel_diff(run_steps(s, *m, tokens, steps), ref), 1e-5);
        EXPECT_EQ(s.seq_len(0), 64);
    }
    {
        session s(*m, params(64));
        EXPECT_LE(max_rel_diff(run_steps(s, *m, tokens, {1, 13, 7, 2, 33, 8}), ref), 1e-5);
    }
    {
        // Prefill without logits (the last layer stops after writing K/V), then decode.
        session s(*m, params(64));
        std::vector<batch_token> b;
        for (int32_t i = 0; i < 40; ++i) b.push_back({tokens[size_t(i)], i, 0, false});
        s.decode(b);
        EXPECT_EQ(s.n_logits(), 0);
        const std::vector<int32_t> rest(tokens.begin() + 40, tokens.end());
        logits_t got = run_steps(s, *m, rest, std::vector<int64_t>(24, 1), 40);
        EXPECT_LE(max_rel_diff(got, logits_t(ref.begin() + 40, ref.end())), 1e-5);
    }
    // A batch larger than n_batch is split internally into chunks.
    EXPECT_LE(max_rel_diff(test::run_one_batch(*m, tokens, 2, 7), ref), 1e-5);
}

TEST(session, thread_counts_agree) {
    auto m = tiny();
    const auto tokens = test::random_tokens(50, m->hp.n_vocab, 4);
    const logits_t ref = test::run_one_batch(*m, tokens, 1);
    EXPECT_LE(max_rel_diff(test::run_one_batch(*m, tokens, 2), ref), 1e-5);
    EXPECT_LE(max_rel_diff(test::run_one_batch(*m, tokens, 3), ref), 1e-5);
}

// Long sequences cross key blocks; single-token decodes with one KV head split their key range over threads.
TEST(session, long_sequence_decode_matches_one_batch) {
    for (int64_t n_kv : {int64_t(1), int64_t(2)}) {
        tiny_spec sp;
        sp.n_head_kv = n_kv;
        sp.n_layer = 1;
        sp.seed = 5 + uint64_t(n_kv);
        auto m = tiny(sp);
        const int64_t n = 700;
        const auto tokens = test::random_tokens(n, m->hp.n_vocab, 9);
        const logits_t ref = test::run_one_batch(*m, tokens, 2, 1024);
        for (int threads : {2, 3}) {
            session s(*m, params(n, 1, threads));
            std::vector<int64_t> steps = {520, 80};  // crosses key blocks; then decodes with >= 600 keys
            steps.insert(steps.end(), size_t(n - 600), 1);
            EXPECT_LE(max_rel_diff(run_steps(s, *m, tokens, steps), ref), 1e-5) << "n_head_kv " << n_kv << ", threads " << threads;
        }
    }
}

TEST(session, two_sequences_in_one_batch_match_separate_runs) {
    tiny_spec sp;
    sp.arch = "qwen2";
    sp.qkv_bias = true;
    sp.tied = true;
    auto m = tiny(sp);
    const auto a = test::random_tokens(50, m->hp.n_vocab, 21);
    const auto b = test::random_tokens(37, m->hp.n_vocab, 22);
    const logits_t ref_a = test::run_one_batch(*m, a), ref_b = test::run_one_batch(*m, b);

    session s(*m, params(64, 3));
    logits_t got_a, got_b;
    // Prefill: a[0..20) and b[0..15) interleaved in one decode call; then one token of each per call.
    std::vector<batch_token> batch;
    size_t ia = 0, ib = 0;
    while (ia < 20 || ib < 15) {
        if (ia < 20) {
            batch.push_back({a[ia], int32_t(ia), 0, true});
            ++ia;
        }
        if (ib < 15) {
            batch.push_back({b[ib], int32_t(ib), 2, true});
            ++ib;
        }
    }
    auto run = [&](const std::vector<batch_token>& bt) {
        s.decode(bt);
        for (size_t i = 0, k = 0; i < bt.size(); ++i) {
            if (!bt[i].logits) continue;
            const float* l = s.logits(int64_t(k++));
            (bt[i].seq == 0 ? got_a : got_b).emplace_back(l, l + m->hp.n_vocab);
        }
    };
    run(batch);
    while (ia < a.size() || ib < b.size()) {
        batch.clear();
        if (ib < b.size()) {
            batch.push_back({b[ib], int32_t(ib), 2, true});
            ++ib;
        }
        if (ia < a.size()) {
            batch.push_back({a[ia], int32_t(ia), 0, true});
            ++ia;
        }
        run(batch);
    }
    EXPECT_LE(max_rel_diff(got_a, ref_a), 1e-5);
    EXPECT_LE(max_rel_diff(got_b, ref_b), 1e-5);
    EXPECT_EQ(s.seq_len(0), 50);
    EXPECT_EQ(s.seq_len(1), 0);
    EXPECT_EQ(s.seq_len(2), 37);
}

TEST(session, only_marked_tokens_keep_logits) {
    auto m = tiny();
    const auto tokens = test::random_tokens(20, m->hp.n_vocab, 31);
    const logits_t ref = test::run_one_batch(*m, tokens);
    session s(*m, params(32, 1, 2, 6));  // chunks of 6: marked tokens fall in different chunks
    std::vector<batch_token> b;
    for (size_t i = 0; i < tokens.size(); ++i) b.push_back({tokens[i], int32_t(i), 0, i % 7 == 3 || i == 19});
    s.decode(b);
    ASSERT_EQ(s.n_logits(), 4);
    const size_t marked[] = {3, 10, 17, 19};
    for (int64_t k = 0; k < 4; ++k)
        EXPECT_LE(test::rel_diff(s.logits(k), ref[marked[k]].data(), m->hp.n_vocab), 1e-5) << k;
    EXPECT_THROW(s.logits(4), error);
    EXPECT_THROW(s.logits(-1), error);
}

TEST(session, truncate_and_redecode) {
    auto m = tiny();
    const auto a = test::random_tokens(50, m->hp.n_vocab, 41);
    const auto c = test::random_tokens(20, m->hp.n_vocab, 42);
    session s(*m, params(64));
    run_steps(s, *m, a, {50});
    EXPECT_EQ(s.seq_len(0), 50);

    // Keep the first 30 positions, continue with other tokens.
    s.truncate(0, 30);
    EXPECT_EQ(s.seq_len(0), 30);
    std::vector<int32_t> joined(a.begin(), a.begin() + 30);
    joined.insert(joined.end(), c.begin(), c.end());
    const logits_t ref = test::run_one_batch(*m, joined);
    logits_t got = run_steps(s, *m, c, {11, 1, 8}, 30);
    EXPECT_LE(max_rel_diff(got, logits_t(ref.begin() + 30, ref.end())), 1e-5);

    // Truncating past the end changes nothing; truncating to 0 restarts the sequence.
    s.truncate(0, 1000);
    EXPECT_EQ(s.seq_len(0), 50);
    s.truncate(0, 0);
    EXPECT_EQ(s.seq_len(0), 0);
    EXPECT_LE(max_rel_diff(run_steps(s, *m, joined, {25, 25}), logits_t(ref.begin(), ref.begin() + 50)), 1e-5);
}

TEST(session, weight_types_run) {
    for (dtype t : {dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
        tiny_spec sp;
        sp.weight_type = t;
        auto m = tiny(sp);
        const auto tokens = test::random_tokens(33, m->hp.n_vocab, 51);
        const logits_t ref = test::run_one_batch(*m, tokens);
        session s(*m, params(40));
        std::vector<int64_t> steps = {20};
        steps.insert(steps.end(), 13, 1);
        EXPECT_LE(max_rel_diff(run_steps(s, *m, tokens, steps), ref), 1e-5) << dtype_name(t);
    }
}

TEST(session, rejects_bad_batches_without_changing_state) {
    auto m = tiny();
    session s(*m, params(16, 2));
    s.decode({{5, 0, 0, false}, {6, 1, 0, true}});
    ASSERT_EQ(s.seq_len(0), 2);
    errc code = errc::ERRC_OK;
    EXPECT_NE(error_of([&] { s.decode({{int32_t(m->hp.n_vocab), 2, 0, true}}); }, &code).find("token id 96 is out of range"),
              std::string::npos);
    EXPECT_EQ(code, errc::ERRC_INVALID_ARGUMENT);
    EXPECT_NE(error_of([&] { s.decode({{-1, 2, 0, true}}); }).find("token id -1"), std::string::npos);
    EXPECT_NE(error_of([&] { s.decode({{1, 0, 2, true}}); }).find("sequence 2 is out of range"), std::string::npos);
    EXPECT_NE(error_of([&] { s.decode({{1, 0, -1, true}}); }).find("sequence -1"), std::string::npos);
    EXPECT_NE(error_of([&] { s.decode({{1, 16, 1, true}}); }).find("position 16 is out of range"), std::string::npos);
    // Gap, rewrite without truncate, and out-of-order positions within one batch.
    EXPECT_NE(error_of([&] { s.decode({{1, 3, 0, true}}); }).find("does not continue it (expected 2"), std::string::npos);
    EXPECT_NE(error_of([&] { s.decode({{1, 1, 0, true}}); }).find("expected 2"), std::string::npos);
    EXPECT_NE(error_of([&] { s.decode({{1, 2, 0, true}, {1, 2, 0, true}}); }).find("expected 3"), std::string::npos);
    // A bad token late in a batch rejects the whole batch.
    EXPECT_THROW(s.decode({{1, 2, 0, true}, {1, 0, 1, true}, {1, 5, 1, true}}), error);
    EXPECT_EQ(s.seq_len(0), 2);
    EXPECT_EQ(s.seq_len(1), 0);
    EXPECT_THROW(s.truncate(2, 0), error);
    EXPECT_THROW(s.truncate(0, -1), error);
    EXPECT_THROW(s.seq_len(5), error);
    // Filling the context exactly is fine; one more position is not.
    std::vector<batch_token> fill;
    for (int32_t p = 0; p < 16; ++p) fill.push_back({3, p, 1, p == 15});
    s.decode(fill);
    EXPECT_EQ(s.seq_len(1), 16);
    EXPECT_THROW(s.decode({{3, 16, 1, true}}), error);
    // An empty batch is a no-op that clears the logits.
    s.decode({});
    EXPECT_EQ(s.n_logits(), 0);
}

TEST(session, rejects_bad_params) {
    auto m = tiny();
    auto open = [&](session_params p) { session s(*m, p); };
    EXPECT_THROW(open(params(-1)), error);
    EXPECT_THROW(open(params(16, 0)), error);
    EXPECT_THROW(open(params(16, 1, -2)), error);
    EXPECT_THROW(open(params(16, 1, 1, 0)), error);
    errc code = errc::ERRC_OK;
    std::string msg = error_of([&] { open(params(int64_t(1) << 24, 1 << 16)); }, &code);
    EXPECT_EQ(code, errc::ERRC_OUT_OF_MEMORY) << msg;
    EXPECT_NE(msg.find("KV cache needs"), std::string::npos) << msg;
    // n_ctx = 0 means the model's training context (capped at 4096).
    session s(*m, params(0));
    EXPECT_EQ(s.n_ctx(), 1024);
}

}  // namespace
}  // namespace fathom
