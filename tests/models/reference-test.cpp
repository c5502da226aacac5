// Llama-family logits against the NumPy reference (tests/reference/llama_ref.py) on tiny random HF models.
//
// Metric: for each position, max_i |ours_i - ref_i| / max_i |ref_i| over the vocabulary; the test checks the
// worst position. F16/BF16 models are compared with the reference computed from the same rounded weights.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "io/model-file.h"
#include "models/llama.h"
#include "models/model-test-util.h"
#include "nn/matmul.h"
#include "runtime/session.h"

namespace fathom {
namespace {

using test::max_rel_diff;
using test::temp_dir;

const char* k_script = FATHOM_SOURCE_DIR "/tests/reference/llama_ref.py";
constexpr int64_t k_prompt = 64;
constexpr int64_t k_vocab = 256;  // llama_ref.py BASE_CONFIG vocab_size

// True when FATHOM_PYTHON runs and imports numpy; otherwise `why` says what failed.
bool python_ready(std::string* why) {
    static int state = -1;
    static std::string reason;
    if (state < 0) {
        std::string log;
        int rc = test::run_command(std::string("'") + FATHOM_PYTHON + "' -c 'import numpy'", &log);
        state = rc == 0 ? 1 : 0;
        reason = std::string(FATHOM_PYTHON) + " -c 'import numpy' exited with " + std::to_string(rc) + ": " + log;
    }
    *why = reason;
    return state == 1;
}

std::vector<std::vector<float>> read_logits(const std::string& path, int64_t n_tok, int64_t n_vocab) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::vector<float>> out(static_cast<size_t>(n_tok), std::vector<float>(static_cast<size_t>(n_vocab)));
    for (auto& row : out) in.read(reinterpret_cast<char*>(row.data()), std::streamsize(row.size() * sizeof(float)));
    if (!in) ADD_FAILURE() << "could not read " << n_tok << "x" << n_vocab << " floats from " << path;
    return out;
}

struct ref_case {
    const char* variant;
    const char* dtype;
    int shards;
    double tol;
};

std::string case_name(const ::testing::TestParamInfo<ref_case>& info) {
    std::string n = std::string(info.param.variant) + "_" + info.param.dtype + (info.param.shards > 1 ? "_sharded" : "");
    for (char& c : n)
        if (c == '-') c = '_';
    return n;
}

// Makes the HF folder and reference logits for a case; returns false (with the log) if the script failed.
bool make_reference(const ref_case& c, const std::string& dir, const std::vector<int32_t>& tokens, std::string* log) {
    std::ostringstream csv;
    for (size_t i = 0; i < tokens.size(); ++i) csv << (i ? "," : "") << tokens[i];
    std::ostringstream cmd;
    cmd << "'" << FATHOM_PYTHON << "' '" << k_script << "' make --variant " << c.variant << " --dtype " << c.dtype
        << " --shards " << c.shards << " --seed 11 --out '" << dir << "/hf' --tokens " << csv.str() << " --logits '"
        << dir << "/ref.bin'";
    return test::run_command(cmd.str(), log) == 0;
}

// Logits of `tokens` fed as the given chunk sizes, one decode call per chunk (all positions kept).
std::vector<std::vector<float>> run_chunked(const llama_model& m, const std::vector<int32_t>& tokens,
                                            const std::vector<int64_t>& chunks) {
    session_params p;
    p.n_ctx = 128;
    p.n_threads = 2;
    session s(m, p);
    std::vector<std::vector<float>> out;
    size_t at = 0;
    for (int64_t n : chunks) {
        std::vector<batch_token> batch;
        for (int64_t i = 0; i < n; ++i, ++at) batch.push_back({tokens[at], int32_t(at), 0, true});
        s.decode(batch);
        for (int64_t i = 0; i < s.n_logits(); ++i) out.emplace_back(s.logits(i), s.logits(i) + m.hp.n_vocab);
    }
    return out;
}

class llama_reference : public ::testing::TestWithParam<ref_case> {};

TEST_P(llama_reference, logits_match_numpy) {
    const ref_case& c = GetParam();
    std::string why;
    if (!python_ready(&why)) GTEST_SKIP() << "NumPy reference tests skipped: " << why;
    // The one-batch prefill goes through the BLAS sgemm path (when built with BLAS) for every weight type; the
    // chunked decodes below through the kernel table.
    struct blas_threshold {
        blas_threshold() { nn::set_blas_min_tokens(32); }
        ~blas_threshold() { nn::set_blas_min_tokens(0); }
    } forced;
    ASSERT_LE(nn::blas_min_tokens(), k_prompt);

    temp_dir tmp;
    const std::vector<int32_t> tokens = test::random_tokens(k_prompt, k_vocab, 1234);
    std::string log;
    ASSERT_TRUE(make_reference(c, tmp.path(), tokens, &log)) << log;
    const auto ref = read_logits(tmp.path() + "/ref.bin", k_prompt, k_vocab);

    std::unique_ptr<llama_model> hf = llama_model::load(io::read_hf(tmp.path() + "/hf"));
    ASSERT_EQ(hf->hp.n_vocab, k_vocab);
    const auto got = test::run_one_batch(*hf, tokens);
    ASSERT_EQ(int64_t(got.size()), k_prompt);
    for (size_t t = 0; t < got.size(); ++t)
        EXPECT_LE(test::rel_diff(got[t].data(), ref[t].data(), k_vocab), c.tol) << "position " << t;
    std::printf("[ %s/%s ] worst relative difference vs NumPy: %.3g\n", c.variant, c.dtype, max_rel_diff(got, ref));

    // (a) converted to GGUF (Q/K permuted into llama.cpp order for "llama") gives the same logits.
    const dtype wt = hf->w.layers[0].wq->type;
    io::convert_to_gguf(hf->file, tmp.path() + "/m.gguf", wt);
    std::unique_ptr<llama_model> gg = llama_model::load(io::read_gguf(tmp.path() + "/m.gguf"));
    EXPECT_EQ(gg->w.layers[0].wq->type, wt);
    if (gg->hp.arch == "llama") {
        EXPECT_EQ(gg->hp.rope, rope_order::ROPE_ORDER_NORMAL);
    }
    EXPECT_LE(max_rel_diff(test::run_one_batch(*gg, tokens), got), 1e-5);

    // (b) KV-cache decode: prefill 40 then 24 single tokens; and uneven chunks.
    std::vector<int64_t> steps = {40};
    steps.insert(steps.end(), 24, 1);
    EXPECT_LE(max_rel_diff(run_chunked(*hf, tokens, steps), got), 1e-5);
    EXPECT_LE(max_rel_diff(run_chunked(*hf, tokens, {5, 17, 1, 2, 30, 9}), got), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(variants, llama_reference,
                         ::testing::Values(ref_case{"llama-gqa", "f32", 1, 1e-4},
                                           ref_case{"llama-gqa", "f16", 1, 1e-4},
                                           ref_case{"llama-gqa", "bf16", 2, 1e-4},
                                           ref_case{"mha", "f32", 1, 1e-4},
                                           ref_case{"mqa", "f32", 1, 1e-4},
                                           ref_case{"mqa", "bf16", 1, 1e-4},
                                           ref_case{"llama-tied", "f32", 2, 1e-4},
                                           ref_case{"qwen2-bias", "f32", 1, 1e-4},
                                           ref_case{"qwen2-bias", "f16", 2, 1e-4},
                                           ref_case{"llama3-rope-scaling", "f32", 1, 1e-4},
                                           ref_case{"linear-rope-scaling", "f32", 1, 1e-4},
                                           ref_case{"mistral", "f32", 1, 1e-4},
                                           ref_case{"head-dim", "f32", 1, 1e-4}),
                         case_name);

}  // namespace
}  // namespace fathom
