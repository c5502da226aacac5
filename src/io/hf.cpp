// Hugging Face folder loader: config.json + (sharded) safetensors, HF tensor names → GGUF names.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <sys/stat.h>

#include "core/error.h"
#include "io/hf-internal.h"

namespace fathom::io {

namespace detail {

nlohmann::json parse_json(const std::string& text, const std::string& name) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        fail(errc::ERRC_FORMAT, name + ": invalid JSON: " + json_error_text(e));
    }
}

std::string json_error_text(const std::exception& e) {
    std::string s = e.what();
    if (s.rfind("[json.exception.", 0) == 0) {
        size_t close = s.find("] ");
        if (close != std::string::npos) s = s.substr(close + 2);
    }
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

std::string read_text_file(const std::string& path, size_t limit) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(errc::ERRC_IO, path + ": cannot open: " + std::strerror(errno));
    std::string out;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        out.append(buf, n);
        if (out.size() > limit) {
            std::fclose(f);
            fail(errc::ERRC_FORMAT, path + ": file is larger than " + std::to_string(limit) + " bytes");
        }
    }
    bool err = std::ferror(f);
    std::fclose(f);
    if (err) fail(errc::ERRC_IO, path + ": read failed");
    return out;
}

bool file_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace detail

namespace {

// HF name → GGUF name; "" for tensors that are dropped; throws for unknown names.
std::string gguf_name(const std::string& hf, int64_t n_layer, const std::string& file) {
    if (hf == "model.embed_tokens.weight") return "token_embd.weight";
    if (hf == "model.norm.weight") return "output_norm.weight";
    if (hf == "lm_head.weight") return "output.weight";
    static const std::pair<const char*, const char*> k_layer[] = {
        {"input_layernorm.weight", "attn_norm.weight"},
        {"self_attn.q_proj.weight", "attn_q.weight"},
        {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"},
        {"self_attn.o_proj.weight", "attn_output.weight"},
        {"self_attn.q_proj.bias", "attn_q.bias"},
        {"self_attn.k_proj.bias", "attn_k.bias"},
        {"self_attn.v_proj.bias", "attn_v.bias"},
        {"self_attn.o_proj.bias", "attn_output.bias"},
        {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"},
        {"mlp.down_proj.weight", "ffn_down.weight"},
        {"self_attn.rotary_emb.inv_freq", ""},
    };
    const std::string prefix = "model.layers.";
    if (hf.compare(0, prefix.size(), prefix) == 0) {
        size_t p = prefix.size(), q = p;
        int64_t layer = 0;
        while (q < hf.size() && q - p < 9 && hf[q] >= '0' && hf[q] <= '9') layer = layer * 10 + (hf[q++] - '0');
        if (q > p && q < hf.size() && hf[q] == '.' && (q == p + 1 || hf[p] != '0')) {
            const std::string rest = hf.substr(q + 1);
            for (const auto& e : k_layer) {
                if (rest != e.first) continue;
                if (layer >= n_layer)
                    fail(errc::ERRC_FORMAT, file + ": tensor '" + hf + "': layer " + std::to_string(layer) +
                                                " >= num_hidden_layers " + std::to_string(n_layer));
                return *e.second ? "blk." + std::to_string(layer) + "." + e.second : std::string();
            }
        }
    }
    fail(errc::ERRC_UNSUPPORTED, file + ": unknown tensor '" + hf + "'");
}

// Canonical order: token_embd, rope_freqs, blk.0 .. blk.N (fixed order inside a layer), output_norm, output.
std::pair<int64_t, int> order_key(const std::string& name) {
    static const char* k_global_first[] = {"token_embd.weight", "rope_freqs.weight"};
    static const char* k_global_last[] = {"output_norm.weight", "output.weight"};
    static const char* k_layer[] = {"attn_norm.weight", "attn_q.weight", "attn_q.bias", "attn_k.weight",
                                    "attn_k.bias", "attn_v.weight", "attn_v.bias", "attn_output.weight",
                                    "attn_output.bias", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight",
                                    "ffn_down.weight"};
    for (int k = 0; k < 2; ++k) {
        if (name == k_global_first[k]) return {-1, k};
        if (name == k_global_last[k]) return {int64_t(1) << 40, k};
    }
    if (name.compare(0, 4, "blk.") == 0) {
        size_t dot = name.find('.', 4);
        int64_t layer = std::stoll(name.substr(4, dot - 4));
        std::string rest = name.substr(dot + 1);
        for (int k = 0; k < int(std::size(k_layer)); ++k)
            if (rest == k_layer[k]) return {layer, k};
    }
    return {int64_t(1) << 41, 0};
}

}  // namespace

model_file read_hf(const std::string& dir_in) {
    std::string dir = dir_in;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    const std::string cfg_path = dir + "/config.json";
    if (!detail::file_exists(cfg_path))
        fail(errc::ERRC_IO, dir + ": not a Hugging Face folder (no config.json)");
    model_file m = parse_hf_config(detail::read_text_file(cfg_path, size_t(16) << 20), cfg_path);
    m.path = dir;
    const std::string arch = m.find("general.architecture")->s;
    const int64_t n_layer = m.find(arch + ".block_count")->as_int("block_count");
    const int64_t n_vocab = m.find(arch + ".vocab_size")->as_int("vocab_size");

    // ---- which tensors live in which file
    std::vector<std::string> shard_files;
    std::map<std::string, std::string> weight_map;  // HF tensor name -> shard file (sharded case only)
    const std::string index_path = dir + "/model.safetensors.index.json";
    if (detail::file_exists(dir + "/model.safetensors")) {
        shard_files.push_back("model.safetensors");
    } else if (detail::file_exists(index_path)) {
        const nlohmann::json idx = detail::parse_json(detail::read_text_file(index_path, size_t(64) << 20), index_path);
        if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
            fail(errc::ERRC_FORMAT, index_path + ": field 'weight_map': expected an object");
        for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
            if (!it.value().is_string())
                fail(errc::ERRC_FORMAT, index_path + ": weight_map['" + it.key() + "']: expected a file name");
            std::string f = it.value().get<std::string>();
            if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
                fail(errc::ERRC_FORMAT, index_path + ": weight_map['" + it.key() + "']: bad shard file name '" + f + "'");
            weight_map[it.key()] = f;
            if (std::find(shard_files.begin(), shard_files.end(), f) == shard_files.end()) shard_files.push_back(f);
        }
        std::sort(shard_files.begin(), shard_files.end());
    } else {
        fail(errc::ERRC_IO, dir + ": no model.safetensors or model.safetensors.index.json");
    }

    std::map<std::string, std::string> seen_in;  // HF name -> file it was taken from
    std::vector<tensor_entry> tensors;
    for (const std::string& f : shard_files) {
        const std::string fpath = dir + "/" + f;
        auto map = std::make_shared<mapped_file>(fpath);
        std::vector<tensor_entry> ts = parse_safetensors(map->data(), map->size(), fpath);
        m.maps.push_back(std::move(map));
        for (tensor_entry& t : ts) {
            if (!weight_map.empty()) {
                auto w = weight_map.find(t.name);
                if (w == weight_map.end() || w->second != f) continue;  // not the copy the index points at
            }
            if (!seen_in.emplace(t.name, f).second)
                fail(errc::ERRC_FORMAT, fpath + ": tensor '" + t.name + "' also appears in " + seen_in[t.name]);
            std::string g = gguf_name(t.name, n_layer, fpath);
            if (g.empty()) continue;
            t.name = std::move(g);
            tensors.push_back(std::move(t));
        }
    }
    for (const auto& w : weight_map)
        if (!seen_in.count(w.first))
            fail(errc::ERRC_FORMAT, index_path + ": tensor '" + w.first + "' is not in " + w.second);

    std::stable_sort(tensors.begin(), tensors.end(),
                     [](const tensor_entry& a, const tensor_entry& b) { return order_key(a.name) < order_key(b.name); });
    std::vector<tensor_entry> owned_first = std::move(m.tensors);  // rope_freqs from config.json
    m.tensors.clear();
    m.index();
    for (tensor_entry& t : owned_first) m.add_tensor(std::move(t));
    for (tensor_entry& t : tensors) {
        if (m.find_tensor(t.name))
            fail(errc::ERRC_FORMAT, dir + ": tensor '" + t.name + "' appears twice (after renaming)");
        m.add_tensor(std::move(t));
    }
    std::stable_sort(m.tensors.begin(), m.tensors.end(),
                     [](const tensor_entry& a, const tensor_entry& b) { return order_key(a.name) < order_key(b.name); });
    // The embedding fixes the real vocabulary size (the tokenizer is padded up to it).
    const tensor_entry* emb = m.find_tensor("token_embd.weight");
    if (!emb) fail(errc::ERRC_FORMAT, dir + ": missing tensor 'model.embed_tokens.weight'");
    if (emb->ne.size() != 2 || emb->ne[1] != n_vocab)
        fail(errc::ERRC_FORMAT, dir + ": tensor 'model.embed_tokens.weight' has " +
                                    std::to_string(emb->ne.size() == 2 ? emb->ne[1] : 0) +
                                    " rows but config.json vocab_size is " + std::to_string(n_vocab));
    detail::add_hf_tokenizer(m, dir, n_vocab);
    m.index();
    return m;
}

}  // namespace fathom::io
