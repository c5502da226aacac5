// Helpers for the model tests: in-memory tiny models, running prompts through a session, logit comparison.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/model-file.h"
#include "models/llama.h"
#include "runtime/session.h"

namespace fathom::test {

// A tiny random-weight model in GGUF naming, built in memory (no files, no Python).
struct tiny_spec {
    std::string arch = "llama";
    int64_t n_vocab = 96, n_embd = 64, n_layer = 2, n_head = 4, n_head_kv = 2, head_dim = 16, n_ff = 96;
    int64_t n_ctx_train = 1024;
    bool qkv_bias = false;
    bool tied = false;
    dtype weight_type = dtype::DTYPE_F32;
    uint64_t seed = 1;
};
io::model_file make_tiny_model(const tiny_spec& spec);

// Replaces the data of tensor `name` with `ne` (F32, random) — for wrong-shape tests.
void replace_tensor(io::model_file& f, const std::string& name, std::vector<int64_t> ne, dtype type = dtype::DTYPE_F32);
void remove_tensor(io::model_file& f, const std::string& name);

// Logits of every token of `tokens` (sequence 0, positions 0..n-1) decoded in ONE batch.
std::vector<std::vector<float>> run_one_batch(const llama_model& m, const std::vector<int32_t>& tokens,
                                              int n_threads = 2, int64_t n_batch = 512);

// Robust relative difference of one position's logits: max|a - b| / max|ref|.
double rel_diff(const float* a, const float* ref, int64_t n);
// Largest rel_diff over positions.
double max_rel_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& ref);

// Deterministic pseudo-random token ids in [0, n_vocab).
std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, uint64_t seed);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Runs a shell command; returns its exit status (-1 if it could not run). Output goes to `log`.
int run_command(const std::string& cmd, std::string* log);

}  // namespace fathom::test
