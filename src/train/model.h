// A trainable Llama-family decoder in F32: parameters and gradients in two flat buffers laid out tensor by tensor
// (GGUF names, llama.cpp order), a forward that keeps its activations, the backward pass, and conversion to and from
// GGUF model files that `fathom run` loads.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/thread-pool.h"
#include "io/model-file.h"

namespace fathom::train {

struct train_config {
    int64_t n_vocab = 0;
    int64_t n_ctx = 0;        // longest sequence trained (llama.context_length)
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;    // divides n_head (grouped-query attention)
    int64_t n_ff = 0;
    float norm_eps = 1e-5f;
    float rope_theta = 10000.0f;
    bool tie_embeddings = false;  // output head shares token_embd.weight (no output.weight tensor)

    int64_t head_dim() const { return n_head > 0 ? n_embd / n_head : 0; }
    int64_t n_params() const;
    // Throws ERRC_INVALID_ARGUMENT naming the first bad field ("n_head: must divide n_embd (384 / 5)").
    void validate() const;
};

// LoRA adapters on a frozen base (`train_model::for_lora`): for each targeted weight W (n_out x n_in) two trainable
// matrices A (rank x n_in) and B (n_out x rank); the layer computes x W^T + (alpha / rank) (x A^T) B^T. B starts at
// zero, so a fresh adapter leaves the base unchanged.
struct lora_config {
    int64_t rank = 8;
    float alpha = 16.0f;
    std::vector<std::string> targets = {"q", "k", "v", "o", "gate", "up", "down"};  // any of these seven
    // Throws ERRC_INVALID_ARGUMENT naming the bad field or target.
    void validate() const;
};

// One parameter tensor inside the flat buffers.
struct param_tensor {
    std::string name;          // GGUF name, e.g. "blk.0.attn_q.weight"
    std::vector<int64_t> ne;   // GGUF order (ne[0] innermost): a weight of n_out rows of n_in is {n_in, n_out}
    int64_t offset = 0;        // in floats, into params / grads
    int64_t size = 0;          // elements
    bool matrix = false;       // 2-D weights (weight decay applies to these only)
};

class train_model {
public:
    explicit train_model(const train_config& cfg);  // validates cfg; parameters zero until init_random / from_gguf

    // Reads a Llama GGUF (or any model_file of arch "llama" with one RoPE pairing, no biases, no RoPE scaling) into
    // F32 parameters; quantised and F16/BF16 tensors are dequantised. Errors name the file and the tensor or key.
    static train_model from_model_file(const io::model_file& f);
    // Adapter training: the base model (same restrictions; any weight type, F32 / F16 / BF16 or quantised, kept as
    // it is and run through the inference kernels) is frozen, and params / grads hold only the adapters, named as
    // llama.cpp's LoRA GGUF files name them ("blk.0.attn_q.weight.lora_a" {n_in, rank}, ".lora_b" {rank, n_out}).
    // A starts normal(0, 1 / sqrt(n_in)) from `seed`, B at zero.
    static train_model for_lora(io::model_file base, const lora_config& lc, uint64_t seed);
    bool is_lora() const { return lora_; }
    const lora_config& lora() const { return lcfg_; }

    const train_config& config() const { return cfg_; }
    const std::vector<param_tensor>& tensors() const { return tensors_; }
    const param_tensor* find(const std::string& name) const;

    // Deterministic initialisation for a seed: matrices and token embeddings normal(0, 0.02), the projections into
    // the residual stream (attn_output, ffn_down) normal(0, 0.02 / sqrt(2 * n_layer)), norm weights 1.
    void init_random(uint64_t seed);

    // b sequences of t tokens each (t <= n_ctx), row-major tokens[s * t + i]; targets likewise, -1 = not scored.
    // Returns the mean cross-entropy over scored positions (0 when none) and keeps every activation for backward().
    // Tokens and targets must be < n_vocab (callers validate their data).
    float forward(thread_pool& pool, const int32_t* tokens, const int32_t* targets, int64_t b, int64_t t);
    // Adds d(mean loss of the last forward * loss_scale) / d(params) into grads.
    void backward(thread_pool& pool, float loss_scale = 1.0f);
    void zero_grad();
    // Logits of the last forward, (b * t, n_vocab); overwritten by backward().
    const float* logits() const { return logits_.data(); }

    // A model_file (arch "llama", llama.cpp keys) whose F32 tensors point into params; metadata tokenizer.* keys
    // are copied from `tokenizer` when given. Write it with io::write_gguf while this model is alive. For an adapter
    // model: a LoRA adapter file (general.type "adapter", adapter.type "lora", adapter.lora.alpha) as llama.cpp
    // writes them.
    io::model_file to_model_file(const io::model_file* tokenizer, const std::string& name) const;

    std::vector<float> params;
    std::vector<float> grads;

    // The seven linear weights of a layer, in this order; short names as lora_config::targets uses them.
    static constexpr int k_linears = 7;
    static const char* linear_name(int i);   // "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", ...
    static const char* linear_target(int i); // "q", "k", "v", "o", "gate", "up", "down"

private:
    struct layer_acts {
        std::vector<float> x, xn1, rstd1, q, k, v, att, lse, x2, xn2, rstd2, g, u, h;
        std::vector<float> xa[k_linears];  // LoRA: x A^T of each adapted linear
    };
    struct linear;
    linear lin(int64_t layer, int which);
    linear head();
    void linear_forward(thread_pool& pool, const linear& L, float* out, const float* x, int64_t n, int64_t in,
                        int64_t oc);
    void linear_backward(thread_pool& pool, const linear& L, float* dx, const float* dout, const float* x, int64_t n,
                         int64_t in, int64_t oc);
    const float* norm_weight(const std::string& name);
    float* norm_grad(const std::string& name);
    void reserve(int64_t b, int64_t t);
    float* p(const std::string& name);
    struct no_params {};
    train_model(const train_config& cfg, no_params);  // layout only, buffers empty (for_lora)

    train_config cfg_;
    bool lora_ = false;
    lora_config lcfg_;
    std::shared_ptr<io::model_file> base_;     // LoRA: the frozen base (tensors bound, matmul weights prepared)
    std::vector<float> base_norms_;            // LoRA: the base's norm weights in F32
    std::vector<std::pair<std::string, int64_t>> base_norm_index_;
    std::vector<float> norm_dw_scratch_;       // LoRA: where frozen norms' weight gradients go (discarded)
    std::vector<param_tensor> tensors_;
    std::vector<float> inv_freq_;
    // last forward
    int64_t b_ = 0, t_ = 0, n_scored_ = 0;
    std::vector<int32_t> tokens_, targets_, pos_;
    std::vector<layer_acts> acts_;
    std::vector<float> x_final_, xnf_, rstdf_, logits_, losses_;
    // backward scratch
    std::vector<float> dres_, dxn_, dq_, dk_, dv_, datt_, dg_, du_, dh_;
};

}  // namespace fathom::train
