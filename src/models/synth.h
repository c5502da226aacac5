// Synthetic (untrained, random-weight) models of named shapes, written as GGUF by streaming one tensor at a time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/model-file.h"

namespace fathom {

struct synth_shape {
    const char* name;
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
};

// The known shapes: "tiny", "llama-125m", "tinyllama-1.1b".
const std::vector<synth_shape>& synth_shapes();
// "tiny, mini, llama-125m, tinyllama-1.1b"
std::string synth_shape_list();

struct synth_params {
    std::string arch = "llama";
    std::string shape = "tiny";
    dtype type = dtype::DTYPE_F32;  // 2-D weights; norms are F32
    uint64_t seed = 1;
    int n_threads = 0;              // 0 = physical cores
};

// Metadata (llama.cpp keys) and tensor entries (no data) of the model `p` describes.
// Throws ERRC_INVALID_ARGUMENT for an unknown arch/shape or a type other than F32/F16/BF16.
io::model_file synth_layout(const synth_params& p);

// Value of element `i` of tensor number `tensor` for weights drawn with `seed`: normal(0, 0.02) from a
// counter-based generator, so any element can be computed independently (parallel fill, tests).
float synth_weight(uint64_t seed, uint64_t tensor, uint64_t i);

// Writes the model as GGUF at `path` through io::write_gguf_streaming; weights ~ normal(0, 0.02), norms 1.0.
void synth_model(const synth_params& p, const std::string& path);

}  // namespace fathom
