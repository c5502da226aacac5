// Carries a Hugging Face tokenizer.json (+ tokenizer_config.json) into GGUF tokenizer.ggml.* metadata.
#include <algorithm>
#include <cctype>
#include <unordered_map>
#include <cstdio>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "io/hf-internal.h"

namespace fathom::io::detail {

namespace {

using json = nlohmann::json;

// llama.cpp token types
constexpr int32_t k_tok_normal = 1, k_tok_unused = 5, k_tok_control = 3, k_tok_user = 4, k_tok_byte = 6;
constexpr int64_t k_max_vocab = int64_t(1) << 24;

bool is_byte_token(const std::string& s) {  // "<0x0A>"
    auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
    return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

void collect_strings(const json& j, std::string& out) {
    if (j.is_string()) {
        out += j.get<std::string>();
        out += '\n';
    } else if (j.is_array() || j.is_object()) {
        for (const auto& e : j) collect_strings(e, out);
    }
}

// Guesses llama.cpp's tokenizer.ggml.pre from the pre-tokenizer's regexes (so that llama.cpp can read the GGUF we
// write); fathom itself uses the exact regexes stored in fathom.tokenizer.pre_regexes.
std::string guess_pre(const json& tok, bool llama_style) {
    if (llama_style) return "default";
    auto it = tok.find("pre_tokenizer");
    if (it == tok.end()) return "default";
    std::string s;
    collect_strings(*it, s);
    auto has = [&](const char* p) { return s.find(p) != std::string::npos; };
    if (has("(?i:'s|'t|'re|'ve|'m|'ll|'d)") && has("\\p{N}{1,3}")) return "llama-bpe";
    if (has("(?i:'s|'t|'re|'ve|'m|'ll|'d)") && has("\\p{L}+|\\p{N}|")) return "qwen2";
    if (has("[A-Za-z\xc2\xb5")) return "deepseek-llm";
    if (has("\\p{N}+") && has("[\\r\\n]")) return "deepseek-coder";
    if (has("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+")) return "gpt2";
    return "default";
}

// HF's ByteLevel pre-tokenizer regex (GPT-2).
const char* const k_byte_level_re = R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";
// HF's Punctuation pre-tokenizer: Unicode P* plus the ASCII symbols its is_punctuation counts.
const char* const k_punct_class = R"re([\p{P}\$\+<=>\^~\|`])re";

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A literal string as a PCRE2 pattern.
std::string regex_escape(const std::string& lit) {
    std::string r;
    for (char c : lit) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x80 && !std::isalnum(u)) r += '\\';
        r += c;
    }
    return r;
}

struct pre_spec {
    std::vector<std::string> regexes;  // applied in order, each splitting the pieces of the previous one (isolated)
    bool byte_level = false;
    bool add_prefix_space = false;
};

// Translates tokenizer.json's pre_tokenizer into the regex sequence fathom's pre-tokenizer applies.
void translate_pre(const json& pt, pre_spec& out, bool llama_style, const std::string& path, int depth = 0) {
    if (pt.is_null()) return;
    if (depth > 16) fail(errc::ERRC_FORMAT, path + ": pre_tokenizer: nested too deeply");
    if (!pt.is_object() || !pt.contains("type") || !pt["type"].is_string())
        fail(errc::ERRC_FORMAT, path + ": pre_tokenizer: expected an object with a 'type'");
    const std::string type = pt["type"].get<std::string>();
    auto str_field = [&](const char* k, const std::string& def) {
        auto it = pt.find(k);
        return it != pt.end() && it->is_string() ? it->get<std::string>() : def;
    };
    auto bool_field = [&](const char* k, bool def) {
        auto it = pt.find(k);
        return it != pt.end() && it->is_boolean() ? it->get<bool>() : def;
    };
    if (type == "Sequence") {
        auto it = pt.find("pretokenizers");
        if (it == pt.end() || !it->is_array()) fail(errc::ERRC_FORMAT, path + ": pre_tokenizer Sequence without a 'pretokenizers' list");
        for (const json& e : *it) translate_pre(e, out, llama_style, path, depth + 1);
    } else if (type == "Split") {
        const std::string behavior = lower(str_field("behavior", "isolated"));
        if (bool_field("invert", false))
            fail(errc::ERRC_UNSUPPORTED, path + ": pre_tokenizer Split with invert: true is not supported");
        auto pat = pt.find("pattern");
        std::string re;
        if (pat != pt.end() && pat->is_object() && pat->contains("Regex") && (*pat)["Regex"].is_string())
            re = (*pat)["Regex"].get<std::string>();
        else if (pat != pt.end() && pat->is_object() && pat->contains("String") && (*pat)["String"].is_string())
            re = regex_escape((*pat)["String"].get<std::string>());
        else
            fail(errc::ERRC_FORMAT, path + ": pre_tokenizer Split: 'pattern' must be {\"Regex\": ...} or {\"String\": ...}");
        if (re.empty()) fail(errc::ERRC_FORMAT, path + ": pre_tokenizer Split: empty pattern");
        if (behavior == "isolated") out.regexes.push_back(re);
        else if (behavior == "contiguous") out.regexes.push_back("(?:" + re + ")+");
        else fail(errc::ERRC_UNSUPPORTED, path + ": pre_tokenizer Split with behavior '" + behavior + "' is not supported (Isolated, Contiguous)");
    } else if (type == "ByteLevel") {
        out.byte_level = true;
        if (bool_field("add_prefix_space", false)) out.add_prefix_space = true;
        if (bool_field("use_regex", true)) out.regexes.push_back(k_byte_level_re);
    } else if (type == "Digits") {
        // Hugging Face Digits splits on char::is_numeric, i.e. \p{N}
        out.regexes.push_back(bool_field("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
    } else if (type == "Punctuation") {
        const std::string behavior = lower(str_field("behavior", "isolated"));
        if (behavior == "isolated") out.regexes.push_back(k_punct_class);
        else if (behavior == "contiguous") out.regexes.push_back(std::string(k_punct_class) + "+");
        else fail(errc::ERRC_UNSUPPORTED, path + ": pre_tokenizer Punctuation with behavior '" + behavior + "' is not supported");
    } else if (type == "Metaspace" && llama_style) {
        // SentencePiece-style: the space marker and prefix are the SPM tokenizer's own behaviour.
    } else {
        fail(errc::ERRC_UNSUPPORTED, path + ": pre_tokenizer type '" + type + "' is not supported" +
                                         (llama_style ? "" : " for a byte-level BPE"));
    }
}

// Translates tokenizer.json's normalizer into fathom.tokenizer.normalizer steps ("nfc", "nfkc", "nfd", "nfkd",
// "lowercase", "strip_accents"). SentencePiece-style Prepend/Replace of the space marker are the SPM tokenizer's own
// behaviour and need no step. BertNormalizer is WordPiece's built-in basic tokenizer (its lowercase flag is kept).
void translate_normalizer(const json& n, std::vector<std::string>& steps, bool llama_style, bool& bert_lowercase,
                          const std::string& path, int depth = 0) {
    if (n.is_null()) return;
    if (depth > 16) fail(errc::ERRC_FORMAT, path + ": normalizer: nested too deeply");
    if (!n.is_object() || !n.contains("type") || !n["type"].is_string())
        fail(errc::ERRC_FORMAT, path + ": normalizer: expected an object with a 'type'");
    const std::string type = n["type"].get<std::string>();
    if (type == "Sequence") {
        auto it = n.find("normalizers");
        if (it == n.end() || !it->is_array()) fail(errc::ERRC_FORMAT, path + ": normalizer Sequence without a 'normalizers' list");
        for (const json& e : *it) translate_normalizer(e, steps, llama_style, bert_lowercase, path, depth + 1);
    } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
        steps.push_back(lower(type));
    } else if (type == "Lowercase") {
        steps.push_back("lowercase");
    } else if (type == "StripAccents") {
        steps.push_back("strip_accents");
    } else if (type == "BertNormalizer") {
        auto it = n.find("lowercase");
        bert_lowercase = it == n.end() || !it->is_boolean() || it->get<bool>();
    } else if (llama_style && (type == "Prepend" || type == "Replace")) {
    } else {
        fail(errc::ERRC_UNSUPPORTED, path + ": normalizer type '" + type + "' is not supported");
    }
}

// post_processor: TemplateProcessing's "single" template tells whether BOS (a special token before $A) and EOS
// (one after it) are added, and which tokens they are.
void translate_post(const json& pp, std::string& bos_text, std::string& eos_text, int depth = 0) {
    if (!pp.is_object() || depth > 16) return;
    const std::string type = pp.contains("type") && pp["type"].is_string() ? pp["type"].get<std::string>() : "";
    if (type == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
        for (const json& e : pp["processors"]) translate_post(e, bos_text, eos_text, depth + 1);
        return;
    }
    if (type != "TemplateProcessing" || !pp.contains("single") || !pp["single"].is_array()) return;
    bool seen_seq = false;
    for (const json& e : pp["single"]) {
        if (!e.is_object()) continue;
        if (e.contains("Sequence")) {
            seen_seq = true;
        } else if (e.contains("SpecialToken") && e["SpecialToken"].is_object() && e["SpecialToken"].contains("id") &&
                   e["SpecialToken"]["id"].is_string()) {
            (seen_seq ? eos_text : bos_text) = e["SpecialToken"]["id"].get<std::string>();
        }
    }
}

// A token named in tokenizer_config.json: a string, or an AddedToken object {"content": ...}.
std::string token_text(const json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_object()) {
        auto c = j.find("content");
        if (c != j.end() && c->is_string()) return c->get<std::string>();
    }
    return "";
}

[[noreturn]] void tok_fail(const std::string& path, const std::string& what) {
    fail(errc::ERRC_FORMAT, path + ": " + what);
}

}  // namespace

void add_hf_tokenizer(model_file& m, const std::string& dir, int64_t n_vocab) {
    const std::string path = dir + "/tokenizer.json";
    if (!file_exists(path)) return;
    const std::string tok_text = read_text_file(path, size_t(256) << 20);
    const std::string cfg_path = dir + "/tokenizer_config.json";
    std::string cfg_text;
    const bool has_cfg = file_exists(cfg_path);
    if (has_cfg) cfg_text = read_text_file(cfg_path, size_t(64) << 20);
    add_hf_tokenizer_text(m, tok_text, path, has_cfg ? &cfg_text : nullptr, cfg_path, n_vocab);
}

void add_hf_tokenizer_text(model_file& m, const std::string& tok_text, const std::string& path,
                           const std::string* cfg_text, const std::string& cfg_path, int64_t n_vocab) {
    const json tok = parse_json(tok_text, path);
    if (!tok.is_object()) tok_fail(path, "expected a JSON object at the top level");
    auto mi = tok.find("model");
    if (mi == tok.end() || !mi->is_object()) tok_fail(path, "missing 'model' object");
    const json& model = *mi;
    std::string type = model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>() : "";
    if (type.empty() && model.contains("merges")) type = "BPE";
    if (type == "Unigram")
        fail(errc::ERRC_UNSUPPORTED, path + ": tokenizer model type 'Unigram' (SentencePiece unigram, as in T5) is not "
                                            "supported yet (BPE and WordPiece are)");
    if (type != "BPE" && type != "WordPiece")
        fail(errc::ERRC_UNSUPPORTED, path + ": tokenizer model type '" + type + "' is not supported (BPE, WordPiece)");
    const bool bound = n_vocab >= 0;  // a model's vocab_size bounds the ids; a tokenizer alone has no such bound

    // id -> (text, score)
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    std::vector<bool> seen;
    auto put = [&](int64_t id, const std::string& text, float score, int32_t ttype, const char* where) {
        if (id < 0 || id >= k_max_vocab) tok_fail(path, std::string(where) + ": token id " + std::to_string(id) + " is out of range");
        if (bound && id >= n_vocab)
            tok_fail(path, std::string(where) + ": token id " + std::to_string(id) +
                               " is outside the model vocabulary (vocab_size " + std::to_string(n_vocab) + ")");
        if (size_t(id) >= tokens.size()) {
            tokens.resize(size_t(id) + 1);
            scores.resize(size_t(id) + 1, 0.0f);
            types.resize(size_t(id) + 1, k_tok_unused);
            seen.resize(size_t(id) + 1, false);
        }
        tokens[size_t(id)] = text;
        scores[size_t(id)] = score;
        types[size_t(id)] = ttype;
        seen[size_t(id)] = true;
    };

    bool llama_style = false;
    const bool wordpiece = type == "WordPiece";
    auto vi = model.find("vocab");
    if (wordpiece) {
        // llama.cpp's BERT vocabulary form: "##x" continuations lose the prefix, word starts gain U+2581,
        // bracketed specials stay as they are.
        llama_style = false;
        std::string prefix = "##";
        if (model.contains("continuing_subword_prefix") && model["continuing_subword_prefix"].is_string())
            prefix = model["continuing_subword_prefix"].get<std::string>();
        if (vi == model.end() || !vi->is_object()) tok_fail(path, "model.vocab is not an object");
        for (auto it = vi->begin(); it != vi->end(); ++it) {
            if (!it.value().is_number_integer()) tok_fail(path, "model.vocab['" + it.key() + "'] is not an integer id");
            const std::string& t = it.key();
            std::string text;
            if (t.size() >= 2 && t.front() == '[' && t.back() == ']') text = t;
            else if (!prefix.empty() && t.compare(0, prefix.size(), prefix) == 0 && t.size() > prefix.size())
                text = t.substr(prefix.size());
            else text = "\xE2\x96\x81" + t;
            put(it.value().get<int64_t>(), text, 0.0f, k_tok_normal, "model.vocab");
        }
    } else if (type == "BPE") {
        llama_style = model.contains("byte_fallback") && model["byte_fallback"].is_boolean() &&
                      model["byte_fallback"].get<bool>();
        if (vi == model.end() || !vi->is_object()) tok_fail(path, "model.vocab is not an object");
        for (auto it = vi->begin(); it != vi->end(); ++it) {
            if (!it.value().is_number_integer()) tok_fail(path, "model.vocab['" + it.key() + "'] is not an integer id");
            int64_t id = it.value().get<int64_t>();
            int32_t tt = llama_style && is_byte_token(it.key()) ? k_tok_byte : k_tok_normal;
            put(id, it.key(), -float(id), tt, "model.vocab");
        }
    }
    auto at = tok.find("added_tokens");
    if (at != tok.end() && !at->is_null()) {
        if (!at->is_array()) tok_fail(path, "added_tokens is not an array");
        for (const auto& e : *at) {
            if (!e.is_object() || !e.contains("id") || !e["id"].is_number_integer() || !e.contains("content") ||
                !e["content"].is_string())
                tok_fail(path, "added_tokens entry without an integer 'id' and a string 'content'");
            bool special = e.contains("special") && e["special"].is_boolean() && e["special"].get<bool>();
            int64_t id = e["id"].get<int64_t>();
            put(id, e["content"].get<std::string>(), 0.0f, special ? k_tok_control : k_tok_user, "added_tokens");
        }
    }
    if (tokens.empty()) tok_fail(path, "the vocabulary is empty");
    if (bound && tokens.size() < size_t(n_vocab)) {
        tokens.resize(size_t(n_vocab));
        scores.resize(size_t(n_vocab), 0.0f);
        types.resize(size_t(n_vocab), k_tok_unused);
        seen.resize(size_t(n_vocab), false);
    }
    for (size_t id = 0; id < tokens.size(); ++id) {
        if (!seen[id]) {
            tokens[id] = "[PAD" + std::to_string(id) + "]";
            scores[id] = -float(id);
        }
    }

    std::vector<meta_value> merges;
    if (type == "BPE") {
        auto mg = model.find("merges");
        if (mg != model.end() && !mg->is_null()) {
            if (!mg->is_array()) tok_fail(path, "model.merges is not an array");
            merges.reserve(mg->size());
            for (const auto& e : *mg) {
                if (e.is_string()) {
                    merges.push_back(meta_value::str(e.get<std::string>()));
                } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
                    merges.push_back(meta_value::str(e[0].get<std::string>() + " " + e[1].get<std::string>()));
                } else {
                    tok_fail(path, "model.merges entry " + std::to_string(merges.size()) + " is neither \"a b\" nor [a, b]");
                }
            }
        }
    }

    if (llama_style && !merges.empty()) {
        // SentencePiece-style BPE merges by rank; fathom's SPM encoder merges by the merged token's score, so the
        // score of a token is minus the rank of the first merge that makes it. Tokens no merge makes never merge.
        std::unordered_map<std::string, size_t> by_text;
        by_text.reserve(tokens.size() * 2);
        for (size_t id = 0; id < tokens.size(); ++id)
            if (seen[id] && types[id] == k_tok_normal) by_text.emplace(tokens[id], id);
        for (size_t id = 0; id < tokens.size(); ++id)
            if (types[id] == k_tok_normal) scores[id] = -1e9f;
        for (size_t r = 0; r < merges.size(); ++r) {
            const std::string& mtext = merges[r].s;
            const size_t sp = mtext.find(' ', 1);
            if (sp == std::string::npos) continue;
            auto it = by_text.find(mtext.substr(0, sp) + mtext.substr(sp + 1));
            if (it != by_text.end()) scores[it->second] = std::max(scores[it->second], -float(r));
        }
        for (size_t id = 0; id < tokens.size(); ++id)  // single characters: reachable without a merge
            if (types[id] == k_tok_normal && scores[id] == -1e9f && tokens[id].size() <= 4) {
                uint32_t len = 0;
                const auto c = static_cast<unsigned char>(tokens[id][0]);
                len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
                if (len == tokens[id].size()) scores[id] = 0.0f;
            }
    }

    pre_spec pre;
    std::vector<std::string> norm_steps;
    bool bert_lowercase = true;
    if (!wordpiece) {
        auto pt = tok.find("pre_tokenizer");
        if (pt != tok.end()) translate_pre(*pt, pre, llama_style, path);
        if (!llama_style && !pre.byte_level)
            fail(errc::ERRC_UNSUPPORTED, path + ": a BPE without byte_fallback needs a ByteLevel pre-tokenizer (only "
                                                "byte-level BPE and SentencePiece-style BPE are supported)");
    }
    if (auto nz = tok.find("normalizer"); nz != tok.end()) translate_normalizer(*nz, norm_steps, llama_style, bert_lowercase, path);
    if (!wordpiece && std::find(norm_steps.begin(), norm_steps.end(), "lowercase") != norm_steps.end() && llama_style)
        fail(errc::ERRC_UNSUPPORTED, path + ": normalizer Lowercase with a SentencePiece-style BPE is not supported");
    std::string post_bos, post_eos;
    if (auto pp = tok.find("post_processor"); pp != tok.end()) translate_post(*pp, post_bos, post_eos);

    // ids named by config.json (already in m) may be overridden by tokenizer_config.json names
    int64_t bos = -1, eos = -1, unk = -1;
    if (const meta_value* v = m.find("tokenizer.ggml.bos_token_id")) bos = int64_t(v->u);
    if (const meta_value* v = m.find("tokenizer.ggml.eos_token_id")) eos = int64_t(v->u);
    auto lookup = [&](const std::string& text) -> int64_t {
        if (text.empty()) return -1;
        for (size_t id = 0; id < tokens.size(); ++id)
            if (seen[id] && tokens[id] == text) return int64_t(id);
        return -1;
    };
    std::string chat_template;
    int add_bos = -1, add_eos = -1;
    if (!post_bos.empty() && lookup(post_bos) >= 0) {
        add_bos = 1;
        if (bos < 0) bos = lookup(post_bos);
    }
    if (!post_eos.empty() && lookup(post_eos) >= 0) {
        add_eos = 1;
        if (eos < 0) eos = lookup(post_eos);
    }
    if (auto pp = tok.find("post_processor"); pp != tok.end() && pp->is_object()) {
        if (post_bos.empty() && !wordpiece) add_bos = 0;
        if (post_eos.empty() && !wordpiece) add_eos = 0;
    }
    if (cfg_text) {
        const json tc = parse_json(*cfg_text, cfg_path);
        if (!tc.is_object()) fail(errc::ERRC_FORMAT, cfg_path + ": expected a JSON object at the top level");
        if (tc.contains("bos_token")) {
            int64_t id = lookup(token_text(tc["bos_token"]));
            if (id >= 0) bos = id;
        }
        if (tc.contains("eos_token")) {
            int64_t id = lookup(token_text(tc["eos_token"]));
            if (id >= 0) eos = id;
        }
        if (tc.contains("unk_token")) unk = lookup(token_text(tc["unk_token"]));
        if (tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean()) add_bos = tc["add_bos_token"].get<bool>();
        if (tc.contains("add_eos_token") && tc["add_eos_token"].is_boolean()) add_eos = tc["add_eos_token"].get<bool>();
        if (tc.contains("chat_template")) {
            const json& ct = tc["chat_template"];
            if (ct.is_string()) {
                chat_template = ct.get<std::string>();
            } else if (ct.is_array()) {  // [{"name": "default", "template": "..."}, ...]
                for (const auto& e : ct) {
                    if (!e.is_object() || !e.contains("template") || !e["template"].is_string()) continue;
                    bool is_default = e.contains("name") && e["name"] == "default";
                    if (chat_template.empty() || is_default) chat_template = e["template"].get<std::string>();
                    if (is_default) break;
                }
            } else if (!ct.is_null()) {
                fail(errc::ERRC_FORMAT, cfg_path + ": field 'chat_template': expected a string or a list of templates");
            }
        }
    }
    if (unk < 0 && llama_style) unk = lookup("<unk>");
    if (bos >= int64_t(tokens.size())) tok_fail(path, "bos_token_id " + std::to_string(bos) + " is outside the vocabulary");
    if (eos >= int64_t(tokens.size())) tok_fail(path, "eos_token_id " + std::to_string(eos) + " is outside the vocabulary");

    std::vector<meta_value> tok_v, type_v, score_v;
    tok_v.reserve(tokens.size());
    type_v.reserve(tokens.size());
    for (size_t id = 0; id < tokens.size(); ++id) {
        tok_v.push_back(meta_value::str(std::move(tokens[id])));
        type_v.push_back(meta_value::i32(types[id]));
        if (llama_style) score_v.push_back(meta_value::f32(scores[id]));
    }
    m.erase("tokenizer.ggml.bos_token_id");
    m.erase("tokenizer.ggml.eos_token_id");
    m.set("tokenizer.ggml.model", meta_value::str(wordpiece ? "bert" : llama_style ? "llama" : "gpt2"));
    m.set("tokenizer.ggml.pre", meta_value::str(wordpiece ? "default" : guess_pre(tok, llama_style)));
    if (!wordpiece && !llama_style) {
        std::vector<meta_value> res;
        for (const std::string& r : pre.regexes) res.push_back(meta_value::str(r));
        m.set("fathom.tokenizer.pre_regexes", meta_value::array(gguf_type::GGUF_STRING, std::move(res)));
        bool ignore_merges = model.contains("ignore_merges") && model["ignore_merges"].is_boolean() &&
                             model["ignore_merges"].get<bool>();
        m.set("fathom.tokenizer.ignore_merges", meta_value::boolean(ignore_merges));
        if (pre.add_prefix_space) m.set("tokenizer.ggml.add_space_prefix", meta_value::boolean(true));
    }
    if (!norm_steps.empty()) {
        std::vector<meta_value> ns;
        for (const std::string& n : norm_steps) ns.push_back(meta_value::str(n));
        m.set("fathom.tokenizer.normalizer", meta_value::array(gguf_type::GGUF_STRING, std::move(ns)));
    }
    if (wordpiece) {
        m.set("fathom.tokenizer.wordpiece_lowercase", meta_value::boolean(bert_lowercase));
        const int64_t cls = lookup("[CLS]"), sep = lookup("[SEP]");
        if (cls >= 0) m.set("tokenizer.ggml.cls_token_id", meta_value::u32(uint32_t(cls)));
        if (sep >= 0) m.set("tokenizer.ggml.seperator_token_id", meta_value::u32(uint32_t(sep)));
        if (unk < 0) unk = lookup("[UNK]");
    }
    m.set("tokenizer.ggml.tokens", meta_value::array(gguf_type::GGUF_STRING, std::move(tok_v)));
    if (llama_style) m.set("tokenizer.ggml.scores", meta_value::array(gguf_type::GGUF_FLOAT32, std::move(score_v)));
    m.set("tokenizer.ggml.token_type", meta_value::array(gguf_type::GGUF_INT32, std::move(type_v)));
    if (!merges.empty()) m.set("tokenizer.ggml.merges", meta_value::array(gguf_type::GGUF_STRING, std::move(merges)));
    if (bos >= 0) m.set("tokenizer.ggml.bos_token_id", meta_value::u32(uint32_t(bos)));
    if (eos >= 0) m.set("tokenizer.ggml.eos_token_id", meta_value::u32(uint32_t(eos)));
    if (unk >= 0) m.set("tokenizer.ggml.unknown_token_id", meta_value::u32(uint32_t(unk)));
    if (add_bos >= 0) m.set("tokenizer.ggml.add_bos_token", meta_value::boolean(add_bos != 0));
    if (add_eos >= 0) m.set("tokenizer.ggml.add_eos_token", meta_value::boolean(add_eos != 0));
    if (!chat_template.empty()) m.set("tokenizer.chat_template", meta_value::str(chat_template));
}

}  // namespace fathom::io::detail

namespace fathom::io {

model_file read_hf_tokenizer(const std::string& path_in) {
    std::string path = path_in;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) fail(errc::ERRC_IO, path + ": cannot open: " + std::strerror(errno));
    std::string dir, tok_path;
    if (S_ISDIR(st.st_mode)) {
        dir = path;
        tok_path = dir + "/tokenizer.json";
        if (!detail::file_exists(tok_path)) fail(errc::ERRC_IO, path + ": no tokenizer.json in this folder");
    } else {
        tok_path = path;
        const size_t slash = path.find_last_of('/');
        dir = slash == std::string::npos ? "." : path.substr(0, slash);
    }
    model_file m;
    m.path = path;
    const std::string tok_text = detail::read_text_file(tok_path, size_t(256) << 20);
    const std::string cfg_path = dir + "/tokenizer_config.json";
    std::string cfg_text;
    const bool has_cfg = detail::file_exists(cfg_path);
    if (has_cfg) cfg_text = detail::read_text_file(cfg_path, size_t(64) << 20);
    detail::add_hf_tokenizer_text(m, tok_text, tok_path, has_cfg ? &cfg_text : nullptr, cfg_path, -1);
    m.set("general.name", meta_value::str("tokenizer"));
    m.index();
    return m;
}

}  // namespace fathom::io
