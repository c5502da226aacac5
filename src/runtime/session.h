// A session: KV cache, scratch and thread pool for running a model over batches of tokens from one or more sequences.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "core/thread-pool.h"
#include "models/llama.h"

namespace fathom {

class lora_adapter;  // models/lora.h

struct session_params {
    int64_t n_ctx = 0;      // positions per sequence (0 = min(model n_ctx_train, 4096))
    int32_t n_seq = 1;      // independent sequences sharing this session's cache (continuous batching)
    int32_t n_threads = 0;  // 0 = physical cores
    int64_t n_batch = 512;  // most tokens processed in one forward; larger batches are split
};

// An adapter made active in a session, and its multiplier (scale * alpha / rank applies to its low-rank path).
struct session_lora {
    std::shared_ptr<const lora_adapter> adapter;
    float scale = 1.0f;
};

// Called with the input of each matmul during decode: the weight, its input rows (n_tok rows of the weight's
// n_in = ne[0] floats, ldx apart). Called from the decoding thread, before the matmul.
using activation_observer =
    std::function<void(const io::tensor_entry& weight, const float* x, int64_t ldx, int64_t n_tok)>;

// One token of a batch. Tokens of one sequence within a batch must have increasing positions, and
// positions 0..pos-1 of that sequence must already be in the cache or earlier in the same batch.
struct batch_token {
    int32_t token = 0;
    int32_t pos = 0;
    int32_t seq = 0;
    bool logits = false;  // keep this token's output logits
};

class session {
public:
    session(const llama_model& model, const session_params& params);
    ~session();

    // Runs the model on the batch (writes K/V for each token at (seq, pos)), keeping logits of tokens marked.
    // Throws ERRC_INVALID_ARGUMENT for token ids out of range, pos >= n_ctx, seq >= n_seq, gaps in positions.
    void decode(const std::vector<batch_token>& batch);

    // Logits (n_vocab) of the i-th token marked `logits` in the last decode.
    const float* logits(int64_t i) const;
    int64_t n_logits() const;

    // Forgets positions >= pos of a sequence (pos = 0 clears it).
    void truncate(int32_t seq, int32_t pos);
    // Number of positions held for a sequence (next position to write).
    int32_t seq_len(int32_t seq) const;

    // Replaces the active LoRA adapters (several may be active; an empty list or scale 0 = the base model). From the
    // next decode on, each adapted matmul adds scale * alpha / rank * (x A^T) B^T. The session keeps the adapters
    // alive. The KV cache is not recomputed: positions already in it keep the keys and values computed with the
    // adapters active when they were decoded (as llama.cpp does); truncate the sequence to recompute them.
    // Throws ERRC_INVALID_ARGUMENT (session unchanged) for a null adapter, a scale that is not finite, or an adapter
    // whose weights do not fit this model.
    void set_lora(const std::vector<session_lora>& adapters);
    const std::vector<session_lora>& lora() const;

    // Sees the input of every matmul of later decodes (calibration statistics); an empty function turns it off.
    // Rows of the last layer after attention, and of the output matmul, are only those marked for logits.
    void set_activation_observer(activation_observer fn);

    const llama_model& model() const { return model_; }
    int64_t n_ctx() const { return n_ctx_; }
    int32_t n_seq() const { return n_seq_; }
    thread_pool& pool() { return *pool_; }

private:
    struct impl;
    const llama_model& model_;
    int64_t n_ctx_;
    int32_t n_seq_;
    std::unique_ptr<thread_pool> pool_;
    std::unique_ptr<impl> impl_;
};

}  // namespace fathom
