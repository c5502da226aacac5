// Mixed precision from measured sensitivity: for every 2-D weight and candidate type, the KL divergence of the
// model's next-token distributions from the unquantised model's when only that tensor is quantised; then a per-tensor
// choice of types that minimises the summed divergence under a size budget (or the size under a divergence budget),
// a multiple-choice knapsack solved by dynamic programming over the budget (65536 steps).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/model-file.h"

namespace fathom::quant {

struct imatrix;

// The default candidates: q4_0, q4_1, q5_0, q5_1, iq4_nl, q4_k, q5_k, q6_k, iq4_xs, q8_0, f16.
std::vector<dtype> default_plan_types();

struct sensitivity_options {
    std::vector<dtype> types = default_plan_types();
    int64_t n_ctx = 512;     // calibration chunk length
    int64_t max_chunks = 4;  // chunks per measurement (0 = all)
    int32_t n_threads = 0;
    const imatrix* importance = nullptr;  // used for the quantised candidates when given
};

struct tensor_sensitivity {
    std::string name;
    int64_t n_elements = 0;
    std::vector<std::pair<dtype, double>> kld;  // candidate types whose block fits the rows, with the mean KLD
};

struct sensitivity_result {
    std::vector<dtype> types;
    std::vector<tensor_sensitivity> tensors;  // every 2-D weight, in file order
    int64_t n_ctx = 0, n_chunks = 0;
    double seconds = 0;
};

// Measures every 2-D weight of src (an F32 / F16 / BF16 model) against src itself on the calibration tokens.
// progress(done, total) counts measurements. Throws for quantised sources and too few tokens.
sensitivity_result measure_sensitivity(const io::model_file& src, const std::vector<int32_t>& tokens, int32_t bos,
                                       const sensitivity_options& opts,
                                       const std::function<void(int64_t, int64_t)>& progress = {});

// {"types": [...], "n_ctx", "chunks", "tensors": [{"name", "n_elements", "kld": {type: value}}]}, the form the HTML
// report's heat map reads; and back (errors name `what` and the field).
nlohmann::json to_json(const sensitivity_result& s);
sensitivity_result sensitivity_from_json(const nlohmann::json& j, const std::string& what);

struct plan_options {
    double target_bpw = 0;  // > 0: at most this many bits per weight over the whole file's tensors
    double max_kld = 0;     // > 0 (and no target_bpw): the smallest file whose predicted KLD is at most this
};

struct plan_choice {
    std::string name;
    dtype type = dtype::DTYPE_F32;
    double kld = 0;   // measured for this tensor alone
    double bits = 0;  // type's bits per weight times elements
};

struct plan_result {
    std::vector<plan_choice> choices;  // one per measured tensor, in file order
    double bits_per_weight = 0;        // over every tensor of the file (norms and biases stay F32)
    double predicted_kld = 0;          // sum of the chosen tensors' KLDs (additive model)
};

// Picks a type per tensor. Throws ERRC_INVALID_ARGUMENT naming the smallest reachable size when the budget cannot be
// met, or when neither budget is given.
plan_result make_plan(const sensitivity_result& s, const io::model_file& src, const plan_options& opts);
nlohmann::json to_json(const plan_result& p);

}  // namespace fathom::quant
