// Llama-family decoder (Llama 2/3, Mistral, Qwen2, DeepSeek-LLM dense): hyper-parameters, weights, forward.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/model-file.h"
#include "nn/rope.h"  // rope_order

namespace fathom {

enum class rope_scaling { ROPE_SCALING_NONE, ROPE_SCALING_LINEAR, ROPE_SCALING_LLAMA3 };

struct llama_hparams {
    std::string arch;        // GGUF general.architecture: "llama", "qwen2", ...
    int64_t n_vocab = 0;
    int64_t n_ctx_train = 0;
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim = 0;    // n_embd / n_head unless the file says otherwise
    int64_t n_ff = 0;
    int64_t n_rot = 0;       // rotary dimensions (<= head_dim)
    float norm_eps = 1e-5f;
    float rope_theta = 10000.0f;
    rope_order rope = rope_order::ROPE_ORDER_NORMAL;
    rope_scaling scaling = rope_scaling::ROPE_SCALING_NONE;
    float rope_scale = 1.0f; // linear: positions are divided by this factor
    int32_t bos_id = -1, eos_id = -1;
};

struct llama_layer {
    const io::tensor_entry* attn_norm = nullptr;  // (n_embd)
    const io::tensor_entry* wq = nullptr;         // (n_embd, n_head*head_dim)       [GGUF ne order: in, out]
    const io::tensor_entry* wk = nullptr;         // (n_embd, n_head_kv*head_dim)
    const io::tensor_entry* wv = nullptr;         // (n_embd, n_head_kv*head_dim)
    const io::tensor_entry* wo = nullptr;         // (n_head*head_dim, n_embd)
    const io::tensor_entry* bq = nullptr;         // (n_head*head_dim) optional (Qwen2)
    const io::tensor_entry* bk = nullptr;         // optional
    const io::tensor_entry* bv = nullptr;         // optional
    const io::tensor_entry* ffn_norm = nullptr;   // (n_embd)
    const io::tensor_entry* w_gate = nullptr;     // (n_embd, n_ff)
    const io::tensor_entry* w_up = nullptr;       // (n_embd, n_ff)
    const io::tensor_entry* w_down = nullptr;     // (n_ff, n_embd)
};

struct llama_weights {
    const io::tensor_entry* tok_embd = nullptr;     // (n_embd, n_vocab)
    const io::tensor_entry* output_norm = nullptr;  // (n_embd)
    const io::tensor_entry* output = nullptr;       // (n_embd, n_vocab); == tok_embd when tied
    const io::tensor_entry* rope_freqs = nullptr;   // (n_rot/2) optional frequency divisors (Llama-3 scaling)
    std::vector<llama_layer> layers;
};

class llama_model {
public:
    // Reads hyper-parameters and binds tensors; validates every shape against the hyper-parameters.
    // Errors name the file and the key or tensor: "m.gguf: tensor 'blk.3.attn_k.weight': shape [64, 32] expected [64, 16]".
    static std::unique_ptr<llama_model> load(io::model_file file);
    static bool supports_arch(const std::string& arch);

    io::model_file file;
    llama_hparams hp;
    llama_weights w;
    // (n_rot/2) RoPE inverse frequencies with rope_freqs divisors and the linear factor folded in:
    // the angle of pair i at position p is p * inv_freq[i].
    std::vector<float> inv_freq;
};

}  // namespace fathom
