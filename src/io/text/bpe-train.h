// Byte-level BPE training: pre-tokenised word counts, merges by pair count, and the vocabulary-only GGUF it writes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/model-file.h"

namespace fathom::text {

struct bpe_train_params {
    int32_t vocab_size = 32000;               // special tokens + 256 byte tokens + merged tokens
    std::vector<std::string> special_tokens;  // control tokens, ids 0..n-1 in this order
    int32_t bos = -1;                         // index into special_tokens; -1 = none
    int32_t eos = -1;                         // index into special_tokens; -1 = none
    std::string pre = "llama-bpe";            // pre-tokenizer name as in tokenizer.ggml.pre
    std::string chat_template;                // Jinja source stored as tokenizer.chat_template; "" = none
    int32_t min_frequency = 2;                // pairs seen fewer times are never merged
    int n_threads = 0;                        // 0 = physical cores
    // Reading and work division (the result never depends on them; tests make them small to cut text often).
    size_t block_bytes = size_t(32) << 20;    // bytes of a file read and counted per step
    size_t chunk_bytes = size_t(1) << 20;     // text handed to one thread at a time
};

// Checks every field; throws ERRC_INVALID_ARGUMENT "tokenizer train: FIELD: problem".
void bpe_check_params(const bpe_train_params& p);

// A pre-tokenised piece of the training text (raw bytes) and how often it occurs.
struct bpe_word {
    std::string text;
    int64_t count = 0;
};

struct bpe_train_stats {
    uint64_t bytes_read = 0;
    int64_t n_pieces = 0;   // pre-tokenised pieces counted
    int64_t n_words = 0;    // distinct pieces
    int32_t n_vocab = 0;    // tokens written
    int32_t n_merges = 0;
    double seconds = 0;
};

// Reads the files as bytes and returns the distinct pieces with counts, sorted by bytes. Texts of special tokens
// are cut out first (longest first, as tokenizer::encode with parse_special does) and never occur in a piece.
// Each file is its own text; files are read in blocks cut only where no piece can span the cut, so the counts are
// those of pre-tokenising every file whole. Throws ERRC_IO naming a file that cannot be read.
std::vector<bpe_word> bpe_count_words(const std::vector<std::string>& files, const bpe_train_params& p,
                                      bpe_train_stats* stats = nullptr);

// Learned merges. Symbols 0..255 are the bytes; each merge appends its result unless an earlier symbol already
// has the same bytes (then merge_result names that one and the vocabulary does not grow).
struct bpe_model {
    std::vector<std::string> symbols;                   // raw bytes of each symbol
    std::vector<std::pair<int32_t, int32_t>> merges;    // (left, right) symbol ids, in merge order
    std::vector<int32_t> merge_result;                  // symbol made by each merge
    std::vector<std::vector<int32_t>> segmentation;     // final symbols of each word (when asked for)
};

// Repeatedly merges the adjacent pair with the highest count (ties: smallest (left bytes, right bytes)) until the
// vocabulary (specials + symbols) reaches p.vocab_size or no pair occurs p.min_frequency times. A merge whose token
// text would equal a special token's text is never made.
bpe_model bpe_learn(const std::vector<bpe_word>& words, const bpe_train_params& p, bool keep_segmentation = false);

// GPT-2 byte-level text of raw bytes: each byte becomes its stand-in code point (as tokenizer.ggml.tokens stores it).
std::string bpe_byte_text(std::string_view raw);

// The vocabulary-only GGUF metadata: ids are specials, then the 256 bytes in byte order, then merged tokens.
io::model_file bpe_vocab_file(const bpe_model& m, const bpe_train_params& p, size_t n_files);

// Counts, learns and writes out_path. Deterministic: the same files and params (any n_threads) give the same bytes.
bpe_train_stats bpe_train(const std::vector<std::string>& files, const bpe_train_params& p,
                          const std::string& out_path);

}  // namespace fathom::text
