// LoRA adapters (llama.cpp's LoRA GGUF files): loading and validation against a base model, the low-rank product
// the session adds after each adapted matmul, and merging adapters into a base model file.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/thread-pool.h"
#include "io/model-file.h"
#include "models/llama.h"

namespace fathom {

// The seven linear weights of a Llama layer an adapter may target, in llama_layer's order.
enum class lora_target : int { LORA_TARGET_Q, LORA_TARGET_K, LORA_TARGET_V, LORA_TARGET_O, LORA_TARGET_GATE,
                               LORA_TARGET_UP, LORA_TARGET_DOWN };
constexpr int k_lora_targets = 7;

// One adapted weight W (n_out rows of n_in): the layer computes x W^T + scale * (alpha / rank) * (x A^T) B^T.
struct lora_weight {
    std::string name;       // base tensor, e.g. "blk.0.attn_q.weight"
    int64_t layer = 0;
    lora_target target = lora_target::LORA_TARGET_Q;
    int64_t n_in = 0, n_out = 0, rank = 0;
    std::vector<float> a;   // (rank, n_in): row r is A's row r (the file's "<name>.lora_a", ne {n_in, rank})
    std::vector<float> bt;  // (rank, n_out): B transposed (the file's "<name>.lora_b" is ne {rank, n_out})
};

// An adapter in F32, self-contained (it keeps no pointers into the base or its file), so it may be shared by
// sessions of any model whose adapted weights have the same names and shapes.
class lora_adapter {
public:
    // Reads and validates an adapter file against a base: general.type "adapter", adapter.type "lora",
    // general.architecture equal to the base's, adapter.lora.alpha a finite number >= 0 (missing or 0 means
    // alpha = rank, as llama.cpp reads it), every "*.lora_a" paired with its "*.lora_b" and the reverse, the base
    // weight present and one of a layer's seven linear weights, shapes A {n_in, rank}, B {rank, n_out} agreeing
    // with the base and each other, types F32 / F16 / BF16 (converted to F32). Every error is one line naming
    // the adapter file and the key or tensor.
    static std::shared_ptr<lora_adapter> load(const std::string& path, const llama_model& model);
    static std::shared_ptr<lora_adapter> load(const io::model_file& adapter, const llama_model& model);
    // The same checks against a base model file that is not loaded as a llama_model (merging).
    static std::shared_ptr<lora_adapter> load(const io::model_file& adapter, const io::model_file& base);

    std::string path;              // the adapter file, for messages
    float alpha = 0.0f;            // adapter.lora.alpha as read (0 when missing)
    std::vector<lora_weight> weights;  // file order of the lora_a tensors

    // alpha / rank of one weight (1 when alpha is 0).
    float base_scale(const lora_weight& w) const { return alpha > 0.0f ? alpha / float(w.rank) : 1.0f; }
    // Throws ERRC_INVALID_ARGUMENT naming the adapter and the tensor when a weight does not fit `model` (missing
    // base tensor or a different shape): an adapter loaded against one model may run on another of the same shape.
    void check_fits(const llama_model& model) const;
};

// One active adapter weight as the forward uses it: y += scale * (x A^T) Bt, scale = user scale * alpha / rank.
struct lora_term {
    const float* a = nullptr;   // (rank, n_in)
    const float* bt = nullptr;  // (rank, n_out)
    int64_t rank = 0;
    float scale = 0.0f;
};

// y[t] += sum over terms of scale * (x[t] A^T) Bt, for n_tok rows of x (n_in floats, stride ldx) and y (n_out floats,
// stride ldy). tmp holds at least n_tok * (largest rank) floats.
void lora_apply(thread_pool& pool, const lora_term* terms, size_t n_terms, const float* x, int64_t ldx, int64_t n_tok,
                float* y, int64_t ldy, int64_t n_in, int64_t n_out, float* tmp);

// One adapter and its multiplier for merging.
struct lora_merge_input {
    std::shared_ptr<const lora_adapter> adapter;
    float scale = 1.0f;
};

struct lora_merge_params {
    // Type of the merged weights: "" = each base tensor's own type; else f32, f16, bf16 or a quantised type
    // quant::quantize_row writes (q8_0, q4_0, q4_k, ...). Tensors no adapter touches are copied as they are.
    std::string type;
    int n_threads = 0;  // 0 = physical cores
};

struct lora_merge_result {
    int64_t n_merged = 0;  // tensors that got at least one adapter
    int64_t n_copied = 0;  // tensors copied unchanged
};

// Writes base with W' = W + sum of scale * alpha / rank * B A (computed in F32 from the dequantised base weight) at
// out as GGUF (streamed, one tensor in memory at a time). Throws fathom::error naming the file, tensor or option.
lora_merge_result lora_merge(const io::model_file& base, const std::vector<lora_merge_input>& adapters,
                             const std::string& out, const lora_merge_params& params);

}  // namespace fathom
