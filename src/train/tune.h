// LoRA fine-tuning (`fathom tune`): documents from JSONL / text files, tokenized with the base model's own
// tokenizer, a validation split, adapter training on the frozen base (train_model::for_lora) with AdamW, warmup +
// cosine LR and clipping, validation loss before and after, and the adapter written as a LoRA GGUF.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/model.h"

namespace fathom::train {

struct tune_params {
    std::string base;                    // model file or folder (any weight type)
    std::vector<std::string> data;       // .jsonl / .ndjson (field text_field) or plain text (blank-line documents)
    std::vector<std::string> val_data;   // optional; without it every document whose hash falls below val_fraction
    double val_fraction = 0.1;
    std::string text_field = "text";
    std::string out;                     // adapter GGUF path
    lora_config lora;
    int64_t steps = 200;
    int64_t batch_size = 4;
    int64_t seq_len = 128;               // clipped to the base's context
    int64_t grad_accum = 1;
    double lr = 1e-3;
    double min_lr = -1;                  // default lr / 10
    int64_t warmup = 10;
    double weight_decay = 0.0;
    double grad_clip = 1.0;
    int64_t eval_batches = 8;
    int64_t eval_every = 0;              // 0 = before and after only
    uint64_t seed = 1;
    int32_t n_threads = 0;
    // Called after every step with (step, steps, loss, val_loss or NaN, lr, tokens/s).
    std::function<void(int64_t, int64_t, double, double, double, double)> on_step;
};

struct tune_result {
    double val_loss_before = 0;  // the base alone (a fresh adapter has B = 0)
    double val_loss_after = 0;
    double train_loss = 0;       // last step
    int64_t train_tokens = 0, val_tokens = 0;
    int64_t adapter_params = 0;
    uint64_t adapter_bytes = 0, base_bytes = 0;  // file sizes
};

// Throws ERRC_INVALID_ARGUMENT naming the option for bad values, ERRC_IO naming the file for unreadable data,
// and the loader's errors for the base model.
tune_result run_tune(const tune_params& p);

}  // namespace fathom::train
