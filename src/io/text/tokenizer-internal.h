// Shared state of the tokenizer implementations (SPM, byte-level BPE, WordPiece); internal to src/io/text.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/text/tokenizer.h"

namespace fathom::text {

struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using token_map = std::unordered_map<std::string, int32_t, string_hash, std::equal_to<>>;

// Compiled pre-tokenizer: a sequence of regexes, each splitting the pieces left by the previous one
// (matches and the text between matches both stay pieces, as "isolated" splitting does).
class pretokenizer {
public:
    pretokenizer() = default;
    explicit pretokenizer(const std::vector<std::string>& patterns);
    ~pretokenizer();
    pretokenizer(const pretokenizer&) = delete;
    pretokenizer& operator=(const pretokenizer&) = delete;
    pretokenizer(pretokenizer&& o) noexcept;
    pretokenizer& operator=(pretokenizer&& o) noexcept;
    // Appends (offset, length) pieces of text to out.
    void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

private:
    std::vector<void*> codes_;  // pcre2_code_8*
    std::vector<uint8_t> jit_;   // 1 where JIT compilation succeeded
};

// The regex list llama.cpp uses for a tokenizer.ggml.pre name (and whether whole-word vocabulary hits skip merges).
std::vector<std::string> pretokenizer_patterns(const std::string& pre, bool& ignore_merges);

// SentencePiece vocabularies: true when no piece has U+2581 after other text (words then encode independently).
bool spm_words_independent(const std::vector<std::string>& tokens);

// Decodes one code point at s[i]; on invalid UTF-8 returns false and sets len = 1.
bool utf8_next(std::string_view s, size_t i, uint32_t& cp, size_t& len);
void utf8_append(std::string& out, uint32_t cp);

struct tokenizer_impl {
    tokenizer_kind kind = tokenizer_kind::TOKENIZER_KIND_SPM;
    std::string pre = "default";
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<token_type> types;
    token_map to_id;
    int32_t bos = -1, eos = -1, unk = -1, sep = -1, cls = -1;
    bool add_bos = false, add_eos = false, add_space_prefix = false, ignore_merges = false;
    bool wpm_lowercase = true;             // WordPiece: lowercase and strip accents (BERT uncased)
    std::vector<std::string> normalizer;   // fathom.tokenizer.normalizer steps applied to ordinary text


    std::vector<int32_t> eog;  // end-of-generation ids, sorted
    // special tokens (control / user-defined / unknown) sorted by text length, longest first
    std::vector<int32_t> specials;
    std::vector<uint32_t> specials_by_byte[256];  // positions in `specials`, bucketed by the token's first byte

    // byte-level BPE
    std::string byte_to_unicode[256];                   // GPT-2 byte -> UTF-8 of its stand-in code point
    std::unordered_map<uint32_t, uint8_t> unicode_to_byte;
    int32_t byte_token[256];                            // BPE: id of the byte's stand-in; SPM: <0xXX>; -1 if none
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;  // (left,right) -> (rank, merged id)
    pretokenizer pretok;
    mutable std::mutex cache_mu;
    mutable std::unordered_map<std::string, std::vector<int32_t>, string_hash, std::equal_to<>> word_cache;

    void load(const io::model_file& mf);
    int32_t find(std::string_view s) const {
        auto it = to_id.find(s);
        return it == to_id.end() ? -1 : it->second;
    }
    // Each model's encoding of one run of ordinary text (no special tokens inside).
    void encode_spm(std::string_view text, std::vector<int32_t>& out) const;
    void spm_word(std::string_view text, std::vector<int32_t>& out) const;  // text already uses U+2581 for spaces
    bool spm_word_split = false;  // spm_words_independent(tokens)
    void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
    void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
    void encode_wpm(std::string_view text, std::vector<int32_t>& out) const;
    std::string piece(int32_t id, bool render_special) const;
    // Applies the normalizer steps to a run of ordinary text (invalid UTF-8 bytes pass through unchanged).
    std::string normalize(std::string_view text) const;
};

}  // namespace fathom::text
