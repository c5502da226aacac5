// The training driver: the run configuration (JSON), deterministic stateless batch sampling over token shards,
// the training loop (gradient accumulation, clipping, AdamW, LR schedule), validation, logging, checkpoints that
// resume bit for bit, and export of the trained model as GGUF.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/thread-pool.h"
#include "train/model.h"

namespace fathom::train {

// Everything a config file says, with relative paths already resolved against the file's folder.
struct run_config {
    std::string path;   // the config file (messages name it)
    std::string text;   // its JSON text (stored in checkpoints)

    bool has_model = false;       // "model" given: a fresh model of this shape (n_vocab from the tokenizer)
    train_config model;
    std::string init_from;        // "init_from": continue training this model file instead
    std::string tokenizer;        // GGUF with tokenizer.* metadata; may be empty with init_from (its own is used)
    std::vector<std::string> train_data;  // shard files, directories expanded to their *.bin (sorted)
    std::vector<std::string> val_data;
    std::string name;             // general.name of the exported model; default "fathom-trained"

    int64_t batch_size = 0;
    int64_t seq_len = 0;
    int64_t grad_accum = 1;
    int64_t steps = 0;
    double lr = 1e-3;
    double min_lr = -1;           // default lr / 10
    int64_t warmup = 0;
    double weight_decay = 0.1;
    double beta1 = 0.9;
    double beta2 = 0.95;
    double eps = 1e-8;
    double grad_clip = 1.0;       // 0 = off
    uint64_t seed = 1;
    int32_t threads = 0;          // 0 = physical cores
    int64_t eval_every = 0;       // 0 = only after the last step
    int64_t eval_batches = 8;
    int64_t checkpoint_every = 0; // 0 = only after the last step
    int64_t log_every = 10;
    std::string out;              // output folder
    bool resume = false;
};

// Parses config JSON. Every unknown key, missing required key and bad value throws ERRC_INVALID_ARGUMENT with one
// line naming the file and the key ("cfg.json: model.n_head: expected a positive integer, found \"x\"").
// Shard directories are expanded here; files are not opened.
run_config parse_run_config(const std::string& text, const std::string& path);
run_config load_run_config(const std::string& path);  // reads the file (ERRC_IO naming it) and parses it

// ---- data

// The token stream of a list of shards, concatenated in order. Every shard's n_vocab must equal n_vocab (the
// message names the shard, the config file and the key).
struct token_stream {
    std::vector<int32_t> tokens;
    std::vector<std::string> files;
};
token_stream load_token_stream(const std::vector<std::string>& files, int64_t n_vocab, const std::string& cfg_path,
                               const std::string& key);

// Start of the training window of global row g (= micro_batch * batch_size + row) of update `step`: uniform over
// [0, n_starts) from a counter-based hash of (seed, step, g). Batches therefore need no loader state, and a step's
// windows are the same however the step is split into micro-batches.
int64_t window_start(uint64_t seed, int64_t step, int64_t g, int64_t n_starts);

// Fills inputs / targets (batch_size x seq_len each) for micro-batch `micro` of update `step`: row r takes the
// seq_len + 1 tokens at window_start(seed, step, micro * batch_size + r, n - seq_len); inputs are the first seq_len,
// targets the last seq_len. The stream must hold at least seq_len + 1 tokens.
void fill_train_batch(const std::vector<int32_t>& tokens, uint64_t seed, int64_t step, int64_t micro,
                      int64_t batch_size, int64_t seq_len, int32_t* inputs, int32_t* targets);

// Number of validation windows: consecutive, non-overlapping windows of seq_len inputs (plus the next token as the
// last target) from the start of the validation tokens, at most eval_batches * batch_size.
int64_t val_windows(int64_t n_tokens, int64_t seq_len, int64_t eval_batches, int64_t batch_size);

// ---- the run

struct progress {
    int64_t step = 0;          // updates done (1-based after the first)
    int64_t total_steps = 0;
    float loss = 0;            // mean training loss of this step's micro-batches
    double val_loss = 0;       // NaN when no validation ran after this step
    double lr = 0;             // learning rate of this step's update
    double grad_norm = 0;      // global gradient norm before clipping
    double tokens_per_s = 0;   // training tokens per second (since the last logged step)
    double elapsed_s = 0;      // wall time of the run, carried across resumes
    double eta_s = 0;          // estimated time to the last step
    bool logged = false;       // this step was written to log.jsonl
};

struct run_options {
    int32_t n_threads = 0;     // > 0 overrides the config's threads
    bool resume = false;       // or the config's "resume"
    int64_t stop_after = 0;    // > 0: stop after this step (writing a checkpoint), as if interrupted there
    std::function<void(const progress&)> on_progress;  // after every step
    // Polled after every step (after on_progress); true: stop there, writing a checkpoint, as stop_after does. How
    // an interrupted command (Ctrl-C) keeps the steps it has done.
    std::function<bool()> should_stop;
};

struct run_result {
    int64_t step = 0;          // last step done
    double val_loss = 0;       // NaN when there is no validation data
    float train_loss = 0;      // loss of the last step
    std::string model_path;    // out/model.gguf, or "" when stopped early
    std::string checkpoint_path;
};

// Trains as the config says. Writes out/log.jsonl, out/checkpoint.gguf (atomically) and out/model.gguf.
run_result run_training(const run_config& cfg, const run_options& opts);

// ---- checkpoints

// Writes model parameters, AdamW moments (optimizer.m.<name>, optimizer.v.<name>) and the model's metadata plus
// fathom.train.step, fathom.train.config and fathom.train.elapsed_s to path, through a temporary file and a
// rename. `tokenizer` may be null.
void save_checkpoint(const std::string& path, const train_model& model, const std::vector<float>& m,
                     const std::vector<float>& v, int64_t step, double elapsed_s, const std::string& config_text,
                     const io::model_file* tokenizer, const std::string& name);

}  // namespace fathom::train
