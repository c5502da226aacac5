// Importance matrices ("imatrix", as llama.cpp's llama-imatrix writes them): for the input of every matmul weight,
// the sum over calibration tokens of each input column's squared activation, and the token count. Their ratio (the
// mean squared activation per column) weights each element's squared error when quantize_row chooses scales.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/model-file.h"
#include "models/llama.h"

namespace fathom::quant {

struct imatrix_entry {
    std::vector<float> sum2;  // per input column: sum over tokens of x^2
    float count = 0;          // tokens seen
};

struct imatrix {
    std::map<std::string, imatrix_entry> entries;  // by weight name ("blk.0.attn_q.weight")
    std::vector<std::string> datasets;             // calibration files
    int64_t chunk_count = 0, chunk_size = 0;

    // Mean squared activation per input column of weight `name`; empty when the weight has no entry or no tokens.
    std::vector<float> importance(const std::string& name) const;
};

struct calibrate_options {
    int64_t n_ctx = 512;     // tokens per chunk (each chunk starts a fresh sequence)
    int64_t max_chunks = 0;  // 0 = every whole chunk
    int32_t n_threads = 0;
};

// Runs the model over the tokens in chunks of n_ctx (the first token of each replaced by bos when bos >= 0, as
// llama.cpp's imatrix tool does) and accumulates every matmul weight's input statistics.
// progress(done, total) is called after each chunk. Throws ERRC_INVALID_ARGUMENT when the tokens hold no chunk.
imatrix calibrate(const llama_model& model, const std::vector<int32_t>& tokens, int32_t bos,
                  const calibrate_options& opts, const std::function<void(int64_t, int64_t)>& progress = {});

// llama.cpp's GGUF imatrix layout: general.type "imatrix", imatrix.datasets / chunk_count / chunk_size, and per weight
// "<name>.in_sum2" (F32, ne {n_in, 1}) and "<name>.counts" (F32, ne {1, 1}).
io::model_file imatrix_to_gguf(const imatrix& im);
void write_imatrix(const std::string& path, const imatrix& im);
// Reads and validates (every in_sum2 has its counts, shapes, finite non-negative values); errors name the file and
// the tensor.
imatrix imatrix_from_gguf(const io::model_file& f);
imatrix read_imatrix(const std::string& path);

}  // namespace fathom::quant
