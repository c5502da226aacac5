// The trainable decoder as a whole: loss and every parameter gradient against PyTorch autograd in float64
// (tests/reference/train_ref.py) on tiny random models (GQA, tied and untied heads, unscored positions); its forward
// against the inference engine's logits for the exported GGUF; GGUF round trip; finite differences of the whole
// loss in random directions (a check that needs no Python); config errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "quant/quantize-model.h"
#include "models/llama.h"
#include "models/model-test-util.h"
#include "train/model.h"

namespace fathom::train {
namespace {

const char* k_script = FATHOM_SOURCE_DIR "/tests/reference/train_ref.py";

train_config tiny_config(bool tied) {
    train_config c;
    c.n_vocab = 61;
    c.n_ctx = 16;
    c.n_embd = 32;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_head_kv = 2;
    c.n_ff = 40;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_embeddings = tied;
    return c;
}

// A tiny model with every parameter random (norm weights around 1, so their gradients are not special), a batch
// of b sequences of t tokens, and targets with a few unscored positions.
struct fixture {
    train_model m;
    int64_t b = 2, t = 12;
    std::vector<int32_t> tokens, targets;
    explicit fixture(bool tied) : m(tiny_config(tied)) {
        m.init_random(7);
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (const param_tensor& pt : m.tensors())  // larger weights than the init: a less linear network
            for (int64_t i = 0; i < pt.size; ++i)
                m.params[size_t(pt.offset + i)] = pt.matrix ? 0.2f * nd(rng) : 1.0f + 0.3f * nd(rng);
        tokens = test::random_tokens(b * t, m.config().n_vocab, 11);
        targets = test::random_tokens(b * t, m.config().n_vocab, 12);
        targets[3] = targets[17] = -1;
    }
    fixture(train_model model, const fixture& like) : m(std::move(model)), b(like.b), t(like.t), tokens(like.tokens),
                                                       targets(like.targets) {}
};

bool torch_ready(std::string* why) {
    static int state = -1;
    static std::string reason;
    if (state < 0) {
        std::string log;
        const int rc = test::run_command(std::string("'") + FATHOM_PYTHON + "' -c 'import torch, numpy'", &log);
        state = rc == 0 ? 1 : 0;
        reason = std::string(FATHOM_PYTHON) + " -c 'import torch, numpy' exited with " + std::to_string(rc) + ": " + log;
    }
    *why = reason;
    return state == 1;
}

template <class T>
void write_bin(const std::string& path, const std::vector<T>& v) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(T)));
}

nlohmann::json tensor_list(const train_model& m) {
    nlohmann::json l = nlohmann::json::array();
    for (const param_tensor& t : m.tensors())
        l.push_back({{"name", t.name}, {"ne", t.ne}, {"offset", t.offset}, {"size", t.size}});
    return l;
}

// Runs train_ref.py on the fixture; returns its float64 output (loss, gradients[, parameters after AdamW]).
// `extra` keys (adamw, lora) are added to the spec.
std::vector<double> run_reference(const fixture& fx, const test::temp_dir& dir, const nlohmann::json* extra) {
    const train_config& c = fx.m.config();
    nlohmann::json spec;
    spec["config"] = {{"n_vocab", c.n_vocab}, {"n_embd", c.n_embd},   {"n_layer", c.n_layer},
                      {"n_head", c.n_head},   {"n_head_kv", c.n_head_kv}, {"n_ff", c.n_ff},
                      {"norm_eps", c.norm_eps}, {"rope_theta", c.rope_theta}, {"tie_embeddings", c.tie_embeddings}};
    spec["tensors"] = tensor_list(fx.m);
    spec["params"] = "params.bin";
    spec["tokens"] = "tokens.bin";
    spec["targets"] = "targets.bin";
    spec["b"] = fx.b;
    spec["t"] = fx.t;
    if (extra) spec.update(*extra);
    write_bin(dir.path() + "/params.bin", fx.m.params);
    write_bin(dir.path() + "/tokens.bin", fx.tokens);
    write_bin(dir.path() + "/targets.bin", fx.targets);
    std::ofstream(dir.path() + "/spec.json") << spec.dump();
    std::string log;
    const std::string cmd = std::string("'") + FATHOM_PYTHON + "' '" + k_script + "' grads --spec '" + dir.path() +
                            "/spec.json' --out '" + dir.path() + "/out.bin'";
    const int rc = test::run_command(cmd, &log);
    EXPECT_EQ(rc, 0) << cmd << "\n" << log;
    std::ifstream in(dir.path() + "/out.bin", std::ios::binary | std::ios::ate);
    std::vector<double> out(size_t(in.tellg()) / sizeof(double));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(out.data()), std::streamsize(out.size() * sizeof(double)));
    return out;
}

class train_reference : public ::testing::TestWithParam<bool> {};

TEST_P(train_reference, loss_and_every_gradient_match_pytorch) {
    std::string why;
    if (!torch_ready(&why)) GTEST_SKIP() << "skipped: PyTorch not available (" << why << ")";
    fixture fx(GetParam());
    thread_pool pool(2);
    const float loss = fx.m.forward(pool, fx.tokens.data(), fx.targets.data(), fx.b, fx.t);
    fx.m.zero_grad();
    fx.m.backward(pool);
    test::temp_dir dir;
    const std::vector<double> ref = run_reference(fx, dir, nullptr);
    ASSERT_EQ(ref.size(), 1 + fx.m.params.size());
    EXPECT_NEAR(loss, ref[0], 1e-5 * std::fabs(ref[0])) << "loss";
    std::printf("[ train ] loss %.6f (PyTorch float64 %.6f)\n", double(loss), ref[0]);
    // Per tensor: max |ours - ref| against the tensor's largest reference gradient.
    for (const param_tensor& t : fx.m.tensors()) {
        double worst = 0, top = 0;
        for (int64_t i = 0; i < t.size; ++i) {
            const double r = ref[size_t(1 + t.offset + i)];
            worst = std::max(worst, std::fabs(double(fx.m.grads[size_t(t.offset + i)]) - r));
            top = std::max(top, std::fabs(r));
        }
        EXPECT_GT(top, 1e-6) << t.name << ": reference gradient is zero";
        EXPECT_LT(worst, 1e-4 * top) << t.name << ": max abs error " << worst << " against max |grad| " << top;
    }
}

INSTANTIATE_TEST_SUITE_P(heads, train_reference, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "tied" : "untied"; });

// Independent of PyTorch: d loss / d eps along `dirs` random unit directions u of the parameters against grads . u.
void expect_directional_derivatives(fixture& fx, int dirs, uint32_t seed) {
    thread_pool pool(2);
    fx.m.forward(pool, fx.tokens.data(), fx.targets.data(), fx.b, fx.t);
    fx.m.zero_grad();
    fx.m.backward(pool);
    const std::vector<float> p0 = fx.m.params, g = fx.m.grads;
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int dir = 0; dir < dirs; ++dir) {
        std::vector<float> u(p0.size());
        double norm = 0;
        for (float& v : u) {
            v = nd(rng);
            norm += double(v) * double(v);
        }
        double gu = 0;
        for (size_t i = 0; i < u.size(); ++i) gu += double(g[i]) * (u[i] /= float(std::sqrt(norm)));
        const float eps = 1e-2f;
        auto loss_at = [&](float s) {
            for (size_t i = 0; i < u.size(); ++i) fx.m.params[i] = p0[i] + s * u[i];
            return double(fx.m.forward(pool, fx.tokens.data(), fx.targets.data(), fx.b, fx.t));
        };
        const double fd = (loss_at(eps) - loss_at(-eps)) / (2.0 * double(eps));
        EXPECT_NEAR(gu, fd, 2e-3 + 2e-2 * std::fabs(fd)) << "direction " << dir;
    }
    fx.m.params = p0;
}

TEST(train_model, whole_loss_finite_differences_in_random_directions) {
    fixture fx(false);
    expect_directional_derivatives(fx, 4, 9);
}

TEST(train_model, forward_matches_the_inference_engine_and_gguf_round_trips) {
    for (bool tied : {false, true}) {
        fixture fx(tied);
        thread_pool pool(2);
        const std::vector<int32_t> seq(fx.tokens.begin(), fx.tokens.begin() + fx.t);
        const std::vector<int32_t> none(size_t(fx.t), -1);
        EXPECT_EQ(fx.m.forward(pool, seq.data(), none.data(), 1, fx.t), 0.0f);
        const std::vector<float> logits(fx.m.logits(), fx.m.logits() + fx.t * fx.m.config().n_vocab);
        test::temp_dir dir;
        const std::string path = dir.path() + "/m.gguf";
        io::write_gguf(path, fx.m.to_model_file(nullptr, "tiny"));
        const auto model = llama_model::load(io::read_gguf(path));
        const auto ref = test::run_one_batch(*model, seq);
        double worst = 0;
        for (int64_t i = 0; i < fx.t; ++i)
            worst = std::max(worst, test::rel_diff(logits.data() + i * fx.m.config().n_vocab, ref[size_t(i)].data(),
                                                   fx.m.config().n_vocab));
        EXPECT_LT(worst, 1e-4) << (tied ? "tied" : "untied");
        // and back: the file's parameters are the model's
        const train_model back = train_model::from_model_file(io::read_gguf(path));
        EXPECT_EQ(back.config().tie_embeddings, tied);
        EXPECT_EQ(back.params, fx.m.params);
    }
}

TEST(train_model, config_and_shape_errors_name_the_field) {
    auto expect_error = [](train_config c, const std::string& field) {
        try {
            train_model m(c);
            ADD_FAILURE() << "no error for " << field;
        } catch (const fathom::error& e) {
            EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
        }
    };
    train_config c = tiny_config(false);
    c.n_head = 5;
    expect_error(c, "n_head");
    c = tiny_config(false);
    c.n_head_kv = 3;
    expect_error(c, "n_head_kv");
    c = tiny_config(false);
    c.n_vocab = 0;
    expect_error(c, "n_vocab");
    train_model m(tiny_config(false));
    thread_pool pool(1);
    std::vector<int32_t> tok(40, 1);
    EXPECT_THROW(m.forward(pool, tok.data(), tok.data(), 1, 40), fathom::error);  // longer than n_ctx
    EXPECT_THROW(m.backward(pool), fathom::error);                               // no forward yet
    EXPECT_EQ(m.config().n_params(), int64_t(m.params.size()));
}

// ---- LoRA

// The fixture's model as a frozen F32 base file, and an adapter model on it with every adapter random (B too, so
// both A and B have non-zero gradients).
train_model random_adapter(const fixture& base, const std::vector<std::string>& targets) {
    lora_config lc;
    lc.rank = 3;
    lc.alpha = 5.0f;
    lc.targets = targets;
    train_model a = train_model::for_lora(base.m.to_model_file(nullptr, "base"), lc, 4);
    std::mt19937 rng(6);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    for (float& v : a.params) v = nd(rng);
    return a;
}

TEST(train_lora, fresh_adapter_leaves_the_base_unchanged) {
    fixture base(false);
    thread_pool pool(2);
    const float full = base.m.forward(pool, base.tokens.data(), base.targets.data(), base.b, base.t);
    lora_config lc;
    lc.rank = 4;
    train_model a = train_model::for_lora(base.m.to_model_file(nullptr, "base"), lc, 1);
    EXPECT_TRUE(a.is_lora());
    // 7 targets x 2 layers x (A, B)
    ASSERT_EQ(a.tensors().size(), size_t(28));
    EXPECT_EQ(a.tensors()[0].name, "blk.0.attn_q.weight.lora_a");
    EXPECT_EQ(a.tensors()[0].ne, (std::vector<int64_t>{32, 4}));
    EXPECT_EQ(a.tensors()[1].ne, (std::vector<int64_t>{4, 32}));
    const float with = a.forward(pool, base.tokens.data(), base.targets.data(), base.b, base.t);
    EXPECT_NEAR(with, full, 1e-5f);
    bool a_random = false;
    for (int64_t i = 0; i < a.tensors()[0].size; ++i) a_random = a_random || a.params[size_t(i)] != 0.0f;
    EXPECT_TRUE(a_random);
}

TEST(train_lora, adapter_gradients_match_pytorch) {
    std::string why;
    if (!torch_ready(&why)) GTEST_SKIP() << "skipped: PyTorch not available (" << why << ")";
    fixture base(true);
    fixture fx(random_adapter(base, {"q", "v", "o", "down"}), base);
    thread_pool pool(2);
    const float loss = fx.m.forward(pool, fx.tokens.data(), fx.targets.data(), fx.b, fx.t);
    fx.m.zero_grad();
    fx.m.backward(pool);
    test::temp_dir dir;
    write_bin(dir.path() + "/base.bin", base.m.params);
    nlohmann::json extra;
    extra["lora"] = {{"rank", 3}, {"alpha", 5.0}, {"base_tensors", tensor_list(base.m)}, {"base_params", "base.bin"}};
    const std::vector<double> ref = run_reference(fx, dir, &extra);
    ASSERT_EQ(ref.size(), 1 + fx.m.params.size());
    EXPECT_NEAR(loss, ref[0], 1e-5 * std::fabs(ref[0]));
    for (const param_tensor& t : fx.m.tensors()) {
        double worst = 0, top = 0;
        for (int64_t i = 0; i < t.size; ++i) {
            const double r = ref[size_t(1 + t.offset + i)];
            worst = std::max(worst, std::fabs(double(fx.m.grads[size_t(t.offset + i)]) - r));
            top = std::max(top, std::fabs(r));
        }
        EXPECT_GT(top, 1e-6) << t.name;
        EXPECT_LT(worst, 1e-4 * top) << t.name << ": max abs error " << worst << " against max |grad| " << top;
    }
}

TEST(train_lora, quantised_base_adapter_file_and_errors) {
    // A base quantised to Q8_0 (kept quantised, run through the inference kernels) gives nearly the F32 base's loss
    // and adapter gradients; the adapter file is llama.cpp's LoRA GGUF form and a small fraction of the base.
    train_config c = tiny_config(false);
    c.n_embd = 64;
    c.n_ff = 96;
    c.n_vocab = 128;
    fixture base(false);
    base.m = train_model(c);
    base.m.init_random(2);
    base.tokens = test::random_tokens(base.b * base.t, c.n_vocab, 21);
    base.targets = test::random_tokens(base.b * base.t, c.n_vocab, 22);
    test::temp_dir dir;
    io::write_gguf(dir.path() + "/f32.gguf", base.m.to_model_file(nullptr, "base"));
    quant::quantize_params qp;
    qp.type = "q8_0";
    quant::quantize_model(io::read_gguf(dir.path() + "/f32.gguf"), dir.path() + "/q8.gguf", qp);
    lora_config lc;
    lc.rank = 4;
    lc.targets = {"q", "k", "v", "o", "gate", "up", "down"};
    train_model af = train_model::for_lora(io::read_gguf(dir.path() + "/f32.gguf"), lc, 3);
    train_model aq = train_model::for_lora(io::read_gguf(dir.path() + "/q8.gguf"), lc, 3);
    // Adapters of the size training gives them (small next to the base), so the network is not in the chaotic
    // regime that large random adapters put it in, where any 0.4 % weight change swings the early layers' gradients.
    std::mt19937 rng(8);
    std::normal_distribution<float> nd(0.0f, 0.03f);
    for (size_t i = 0; i < af.params.size(); ++i) af.params[i] = aq.params[i] = nd(rng);
    thread_pool pool(2);
    const float lf = af.forward(pool, base.tokens.data(), base.targets.data(), base.b, base.t);
    const float lq = aq.forward(pool, base.tokens.data(), base.targets.data(), base.b, base.t);
    EXPECT_NEAR(lq, lf, 0.01f * lf);
    af.zero_grad();
    aq.zero_grad();
    af.backward(pool);
    aq.backward(pool);
    double num = 0, den = 0;
    for (size_t i = 0; i < af.grads.size(); ++i) {
        num += double(aq.grads[i] - af.grads[i]) * double(aq.grads[i] - af.grads[i]);
        den += double(af.grads[i]) * double(af.grads[i]);
    }
    for (const param_tensor& t : aq.tensors()) {
        double n2 = 0, d2 = 0;
        for (int64_t i = 0; i < t.size; ++i) {
            const double d = double(aq.grads[size_t(t.offset + i)]) - af.grads[size_t(t.offset + i)];
            n2 += d * d;
            d2 += double(af.grads[size_t(t.offset + i)]) * af.grads[size_t(t.offset + i)];
        }
        EXPECT_LT(std::sqrt(n2 / d2), 0.05) << t.name << ": adapter gradient on the Q8_0 base against the F32 base";
    }
    EXPECT_LT(std::sqrt(num / den), 0.03) << "adapter gradients on the Q8_0 base against the F32 base";
    EXPECT_GT(den, 0.0);

    io::write_gguf(dir.path() + "/adapter.gguf", aq.to_model_file(nullptr, "adapter"));
    const io::model_file ad = io::read_gguf(dir.path() + "/adapter.gguf");
    ASSERT_NE(ad.find("general.type"), nullptr);
    EXPECT_EQ(ad.find("general.type")->as_string("general.type"), "adapter");
    EXPECT_EQ(ad.find("adapter.type")->as_string("adapter.type"), "lora");
    EXPECT_FLOAT_EQ(float(ad.find("adapter.lora.alpha")->as_float("adapter.lora.alpha")), lc.alpha);
    ASSERT_NE(ad.find_tensor("blk.1.ffn_down.weight.lora_b"), nullptr);
    EXPECT_EQ(ad.find_tensor("blk.1.ffn_down.weight.lora_b")->ne, (std::vector<int64_t>{4, 64}));
    const auto bytes = [](const std::string& p) { return double(std::ifstream(p, std::ios::ate | std::ios::binary).tellg()); };
    EXPECT_LT(bytes(dir.path() + "/adapter.gguf"), 0.25 * bytes(dir.path() + "/f32.gguf"));  // tiny model, rank 4

    lora_config bad = lc;
    bad.targets = {"q", "qq"};
    try {
        train_model::for_lora(io::read_gguf(dir.path() + "/f32.gguf"), bad, 1);
        ADD_FAILURE() << "unknown target accepted";
    } catch (const fathom::error& e) {
        EXPECT_NE(std::string(e.what()).find("'qq'"), std::string::npos) << e.what();
    }
    bad = lc;
    bad.rank = 0;
    EXPECT_THROW(train_model::for_lora(io::read_gguf(dir.path() + "/f32.gguf"), bad, 1), fathom::error);
}

TEST(train_lora, finite_differences_of_the_adapter_loss) {
    fixture base(false);
    fixture fx(random_adapter(base, {"k", "gate", "up"}), base);
    expect_directional_derivatives(fx, 2, 10);
}

}  // namespace
}  // namespace fathom::train
