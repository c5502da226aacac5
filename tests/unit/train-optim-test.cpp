// Training driver pieces against independent oracles: AdamW and clipping against double-precision formulas, the LR
// schedule's values, the stateless batch sampler, validation windows and the config file's error messages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/shards.h"
#include "train/optim.h"
#include "train/trainer.h"

namespace {

using namespace fathom;
using namespace fathom::train;
namespace fs = std::filesystem;

std::vector<param_tensor> two_tensors() {
    std::vector<param_tensor> t(2);
    t[0].name = "blk.0.attn_q.weight";
    t[0].ne = {4, 5};
    t[0].offset = 0;
    t[0].size = 20;
    t[0].matrix = true;
    t[1].name = "blk.0.attn_norm.weight";
    t[1].ne = {7};
    t[1].offset = 20;
    t[1].size = 7;
    t[1].matrix = false;
    return t;
}

// AdamW as written in the paper / torch docs, in double.
struct adamw_ref {
    std::vector<double> p, m, v;
    int t = 0;
    void step(const std::vector<float>& g, double lr, double b1, double b2, double eps, double wd, int64_t n_decay) {
        ++t;
        for (size_t i = 0; i < p.size(); ++i) {
            if (int64_t(i) < n_decay) p[i] -= lr * wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * double(g[i]) * g[i];
            const double mh = m[i] / (1 - std::pow(b1, t)), vh = v[i] / (1 - std::pow(b2, t));
            p[i] -= lr * mh / (std::sqrt(vh) + eps);
        }
    }
};

void run_adamw_case(double wd) {
    const auto tensors = two_tensors();
    const int64_t n = 27;
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> params(n);
    for (float& x : params) x = nd(rng);
    adamw_ref ref;
    ref.p.assign(params.begin(), params.end());
    ref.m.assign(n, 0.0);
    ref.v.assign(n, 0.0);
    adamw_params ap;
    ap.beta1 = 0.9f;
    ap.beta2 = 0.95f;
    ap.eps = 1e-8f;
    ap.weight_decay = float(wd);
    adamw opt(tensors, n, ap);
    thread_pool pool(2);
    const std::vector<float> p0 = params;
    for (int s = 1; s <= 4; ++s) {
        std::vector<float> g(n);
        for (float& x : g) x = 0.1f * nd(rng);
        const double lr = 0.01 * s;
        opt.step(pool, params.data(), g.data(), float(lr));
        ref.step(g, float(lr), 0.9f, 0.95f, 1e-8f, float(wd), 20);
        if (s == 1) {
            // Bias correction: the first update of a parameter without decay moves it by lr * g / |g| = lr in size
            // (without correction it would be lr * 0.1 / sqrt(0.05) = 0.447 lr).
            for (int64_t i = 20; i < n; ++i) EXPECT_NEAR(std::fabs(params[i] - p0[i]), lr, 1e-6) << i;
        }
        for (int64_t i = 0; i < n; ++i)
            ASSERT_NEAR(params[i], ref.p[i], 2e-6 * (1 + std::fabs(ref.p[i]))) << "step " << s << " element " << i;
        EXPECT_EQ(opt.t(), s);
    }
    for (int64_t i = 0; i < n; ++i) {
        EXPECT_NEAR(opt.m[i], ref.m[i], 1e-6);
        EXPECT_NEAR(opt.v[i], ref.v[i], 1e-7);
    }
}

TEST(TrainOptim, AdamwMatchesDoubleFormulaWithoutDecay) { run_adamw_case(0.0); }

TEST(TrainOptim, AdamwMatchesDoubleFormulaWithDecay) { run_adamw_case(0.5); }

TEST(TrainOptim, AdamwDecaysOnlyMatrices) {
    const auto tensors = two_tensors();
    adamw_params ap;
    ap.weight_decay = 0.1f;
    adamw opt(tensors, 27, ap);
    thread_pool pool(1);
    std::vector<float> params(27, 2.0f), g(27, 0.0f);  // zero gradient: only decay can move a parameter
    opt.step(pool, params.data(), g.data(), 0.5f);
    for (int i = 0; i < 20; ++i) EXPECT_FLOAT_EQ(params[i], 2.0f * (1 - 0.5f * 0.1f)) << i;
    for (int i = 20; i < 27; ++i) EXPECT_EQ(params[i], 2.0f) << i;
}

TEST(TrainOptim, AdamwIsIndependentOfThreadCount) {
    const auto tensors = two_tensors();
    std::vector<param_tensor> big = tensors;
    big[0].ne = {300, 200};
    big[0].size = 60000;
    big[1].offset = 60000;
    const int64_t n = 60007;
    std::vector<float> a(n), g(n);
    for (int64_t i = 0; i < n; ++i) {
        a[i] = std::sin(float(i));
        g[i] = std::cos(float(i) * 0.37f);
    }
    std::vector<float> b = a;
    adamw o1(big, n, adamw_params{}), o3(big, n, adamw_params{});
    thread_pool p1(1), p3(3);
    for (int s = 0; s < 3; ++s) {
        o1.step(p1, a.data(), g.data(), 1e-3f);
        o3.step(p3, b.data(), g.data(), 1e-3f);
    }
    EXPECT_EQ(a, b);
}

TEST(TrainOptim, LrScheduleWarmupPeakAndEnd) {
    const double lr = 1e-3, min_lr = 1e-4;
    EXPECT_EQ(lr_at(0, 100, 10, lr, min_lr), 0.0);
    EXPECT_DOUBLE_EQ(lr_at(1, 100, 10, lr, min_lr), 1e-4);
    EXPECT_DOUBLE_EQ(lr_at(5, 100, 10, lr, min_lr), 5e-4);
    EXPECT_DOUBLE_EQ(lr_at(10, 100, 10, lr, min_lr), lr);  // peak at the end of warmup
    EXPECT_DOUBLE_EQ(lr_at(55, 100, 10, lr, min_lr), (lr + min_lr) / 2);  // half-way through the cosine
    EXPECT_DOUBLE_EQ(lr_at(32, 100, 10, lr, min_lr), min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(M_PI * 22 / 90)));
    EXPECT_DOUBLE_EQ(lr_at(100, 100, 10, lr, min_lr), min_lr);
    EXPECT_DOUBLE_EQ(lr_at(150, 100, 10, lr, min_lr), min_lr);
    // decreasing after the peak
    for (int64_t s = 11; s <= 100; ++s) EXPECT_LT(lr_at(s, 100, 10, lr, min_lr), lr_at(s - 1, 100, 10, lr, min_lr));
    // no warmup: the first step already runs near the peak
    EXPECT_NEAR(lr_at(1, 100, 0, lr, min_lr), lr, 1e-6);
}

TEST(TrainOptim, ClippingByGlobalNorm) {
    thread_pool pool(2);
    const int64_t n = 50000;
    std::vector<float> g(n);
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) {
        g[i] = 0.01f * std::sin(float(i) * 0.1f + 0.3f);
        ss += double(g[i]) * g[i];
    }
    const double want = std::sqrt(ss);
    std::vector<float> g0 = g;

    // below the threshold: untouched
    EXPECT_NEAR(clip_grad_norm(pool, g.data(), n, want * 2), want, want * 1e-12);
    EXPECT_EQ(g, g0);
    // off: untouched, norm still reported
    EXPECT_NEAR(clip_grad_norm(pool, g.data(), n, 0.0), want, want * 1e-12);
    EXPECT_EQ(g, g0);
    // above: scaled to the threshold, direction kept
    const double norm = clip_grad_norm(pool, g.data(), n, 0.25);
    EXPECT_NEAR(norm, want, want * 1e-12);
    ASSERT_GT(want, 0.25);
    EXPECT_NEAR(l2_norm(pool, g.data(), n), 0.25, 1e-5);
    for (int64_t i = 0; i < n; i += 997) EXPECT_NEAR(g[i], g0[i] * 0.25 / want, 1e-8) << i;

    // a fixed reduction order: the same bits on any thread count
    thread_pool p1(1), p3(3);
    EXPECT_EQ(l2_norm(p1, g0.data(), n), l2_norm(p3, g0.data(), n));
}

TEST(TrainData, WindowsAreStatelessUniformAndShiftedByOne) {
    std::vector<int32_t> tokens(1000);
    for (int i = 0; i < 1000; ++i) tokens[size_t(i)] = i;
    const int64_t b = 4, t = 16;
    std::vector<int32_t> in(b * t), tg(b * t), in2(b * t), tg2(b * t);
    fill_train_batch(tokens, 7, 3, 0, b, t, in.data(), tg.data());
    fill_train_batch(tokens, 7, 3, 0, b, t, in2.data(), tg2.data());
    EXPECT_EQ(in, in2);  // no state
    for (int64_t r = 0; r < b; ++r) {
        const int32_t s0 = in[r * t];
        EXPECT_LE(s0 + t, 999);
        for (int64_t i = 0; i < t; ++i) {
            EXPECT_EQ(in[r * t + i], s0 + i);
            EXPECT_EQ(tg[r * t + i], s0 + i + 1);
        }
    }
    fill_train_batch(tokens, 7, 4, 0, b, t, in2.data(), tg2.data());
    EXPECT_NE(in, in2);  // another step, other windows
    fill_train_batch(tokens, 8, 3, 0, b, t, in2.data(), tg2.data());
    EXPECT_NE(in, in2);  // another seed

    // Micro-batch 1 of batch 4 holds the rows 4..7 of the same step taken as one batch of 8.
    std::vector<int32_t> in8(8 * t), tg8(8 * t);
    fill_train_batch(tokens, 7, 3, 0, 8, t, in8.data(), tg8.data());
    fill_train_batch(tokens, 7, 3, 1, b, t, in2.data(), tg2.data());
    EXPECT_TRUE(std::equal(in2.begin(), in2.end(), in8.begin() + 4 * t));
    EXPECT_TRUE(std::equal(in.begin(), in.end(), in8.begin()));

    // Starts cover [0, n) about evenly.
    const int64_t n_starts = 10;
    std::vector<int> count(n_starts, 0);
    for (int64_t s = 0; s < 20000; ++s) {
        const int64_t p = window_start(1, s, s % 3, n_starts);
        ASSERT_GE(p, 0);
        ASSERT_LT(p, n_starts);
        ++count[size_t(p)];
    }
    for (int c : count) EXPECT_NEAR(c, 2000, 200);
}

TEST(TrainData, ValidationWindows) {
    EXPECT_EQ(val_windows(100, 10, 8, 4), 9);  // (100 - 1) / 10
    EXPECT_EQ(val_windows(1000, 10, 2, 4), 8);  // eval_batches * batch_size
    EXPECT_EQ(val_windows(10, 10, 2, 4), 0);    // needs seq_len + 1 tokens
    EXPECT_EQ(val_windows(11, 10, 2, 4), 1);
}

// ---- config errors

struct cfg_dir {
    fs::path dir = fs::temp_directory_path() / ("fathom-train-cfg-" + std::to_string(::getpid()));
    cfg_dir() {
        fs::create_directories(dir / "shards");
        std::vector<int32_t> toks(100);
        for (int i = 0; i < 100; ++i) toks[size_t(i)] = i % 50;
        data::write_token_shard((dir / "shards" / "a.bin").string(), toks.data(), 100, 50);
        data::write_token_shard((dir / "shards" / "b.bin").string(), toks.data(), 100, 50);
        data::write_token_shard((dir / "other.bin").string(), toks.data(), 100, 60);
        std::ofstream(dir / "tok.gguf") << "x";
    }
    ~cfg_dir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string cfg() const { return (dir / "cfg.json").string(); }
};

const std::string k_good = R"({
  "model": {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_ff": 64, "n_ctx": 32},
  "tokenizer": "tok.gguf", "train_data": ["shards"], "val_data": ["shards/b.bin"],
  "batch_size": 4, "seq_len": 16, "steps": 10, "out": "run"
})";

std::string error_of(const std::string& text, const std::string& path) {
    try {
        parse_run_config(text, path);
    } catch (const error& e) {
        const std::string m = e.what();
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        return m;
    }
    return "";
}

std::string with(const std::string& from, const std::string& to) {
    std::string s = k_good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
}

TEST(TrainConfig, GoodConfigResolvesPathsAndDefaults) {
    const cfg_dir d;
    const run_config c = parse_run_config(k_good, d.cfg());
    EXPECT_TRUE(c.has_model);
    EXPECT_EQ(c.model.n_head_kv, 4);
    EXPECT_EQ(c.tokenizer, (d.dir / "tok.gguf").string());
    ASSERT_EQ(c.train_data.size(), 2u);  // the folder's *.bin in name order
    EXPECT_EQ(c.train_data[0], (d.dir / "shards" / "a.bin").string());
    EXPECT_EQ(c.train_data[1], (d.dir / "shards" / "b.bin").string());
    EXPECT_EQ(c.out, (d.dir / "run").string());
    EXPECT_DOUBLE_EQ(c.min_lr, c.lr / 10);
    EXPECT_EQ(c.grad_accum, 1);
}

TEST(TrainConfig, ErrorsNameTheFileAndKey) {
    const cfg_dir d;
    const std::string f = d.cfg();
    auto has = [](const std::string& m, const std::string& part) {
        return m.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                                 : ::testing::AssertionFailure() << "'" << m << "' lacks '" << part << "'";
    };
    std::string m = error_of(with("\"steps\": 10", "\"steps\": 10, \"stpes\": 3"), f);
    EXPECT_TRUE(has(m, f));
    EXPECT_TRUE(has(m, "unknown key 'stpes'"));
    m = error_of(with("\"n_ff\": 64", "\"n_ff\": 64, \"n_exp\": 2"), f);
    EXPECT_TRUE(has(m, "unknown key 'model.n_exp'"));
    m = error_of(with("\"batch_size\": 4", "\"batch_size\": \"4\""), f);
    EXPECT_TRUE(has(m, f + ": batch_size: expected an integer"));
    m = error_of(with("\"batch_size\": 4", "\"batch_size\": 4.5"), f);
    EXPECT_TRUE(has(m, "batch_size: expected an integer"));
    m = error_of(with("\"steps\": 10", "\"steps\": 10, \"lr\": -1"), f);
    EXPECT_TRUE(has(m, f + ": lr:"));
    m = error_of(with("\"steps\": 10", "\"steps\": 10, \"beta2\": 1.0"), f);
    EXPECT_TRUE(has(m, "beta2:"));
    m = error_of(with("\"seq_len\": 16", "\"seq_len\": 64"), f);
    EXPECT_TRUE(has(m, f + ": seq_len: 64 exceeds model.n_ctx 32"));
    m = error_of(with("\"shards/b.bin\"", "\"shards/c.bin\""), f);
    EXPECT_TRUE(has(m, f + ": val_data[0]: "));
    EXPECT_TRUE(has(m, "c.bin: no such shard"));
    m = error_of(with("\"n_head\": 4", "\"n_head\": 5"), f);
    EXPECT_TRUE(has(m, f + ": model.n_head"));
    m = error_of(with("\"n_layer\": 2, ", ""), f);
    EXPECT_TRUE(has(m, "missing required key 'model.n_layer'"));
    m = error_of(with("\"out\": \"run\"", "\"out\": \"run\", \"tie_embeddings\": true"), f);
    EXPECT_TRUE(has(m, "unknown key 'tie_embeddings'"));
    m = error_of(with("\"n_ff\": 64", "\"n_ff\": 64, \"tie_embeddings\": 1"), f);
    EXPECT_TRUE(has(m, "model.tie_embeddings: expected true or false"));
    m = error_of(with("\"tokenizer\": \"tok.gguf\"", "\"tokenizer\": \"none.gguf\""), f);
    EXPECT_TRUE(has(m, "tokenizer: "));
    EXPECT_TRUE(has(m, "none.gguf"));
    m = error_of("{\"model\": {", f);
    EXPECT_TRUE(has(m, f + ": "));
    EXPECT_TRUE(has(m, "parse error"));
    m = error_of(with("\"steps\": 10", "\"steps\": 10, \"warmup\": 11"), f);
    EXPECT_TRUE(has(m, "warmup: 11 exceeds steps 10"));
}

TEST(TrainConfig, ShardVocabularyMustMatch) {
    const cfg_dir d;
    const std::string f = d.cfg();
    const std::string other = (d.dir / "other.bin").string();
    try {
        load_token_stream({(d.dir / "shards" / "a.bin").string(), other}, 50, f, "train_data");
        FAIL() << "no error";
    } catch (const error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find(f + ": train_data: " + other + ": n_vocab 60 differs from the tokenizer's 50"),
                  std::string::npos)
            << m;
    }
    const token_stream s = load_token_stream({(d.dir / "shards" / "a.bin").string()}, 50, f, "train_data");
    EXPECT_EQ(s.tokens.size(), 100u);
    EXPECT_EQ(s.tokens[57], 7);
}

}  // namespace
