// `fathom eval`: perplexity computed as llama.cpp's perplexity tool does, KL divergence and top-1 agreement against
// a reference model, multiple-choice accuracy, BLEU-4 / ROUGE-L of greedy continuations, latency and memory. Every
// measurement takes a loaded model (any weight type) and returns plain numbers; to_json gives the report form.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "io/text/tokenizer.h"
#include "models/llama.h"
#include "runtime/session.h"

namespace fathom::eval {

// Called while a measurement runs: its name ("perplexity", "choices", "generate", "latency"), units done, total.
using progress_fn = std::function<void(const char* stage, int64_t done, int64_t total)>;

// ---- perplexity and agreement with a reference

struct ppl_options {
    int64_t n_ctx = 512;     // chunk length (tokens)
    int64_t max_chunks = 0;  // 0 = every whole chunk of the text
    int64_t n_batch = 512;   // tokens per forward
    int32_t n_threads = 0;   // 0 = physical cores
};

struct ppl_result {
    int64_t n_ctx = 0, n_chunks = 0;
    int64_t n_scored = 0;                 // tokens scored: n_chunks * (n_ctx - 1 - n_ctx / 2)
    double nll = 0, nll_stderr = 0;       // mean negative log-likelihood (nats) and its standard error
    double ppl = 0, ppl_stderr = 0;       // exp(nll), and ppl * nll_stderr
    std::vector<double> chunk_ppl;        // each chunk's own perplexity
    // With a reference model (has_ref): the same for the reference, and the comparison on the same tokens.
    bool has_ref = false;
    double ref_nll = 0, ref_ppl = 0, ref_ppl_stderr = 0;
    double ln_ppl_ratio = 0, ln_ppl_ratio_stderr = 0;  // mean of (nll - ref_nll) per token
    summary kld;                                       // KL(reference || model) per token, nats
    double kld_median = 0, kld_p90 = 0, kld_p95 = 0, kld_p99 = 0;
    double top1 = 0, top1_stderr = 0;                  // fraction of tokens whose argmax agrees
};

// Perplexity of `tokens` (the whole text, tokenized with BOS when the vocabulary adds one) as llama.cpp's
// perplexity tool computes it: non-overlapping chunks of n_ctx tokens; when bos >= 0 the chunk's first token is
// replaced by BOS; the logits of positions n_ctx/2 .. n_ctx-2 score the next token (the first half is context).
// With ref, the reference model sees the same chunks and the KL divergence of the model's next-token distribution
// from the reference's, and top-1 agreement, are measured on the scored positions. Throws ERRC_INVALID_ARGUMENT when
// the text holds less than one chunk, n_ctx < 4 or above the model's context, or the vocabularies differ.
ppl_result perplexity(const llama_model& model, const std::vector<int32_t>& tokens, int32_t bos,
                      const ppl_options& opts, const llama_model* ref = nullptr, const progress_fn& progress = {});

// Log-probabilities (float, n_scored rows of n_vocab) of the positions perplexity scores, from the reference side of
// many comparisons (per-tensor sensitivity), computed once. Same chunking and checks as perplexity.
struct scored_logprobs {
    int64_t n_ctx = 0, n_chunks = 0, n_vocab = 0;
    std::vector<float> lp;
};
scored_logprobs reference_logprobs(const llama_model& ref, const std::vector<int32_t>& tokens, int32_t bos,
                                   const ppl_options& opts);
// Mean KL(reference || model) over the positions of ref (same tokens, bos and opts as made it).
double mean_kld(const llama_model& model, const std::vector<int32_t>& tokens, int32_t bos, const ppl_options& opts,
                const scored_logprobs& ref);

// ---- multiple choice

struct mc_item {
    std::string context;
    std::vector<std::string> choices;
    int64_t label = 0;  // index of the right choice
};
// Reads JSONL, one item per line: {"context": "...", "choices": ["...", ...], "label": N} ("question" is accepted for
// "context", "answer" for "label"). Blank lines are skipped. Errors name the file, line and field.
std::vector<mc_item> load_mc_jsonl(const std::string& path);
// The same from JSONL text already in memory; `name` is used in error messages.
std::vector<mc_item> parse_mc_jsonl(const std::string& text, const std::string& name);

struct mc_result {
    int64_t n = 0;
    double acc = 0, acc_stderr = 0;  // highest total log-likelihood of the choice's tokens
    double acc_norm = 0;             // highest log-likelihood per byte of the choice (lm-evaluation-harness acc_norm)
};
// Log-likelihood (nats) of each choice's tokens following the context's tokens, on sequence 0 of s: the context is
// decoded once and each choice is appended to it in turn. An empty choice scores -infinity.
std::vector<double> choice_log_likelihoods(session& s, const std::vector<int32_t>& context,
                                           const std::vector<std::vector<int32_t>>& choices);

// Scores each choice as the sum of log-probabilities of its tokens after the context (context tokenized with BOS,
// each choice tokenized on its own and appended, as lm-evaluation-harness does).
mc_result multiple_choice(const llama_model& model, const text::tokenizer& tok, const std::vector<mc_item>& items,
                          int32_t n_threads, const progress_fn& progress = {});

// ---- generation quality

struct gen_item {
    std::string prompt, reference;
};
// JSONL {"prompt": "...", "reference": "..."} per line. Errors name the file, line and field.
std::vector<gen_item> load_gen_jsonl(const std::string& path);
std::vector<gen_item> parse_gen_jsonl(const std::string& text, const std::string& name);
// n items from held-out text: evenly spaced windows of prompt_tokens tokens (starting at token boundaries), each
// with the next ref_tokens tokens of the text as the reference, both decoded back to text.
std::vector<gen_item> gen_items_from_tokens(const text::tokenizer& tok, const std::vector<int32_t>& tokens, int64_t n,
                                            int64_t prompt_tokens, int64_t ref_tokens);

struct gen_result {
    int64_t n = 0;
    bleu_result bleu;               // corpus BLEU-4 over 13a tokens
    double rouge_l = 0;             // mean ROUGE-L F1 over items
    std::vector<std::string> outputs;
};
// Greedy continuation of each prompt (prompt tokenized with BOS) for max_new_tokens tokens (0 = as many tokens as
// the reference has), stopping early at an end-of-generation token; scored against the references.
gen_result generate_and_score(const llama_model& model, const text::tokenizer& tok, const std::vector<gen_item>& items,
                              int64_t max_new_tokens, int32_t n_threads, const progress_fn& progress = {});

// ---- speed and memory

struct latency_options {
    int64_t prompt_tokens = 128;
    int64_t gen_tokens = 64;
    int32_t reps = 3;
    int32_t n_threads = 0;
};
struct latency_result {
    int64_t prompt_tokens = 0, gen_tokens = 0;
    int32_t reps = 0;
    double ttft_ms = 0;           // median over reps of the prompt's forward pass up to the first token's logits
    double prefill_tok_s = 0;     // prompt_tokens / median ttft
    double token_ms_p50 = 0, token_ms_p95 = 0, token_ms_p99 = 0;  // per generated token, over all reps
    double decode_tok_s = 0;      // 1000 / mean per-token time
};
// Times a prompt of `prompt` tokens (cycled if shorter than prompt_tokens) then greedy decoding of gen_tokens.
latency_result measure_latency(const llama_model& model, const std::vector<int32_t>& prompt, const latency_options& o,
                               const progress_fn& progress = {});

// Peak resident set size of this process so far (bytes), from getrusage.
uint64_t peak_rss_bytes();

// ---- report form

nlohmann::json to_json(const ppl_result& r);
nlohmann::json to_json(const mc_result& r);
nlohmann::json to_json(const gen_result& r, bool with_outputs);
nlohmann::json to_json(const latency_result& r);

}  // namespace fathom::eval
