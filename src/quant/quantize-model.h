// Whole-model quantisation: writes a loaded model (GGUF or HF folder) as GGUF with each 2-D weight in a chosen type
// (a quantised block type, F16/BF16/F32), per-tensor overrides, and llama.cpp-style mixes such as Q4_K_M.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/thread-pool.h"
#include "io/model-file.h"

namespace fathom::quant {

struct imatrix;  // quant/imatrix.h

struct quantize_params {
    // A type name ("q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl", "q4_k", "q5_k", "q6_k", "iq4_xs", "f16",
    // "bf16", "f32") or a mix: "q4_k_m", "q4_k_s", "q5_k_m", "q5_k_s".
    std::string type = "q4_k_m";
    // (glob pattern over GGUF tensor names with '*' and '?', type name); the first matching pattern wins over the mix.
    std::vector<std::pair<std::string, std::string>> overrides;
    int n_threads = 0;              // 0 = physical cores
    bool allow_requantize = false;  // sources already quantised are refused unless set (quality loss compounds)
    // Per-column importance (mean squared activation, from `fathom calibrate`) weights each element's squared error
    // when scales are chosen, for every quantised weight that has an entry. May be null. Not owned.
    const imatrix* importance = nullptr;
};

struct quantize_result {
    uint64_t bytes_in = 0, bytes_out = 0;  // tensor data only
    int64_t n_weights = 0;                 // elements of all tensors
    int64_t n_quantized = 0;               // tensors written in a quantised type
    int64_t n_fallback = 0;                // tensors whose row length did not fit the wanted type's block
    int64_t n_importance = 0;              // quantised tensors whose scales used importance data
    std::vector<std::pair<std::string, int64_t>> tensors_per_type;  // ("q4_k", 155), ...
    double bits_per_weight() const { return n_weights ? 8.0 * double(bytes_out) / double(n_weights) : 0.0; }
};

// The type a tensor gets under params (after overrides, the mix's rules and the block-size fallback); exposed for
// tests and for `fathom quantize --dry-run`. n_layer is the model's block count.
dtype choose_type(const quantize_params& params, const io::tensor_entry& t, int64_t n_layer, bool* fallback);

// Writes src to out (streamed, one tensor in memory at a time, rows quantised in parallel) and reports what it did.
// Throws fathom::error naming the tensor or option on bad input.
quantize_result quantize_model(const io::model_file& src, const std::string& out, const quantize_params& params);

// The type used for rows of n_in elements when `want`'s blocks do not fit them (llama.cpp's choices: Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS -> IQ4_NL, else F16); `want` itself when they fit.
dtype fallback_type(dtype want, int64_t n_in);

// Converts one tensor's rows (F32/F16/BF16 or a quantised type) into out_type at buf (the tensor's size in out_type).
// imp (the row length, may be null) is column importance for the scale search; heads > 0 permutes rows as
// hf_permuted_source_row does. Rows are converted in parallel on pool.
void convert_tensor(const io::tensor_entry& t, dtype out_type, const float* imp, int64_t heads, thread_pool& pool,
                    uint8_t* buf);

// llama.cpp's general.file_type value for a type or mix name; -1 if it has none.
int32_t gguf_file_type(const std::string& type_or_mix);

// True when the glob pattern (with '*' and '?') matches the whole name.
bool glob_match(const std::string& pattern, const std::string& name);

}  // namespace fathom::quant
