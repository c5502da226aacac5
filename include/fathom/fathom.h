/* Fathom public C API: the library's only ABI (load models, run sessions, sample, generate, convert, synthesise). */
#ifndef FATHOM_H
#define FATHOM_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(FATHOM_BUILDING_LIBRARY)
#define FATHOM_API __declspec(dllexport)
#else
#define FATHOM_API
#endif
#else
#define FATHOM_API __attribute__((visibility("default")))
#endif

#define FATHOM_VERSION_MAJOR 0
#define FATHOM_VERSION_MINOR 1
#define FATHOM_VERSION_PATCH 0
#define FATHOM_VERSION "0.1.0" /* version of this header; fathom_version() gives the library's */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Conventions
 * - Every fallible call returns a fathom_status; results come back through out-parameters, which are left
 *   untouched on failure. fathom_last_error() then holds a one-line message naming the file, field or argument.
 * - Options structs start with `size_t struct_size`; fill them with the matching fathom_<x>_options_init() and
 *   then change fields. Passing NULL instead of an options struct means "all defaults". A struct_size smaller
 *   than this header's (an older caller) is accepted; a larger one is rejected with FATHOM_ERR_INVALID_ARGUMENT.
 * - Output structs (fathom_model_info, fathom_tensor_info, fathom_generate_stats) also start with struct_size,
 *   which the caller sets to sizeof(the struct); the library fills that many bytes.
 * - _free functions accept NULL. Strings returned by the library stay valid as long as the object they come from.
 * - A fathom_model may be shared by many threads and sessions; a fathom_session or fathom_sampler is used by one
 *   thread at a time.
 */

/* Status codes; the numbers are stable. */
typedef enum fathom_status {
    FATHOM_OK = 0,
    FATHOM_ERR_INVALID_ARGUMENT = 1, /* the caller passed something wrong (NULL, bad option, out-of-range id) */
    FATHOM_ERR_IO = 2,               /* a file could not be opened, read, written or mapped */
    FATHOM_ERR_FORMAT = 3,           /* file content is malformed */
    FATHOM_ERR_UNSUPPORTED = 4,      /* well-formed but not supported (architecture, tensor type, ISA) */
    FATHOM_ERR_OUT_OF_MEMORY = 5,
    FATHOM_ERR_INTERNAL = 6
} fathom_status;

/* Tensor element types for conversion and synthesis (numbered as GGML/GGUF does). */
typedef enum fathom_type {
    FATHOM_TYPE_F32 = 0,
    FATHOM_TYPE_F16 = 1,
    FATHOM_TYPE_BF16 = 30
} fathom_type;

typedef struct fathom_model fathom_model;     /* a loaded model (weights + metadata); immutable, shareable */
typedef struct fathom_session fathom_session; /* KV cache and scratch for running a model */
typedef struct fathom_sampler fathom_sampler; /* picks tokens from logits; keeps penalty history and PRNG state */

/* ------------------------------------------------------------------ library */

/* Library version, "MAJOR.MINOR.PATCH". */
FATHOM_API const char* fathom_version(void);
/* Message of the most recent failed call on this thread ("" if none). Valid until the next failing call. */
FATHOM_API const char* fathom_last_error(void);
/* Constant name of a status code ("FATHOM_ERR_IO"); "unknown" for other values. */
FATHOM_API const char* fathom_status_name(fathom_status status);

/* Log levels passed to the log callback. */
typedef enum fathom_log_level {
    FATHOM_LOG_DEBUG = 0,
    FATHOM_LOG_INFO = 1,
    FATHOM_LOG_WARN = 2,
    FATHOM_LOG_ERROR = 3
} fathom_log_level;
/* Receives one line of log text (no trailing newline). May be called from any thread. */
typedef void (*fathom_log_fn)(fathom_log_level level, const char* message, void* user_data);
/* Routes library log messages (all levels) to fn; fn = NULL restores the default (WARN and above to stderr). */
FATHOM_API void fathom_log_set_callback(fathom_log_fn fn, void* user_data);

/* Name of the kernel ISA in use: "scalar", "avx2", "avx512", "avx512_vnni" or "neon". */
FATHOM_API const char* fathom_isa_name(void);
/* Forces the kernel ISA by name (as fathom_isa_name spells it); FATHOM_ERR_UNSUPPORTED if this CPU/build lacks it.
 * Affects every model and session of the process; call it before creating sessions (tests and benchmarks). */
FATHOM_API fathom_status fathom_isa_set(const char* name);

/* ------------------------------------------------------------------ models */

typedef struct fathom_model_options {
    size_t struct_size;
    int32_t n_threads; /* threads for load-time work (copying when use_mmap = 0); 0 = physical cores */
    int32_t use_mmap;  /* 1 (default): weights are used in place from a read-only file mapping; 0: copied to memory */
    int32_t vocab_only; /* 1: metadata and tokenizer only (no weights, no sessions), e.g. a vocabulary GGUF; default 0 */
} fathom_model_options;
/* Fills opts with defaults (n_threads 0, use_mmap 1, vocab_only 0) and sets struct_size. */
FATHOM_API void fathom_model_options_init(fathom_model_options* opts);

/* Loads a GGUF file or a Hugging Face folder (config.json + *.safetensors) and validates it. opts may be NULL. */
FATHOM_API fathom_status fathom_model_load(const char* path, const fathom_model_options* opts, fathom_model** out);
/* Frees a model; every session created from it must be freed first. NULL is a no-op. */
FATHOM_API void fathom_model_free(fathom_model* model);

typedef struct fathom_model_info {
    size_t struct_size;        /* set by the caller to sizeof(fathom_model_info) */
    const char* architecture;  /* general.architecture, e.g. "llama" */
    const char* name;          /* general.name, or "" */
    int64_t n_vocab;
    int64_t n_ctx_train;       /* context length the model was trained with */
    int64_t n_embd;
    int64_t n_layer;
    int64_t n_head;
    int64_t n_head_kv;
    int64_t head_dim;
    int64_t n_ff;
    int64_t n_params;          /* total elements over all tensors */
    uint64_t n_tensor_bytes;   /* total bytes of tensor data */
    uint64_t file_bytes;       /* size on disk: the file, or the regular files of the folder */
    int32_t bos_token;         /* -1 if the model has none */
    int32_t eos_token;         /* -1 if the model has none */
} fathom_model_info;
/* Fills info (up to info->struct_size bytes) with the model's hyper-parameters and sizes. */
FATHOM_API fathom_status fathom_model_get_info(const fathom_model* model, fathom_model_info* info);

/* Number of metadata key/value pairs (GGUF order; HF folders are translated to GGUF keys). */
FATHOM_API fathom_status fathom_model_meta_count(const fathom_model* model, int64_t* count);
/* Key of metadata entry `index`. */
FATHOM_API fathom_status fathom_model_meta_key(const fathom_model* model, int64_t index, const char** key);
/* GGUF value type name of entry `index`: "uint32", "string", "array", ... */
FATHOM_API fathom_status fathom_model_meta_type(const fathom_model* model, int64_t index, const char** type_name);
/* Value of entry `index` as a short display string (strings quoted, long arrays as "[32000 x string]"). */
FATHOM_API fathom_status fathom_model_meta_value(const fathom_model* model, int64_t index, const char** value);
/* Index of the entry with `key`, or -1 in *index if there is none (not an error). */
FATHOM_API fathom_status fathom_model_meta_find(const fathom_model* model, const char* key, int64_t* index);
/* Raw string value of entry `index`; FATHOM_ERR_INVALID_ARGUMENT if it is not a string. */
FATHOM_API fathom_status fathom_model_meta_string(const fathom_model* model, int64_t index, const char** value);
/* Integer (or bool) value of entry `index`; FATHOM_ERR_INVALID_ARGUMENT if it is not one. */
FATHOM_API fathom_status fathom_model_meta_int(const fathom_model* model, int64_t index, int64_t* value);
/* Numeric value of entry `index` as double; FATHOM_ERR_INVALID_ARGUMENT if it is not a number. */
FATHOM_API fathom_status fathom_model_meta_float(const fathom_model* model, int64_t index, double* value);
/* Element count of array entry `index`; FATHOM_ERR_INVALID_ARGUMENT if it is not an array. */
FATHOM_API fathom_status fathom_model_meta_array_length(const fathom_model* model, int64_t index, int64_t* length);

typedef struct fathom_tensor_info {
    size_t struct_size;     /* set by the caller to sizeof(fathom_tensor_info) */
    const char* name;       /* GGUF name, e.g. "blk.0.attn_q.weight" */
    const char* type_name;  /* "f32", "f16", "bf16", "q4_0", ... */
    int32_t type;           /* GGML type id */
    int32_t n_dims;
    int64_t ne[4];          /* GGUF order: ne[0] is the contiguous dimension; unused dimensions are 1 */
    uint64_t n_bytes;
} fathom_tensor_info;
/* Number of tensors. */
FATHOM_API fathom_status fathom_model_tensor_count(const fathom_model* model, int64_t* count);
/* Describes tensor `index` (file order). */
FATHOM_API fathom_status fathom_model_tensor_info(const fathom_model* model, int64_t index, fathom_tensor_info* info);
/* Index of the tensor called `name`, or -1 in *index if there is none (not an error). */
FATHOM_API fathom_status fathom_model_tensor_find(const fathom_model* model, const char* name, int64_t* index);

/* ------------------------------------------------------------------ tokenizer */

/* Calls below need tokenizer.ggml.* metadata; without it they fail with FATHOM_ERR_UNSUPPORTED. The tokenizer is
 * built once per model on first use (thread-safe). Sizes use a two-call convention: when the output does not fit,
 * the call fails with FATHOM_ERR_INVALID_ARGUMENT, writes nothing to the buffer and still stores the size needed
 * (the one exception to "out-parameters are untouched on failure"); pass capacity 0 (buffer may be NULL) to ask. */

/* 1 in *has if the model carries a tokenizer (tokenizer.ggml.model), else 0. */
FATHOM_API fathom_status fathom_model_has_tokenizer(const fathom_model* model, int* has);
/* Encodes len bytes of text (any bytes) into ids; *n_tokens = count. add_special: BOS/EOS as the vocabulary asks;
 * parse_special: control tokens written as text ("<|endoftext|>") become their ids. */
FATHOM_API fathom_status fathom_tokenize(const fathom_model* model, const char* text, size_t len, int add_special,
                                         int parse_special, int32_t* tokens, int64_t capacity, int64_t* n_tokens);
/* Text of one token as it decodes alone (raw text for control tokens), NUL-terminated; valid as long as the model. */
FATHOM_API fathom_status fathom_token_to_piece(const fathom_model* model, int32_t token, const char** piece);
/* Decodes n ids into buf (control tokens omitted) with a terminating NUL; *len = bytes without the NUL.
 * Needs capacity >= *len + 1. */
FATHOM_API fathom_status fathom_detokenize(const fathom_model* model, const int32_t* tokens, int64_t n, char* buf,
                                           size_t capacity, size_t* len);
/* 1 in *is_eog if the token ends a generation: the vocabulary's EOS, its end-of-turn / end-of-message tokens
 * (tokenizer.ggml.eot_token_id, .eom_token_id) and control tokens such as <|eot_id|>, <|im_end|>, <|end|>,
 * <end_of_turn> or <|EOT|>; else 0. */
FATHOM_API fathom_status fathom_token_is_eog(const fathom_model* model, int32_t token, int* is_eog);

/* ------------------------------------------------------------------ chat templates */

/* One turn of a conversation. role: "system", "user", "assistant" (or any role the template knows). */
typedef struct fathom_chat_message {
    const char* role;
    const char* content;
} fathom_chat_message;

/* Comma-separated names of the built-in chat templates, e.g. "llama2, llama3, chatml, deepseek, ...". */
FATHOM_API const char* fathom_chat_builtin_templates(void);

/* Renders a conversation into prompt text. tmpl: NULL = the model's own tokenizer.chat_template (fails with
 * FATHOM_ERR_UNSUPPORTED naming the model when it has none); a built-in name from fathom_chat_builtin_templates();
 * anything else is taken as Jinja template source. bos_token / eos_token come from the model's vocabulary (model may
 * be NULL when tmpl is given: they are then empty). add_generation_prompt: end with the assistant's header.
 * Output follows the two-call size convention of fathom_detokenize (NUL-terminated; *len without the NUL). */
FATHOM_API fathom_status fathom_chat_render(const fathom_model* model, const char* tmpl,
                                            const fathom_chat_message* messages, int64_t n_messages,
                                            int add_generation_prompt, char* buf, size_t capacity, size_t* len);

/* ------------------------------------------------------------------ tokenizer training */

typedef struct fathom_tokenizer_train_options {
    size_t struct_size;
    int32_t vocab_size;                   /* total: special + 256 byte tokens + merges; default 32000 */
    const char* const* special_tokens;    /* control tokens, given ids 0..n-1 in this order; NULL = the default
                                             "<|endoftext|>", "<|im_start|>", "<|im_end|>" */
    int32_t n_special_tokens;             /* -1 with special_tokens NULL = the default list; 0 = none */
    const char* bos_token;                /* text of a special token used as BOS; NULL = none (default) */
    const char* eos_token;                /* text of a special token used as EOS; NULL = the first special token */
    const char* pre;                      /* pre-tokenizer name as in tokenizer.ggml.pre; default "llama-bpe" */
    const char* chat_template;            /* built-in name or Jinja source stored as tokenizer.chat_template;
                                             NULL = "chatml" when <|im_start|> and <|im_end|> are special, else none */
    int32_t min_frequency;                /* pairs seen fewer times are never merged; default 2 */
    int32_t n_threads;                    /* pre-tokenisation and counting; 0 = physical cores */
} fathom_tokenizer_train_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_tokenizer_train_options_init(fathom_tokenizer_train_options* opts);
/* Trains a byte-level BPE on the text of n_files files (read as bytes; pieces from the pre-tokenizer regex, merges
 * by highest pair count, ties broken by the lexicographically smallest (left, right) byte strings) and writes a
 * vocabulary-only GGUF (tokenizer.ggml.model "gpt2") at out_path that fathom_model_load(vocab_only) and
 * llama.cpp both read. Deterministic: the same files and options give the same bytes. opts may be NULL. */
FATHOM_API fathom_status fathom_tokenizer_train(const char* const* files, int64_t n_files,
                                                const fathom_tokenizer_train_options* opts, const char* out_path);

/* ------------------------------------------------------------------ data preparation */

/* Counts of a fathom_data_prepare run (also passed to the progress callback while it runs). */
typedef struct fathom_data_prepare_stats {
    size_t struct_size;          /* set by the caller to sizeof(fathom_data_prepare_stats) */
    int64_t n_docs_read;         /* documents found (= kept + removed; bad JSONL lines are not documents) */
    int64_t n_kept_train;
    int64_t n_kept_val;
    int64_t n_empty;             /* removed: empty after normalising */
    int64_t n_too_short;         /* removed: fewer than min_chars characters */
    int64_t n_too_long;          /* removed: more than max_chars characters */
    int64_t n_low_alnum;         /* removed: letter + digit fraction below min_alnum */
    int64_t n_exact_duplicate;   /* removed: same lower-cased, white-space-collapsed text as an earlier document */
    int64_t n_near_duplicate;    /* removed: MinHash Jaccard estimate >= near_dup to an earlier kept document */
    int64_t n_bad_json_line;     /* JSONL lines skipped (not JSON, not an object, no text field) */
    int64_t n_invalid_utf8;      /* invalid UTF-8 sequences replaced by U+FFFD */
    uint64_t bytes_total;        /* size of all inputs */
    uint64_t bytes_in;           /* input bytes read (so far) */
    int64_t chars_in;            /* characters (code points) of the documents read */
    int64_t chars_out;           /* characters of the kept documents */
    int64_t n_tokens_train;      /* tokens written to train shards (0 without a tokenizer) */
    int64_t n_tokens_val;
    int64_t n_shards_train;      /* shard files written (0 without a tokenizer) */
    int64_t n_shards_val;
    double seconds;              /* wall time (so far) */
} fathom_data_prepare_stats;

/* Called after each batch of documents with the counts so far (from the calling thread). */
typedef void (*fathom_data_progress_fn)(const fathom_data_prepare_stats* stats, void* user_data);

typedef struct fathom_data_prepare_options {
    size_t struct_size;
    const char* split;        /* how plain-text files divide into documents: "paragraph" (default: blank lines
                                 separate documents), "line" or "file"; .jsonl / .ndjson files hold one per line */
    const char* text_field;   /* JSONL field with the document text; default "text" */
    int64_t min_chars;        /* default 20 */
    int64_t max_chars;        /* default 1000000 */
    double min_alnum;         /* default 0.5 */
    double near_dup;          /* default 0.8; 0 turns near-duplicate removal off */
    double val_fraction;      /* default 0.05 */
    uint64_t seed;            /* seeds the split and MinHash hashes; default 0 */
    const char* tokenizer;    /* GGUF with tokenizer metadata, vocabulary-only GGUF or tokenizer.json; NULL (default)
                                 = write JSONL only */
    int64_t shard_tokens;     /* most tokens per shard file; default 100000000 */
    int32_t n_threads;        /* 0 (default) = hardware threads */
    fathom_data_progress_fn progress; /* may be NULL (default) */
    void* progress_user_data;
} fathom_data_prepare_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_data_prepare_options_init(fathom_data_prepare_options* opts);
/* Prepares training data from n_inputs text / JSONL files into the folder out_dir (created if missing):
 * normalises each document (invalid UTF-8 -> U+FFFD, NFC, CRLF/CR -> LF, control characters removed, trailing
 * spaces stripped, 3+ line breaks -> 2, trimmed), removes empty / too short / too long / low-alphanumeric
 * documents, exact and near duplicates (first one kept), and splits the rest by a hash of their text into
 * train.jsonl and val.jsonl ({"text": ...} per line). With a tokenizer, each kept document becomes [BOS if the
 * tokenizer adds one] + tokens + [EOS], concatenated into token shards train-00000.bin, ... and val-00000.bin, ...
 * (format: "FTKS", u32 version 1, u32 token_bytes (2 if n_vocab <= 65536, else 4), u32 n_vocab, u64 n_tokens,
 * u64 0, then the tokens; little-endian). manifest.json records inputs, options, shards and the counts. Output
 * is the same for any n_threads. A bad JSONL line is logged (warning) and counted; a missing input file fails with
 * FATHOM_ERR_IO naming it. opts and stats may be NULL. */
FATHOM_API fathom_status fathom_data_prepare(const char* const* inputs, int64_t n_inputs,
                                             const fathom_data_prepare_options* opts, const char* out_dir,
                                             fathom_data_prepare_stats* stats);

/* ------------------------------------------------------------------ sessions */

typedef struct fathom_session_options {
    size_t struct_size;
    int64_t n_ctx;     /* positions per sequence; 0 (default) = min(model n_ctx_train, 4096) */
    int32_t n_seq;     /* independent sequences sharing the cache; default 1 */
    int32_t n_threads; /* 0 (default) = physical cores */
    int64_t n_batch;   /* most tokens run in one forward pass, larger batches are split; default 512 */
} fathom_session_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_session_options_init(fathom_session_options* opts);

/* Creates a session (allocates the KV cache) for a model. opts may be NULL. */
FATHOM_API fathom_status fathom_session_create(const fathom_model* model, const fathom_session_options* opts,
                                               fathom_session** out);
/* Frees a session. NULL is a no-op. */
FATHOM_API void fathom_session_free(fathom_session* session);
/* Positions per sequence of this session (after defaults were applied). */
FATHOM_API fathom_status fathom_session_n_ctx(const fathom_session* session, int64_t* n_ctx);
/* Threads the session runs on (after defaults were applied). */
FATHOM_API fathom_status fathom_session_n_threads(const fathom_session* session, int32_t* n_threads);

/* A batch of tokens to run. Arrays hold n_tokens entries each. */
typedef struct fathom_batch {
    size_t struct_size;      /* sizeof(fathom_batch) */
    int64_t n_tokens;
    const int32_t* tokens;   /* token ids */
    const int32_t* pos;      /* positions; NULL = each token continues its sequence */
    const int32_t* seq;      /* sequence ids; NULL = all sequence 0 */
    const int8_t* logits;    /* non-zero: keep this token's logits; NULL = only the last token's */
} fathom_batch;
/* Runs the model over a batch, writing each token's K/V at (seq, pos). Within a sequence positions must follow
 * on from fathom_session_seq_len without gaps. Logits of the marked tokens replace those of the previous call. */
FATHOM_API fathom_status fathom_session_decode(fathom_session* session, const fathom_batch* batch);
/* Number of logits rows kept by the last decode (tokens that were marked). */
FATHOM_API fathom_status fathom_session_n_logits(const fathom_session* session, int64_t* n);
/* Logits (n_vocab floats) of the i-th marked token of the last decode; i = -1 means the last one.
 * Valid until the next decode or the session is freed. */
FATHOM_API fathom_status fathom_session_logits(const fathom_session* session, int64_t i, const float** logits);
/* Number of positions held for sequence `seq` (the next position to write). */
FATHOM_API fathom_status fathom_session_seq_len(const fathom_session* session, int32_t seq, int32_t* len);
/* Forgets positions >= pos of sequence `seq` (pos = 0 clears it). */
FATHOM_API fathom_status fathom_session_truncate(fathom_session* session, int32_t seq, int32_t pos);

/* ------------------------------------------------------------------ sampling */

/* fathom_sampler_options.seed value that asks for a seed from the system's entropy source. */
#define FATHOM_SEED_RANDOM UINT64_MAX

/* Applied in this order: penalties, top-k, softmax with temperature, top-p, min-p, draw. */
typedef struct fathom_sampler_options {
    size_t struct_size;
    float temperature;       /* <= 0: greedy (argmax after penalties); default 0.8 */
    int32_t top_k;           /* keep the k most likely tokens; <= 0 = off; default 40 */
    float top_p;             /* keep the smallest set with probability >= top_p; >= 1 = off; default 0.95 */
    float min_p;             /* keep tokens with p >= min_p * p_max; <= 0 = off; default 0.05 */
    float repeat_penalty;    /* llama.cpp: logit / r if > 0, logit * r otherwise, for tokens in the window; 1 = off */
    float frequency_penalty; /* OpenAI: logit -= count * f over the window; default 0 */
    float presence_penalty;  /* OpenAI: logit -= p if the token occurs in the window; default 0 */
    int32_t penalty_last_n;  /* window: the last n accepted tokens; 0 = no penalties, -1 = all; default 64 */
    uint64_t seed;           /* PRNG seed; FATHOM_SEED_RANDOM (default) picks one */
} fathom_sampler_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_sampler_options_init(fathom_sampler_options* opts);

/* Creates a sampler. opts may be NULL. */
FATHOM_API fathom_status fathom_sampler_create(const fathom_sampler_options* opts, fathom_sampler** out);
/* Frees a sampler. NULL is a no-op. */
FATHOM_API void fathom_sampler_free(fathom_sampler* sampler);
/* Picks a token from n_vocab logits (which are not modified). Does not record it: call fathom_sampler_accept. */
FATHOM_API fathom_status fathom_sampler_sample(fathom_sampler* sampler, const float* logits, int64_t n_vocab,
                                               int32_t* token);
/* Records a token (prompt or generated) in the penalty window. */
FATHOM_API fathom_status fathom_sampler_accept(fathom_sampler* sampler, int32_t token);
/* Clears the penalty history and restarts the PRNG from the seed (same seed, same draws again). */
FATHOM_API fathom_status fathom_sampler_reset(fathom_sampler* sampler);
/* The seed in use (the one picked when FATHOM_SEED_RANDOM was asked for). */
FATHOM_API fathom_status fathom_sampler_seed(const fathom_sampler* sampler, uint64_t* seed);

/* ------------------------------------------------------------------ generation */

typedef struct fathom_generate_options {
    size_t struct_size;
    int32_t max_tokens;          /* most tokens to generate; -1 = until a stop token or the context is full; default 128 */
    int32_t seq;                 /* sequence to extend; default 0 */
    const int32_t* stop_tokens;  /* extra token ids that end generation (not emitted); may be NULL */
    int32_t n_stop_tokens;
    int32_t ignore_eos;          /* 0 (default): the model's end-of-generation tokens (fathom_token_is_eog) also
                                    end generation */
    const char* const* stop_strings; /* texts that end generation when the generated text contains one; may be NULL.
                                        Needs a tokenizer. Tokens are passed to the callback only once their text can
                                        no longer be the start of a stop string; the token holding the start of the
                                        match and those after it are never passed (they are in the cache). */
    int32_t n_stop_strings;
} fathom_generate_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_generate_options_init(fathom_generate_options* opts);

/* Why generation ended. */
typedef enum fathom_stop_reason {
    FATHOM_STOP_MAX_TOKENS = 0, /* max_tokens were generated */
    FATHOM_STOP_TOKEN = 1,      /* a stop token (or EOS) was sampled */
    FATHOM_STOP_CALLBACK = 2,   /* the callback returned non-zero */
    FATHOM_STOP_CONTEXT = 3,    /* the sequence reached the session's n_ctx */
    FATHOM_STOP_STRING = 4      /* the generated text contains a stop string */
} fathom_stop_reason;

typedef struct fathom_generate_stats {
    size_t struct_size;        /* set by the caller to sizeof(fathom_generate_stats) */
    int64_t n_prompt_tokens;   /* tokens run in the prompt pass */
    double prompt_seconds;     /* wall time of the prompt pass */
    int64_t n_decode_tokens;   /* single-token decode passes (one per sampled token that was kept) */
    double decode_seconds;     /* wall time of those passes */
    double sample_seconds;     /* wall time spent sampling */
    int64_t n_generated;       /* tokens passed to the callback (held-back stop-string tokens excluded) */
    int32_t stop_reason;       /* a fathom_stop_reason */
} fathom_generate_stats;

/* Called with each generated token, in order; return non-zero to stop after this token. */
typedef int (*fathom_token_fn)(int32_t token, void* user_data);

/* Runs the prompt (n_prompt >= 1 tokens, appended to sequence opts->seq at its current length), accepts the
 * prompt into the sampler's penalty window, then samples, emits (callback, may be NULL) and decodes tokens until
 * max_tokens, a stop token, the callback or the end of the context. Every emitted token is in the cache on return.
 * opts and stats may be NULL. */
FATHOM_API fathom_status fathom_generate(fathom_session* session, fathom_sampler* sampler, const int32_t* prompt,
                                         int64_t n_prompt, const fathom_generate_options* opts,
                                         fathom_token_fn callback, void* user_data, fathom_generate_stats* stats);

/* ------------------------------------------------------------------ conversion and synthesis */

typedef struct fathom_convert_options {
    size_t struct_size;
    fathom_type type;  /* type of 2-D weights: F32, F16 (default) or BF16; norms and 1-D tensors stay F32 */
} fathom_convert_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_convert_options_init(fathom_convert_options* opts);
/* Converts a Hugging Face folder (or a GGUF file) at src into a GGUF file at dst. opts may be NULL. */
FATHOM_API fathom_status fathom_convert(const char* src, const char* dst, const fathom_convert_options* opts);

typedef struct fathom_quantize_options {
    size_t struct_size;
    const char* type; /* weight type or mix: "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl", "q4_k", "q5_k", "q6_k",
                         "iq4_xs", "f16", "bf16", "f32", or "q4_k_m" (default), "q4_k_s", "q5_k_m", "q5_k_s" */
    const char* const* tensor_types; /* "PATTERN=TYPE" overrides, PATTERN a glob ('*', '?') over GGUF tensor names
                                        such as "blk.*.ffn_down.weight"; the first match wins; may be NULL */
    int32_t n_tensor_types;
    int32_t n_threads;        /* 0 = physical cores */
    int32_t allow_requantize; /* 0 (default): a source that is already quantised is refused */
    const char* imatrix_path; /* importance data from fathom_calibrate (llama.cpp's GGUF imatrix): each element's squared
                                 error is weighted by its column's mean squared activation when scales are chosen;
                                 NULL (default) = none */
    int32_t awq;              /* 1: before quantising, scale input channels by their importance (AWQ-style, folded into
                                 the attention / FFN norms and ffn_up so full precision computes the same function),
                                 the exponent per group searched for the least weighted error; needs imatrix_path */
} fathom_quantize_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_quantize_options_init(fathom_quantize_options* opts);

typedef struct fathom_quantize_stats {
    size_t struct_size;         /* set by the caller to sizeof(fathom_quantize_stats) */
    uint64_t bytes_in;          /* tensor data read */
    uint64_t bytes_out;         /* tensor data written */
    int64_t n_weights;          /* elements of all tensors */
    double bits_per_weight;     /* 8 * bytes_out / n_weights */
    int64_t n_tensors;          /* tensors written */
    int64_t n_quantized;        /* of which in a quantised block type */
    int64_t n_fallback;         /* tensors whose row length did not fit the wanted type's block (a close type used) */
    double seconds;             /* wall time */
    int64_t n_importance;       /* quantised tensors whose scales used imatrix_path's data */
} fathom_quantize_stats;

/* Quantises a model (GGUF F32/F16/BF16 file or Hugging Face folder) at src into a GGUF file at dst. 2-D weights
 * get the chosen type (mixes put the output head, and attn_v / ffn_down of some layers, at 6 bits as llama.cpp's
 * do); norms and biases stay F32. opts and stats may be NULL. */
FATHOM_API fathom_status fathom_quantize(const char* src, const char* dst, const fathom_quantize_options* opts,
                                         fathom_quantize_stats* stats);

typedef struct fathom_synth_options {
    size_t struct_size;
    const char* arch;   /* model family; "llama" (default) */
    const char* shape;  /* one of fathom_synth_shapes(); default "tiny" */
    fathom_type type;   /* weight type: F32 (default), F16 or BF16; norms stay F32 */
    uint64_t seed;      /* weights ~ normal(0, 0.02) from this seed; default 1 */
    int32_t n_threads;  /* 0 = physical cores */
} fathom_synth_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_synth_options_init(fathom_synth_options* opts);
/* Comma-separated names of the shapes fathom_synth knows, e.g. "tiny, mini, llama-125m, tinyllama-1.1b". */
FATHOM_API const char* fathom_synth_shapes(void);
/* Writes an untrained random-weight model of a named shape as GGUF at out_path (streamed, never all in memory).
 * opts may be NULL. */
FATHOM_API fathom_status fathom_synth(const fathom_synth_options* opts, const char* out_path);

/* ------------------------------------------------------------------ training */

/* Passed to the training progress callback after every step. */
typedef struct fathom_train_progress {
    size_t struct_size;    /* sizeof(fathom_train_progress) of the library */
    int64_t step;          /* updates done so far (1 .. total_steps) */
    int64_t total_steps;
    float loss;            /* mean training loss of this step's micro-batches */
    float val_loss;        /* validation loss measured after this step; NaN when none ran */
    float lr;              /* learning rate of this step's update */
    float grad_norm;       /* global L2 gradient norm before clipping */
    double tokens_per_s;   /* training tokens per second in this run */
    double elapsed_s;      /* wall time of the training, carried across resumes */
    double eta_s;          /* estimated seconds to the last step */
    int32_t logged;        /* 1 when this step was written to out/log.jsonl (every log_every steps, the first, the last) */
    const char* out_dir;   /* the run's output folder (config "out"); valid during the call */
} fathom_train_progress;
typedef void (*fathom_train_progress_fn)(const fathom_train_progress* p, void* user_data);
/* Polled after every step; non-zero asks the run to stop there (see fathom_train_options.should_stop). */
typedef int32_t (*fathom_train_stop_fn)(void* user_data);

typedef struct fathom_train_options {
    size_t struct_size;
    const char* config_path;  /* JSON run configuration (required); keys: `fathom train --help` */
    int32_t n_threads;        /* > 0 overrides the config's "threads"; default 0 */
    int32_t resume;           /* 1: continue from out/checkpoint.gguf (as "resume": true); default 0 */
    fathom_train_progress_fn progress; /* called from the calling thread after each step; may be NULL (default) */
    void* progress_user_data;
    int64_t stop_after;       /* > 0: stop after this step, writing a checkpoint, as if interrupted; default 0 */
    fathom_train_stop_fn should_stop; /* polled (with progress_user_data) after each step; non-zero: stop after that
                                         step, writing a checkpoint, and return FATHOM_OK (a later run with resume
                                         continues). How `fathom train` keeps its progress on Ctrl-C. May be NULL. */
} fathom_train_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_train_options_init(fathom_train_options* opts);
/* Trains a Llama-family model as the config file says (a new model of a given shape, or "init_from" an existing
 * one) on token shards: AdamW with warmup + cosine LR, gradient clipping and accumulation, batches sampled
 * deterministically from (seed, step, row), periodic validation. Writes out/log.jsonl, out/checkpoint.gguf
 * (parameters + AdamW moments; a resumed run reproduces the uninterrupted run's losses bit for bit with the same
 * threads) and the final model out/model.gguf, which fathom_model_load reads. Config errors name the file and key. */
FATHOM_API fathom_status fathom_train(const fathom_train_options* opts);

/* ------------------------------------------------------------------ LoRA fine-tuning */

typedef struct fathom_tune_options {
    size_t struct_size;
    const char* base;                /* base model file or folder, any weight type (required) */
    const char* const* data;         /* training files: .jsonl / .ndjson (field text_field) or plain text with
                                        blank-line separated documents (required, n_data >= 1) */
    int32_t n_data;
    const char* const* val_data;     /* validation files; NULL = a hash-chosen val_fraction of the documents */
    int32_t n_val_data;
    double val_fraction;             /* default 0.1 */
    const char* text_field;          /* default "text" */
    const char* out_path;            /* adapter GGUF to write (required) */
    int32_t rank;                    /* default 8 */
    float alpha;                     /* default 16 */
    const char* targets;             /* comma-separated of q,k,v,o,gate,up,down; default all seven */
    int64_t steps;                   /* default 200 */
    int64_t batch_size;              /* default 4 */
    int64_t seq_len;                 /* default 128 (at most the base's context) */
    int64_t grad_accum;              /* default 1 */
    double lr;                       /* default 1e-3, warmup then cosine to lr / 10 */
    int64_t warmup;                  /* default 10 */
    double weight_decay;             /* default 0 */
    double grad_clip;                /* default 1.0; 0 = off */
    uint64_t seed;                   /* default 1 */
    int32_t n_threads;               /* 0 = physical cores */
    fathom_train_progress_fn progress; /* after every step (step, total_steps, loss, val_loss, lr, tokens_per_s); may
                                          be NULL */
    void* progress_user_data;
} fathom_tune_options;

typedef struct fathom_tune_result {
    size_t struct_size;
    double val_loss_before;          /* validation loss of the base alone */
    double val_loss_after;
    int64_t train_tokens, val_tokens;
    int64_t adapter_params;
    uint64_t adapter_bytes, base_bytes;
} fathom_tune_result;

/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_tune_options_init(fathom_tune_options* opts);
/* Trains a LoRA adapter on a frozen base model (F32 / F16 / BF16 or quantised, QLoRA-style: the base stays in its
 * type and runs through the inference kernels) and writes it as a LoRA GGUF (fathom_lora_load, llama.cpp's
 * --lora). Documents are tokenized with the base's tokenizer ([BOS] text EOS). result may be NULL. Errors name
 * the option or file. */
FATHOM_API fathom_status fathom_tune(const fathom_tune_options* opts, fathom_tune_result* result);

/* ------------------------------------------------------------------ LoRA adapters */

typedef struct fathom_lora fathom_lora; /* a LoRA adapter in F32; immutable, shareable by sessions and threads */

/* Loads a LoRA adapter (llama.cpp's LoRA GGUF: general.type "adapter", adapter.type "lora", adapter.lora.alpha,
 * "<weight>.lora_a" {n_in, rank} and "<weight>.lora_b" {rank, n_out} in F32 / F16 / BF16) and validates it against
 * the model: architecture, every A with its B, base weights present (the seven linear weights of a layer) and
 * shapes. Errors name the adapter file and the key or tensor. The adapter does not refer to the model afterwards:
 * it can be set on sessions of any model with the same weight names and shapes. */
FATHOM_API fathom_status fathom_lora_load(const fathom_model* model, const char* path, fathom_lora** out);
/* Frees an adapter; sessions it is set on keep their own reference. NULL is a no-op. */
FATHOM_API void fathom_lora_free(fathom_lora* lora);

/* Replaces the session's active adapters with adapters[0..n) at scales[0..n) (scales NULL = all 1; n = 0 = none,
 * the base model). Each adapted matmul then adds scale * alpha / rank * (x A^T) B^T. Positions already in the KV
 * cache keep the keys and values computed with the adapters active then (not recomputed, as in llama.cpp). */
FATHOM_API fathom_status fathom_session_set_lora(fathom_session* session, const fathom_lora* const* adapters,
                                                 const float* scales, int32_t n);

typedef struct fathom_lora_merge_options {
    size_t struct_size;
    const char* const* adapters; /* adapter file paths (required, n_adapters >= 1) */
    const float* scales;         /* one multiplier per adapter; NULL = all 1 */
    int32_t n_adapters;
    const char* type;            /* type of the merged weights: NULL or "" (default) = each base tensor's own type;
                                    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", ... Other tensors are copied. */
    int32_t n_threads;           /* 0 (default) = physical cores */
} fathom_lora_merge_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_lora_merge_options_init(fathom_lora_merge_options* opts);
/* Writes the GGUF model at base_path with adapters merged into dst_path: W' = W + sum of scale * alpha / rank * B A,
 * computed in F32 from the dequantised base weight. opts is required (it names the adapters). */
FATHOM_API fathom_status fathom_lora_merge(const char* base_path, const char* dst_path,
                                           const fathom_lora_merge_options* opts);

/* ------------------------------------------------------------------ calibration */

typedef struct fathom_calibrate_options {
    size_t struct_size;
    const char* const* data;  /* UTF-8 text files (required, n_data >= 1), concatenated */
    int32_t n_data;
    int64_t n_ctx;            /* tokens per chunk; 0 (default) = min(512, the model's context) */
    int64_t max_chunks;       /* 0 (default) = all whole chunks */
    int32_t n_threads;        /* 0 (default) = physical cores */
    void (*progress)(int64_t done, int64_t total, void* user_data); /* after each chunk; may be NULL */
    void* progress_user_data;
} fathom_calibrate_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_calibrate_options_init(fathom_calibrate_options* opts);
/* Runs the model over the text (chunks of n_ctx tokens, BOS first) and writes the mean-square statistics of every
 * matmul input as a GGUF imatrix at out_path (llama.cpp's layout: "<weight>.in_sum2" and "<weight>.counts" tensors,
 * imatrix.datasets / chunk_count / chunk_size), for fathom_quantize_options.imatrix_path. Run it on the
 * full-precision model. */
FATHOM_API fathom_status fathom_calibrate(const fathom_model* model, const fathom_calibrate_options* opts,
                                         const char* out_path);

/* ------------------------------------------------------------------ mixed-precision plans */

typedef struct fathom_plan_options {
    size_t struct_size;
    const char* const* data;     /* calibration text files (required unless sensitivity_json is given) */
    int32_t n_data;
    const char* types;           /* comma-separated candidate types; NULL (default) = q4_0, q4_1, q5_0, q5_1, iq4_nl,
                                    q4_k, q5_k, q6_k, iq4_xs, q8_0, f16 */
    int64_t n_ctx;               /* calibration chunk length; 0 (default) = min(512, the model's context) */
    int64_t max_chunks;          /* chunks per measurement; default 4 (0 = all) */
    const char* imatrix_path;    /* importance data used for the quantised candidates; NULL = none */
    const char* sensitivity_json; /* sensitivities from an earlier plan's JSON ("sensitivity" object) to reuse instead
                                     of measuring; NULL (default) = measure */
    double target_bpw;           /* > 0: at most this many bits per weight over the file */
    double max_kld;              /* > 0 (target_bpw 0): the smallest file whose predicted KL divergence is at most this */
    int32_t n_threads;           /* 0 (default) = physical cores */
    void (*progress)(int64_t done, int64_t total, void* user_data); /* after each measurement; may be NULL */
    void* progress_user_data;
} fathom_plan_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_plan_options_init(fathom_plan_options* opts);

typedef struct fathom_plan_result fathom_plan_result;

/* Measures, for every 2-D weight of the F32 / F16 / BF16 model at src and every candidate type, the mean KL divergence
 * of next-token distributions from the unquantised model's when only that tensor is quantised (on the calibration
 * text), then picks each tensor's type to minimise the summed divergence under target_bpw (or the size under
 * max_kld). Pass the chosen types to fathom_quantize as tensor_types "NAME=TYPE" to write the file. */
FATHOM_API fathom_status fathom_quantize_plan(const char* src, const fathom_plan_options* opts,
                                              fathom_plan_result** out);
/* {"plan": {"bits_per_weight", "predicted_kld", "tensors": [{"name", "type", "kld", "bits"}]}, "sensitivity":
 * {"types", "n_ctx", "chunks", "tensors": [{"name", "n_elements", "kld": {type: value}}]}}; valid until freed. */
FATHOM_API const char* fathom_plan_result_json(const fathom_plan_result* result);
FATHOM_API void fathom_plan_result_free(fathom_plan_result* result);

/* ------------------------------------------------------------------ evaluation */

/* Called while fathom_eval runs: stage ("perplexity", "choices", "generate", "latency"), units done, total. */
typedef void (*fathom_eval_progress_fn)(const char* stage, int64_t done, int64_t total, void* user_data);

typedef struct fathom_eval_options {
    size_t struct_size;
    const fathom_model* reference; /* KL divergence and top-1 agreement against this model (same vocabulary), on the
                                      perplexity text; NULL (default) = none */
    const char* text_path;         /* UTF-8 text for perplexity; NULL (default) = skip */
    int64_t n_ctx;                 /* perplexity chunk length; 0 (default) = min(512, the model's context) */
    int64_t max_chunks;            /* 0 (default) = all whole chunks */
    const char* mc_path;           /* multiple-choice JSONL {"context", "choices": [...], "label"}; NULL = skip */
    const char* gen_path;          /* JSONL {"prompt", "reference"} for BLEU-4 / ROUGE-L; NULL = skip */
    const char* gen_text_path;     /* or held-out text to cut prompts and references from; NULL = skip */
    int64_t gen_items;             /* items cut from gen_text_path; default 32 */
    int64_t gen_prompt_tokens;     /* prompt length of those items; default 64 */
    int64_t gen_tokens;            /* tokens to generate (and reference length for gen_text_path); default 32;
                                      0 with gen_path = each reference's token count */
    int32_t latency;               /* 1: measure time to first token and per-token latency; default 0 */
    int64_t latency_prompt_tokens; /* default 128 */
    int64_t latency_gen_tokens;    /* default 64 */
    int32_t latency_reps;          /* default 3 */
    int32_t with_outputs;          /* 1: the JSON keeps the generated texts; default 0 */
    int32_t n_threads;             /* 0 (default) = physical cores */
    fathom_eval_progress_fn progress; /* may be NULL */
    void* progress_user_data;
} fathom_eval_options;
/* Fills opts with defaults and sets struct_size. */
FATHOM_API void fathom_eval_options_init(fathom_eval_options* opts);

typedef struct fathom_eval_result fathom_eval_result; /* the measurements of one fathom_eval call */

/* Evaluates a model: perplexity computed as llama.cpp's perplexity tool does (non-overlapping chunks of n_ctx
 * tokens, the first replaced by BOS, the second half of each chunk scored), KL divergence / top-1 agreement against
 * a reference, multiple-choice accuracy, BLEU-4 (13a tokens, corpus level) and ROUGE-L of greedy continuations,
 * latency, and the process's peak resident memory. Errors name the file, line or option. */
FATHOM_API fathom_status fathom_eval(const fathom_model* model, const fathom_eval_options* opts,
                                     fathom_eval_result** out);
/* The result as a JSON object (sections model, system, reference, perplexity, choices, generation, latency,
 * memory; those not measured are absent); valid until the result is freed. */
FATHOM_API const char* fathom_eval_result_json(const fathom_eval_result* result);
/* NULL is a no-op. */
FATHOM_API void fathom_eval_result_free(fathom_eval_result* result);
/* Writes a self-contained HTML report (tables and inline SVG plots: perplexity and KL divergence against bits per
 * weight, per-layer sensitivity when a result carries it) from n JSON results (fathom_eval_result_json texts, or
 * JSON arrays of them). title may be NULL. */
FATHOM_API fathom_status fathom_eval_report_html(const char* const* results_json, int32_t n, const char* title,
                                                 const char* out_path);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FATHOM_H */
