// Tokenizer loading from GGUF metadata, special-token partitioning, encode dispatch and decoding.
#include "io/text/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "io/text/tokenizer-internal.h"

namespace fathom::text {

bool utf8_next(std::string_view s, size_t i, uint32_t& cp, size_t& len) {
    const auto c = static_cast<unsigned char>(s[i]);
    len = 1;
    if (c < 0x80) { cp = c; return true; }
    size_t n;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) { n = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 4; v = c & 0x07; min = 0x10000; }
    else { cp = 0xFFFD; return false; }
    if (i + n > s.size()) { cp = 0xFFFD; return false; }
    for (size_t k = 1; k < n; ++k) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xC0) != 0x80) { cp = 0xFFFD; return false; }
        v = (v << 6) | (d & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) { cp = 0xFFFD; return false; }
    cp = v;
    len = n;
    return true;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

namespace {

const io::meta_value* need(const io::model_file& mf, const std::string& key) {
    const io::meta_value* v = mf.find(key);
    if (!v) fail(errc::ERRC_FORMAT, mf.path + ": missing " + key);
    return v;
}

int32_t opt_id(const io::model_file& mf, const std::string& key, int32_t def, size_t n_vocab) {
    const io::meta_value* v = mf.find(key);
    if (!v) return def;
    const int64_t id = v->as_int(key);
    if (id < 0 || static_cast<size_t>(id) >= n_vocab) return -1;
    return static_cast<int32_t>(id);
}

bool opt_bool(const io::model_file& mf, const std::string& key, bool def) {
    const io::meta_value* v = mf.find(key);
    return v ? v->as_bool(key) : def;
}

}  // namespace

void tokenizer_impl::load(const io::model_file& mf) {
    const std::string& model = need(mf, "tokenizer.ggml.model")->as_string("tokenizer.ggml.model");
    if (model == "llama") kind = tokenizer_kind::TOKENIZER_KIND_SPM;
    else if (model == "gpt2") kind = tokenizer_kind::TOKENIZER_KIND_BPE;
    else if (model == "bert") kind = tokenizer_kind::TOKENIZER_KIND_WPM;
    else fail(errc::ERRC_UNSUPPORTED, mf.path + ": tokenizer.ggml.model: unsupported tokenizer '" + model + "'");
    if (const io::meta_value* v = mf.find("tokenizer.ggml.pre")) pre = v->as_string("tokenizer.ggml.pre");

    const auto& toks = need(mf, "tokenizer.ggml.tokens")->as_array("tokenizer.ggml.tokens");
    if (toks.empty()) fail(errc::ERRC_FORMAT, mf.path + ": tokenizer.ggml.tokens: empty vocabulary");
    if (toks.size() > 0x7FFFFFFF) fail(errc::ERRC_FORMAT, mf.path + ": tokenizer.ggml.tokens: too many tokens");
    const size_t n = toks.size();
    tokens.resize(n);
    scores.assign(n, 0.0f);
    types.assign(n, token_type::TOKEN_TYPE_NORMAL);
    to_id.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        tokens[i] = toks[i].as_string("tokenizer.ggml.tokens");
        to_id.emplace(tokens[i], static_cast<int32_t>(i));  // first occurrence wins
    }
    if (const io::meta_value* v = mf.find("tokenizer.ggml.scores")) {
        const auto& a = v->as_array("tokenizer.ggml.scores");
        if (a.size() != n) fail(errc::ERRC_FORMAT, mf.path + ": tokenizer.ggml.scores: length differs from tokens");
        for (size_t i = 0; i < n; ++i) scores[i] = static_cast<float>(a[i].as_float("tokenizer.ggml.scores"));
    }
    if (const io::meta_value* v = mf.find("tokenizer.ggml.token_type")) {
        const auto& a = v->as_array("tokenizer.ggml.token_type");
        if (a.size() != n) fail(errc::ERRC_FORMAT, mf.path + ": tokenizer.ggml.token_type: length differs from tokens");
        for (size_t i = 0; i < n; ++i) {
            const int64_t t = a[i].as_int("tokenizer.ggml.token_type");
            types[i] = (t >= 1 && t <= 6) ? static_cast<token_type>(t) : token_type::TOKEN_TYPE_UNDEFINED;
        }
    }

    std::fill(std::begin(byte_token), std::end(byte_token), -1);
    if (kind == tokenizer_kind::TOKENIZER_KIND_SPM) {
        bos = opt_id(mf, "tokenizer.ggml.bos_token_id", n > 1 ? 1 : -1, n);
        eos = opt_id(mf, "tokenizer.ggml.eos_token_id", n > 2 ? 2 : -1, n);
        unk = opt_id(mf, "tokenizer.ggml.unknown_token_id", 0, n);
        add_bos = opt_bool(mf, "tokenizer.ggml.add_bos_token", true);
        add_eos = opt_bool(mf, "tokenizer.ggml.add_eos_token", false);
        add_space_prefix = opt_bool(mf, "tokenizer.ggml.add_space_prefix", true);
        spm_word_split = spm_words_independent(tokens);
        for (int b = 0; b < 256; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            byte_token[b] = find(name);
        }
    } else if (kind == tokenizer_kind::TOKENIZER_KIND_BPE) {
        bos = opt_id(mf, "tokenizer.ggml.bos_token_id", -1, n);
        eos = opt_id(mf, "tokenizer.ggml.eos_token_id", -1, n);
        unk = opt_id(mf, "tokenizer.ggml.unknown_token_id", -1, n);
        add_bos = opt_bool(mf, "tokenizer.ggml.add_bos_token", false);
        add_eos = opt_bool(mf, "tokenizer.ggml.add_eos_token", false);
        add_space_prefix = opt_bool(mf, "tokenizer.ggml.add_space_prefix", false);
        // GPT-2 byte <-> code point map: printable Latin-1 bytes stand for themselves, the rest map to 256+k.
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            const uint32_t cp = self ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + extra++);
            byte_to_unicode[b].clear();
            utf8_append(byte_to_unicode[b], cp);
            unicode_to_byte[cp] = static_cast<uint8_t>(b);
            byte_token[b] = find(byte_to_unicode[b]);
        }
        const auto& ms = need(mf, "tokenizer.ggml.merges")->as_array("tokenizer.ggml.merges");
        merges.reserve(ms.size() * 2);
        for (size_t r = 0; r < ms.size(); ++r) {
            const std::string& m = ms[r].as_string("tokenizer.ggml.merges");
            const size_t sp = m.find(' ', 1);
            if (sp == std::string::npos) continue;
            const int32_t a = find(std::string_view(m).substr(0, sp));
            const int32_t b = find(std::string_view(m).substr(sp + 1));
            const int32_t ab = find(m.substr(0, sp) + m.substr(sp + 1));
            if (a < 0 || b < 0 || ab < 0) continue;
            const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
            merges.emplace(key, std::make_pair(static_cast<int32_t>(r), ab));  // earliest rank wins
        }
        if (const io::meta_value* v = mf.find("fathom.tokenizer.pre_regexes")) {  // exact regexes from tokenizer.json
            std::vector<std::string> res;
            for (const io::meta_value& r : v->as_array("fathom.tokenizer.pre_regexes"))
                res.push_back(r.as_string("fathom.tokenizer.pre_regexes"));
            ignore_merges = opt_bool(mf, "fathom.tokenizer.ignore_merges", false);
            try {
                pretok = pretokenizer(res);
            } catch (const error& e) {
                fail(errc::ERRC_FORMAT, mf.path + ": fathom.tokenizer.pre_regexes: " + e.what());
            }
        } else {
            pretok = pretokenizer(pretokenizer_patterns(pre, ignore_merges));
        }
    } else {
        unk = opt_id(mf, "tokenizer.ggml.unknown_token_id", find("[UNK]"), n);
        cls = opt_id(mf, "tokenizer.ggml.cls_token_id", find("[CLS]"), n);
        sep = opt_id(mf, "tokenizer.ggml.seperator_token_id", find("[SEP]"), n);
        bos = opt_id(mf, "tokenizer.ggml.bos_token_id", cls, n);
        eos = opt_id(mf, "tokenizer.ggml.eos_token_id", sep, n);
        add_bos = opt_bool(mf, "tokenizer.ggml.add_bos_token", true);
        add_eos = opt_bool(mf, "tokenizer.ggml.add_eos_token", true);
        wpm_lowercase = opt_bool(mf, "fathom.tokenizer.wordpiece_lowercase", true);
    }
    if (const io::meta_value* v = mf.find("fathom.tokenizer.normalizer")) {
        for (const io::meta_value& st : v->as_array("fathom.tokenizer.normalizer")) {
            const std::string& step = st.as_string("fathom.tokenizer.normalizer");
            if (step != "nfc" && step != "nfd" && step != "nfkc" && step != "nfkd" && step != "lowercase" &&
                step != "strip_accents")
                fail(errc::ERRC_UNSUPPORTED, mf.path + ": fathom.tokenizer.normalizer: unknown step '" + step + "'");
            normalizer.push_back(step);
        }
    }

    // End-of-generation tokens, as llama.cpp finds them: the declared ids plus control tokens with end-of-turn text.
    static const char* const k_eog_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                              "<EOT>", "<|EOT|>", "<|eom_id|>", "<|end_of_text|>", "</s>",
                                              ("<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>")};
    if (eos >= 0) eog.push_back(eos);
    for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
        const int32_t id = opt_id(mf, key, -1, n);
        if (id >= 0) eog.push_back(id);
    }
    for (const char* txt : k_eog_texts) {
        const int32_t id = find(txt);
        if (id >= 0 && (types[id] == token_type::TOKEN_TYPE_CONTROL || types[id] == token_type::TOKEN_TYPE_USER_DEFINED))
            eog.push_back(id);
    }
    std::sort(eog.begin(), eog.end());
    eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

    for (size_t i = 0; i < n; ++i) {
        const token_type t = types[i];
        if ((t == token_type::TOKEN_TYPE_CONTROL || t == token_type::TOKEN_TYPE_USER_DEFINED ||
             t == token_type::TOKEN_TYPE_UNKNOWN) && !tokens[i].empty())
            specials.push_back(static_cast<int32_t>(i));
    }
    std::stable_sort(specials.begin(), specials.end(),
                     [&](int32_t a, int32_t b) { return tokens[a].size() > tokens[b].size(); });
    for (size_t k = 0; k < specials.size(); ++k)
        specials_by_byte[static_cast<unsigned char>(tokens[specials[k]][0])].push_back(static_cast<uint32_t>(k));
}

std::string tokenizer_impl::normalize(std::string_view text) const {
    // Valid UTF-8 runs are normalised; invalid bytes stay where they are.
    auto norm_run = [&](std::string_view run, std::string& out) {
        std::string cur(run);
        for (const std::string& step : normalizer) {
            if (step == "lowercase") {
                std::string low;
                for (size_t i = 0; i < cur.size();) {
                    uint32_t cp;
                    size_t len;
                    utf8_next(cur, i, cp, len);
                    utf8_append(low, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
                    i += len;
                }
                cur.swap(low);
                continue;
            }
            int opts = UTF8PROC_STABLE;
            if (step == "nfc") opts |= UTF8PROC_COMPOSE;
            else if (step == "nfd") opts |= UTF8PROC_DECOMPOSE;
            else if (step == "nfkc") opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
            else if (step == "nfkd") opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
            else if (step == "strip_accents") opts |= UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK;
            utf8proc_uint8_t* res = nullptr;
            const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(cur.data()),
                                                    static_cast<utf8proc_ssize_t>(cur.size()), &res,
                                                    static_cast<utf8proc_option_t>(opts));
            if (n >= 0 && res) cur.assign(reinterpret_cast<const char*>(res), static_cast<size_t>(n));
            std::free(res);
        }
        out += cur;
    };
    std::string out;
    out.reserve(text.size());
    size_t run = 0, i = 0;
    while (i < text.size()) {
        uint32_t cp;
        size_t len;
        if (utf8_next(text, i, cp, len)) {
            i += len;
            continue;
        }
        if (i > run) norm_run(text.substr(run, i - run), out);
        out += text[i];
        i += 1;
        run = i;
    }
    if (i > run) norm_run(text.substr(run, i - run), out);
    return out;
}

std::string tokenizer_impl::piece(int32_t id, bool render_special) const {
    if (id < 0 || static_cast<size_t>(id) >= tokens.size()) return {};
    const std::string& t = tokens[id];
    const token_type ty = types[id];
    if (ty == token_type::TOKEN_TYPE_CONTROL) return render_special ? t : std::string();
    if (kind == tokenizer_kind::TOKENIZER_KIND_SPM) {
        if (ty == token_type::TOKEN_TYPE_BYTE && t.size() == 6 && t.compare(0, 3, "<0x") == 0) {
            return std::string(1, static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
        }
        if (ty == token_type::TOKEN_TYPE_UNKNOWN) return render_special ? t : std::string("\xE2\x96\x85");
        std::string out;
        for (size_t i = 0; i < t.size();) {
            if (t.compare(i, 3, "\xE2\x96\x81") == 0) { out += ' '; i += 3; }
            else out += t[i++];
        }
        return out;
    }
    if (kind == tokenizer_kind::TOKENIZER_KIND_BPE) {
        if (ty == token_type::TOKEN_TYPE_USER_DEFINED || ty == token_type::TOKEN_TYPE_UNKNOWN) return t;
        std::string out;
        for (size_t i = 0; i < t.size();) {
            uint32_t cp;
            size_t len;
            utf8_next(t, i, cp, len);
            auto it = unicode_to_byte.find(cp);
            if (it != unicode_to_byte.end()) out += static_cast<char>(it->second);
            else out.append(t, i, len);
            i += len;
        }
        return out;
    }
    // WordPiece: vocabulary words start with U+2581 (converted from "no ## prefix"), continuations do not.
    if (t.compare(0, 3, "\xE2\x96\x81") == 0) {
        std::string r(1, ' ');
        r.append(t, 3, std::string::npos);
        return r;
    }
    if (t.compare(0, 2, "##") == 0) return t.substr(2);
    return t;
}

tokenizer::tokenizer(const io::model_file& mf) : p_(std::make_unique<tokenizer_impl>()) { p_->load(mf); }
tokenizer::~tokenizer() = default;
tokenizer::tokenizer(tokenizer&&) noexcept = default;
tokenizer& tokenizer::operator=(tokenizer&&) noexcept = default;

std::vector<int32_t> tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    const tokenizer_impl& p = *p_;
    // Partition into (raw text | special token) fragments, longest special token first.
    struct frag {
        int32_t id;  // -1: raw text
        size_t off, len;
    };
    std::vector<frag> frags;
    if (!text.empty()) frags.push_back({-1, 0, text.size()});
    // One pass finds which special tokens occur at all, so that the longest-first partition below (llama.cpp's
    // order) only scans the text for those: vocabularies with thousands of user-defined tokens stay fast.
    std::vector<uint8_t> present(p.specials.size(), 0);
    for (size_t i = 0; i < text.size(); ++i) {
        for (uint32_t k : p.specials_by_byte[static_cast<unsigned char>(text[i])]) {
            if (present[k]) continue;
            const std::string& st = p.tokens[p.specials[k]];
            if (text.size() - i >= st.size() && text.compare(i, st.size(), st) == 0) present[k] = 1;
        }
    }
    for (size_t k = 0; k < p.specials.size(); ++k) {
        if (!present[k]) continue;
        const int32_t sid = p.specials[k];
        const token_type ty = p.types[sid];
        if (!parse_special && ty != token_type::TOKEN_TYPE_USER_DEFINED) continue;
        const std::string& st = p.tokens[sid];
        std::vector<frag> next;
        next.reserve(frags.size());
        bool changed = false;
        for (const frag& f : frags) {
            if (f.id >= 0 || f.len < st.size()) { next.push_back(f); continue; }
            const std::string_view raw = text.substr(f.off, f.len);
            size_t pos = 0;
            for (;;) {
                const size_t hit = raw.find(st, pos);
                if (hit == std::string_view::npos) break;
                changed = true;
                if (hit > pos) next.push_back({-1, f.off + pos, hit - pos});
                next.push_back({sid, f.off + hit, st.size()});
                pos = hit + st.size();
            }
            if (pos < raw.size()) next.push_back({-1, f.off + pos, raw.size() - pos});
        }
        if (changed) frags.swap(next);
    }

    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (add_special && p.add_bos && p.bos >= 0) out.push_back(p.bos);
    bool prev_special = true;
    std::string buf;
    for (const frag& f : frags) {
        if (f.id >= 0) {
            out.push_back(f.id);
            prev_special = true;
            continue;
        }
        std::string normed;
        std::string_view raw = text.substr(f.off, f.len);
        if (!p.normalizer.empty()) {
            normed = p.normalize(raw);
            raw = normed;
        }
        switch (p.kind) {
        case tokenizer_kind::TOKENIZER_KIND_SPM:
            buf.clear();
            if (p.add_space_prefix && prev_special) buf += ' ';
            buf.append(raw);
            p.encode_spm(buf, out);
            break;
        case tokenizer_kind::TOKENIZER_KIND_BPE:
            if (p.add_space_prefix && prev_special && (raw.empty() || raw[0] != ' ')) {  // ByteLevel add_prefix_space
                buf.assign(1, ' ');
                buf.append(raw);
                p.encode_bpe(buf, out);
            } else {
                p.encode_bpe(raw, out);
            }
            break;
        case tokenizer_kind::TOKENIZER_KIND_WPM: p.encode_wpm(raw, out); break;
        }
        prev_special = false;
    }
    if (add_special && p.add_eos && p.eos >= 0) out.push_back(p.eos);
    return out;
}

std::string tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
    std::string out;
    bool first = true;
    for (int32_t id : ids) {
        std::string s = p_->piece(id, render_special);
        if (s.empty()) continue;
        if (first) {
            const bool strip = (p_->kind == tokenizer_kind::TOKENIZER_KIND_SPM && p_->add_space_prefix) ||
                               p_->kind == tokenizer_kind::TOKENIZER_KIND_WPM;
            if (strip && s[0] == ' ' && p_->types[id] != token_type::TOKEN_TYPE_CONTROL) s.erase(0, 1);
            first = false;
        }
        out += s;
    }
    return out;
}

std::string tokenizer::token_piece(int32_t id) const { return p_->piece(id, true); }
const std::string& tokenizer::token_text(int32_t id) const {
    if (id < 0 || id >= n_vocab()) fail(errc::ERRC_INVALID_ARGUMENT, "token id " + std::to_string(id) + " out of range");
    return p_->tokens[id];
}
int32_t tokenizer::token_id(std::string_view text) const { return p_->find(text); }
token_type tokenizer::type_of(int32_t id) const {
    if (id < 0 || id >= n_vocab()) return token_type::TOKEN_TYPE_UNDEFINED;
    return p_->types[id];
}
int32_t tokenizer::n_vocab() const { return static_cast<int32_t>(p_->tokens.size()); }
int32_t tokenizer::bos() const { return p_->bos; }
int32_t tokenizer::eos() const { return p_->eos; }
int32_t tokenizer::unk() const { return p_->unk; }
bool tokenizer::is_eog(int32_t id) const { return std::binary_search(p_->eog.begin(), p_->eog.end(), id); }
const std::vector<int32_t>& tokenizer::eog_ids() const { return p_->eog; }
bool tokenizer::add_bos() const { return p_->add_bos; }
bool tokenizer::add_eos() const { return p_->add_eos; }
tokenizer_kind tokenizer::kind() const { return p_->kind; }
const std::string& tokenizer::pre() const { return p_->pre; }

}  // namespace fathom::text
