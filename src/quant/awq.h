// Activation-aware per-channel scaling (AWQ-style), folded so the full-precision model computes the same function:
// a channel j of a matmul input is divided by s_j where it is produced and the weight columns that read it are
// multiplied by s_j, so important channels (large mean squared activation) get relatively larger weights and lose
// less to rounding. Three places allow the fold in a Llama block: the attention norm (Q, K, V read it), the FFN norm
// (gate and up read it) and ffn_up's rows (ffn_down reads silu(gate) * up). s_j = (mean x_j^2)^(alpha/2), scaled to
// geometric mean 1, with alpha per group chosen from a grid to minimise the importance-weighted error of the
// quantised weights as the original input sees them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/model-file.h"
#include "quant/imatrix.h"

namespace fathom::quant {

struct awq_group {
    std::string produced_by;           // "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_up.weight"
    std::vector<std::string> weights;  // the matmuls that read the scaled channels
    double alpha = 0;                  // chosen exponent (0 = unchanged)
    double err_before = 0, err_after = 0;  // importance-weighted squared error of the group's quantised weights
};

struct awq_result {
    io::model_file model;  // the scaled model: changed tensors are F32 copies, the rest shared with the source
    // The importance data of the scaled model (the readers' inputs are x / s, so their mean squares divide by s^2).
    imatrix importance;
    std::vector<awq_group> groups;
};

// Scales src (F32 / F16 / BF16 Llama weights) for quantisation to `type` using the importance data (from the same
// model). Errors name missing imatrix entries or quantised sources.
awq_result awq_scale(const io::model_file& src, const imatrix& im, dtype type, int32_t n_threads = 0);

}  // namespace fathom::quant
