// Text tokenizers loaded from GGUF tokenizer.ggml.* metadata: SentencePiece BPE, byte-level BPE, WordPiece.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/model-file.h"

namespace fathom::text {

enum class tokenizer_kind { TOKENIZER_KIND_SPM, TOKENIZER_KIND_BPE, TOKENIZER_KIND_WPM };

// Token types as stored in tokenizer.ggml.token_type.
enum class token_type : int32_t {
    TOKEN_TYPE_UNDEFINED = 0, TOKEN_TYPE_NORMAL = 1, TOKEN_TYPE_UNKNOWN = 2, TOKEN_TYPE_CONTROL = 3,
    TOKEN_TYPE_USER_DEFINED = 4, TOKEN_TYPE_UNUSED = 5, TOKEN_TYPE_BYTE = 6,
};

struct tokenizer_impl;

class tokenizer {
public:
    // Reads tokenizer.ggml.model ("llama", "gpt2", "bert"), .pre, .tokens, .scores, .token_type, .merges and the
    // special-token ids. Throws fathom::error naming the key on missing or malformed metadata.
    explicit tokenizer(const io::model_file& mf);
    ~tokenizer();
    tokenizer(tokenizer&&) noexcept;
    tokenizer& operator=(tokenizer&&) noexcept;

    // add_special: BOS/EOS (or CLS/SEP for WordPiece) as the vocabulary asks. parse_special: control tokens written
    // as text (e.g. "<|endoftext|>") become their ids; user-defined tokens are always matched whole.
    // Any byte string is accepted; invalid UTF-8 becomes byte tokens (or is dropped by WordPiece).
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
    // Concatenated pieces; control tokens are rendered only when render_special is true. For SentencePiece
    // the space added in front of the text by encode is removed again.
    std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const;
    // The text of one token as decode would produce it alone (raw token text for control tokens).
    std::string token_piece(int32_t id) const;
    const std::string& token_text(int32_t id) const;  // stored vocabulary string
    int32_t token_id(std::string_view text) const;    // -1 when absent
    token_type type_of(int32_t id) const;

    int32_t n_vocab() const;
    int32_t bos() const;  // -1 when the vocabulary has none
    int32_t eos() const;
    int32_t unk() const;
    // End-of-generation: EOS, tokenizer.ggml.eot_token_id / eom_token_id, and control tokens whose text names an end of
    // turn (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|EOT|>, <|endoftext|>, ...).
    bool is_eog(int32_t id) const;
    const std::vector<int32_t>& eog_ids() const;  // sorted
    bool add_bos() const;
    bool add_eos() const;
    tokenizer_kind kind() const;
    const std::string& pre() const;  // pre-tokenizer name (tokenizer.ggml.pre, "default" when absent)

private:
    std::unique_ptr<tokenizer_impl> p_;
};

}  // namespace fathom::text
