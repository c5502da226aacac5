// Helpers shared by the Hugging Face folder loader's files (hf.cpp, hf-config.cpp, hf-tokenizer.cpp).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "io/model-file.h"

namespace fathom::io::detail {

// Parses JSON text; on a syntax error throws ERRC_FORMAT "NAME: invalid JSON: <parser message with position>".
nlohmann::json parse_json(const std::string& text, const std::string& name);
// Reads a whole (small) text file; throws ERRC_IO naming it. `limit` bounds the size read.
std::string read_text_file(const std::string& path, size_t limit);
bool file_exists(const std::string& path);
// nlohmann's exception text without its "[json.exception.parse_error.101] " prefix.
std::string json_error_text(const std::exception& e);

// Adds tokenizer.ggml.* / tokenizer.chat_template keys from DIR/tokenizer.json (and tokenizer_config.json)
// when tokenizer.json exists. `n_vocab` is the model vocabulary size (config vocab_size).
void add_hf_tokenizer(model_file& m, const std::string& dir, int64_t n_vocab);
// n_vocab < 0: a tokenizer without a model (ids are bounded only by the tokenizer itself).
// The same from texts already in memory (fuzzer entry); `cfg_text` may be null. Names are used in errors.
void add_hf_tokenizer_text(model_file& m, const std::string& tok_text, const std::string& tok_name,
                           const std::string* cfg_text, const std::string& cfg_name, int64_t n_vocab);

}  // namespace fathom::io::detail
