// Byte-level BPE: regex pre-tokenizers (PCRE2, UTF + UCP) per tokenizer.ggml.pre, and rank-ordered merging.
#include <algorithm>
#include <queue>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"
#include "io/text/tokenizer-internal.h"

namespace fathom::text {

namespace {

const char* const GPT2_RE = R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";
const char* const LLAMA3_RE =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
const char* const QWEN2_RE =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
const char* const CJK_RE = R"re([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";
// Cased-letter ranges used by DeepSeek LLM's tokenizer (singleton code points written as escapes so that
// no editor normalisation can change them).
const char* const DEEPSEEK_LLM_LETTERS_RE =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373"
    "\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F"
    "\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D"
    "\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4"
    "\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D"
    "\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A"
    "\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2"
    "\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+";

}  // namespace

std::vector<std::string> pretokenizer_patterns(const std::string& pre, bool& ignore_merges) {
    ignore_merges = false;
    auto is = [&](std::initializer_list<const char*> names) {
        for (const char* n : names)
            if (pre == n) return true;
        return false;
    };
    if (is({"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "dbrx", "smaug-bpe"})) {
        ignore_merges = is({"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"});
        return {LLAMA3_RE};
    }
    if (is({"gpt-2", "gpt2", "mpt", "olmo", "jais", "phi-2", "jina-es", "jina-de", "jina-v2-es", "jina-v2-de",
            "jina-v1-en", "jina-v2-code", "roberta-bpe"}))
        return {GPT2_RE};
    if (is({"default"})) return {R"re([\p{P}\$\+<=>\^~\|]+)re", GPT2_RE, R"re(\p{N}+)re", "[0-9][0-9][0-9]"};
    if (is({"falcon"})) return {R"re([\p{P}\$\+<=>\^~\|`]+)re", GPT2_RE, "[0-9][0-9][0-9]"};
    if (is({"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"}))
        return {R"re(\p{N})re", GPT2_RE};
    if (is({"qwen2", "qwen2.5", "qwen-2.5", "stablelm2", "deepseek-r1-qwen", "hunyuan", "megrez"})) return {QWEN2_RE};
    if (is({"deepseek-llm"}))
        return {R"re([\r\n])re", DEEPSEEK_LLM_LETTERS_RE,
                R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re",
                R"re(\s+$)re", CJK_RE, R"re(\p{N}+)re"};
    if (is({"deepseek-coder"}))
        return {R"re([\r\n])re", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", CJK_RE, R"re(\p{N})re"};
    if (is({"deepseek-v3", "deepseek3-llm"}))
        return {R"re(\p{N}{1,3})re", R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re",
                R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"};
    if (is({"bloom", "poro-chat", "gpt3-finnish"})) return {R"re( ?[^(\s|.,!?…。，、।۔،)]+)re"};
    fail(errc::ERRC_UNSUPPORTED, "tokenizer.ggml.pre: unknown pre-tokenizer '" + pre + "'");
}

pretokenizer::pretokenizer(const std::vector<std::string>& patterns) {
    for (const std::string& pat : patterns) {
        int err = 0;
        PCRE2_SIZE off = 0;
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                         PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
                                         &err, &off, nullptr);
        if (!code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            for (void* c : codes_) pcre2_code_free(static_cast<pcre2_code*>(c));
            codes_.clear();
            fail(errc::ERRC_INTERNAL, "pre-tokenizer regex at offset " + std::to_string(off) + ": " +
                                          reinterpret_cast<const char*>(msg));
        }
        // JIT when available (pcre2_jit_match then skips the interpreter's per-call setup); else the interpreter.
        jit_.push_back(pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0 ? 1 : 0);
        codes_.push_back(code);
    }
}

pretokenizer::~pretokenizer() {
    for (void* c : codes_) pcre2_code_free(static_cast<pcre2_code*>(c));
}
pretokenizer::pretokenizer(pretokenizer&& o) noexcept : codes_(std::move(o.codes_)), jit_(std::move(o.jit_)) {
    o.codes_.clear();
    o.jit_.clear();
}
pretokenizer& pretokenizer::operator=(pretokenizer&& o) noexcept {
    if (this != &o) {
        for (void* c : codes_) pcre2_code_free(static_cast<pcre2_code*>(c));
        codes_ = std::move(o.codes_);
        jit_ = std::move(o.jit_);
        o.codes_.clear();
        o.jit_.clear();
    }
    return *this;
}

void pretokenizer::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
    std::vector<std::pair<size_t, size_t>> cur{{0, text.size()}}, next;
    if (text.empty()) return;
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    if (!md) fail(errc::ERRC_OUT_OF_MEMORY, "pre-tokenizer: cannot allocate match data");
    for (size_t ci = 0; ci < codes_.size(); ++ci) {
        const auto* code = static_cast<const pcre2_code*>(codes_[ci]);
        const bool jit = jit_[ci] != 0;
        next.clear();
        for (const auto& [off, len] : cur) {
            const auto* subj = reinterpret_cast<PCRE2_SPTR>(text.data() + off);
            size_t start = 0, last = 0;
            while (start <= len) {
                const int rc = jit ? pcre2_jit_match(code, subj, len, start, 0, md, nullptr)
                                   : pcre2_match(code, subj, len, start, 0, md, nullptr);
                if (rc < 0) break;
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                const size_t b = ov[0], e = ov[1];
                if (e == b) {  // empty match: step past one byte (patterns here never match empty)
                    start = b + 1;
                    continue;
                }
                if (b > last) next.emplace_back(off + last, b - last);
                next.emplace_back(off + b, e - b);
                last = start = e;
            }
            if (last < len) next.emplace_back(off + last, len - last);
        }
        cur.swap(next);
    }
    pcre2_match_data_free(md);
    out.insert(out.end(), cur.begin(), cur.end());
}

void tokenizer_impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
    const size_t n = word.size();
    if (n == 0) return;
    if (ignore_merges) {
        std::string mapped;
        for (unsigned char c : word) mapped += byte_to_unicode[c];
        const int32_t id = find(mapped);
        if (id >= 0) { out.push_back(id); return; }
    }
    std::vector<int32_t> id(n), nxt(n), prv(n);
    for (size_t i = 0; i < n; ++i) {
        id[i] = byte_token[static_cast<unsigned char>(word[i])];
        nxt[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
        prv[i] = static_cast<int32_t>(i) - 1;
    }
    struct cand {
        int32_t rank, left, lid, rid;
        bool operator>(const cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<cand, std::vector<cand>, std::greater<cand>> q;
    auto try_add = [&](int32_t l) {
        if (l < 0) return;
        const int32_t r = nxt[l];
        if (r < 0 || id[l] < 0 || id[r] < 0) return;
        const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(id[l])) << 32) | static_cast<uint32_t>(id[r]);
        auto it = merges.find(key);
        if (it != merges.end()) q.push({it->second.first, l, id[l], id[r]});
    };
    for (size_t i = 0; i + 1 < n; ++i) try_add(static_cast<int32_t>(i));
    while (!q.empty()) {
        const cand c = q.top();
        q.pop();
        const int32_t r = nxt[c.left];
        if (id[c.left] != c.lid || r < 0 || id[r] != c.rid) continue;  // stale
        id[c.left] = merges.at((static_cast<uint64_t>(static_cast<uint32_t>(c.lid)) << 32) |
                               static_cast<uint32_t>(c.rid)).second;
        id[r] = -2;  // dead
        nxt[c.left] = nxt[r];
        if (nxt[r] >= 0) prv[nxt[r]] = c.left;
        try_add(prv[c.left]);
        try_add(c.left);
    }
    for (int32_t i = 0; i >= 0; i = nxt[i]) {
        if (id[i] >= 0) out.push_back(id[i]);
        else if (unk >= 0) out.push_back(unk);
    }
}

void tokenizer_impl::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
    std::vector<std::pair<size_t, size_t>> pieces;
    pretok.split(text, pieces);
    std::vector<int32_t> tmp;
    for (const auto& [off, len] : pieces) {
        const std::string_view w = text.substr(off, len);
        const bool cacheable = len <= 64;
        if (cacheable) {
            std::lock_guard<std::mutex> lock(cache_mu);
            auto it = word_cache.find(w);
            if (it != word_cache.end()) {
                out.insert(out.end(), it->second.begin(), it->second.end());
                continue;
            }
        }
        tmp.clear();
        bpe_word(w, tmp);
        out.insert(out.end(), tmp.begin(), tmp.end());
        if (cacheable) {
            std::lock_guard<std::mutex> lock(cache_mu);
            if (word_cache.size() > (1u << 17)) word_cache.clear();
            word_cache.emplace(std::string(w), tmp);
        }
    }
}

}  // namespace fathom::text
