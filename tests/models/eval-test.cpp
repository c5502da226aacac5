// fathom eval's measurements on tiny random-weight models: perplexity, KL divergence and top-1 agreement against the
// NumPy reference (tests/reference/llama_ref.py ppl), and choice log-likelihoods and greedy text against a one-batch
// forward of the whole sequence.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "eval/evaluate.h"
#include "io/model-file.h"
#include "models/llama.h"
#include "models/model-test-util.h"
#include "runtime/session.h"

namespace {

using namespace fathom;
using test::temp_dir;
using json = nlohmann::json;

const char* k_script = FATHOM_SOURCE_DIR "/tests/reference/llama_ref.py";

std::string python() { return std::string("'") + FATHOM_PYTHON + "' '" + k_script + "' "; }

bool numpy_ready() {
    std::string log;
    return test::run_command(std::string("'") + FATHOM_PYTHON + "' -c 'import numpy'", &log) == 0;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string csv(const std::vector<int32_t>& t) {
    std::ostringstream s;
    for (size_t i = 0; i < t.size(); ++i) s << (i ? "," : "") << t[i];
    return s.str();
}

// Log-probability of `target` under logits x.
double log_prob(const std::vector<float>& x, int32_t target) {
    double m = x[0];
    for (float v : x) m = std::max(m, double(v));
    double s = 0;
    for (float v : x) s += std::exp(double(v) - m);
    return double(x[size_t(target)]) - m - std::log(s);
}

TEST(EvalPerplexity, MatchesNumpyWithAndWithoutReference) {
    if (!numpy_ready()) GTEST_SKIP() << "NumPy reference skipped: " << FATHOM_PYTHON << " cannot import numpy";
    temp_dir tmp;
    std::string log;
    ASSERT_EQ(test::run_command(python() + "make --variant llama-gqa --seed 5 --out '" + tmp.path() + "/f32'", &log), 0)
        << log;
    ASSERT_EQ(test::run_command(python() + "make --variant llama-gqa --seed 5 --dtype f16 --out '" + tmp.path() + "/f16'",
                                &log),
              0)
        << log;
    const std::vector<int32_t> tokens = test::random_tokens(7 * 32 + 5, 256, 77);  // 7 chunks of 32 and a rest
    const std::string out = tmp.path() + "/ppl.json";
    ASSERT_EQ(test::run_command(python() + "ppl --model '" + tmp.path() + "/f16' --ref '" + tmp.path() + "/f32' --tokens " +
                                    csv(tokens) + " --ctx 32 --bos 1 > '" + out + "'",
                                &log),
              0)
        << log;
    const json want = json::parse(slurp(out));

    const std::unique_ptr<llama_model> f32 = llama_model::load(io::read_hf(tmp.path() + "/f32"));
    const std::unique_ptr<llama_model> f16 = llama_model::load(io::read_hf(tmp.path() + "/f16"));
    eval::ppl_options o;
    o.n_ctx = 32;
    o.n_threads = 2;
    o.n_batch = 12;  // several forwards per chunk
    int64_t calls = 0;
    const eval::ppl_result r = eval::perplexity(*f16, tokens, 1, o, f32.get(), [&](const char*, int64_t, int64_t) { ++calls; });
    EXPECT_EQ(calls, 7);
    EXPECT_EQ(r.n_chunks, 7);
    EXPECT_EQ(r.n_scored, want["tokens_scored"].get<int64_t>());
    EXPECT_EQ(r.n_scored, 7 * (32 - 1 - 16));
    EXPECT_NEAR(r.ppl / want["ppl"].get<double>(), 1.0, 1e-5);
    ASSERT_TRUE(r.has_ref);
    EXPECT_GT(r.kld.mean, 0.0);
    EXPECT_NEAR(r.kld.mean, want["kld_mean"].get<double>(), 1e-3 * want["kld_mean"].get<double>() + 1e-9);
    EXPECT_DOUBLE_EQ(r.top1, want["top1_agreement"].get<double>());
    EXPECT_LE(r.kld_median, r.kld_p90);
    EXPECT_LE(r.kld_p99, r.kld.max);
    EXPECT_NEAR(std::exp(r.ln_ppl_ratio), r.ppl / r.ref_ppl, 1e-9);
    std::printf("[ eval ] ppl %.6f (NumPy %.6f), KLD %.3g (NumPy %.3g), top-1 %.4f\n", r.ppl, want["ppl"].get<double>(),
                r.kld.mean, want["kld_mean"].get<double>(), r.top1);

    // Without BOS replacement and with max_chunks: the NumPy figure for the first three chunks.
    ASSERT_EQ(test::run_command(python() + "ppl --model '" + tmp.path() + "/f32' --tokens " +
                                    csv(std::vector<int32_t>(tokens.begin(), tokens.begin() + 96)) + " --ctx 32 > '" +
                                    out + "'",
                                &log),
              0)
        << log;
    o.max_chunks = 3;
    const eval::ppl_result r3 = eval::perplexity(*f32, tokens, -1, o);
    EXPECT_FALSE(r3.has_ref);
    EXPECT_NEAR(r3.ppl / json::parse(slurp(out))["ppl"].get<double>(), 1.0, 1e-5);

    // Against an unrelated model (another seed): large divergence, partial agreement, still as NumPy has them.
    ASSERT_EQ(test::run_command(python() + "make --variant llama-gqa --seed 6 --out '" + tmp.path() + "/other'", &log), 0)
        << log;
    ASSERT_EQ(test::run_command(python() + "ppl --model '" + tmp.path() + "/f32' --ref '" + tmp.path() + "/other' --tokens " +
                                    csv(tokens) + " --ctx 32 --bos 1 > '" + out + "'",
                                &log),
              0)
        << log;
    const json want_other = json::parse(slurp(out));
    const std::unique_ptr<llama_model> other = llama_model::load(io::read_hf(tmp.path() + "/other"));
    o.max_chunks = 0;
    const eval::ppl_result ro = eval::perplexity(*f32, tokens, 1, o, other.get());
    EXPECT_NEAR(ro.kld.mean, want_other["kld_mean"].get<double>(), 1e-4 * want_other["kld_mean"].get<double>());
    EXPECT_DOUBLE_EQ(ro.top1, want_other["top1_agreement"].get<double>());
    EXPECT_LT(ro.top1, 0.5);
    EXPECT_GT(ro.kld.mean, 100 * r.kld.mean);
    o.max_chunks = 3;

    // A model against itself: no divergence, full agreement.
    const eval::ppl_result same = eval::perplexity(*f32, tokens, 1, o, f32.get());
    EXPECT_LT(same.kld.mean, 1e-9);
    EXPECT_EQ(same.top1, 1.0);

    // Errors name the problem.
    o.n_ctx = 512;
    EXPECT_THROW(eval::perplexity(*f32, tokens, 1, o), std::exception);  // above the model's 256
    o.n_ctx = 32;
    EXPECT_THROW(eval::perplexity(*f32, std::vector<int32_t>(10, 3), 1, o), std::exception);  // less than a chunk
    std::vector<int32_t> bad = tokens;
    bad[40] = 256;
    EXPECT_THROW(eval::perplexity(*f32, bad, 1, o), std::exception);
}

TEST(EvalChoices, LogLikelihoodsMatchAOneBatchForward) {
    test::tiny_spec spec;
    spec.n_vocab = 96;
    const std::unique_ptr<llama_model> m = llama_model::load(test::make_tiny_model(spec));
    const std::vector<int32_t> ctx = test::random_tokens(9, 96, 3);
    const std::vector<std::vector<int32_t>> choices = {
        test::random_tokens(1, 96, 4), test::random_tokens(5, 96, 5), test::random_tokens(3, 96, 6), {}};
    session_params p;
    p.n_ctx = 64;
    p.n_threads = 2;
    session s(*m, p);
    const std::vector<double> got = eval::choice_log_likelihoods(s, ctx, choices);
    ASSERT_EQ(got.size(), 4u);
    for (size_t c = 0; c < 3; ++c) {
        std::vector<int32_t> all = ctx;
        all.insert(all.end(), choices[c].begin(), choices[c].end());
        const auto logits = test::run_one_batch(*m, all);
        double want = 0;
        for (size_t k = 0; k < choices[c].size(); ++k) want += log_prob(logits[ctx.size() - 1 + k], choices[c][k]);
        EXPECT_NEAR(got[c], want, 1e-4 * std::fabs(want)) << "choice " << c;
    }
    EXPECT_TRUE(std::isinf(got[3]) && got[3] < 0);
    // the session is reusable: the same call again gives the same values
    EXPECT_EQ(eval::choice_log_likelihoods(s, ctx, choices), got);
}

TEST(EvalLatency, MeasuresEveryToken) {
    test::tiny_spec spec;
    const std::unique_ptr<llama_model> m = llama_model::load(test::make_tiny_model(spec));
    eval::latency_options o;
    o.prompt_tokens = 16;
    o.gen_tokens = 8;
    o.reps = 2;
    o.n_threads = 1;
    const eval::latency_result r = eval::measure_latency(*m, test::random_tokens(5, spec.n_vocab, 1), o);
    EXPECT_EQ(r.reps, 2);
    EXPECT_GT(r.ttft_ms, 0.0);
    EXPECT_GT(r.prefill_tok_s, 0.0);
    EXPECT_GT(r.token_ms_p50, 0.0);
    EXPECT_LE(r.token_ms_p50, r.token_ms_p95);
    EXPECT_LE(r.token_ms_p95, r.token_ms_p99);
    o.prompt_tokens = 2000;
    EXPECT_THROW(eval::measure_latency(*m, {1}, o), std::exception);  // beyond the context
    EXPECT_GT(eval::peak_rss_bytes(), 1u << 20);
}

}  // namespace
