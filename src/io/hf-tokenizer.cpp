// Carries a Hugging Face tokenizer.json (+ tokenizer_config.json) into GGUF tokenizer.ggml.* metadata.
#include <algorithm>
#include <cstdio>

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

// Guesses llama.cpp's tokenizer.ggml.pre from the pre-tokenizer's regexes.
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
    if (type != "BPE" && type != "Unigram")
        fail(errc::ERRC_UNSUPPORTED, path + ": tokenizer model type '" + type + "' is not supported (BPE, Unigram)");

    // id -> (text, score)
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    std::vector<bool> seen;
    auto put = [&](int64_t id, const std::string& text, float score, int32_t ttype, const char* where) {
        if (id < 0 || id >= k_max_vocab) tok_fail(path, std::string(where) + ": token id " + std::to_string(id) + " is out of range");
        if (id >= n_vocab)
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

    bool llama_style;
    auto vi = model.find("vocab");
    if (type == "BPE") {
        llama_style = model.contains("byte_fallback") && model["byte_fallback"].is_boolean() &&
                      model["byte_fallback"].get<bool>();
        if (vi == model.end() || !vi->is_object()) tok_fail(path, "model.vocab is not an object");
        for (auto it = vi->begin(); it != vi->end(); ++it) {
            if (!it.value().is_number_integer()) tok_fail(path, "model.vocab['" + it.key() + "'] is not an integer id");
            int64_t id = it.value().get<int64_t>();
            int32_t tt = llama_style && is_byte_token(it.key()) ? k_tok_byte : k_tok_normal;
            put(id, it.key(), -float(id), tt, "model.vocab");
        }
    } else {  // Unigram: [[piece, score], ...] with ids by position
        llama_style = true;
        if (vi == model.end() || !vi->is_array()) tok_fail(path, "model.vocab is not an array");
        int64_t id = 0;
        for (const auto& e : *vi) {
            if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
                tok_fail(path, "model.vocab entry " + std::to_string(id) + " is not a [piece, score] pair");
            const std::string piece = e[0].get<std::string>();
            put(id, piece, e[1].get<float>(), is_byte_token(piece) ? k_tok_byte : k_tok_normal, "model.vocab");
            ++id;
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
    if (tokens.size() < size_t(n_vocab)) {
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
    m.set("tokenizer.ggml.model", meta_value::str(llama_style ? "llama" : "gpt2"));
    m.set("tokenizer.ggml.pre", meta_value::str(guess_pre(tok, llama_style)));
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
