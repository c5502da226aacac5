// Synthetic models (src/models/synth): shapes and parameter counts, the weight stream against a double-precision
// Box-Muller oracle, its statistics, files read back tensor by tensor, determinism across seeds and thread counts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"
#include "io/model-file.h"
#include "models/synth.h"

namespace fathom {
namespace {

namespace fs = std::filesystem;

fs::path tmp_file(const std::string& name) {
    fs::path d = fs::temp_directory_path() / ("fathom-synth-test-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d / name;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int64_t param_count(const io::model_file& m) {
    int64_t n = 0;
    for (const auto& t : m.tensors) n += t.nelements();
    return n;
}

TEST(Synth, ShapesAndParameterCounts) {
    synth_params p;
    p.shape = "tinyllama-1.1b";
    io::model_file m = synth_layout(p);
    EXPECT_EQ(param_count(m), 1100048384);  // TinyLlama-1.1B's published parameter count
    EXPECT_EQ(m.find("llama.embedding_length")->as_int("k"), 2048);
    EXPECT_EQ(m.find("llama.block_count")->as_int("k"), 22);
    EXPECT_EQ(m.find("llama.attention.head_count")->as_int("k"), 32);
    EXPECT_EQ(m.find("llama.attention.head_count_kv")->as_int("k"), 4);
    EXPECT_EQ(m.find("llama.feed_forward_length")->as_int("k"), 5632);
    EXPECT_EQ(m.find("llama.vocab_size")->as_int("k"), 32000);
    EXPECT_EQ(m.find("llama.context_length")->as_int("k"), 2048);
    EXPECT_EQ(m.find("llama.rope.dimension_count")->as_int("k"), 64);
    EXPECT_EQ(m.find("general.architecture")->as_string("k"), "llama");
    EXPECT_EQ(m.find("general.name")->as_string("k"), "synthetic tinyllama-1.1b (untrained)");
    EXPECT_EQ(m.find("general.file_type")->as_int("k"), 0);
    EXPECT_EQ(m.find("tokenizer.ggml.bos_token_id")->as_int("k"), 1);
    EXPECT_EQ(m.find("tokenizer.ggml.eos_token_id")->as_int("k"), 2);
    EXPECT_EQ(m.tensors.size(), 3u + 22u * 9u);
    const io::tensor_entry* k = m.find_tensor("blk.21.attn_k.weight");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->ne, (std::vector<int64_t>{2048, 256}));
    EXPECT_EQ(k->nbytes, 2048u * 256u * 4u);

    p.shape = "llama-125m";
    p.type = dtype::DTYPE_F16;
    m = synth_layout(p);
    // 2*32000*768 + 768 + 12*(2*768 + 4*768*768 + 3*768*2048)
    EXPECT_EQ(param_count(m), 134105856);
    EXPECT_EQ(m.find("general.file_type")->as_int("k"), 1);
    EXPECT_EQ(m.find("llama.context_length")->as_int("k"), 32768);
    EXPECT_EQ(m.find_tensor("blk.0.ffn_up.weight")->type, dtype::DTYPE_F16);
    EXPECT_EQ(m.find_tensor("blk.0.ffn_norm.weight")->type, dtype::DTYPE_F32);
    EXPECT_EQ(m.find_tensor("token_embd.weight")->nbytes, 32000u * 768u * 2u);

    p.type = dtype::DTYPE_BF16;
    EXPECT_EQ(synth_layout(p).find("general.file_type")->as_int("k"), 32);
    EXPECT_EQ(synth_shape_list(), "tiny, mini, llama-125m, tinyllama-1.1b");
}

TEST(Synth, RejectsUnknownShapeArchAndType) {
    synth_params p;
    p.shape = "huge";
    EXPECT_THROW(synth_layout(p), error);
    p.shape = "tiny";
    p.arch = "gpt2";
    EXPECT_THROW(synth_layout(p), error);
    p.arch = "llama";
    p.type = dtype::DTYPE_Q4_0;
    EXPECT_THROW(synth_layout(p), error);
}

// The stream's definition (splitmix64 mixing of seed, tensor and pair index), evaluated in double precision.
uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
double oracle_weight(uint64_t seed, uint64_t tensor, uint64_t i) {
    const uint64_t g = 0x9e3779b97f4a7c15ull;
    const uint64_t key = mix64(mix64(seed + g) ^ (tensor + 1) * g);
    const uint64_t h = mix64(key + (i / 2 + 1) * g);
    const double u1 = (double(h >> 40) + 1.0) / 16777216.0, u2 = double(h & 0xffffff) / 16777216.0;
    const double r = 0.02 * std::sqrt(-2.0 * std::log(u1)), t = 2.0 * M_PI * u2;
    return (i & 1) ? r * std::sin(t) : r * std::cos(t);
}

TEST(Synth, WeightsMatchDoubleBoxMuller) {
    double worst = 0;
    for (uint64_t i = 0; i < 200000; ++i) {
        const uint64_t tensor = i % 7, idx = (i * 7919) % 1000003;
        const double want = oracle_weight(3, tensor, idx), got = synth_weight(3, tensor, idx);
        worst = std::max(worst, std::fabs(got - want));
        ASSERT_NEAR(got, want, 2e-6 * std::fabs(want) + 2e-8) << "tensor " << tensor << " index " << idx;
    }
    EXPECT_LT(worst, 1e-6);
}

TEST(Synth, WeightStatistics) {
    const int n = 1000000;
    double sum = 0, sum2 = 0;
    int beyond2 = 0, beyond3 = 0;
    for (int i = 0; i < n; ++i) {
        const double x = synth_weight(11, 5, uint64_t(i));
        sum += x;
        sum2 += x * x;
        beyond2 += std::fabs(x) > 0.04;
        beyond3 += std::fabs(x) > 0.06;
    }
    const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
    EXPECT_NEAR(mean, 0.0, 4 * 0.02 / std::sqrt(double(n)));
    EXPECT_NEAR(sd, 0.02, 0.02 * 0.005);
    EXPECT_NEAR(double(beyond2) / n, 0.0455, 0.0015);  // two-sided normal tail beyond 2 sd
    EXPECT_NEAR(double(beyond3) / n, 0.0027, 0.0004);
    EXPECT_NE(synth_weight(1, 0, 0), synth_weight(2, 0, 0));
    EXPECT_NE(synth_weight(1, 0, 0), synth_weight(1, 1, 0));
}

TEST(Synth, FileHoldsTheStream) {
    for (dtype t : {dtype::DTYPE_F32, dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
        synth_params p;
        p.shape = "tiny";
        p.type = t;
        p.seed = 42;
        p.n_threads = 2;
        const fs::path path = tmp_file(std::string("tiny-") + dtype_name(t) + ".gguf");
        synth_model(p, path.string());
        const io::model_file m = io::read_gguf(path.string());
        const io::model_file want = synth_layout(p);
        ASSERT_EQ(m.tensors.size(), want.tensors.size());
        EXPECT_EQ(m.find("general.name")->as_string("k"), "synthetic tiny (untrained)");
        for (size_t k = 0; k < m.tensors.size(); ++k) {
            const io::tensor_entry& e = m.tensors[k];
            ASSERT_EQ(e.name, want.tensors[k].name);
            ASSERT_EQ(e.ne, want.tensors[k].ne);
            const bool norm = e.name.find("_norm.") != std::string::npos;
            ASSERT_EQ(e.type, norm ? dtype::DTYPE_F32 : t) << e.name;
            for (int64_t i = 0; i < e.nelements(); ++i) {
                float got;
                if (e.type == dtype::DTYPE_F32) {
                    std::memcpy(&got, static_cast<const uint8_t*>(e.data) + 4 * i, 4);
                } else {
                    uint16_t h;
                    std::memcpy(&h, static_cast<const uint8_t*>(e.data) + 2 * i, 2);
                    got = e.type == dtype::DTYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
                }
                float expect = norm ? 1.0f : synth_weight(42, k, uint64_t(i));
                if (e.type == dtype::DTYPE_F16) expect = f16_to_f32(f32_to_f16(expect));
                if (e.type == dtype::DTYPE_BF16) expect = bf16_to_f32(f32_to_bf16(expect));
                ASSERT_EQ(got, expect) << e.name << "[" << i << "] " << dtype_name(t);
            }
        }
        fs::remove(path);
    }
}

TEST(Synth, DeterministicAcrossThreadCounts) {
    synth_params p;
    p.shape = "tiny";
    p.seed = 7;
    p.n_threads = 1;
    const fs::path a = tmp_file("a.gguf"), b = tmp_file("b.gguf"), c = tmp_file("c.gguf");
    synth_model(p, a.string());
    p.n_threads = 2;
    synth_model(p, b.string());
    p.seed = 8;
    synth_model(p, c.string());
    const std::string sa = slurp(a), sb = slurp(b), sc = slurp(c);
    EXPECT_EQ(sa, sb);
    EXPECT_EQ(sa.size(), sc.size());
    EXPECT_NE(sa, sc);
    fs::remove_all(a.parent_path());
}

}  // namespace
}  // namespace fathom
