// Tests of the header-only C++ wrapper (fathom.hpp): RAII handles, typed metadata, generate with std::function,
// exceptions carrying the status, and exceptions thrown by the token callback reaching the caller.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "fathom/fathom.hpp"

namespace {

namespace fs = std::filesystem;

class Hpp : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = fs::temp_directory_path() / ("fathom-hpp-test-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
        path_ = (dir_ / "tiny-bf16.gguf").string();
        fathom_synth_options o = fathom::default_synth_options();
        o.shape = "tiny";
        o.type = FATHOM_TYPE_BF16;
        o.seed = 9;
        fathom::synth(o, path_);
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    static fs::path dir_;
    static std::string path_;
};
fs::path Hpp::dir_;
std::string Hpp::path_;

int argmax(const float* x, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;
    return best;
}

TEST_F(Hpp, ModelInfoMetadataTensors) {
    fathom::model m(path_);
    const fathom_model_info in = m.info();
    EXPECT_STREQ(in.architecture, "llama");
    EXPECT_EQ(in.n_vocab, 256);
    EXPECT_EQ(in.n_layer, 2);
    EXPECT_EQ(in.n_params, 106816);
    // 16 matrices in bf16 (2 bytes) + 5 norms of 64 f32: (106816 - 320) * 2 + 320 * 4
    EXPECT_EQ(in.n_tensor_bytes, uint64_t((106816 - 320) * 2 + 320 * 4));
    EXPECT_EQ(m.meta_string("general.architecture").value_or(""), "llama");
    EXPECT_EQ(m.meta_int("llama.block_count").value_or(-1), 2);
    EXPECT_EQ(m.meta_int("general.file_type").value_or(-1), 32);  // llama.cpp MOSTLY_BF16
    EXPECT_NEAR(m.meta_float("llama.rope.freq_base").value_or(0), 10000.0, 1e-9);
    EXPECT_FALSE(m.meta_string("tokenizer.ggml.model").has_value());
    EXPECT_FALSE(m.meta_array_length("tokenizer.ggml.tokens").has_value());
    try {
        (void)m.meta_string("llama.block_count");
        ADD_FAILURE() << "expected fathom::error";
    } catch (const fathom::error& e) {
        EXPECT_EQ(e.status(), FATHOM_ERR_INVALID_ARGUMENT);
        EXPECT_NE(std::string(e.what()).find("llama.block_count"), std::string::npos) << e.what();
    }
    const int64_t k = m.tensor_find("token_embd.weight");
    ASSERT_GE(k, 0);
    const fathom_tensor_info t = m.tensor(k);
    EXPECT_STREQ(t.type_name, "bf16");
    EXPECT_EQ(t.ne[0], 64);
    EXPECT_EQ(t.ne[1], 256);
    EXPECT_EQ(m.tensor_find("nope"), -1);
    EXPECT_THROW(m.tensor(m.tensor_count()), fathom::error);

    fathom::model moved = std::move(m);  // RAII handles move
    EXPECT_EQ(moved.info().n_embd, 64);
}

TEST_F(Hpp, SessionSamplerGenerate) {
    fathom::model m(path_);
    fathom_session_options so = fathom::default_session_options();
    so.n_ctx = 32;
    so.n_threads = 1;
    fathom::session s(m, so);
    EXPECT_EQ(s.n_ctx(), 32);
    s.decode(std::vector<int32_t>{1, 2, 3});
    EXPECT_EQ(s.seq_len(), 3);
    EXPECT_EQ(s.n_logits(), 1);
    std::vector<float> first(s.logits(), s.logits() + 256);

    fathom_sampler_options go = fathom::default_sampler_options();
    go.temperature = 0.0f;
    fathom::sampler greedy(go);
    const int32_t t0 = greedy.sample(first.data(), 256);
    EXPECT_EQ(t0, argmax(first.data(), 256));

    s.truncate(0, 0);
    std::vector<int32_t> got;
    fathom_generate_options g = fathom::default_generate_options();
    g.max_tokens = 5;
    g.ignore_eos = 1;
    const fathom_generate_stats st = fathom::generate(s, greedy, {1, 2, 3}, g, [&](int32_t tok) {
        got.push_back(tok);
        return false;
    });
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0], t0);
    EXPECT_EQ(st.n_generated, 5);
    EXPECT_EQ(st.stop_reason, FATHOM_STOP_MAX_TOKENS);
    EXPECT_EQ(s.seq_len(), 8);

    // returning true stops after that token
    s.truncate(0, 0);
    got.clear();
    fathom::generate(s, greedy, {1, 2, 3}, g, [&](int32_t tok) {
        got.push_back(tok);
        return got.size() == 2;
    });
    EXPECT_EQ(got.size(), 2u);

    // an exception from the callback reaches the caller and generation stops
    s.truncate(0, 0);
    int calls = 0;
    try {
        fathom::generate(s, greedy, {1, 2, 3}, g, [&](int32_t) -> bool {
            ++calls;
            throw std::runtime_error("boom from callback");
        });
        ADD_FAILURE() << "expected the callback's exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom from callback");
    }
    EXPECT_EQ(calls, 1);
}

TEST_F(Hpp, ErrorsCarryStatusAndPath) {
    const std::string missing = (dir_ / "missing.gguf").string();
    try {
        fathom::model m(missing);
        ADD_FAILURE() << "expected fathom::error";
    } catch (const fathom::error& e) {
        EXPECT_EQ(e.status(), FATHOM_ERR_IO);
        EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    }
    EXPECT_THROW(fathom::set_isa("not-an-isa"), fathom::error);
    fathom_sampler_options bad = fathom::default_sampler_options();
    bad.penalty_last_n = -5;
    EXPECT_THROW(fathom::sampler{bad}, fathom::error);
    EXPECT_EQ(fathom::version(), FATHOM_VERSION);
}

}  // namespace
