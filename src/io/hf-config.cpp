// Hugging Face config.json → GGUF hyper-parameter keys (llama.cpp naming), including Llama-3 RoPE factors.
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/hf-internal.h"

namespace fathom::io {

namespace {

using json = nlohmann::json;

constexpr int64_t k_max_hparam = int64_t(1) << 31;  // counts are stored as uint32 in GGUF

const char* json_kind(const json& j) {
    switch (j.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "bool";
        case json::value_t::string: return "string";
        case json::value_t::array: return "array";
        case json::value_t::object: return "object";
        case json::value_t::number_float: return "float";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "integer";
        default: return "other";
    }
}

// Typed field access on one JSON object with "NAME: field 'x': expected ..." errors.
class fields {
public:
    fields(const json& obj, const std::string& name, std::string prefix = "")
        : j_(obj), name_(name), prefix_(std::move(prefix)) {}

    [[noreturn]] void bad(const std::string& key, const std::string& expected) const {
        auto it = j_.find(key);
        std::string found = it == j_.end() ? "it is missing" : std::string("found ") + json_kind(*it);
        if (it != j_.end() && it->is_number()) found += " " + it->dump();
        fail(errc::ERRC_FORMAT, name_ + ": field '" + prefix_ + key + "': expected " + expected + ", " + found);
    }
    bool has(const std::string& key) const {
        auto it = j_.find(key);
        return it != j_.end() && !it->is_null();
    }
    int64_t pos_int(const std::string& key) const {
        auto it = j_.find(key);
        if (it == j_.end() || !(it->is_number_integer() || it->is_number_unsigned())) bad(key, "a positive integer");
        if (it->is_number_unsigned()) {
            uint64_t v = it->get<uint64_t>();
            if (v == 0 || v > uint64_t(k_max_hparam)) bad(key, "a positive integer below 2^31");
            return int64_t(v);
        }
        int64_t v = it->get<int64_t>();
        if (v <= 0 || v > k_max_hparam) bad(key, "a positive integer below 2^31");
        return v;
    }
    int64_t pos_int(const std::string& key, int64_t def) const { return has(key) ? pos_int(key) : def; }
    double pos_num(const std::string& key) const {
        auto it = j_.find(key);
        if (it == j_.end() || !it->is_number()) bad(key, "a positive number");
        double v = it->get<double>();
        if (!(v > 0) || !std::isfinite(v)) bad(key, "a positive number");
        const float fv = float(v);  // stored as float32 in GGUF
        if (!(fv > 0) || std::isinf(fv)) bad(key, "a positive number in float32 range");
        return v;
    }
    double pos_num(const std::string& key, double def) const { return has(key) ? pos_num(key) : def; }
    std::string str(const std::string& key) const {
        auto it = j_.find(key);
        if (it == j_.end() || !it->is_string()) bad(key, "a string");
        return it->get<std::string>();
    }
    bool boolean(const std::string& key, bool def) const {
        if (!has(key)) return def;
        const json& v = j_.at(key);
        if (!v.is_boolean()) bad(key, "true or false");
        return v.get<bool>();
    }
    // A token id: a non-negative integer, or an array of them (first is used), or null/missing (-1).
    int64_t token_id(const std::string& key) const {
        if (!has(key)) return -1;
        const json* v = &j_.at(key);
        if (v->is_array()) {
            if (v->empty()) return -1;
            v = &(*v)[0];
        }
        if (!(v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0)) ||
            v->get<uint64_t>() > uint64_t(std::numeric_limits<uint32_t>::max()))
            bad(key, "a non-negative integer token id");
        return int64_t(v->get<uint64_t>());
    }

private:
    const json& j_;
    const std::string& name_;
    std::string prefix_;
};

struct arch_entry {
    const char* hf;
    const char* model_type;
    const char* gguf;
};
const arch_entry k_archs[] = {
    {"LlamaForCausalLM", "llama", "llama"},
    {"MistralForCausalLM", "mistral", "llama"},
    {"Qwen2ForCausalLM", "qwen2", "qwen2"},
};

std::string folder_name(const std::string& name) {  // "a/b/model/config.json" -> "model"
    std::string dir = name;
    size_t slash = dir.find_last_of('/');
    dir = slash == std::string::npos ? std::string(".") : dir.substr(0, slash);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    size_t s2 = dir.find_last_of('/');
    return s2 == std::string::npos ? dir : dir.substr(s2 + 1);
}

}  // namespace

model_file parse_hf_config(const std::string& json_text, const std::string& name) {
    const json cfg = detail::parse_json(json_text, name);
    if (!cfg.is_object()) fail(errc::ERRC_FORMAT, name + ": expected a JSON object at the top level");
    fields f(cfg, name);

    // ---- architecture
    std::string hf_arch;
    auto ai = cfg.find("architectures");
    if (ai != cfg.end() && !ai->is_null()) {
        if (!ai->is_array() || ai->empty() || !(*ai)[0].is_string())
            f.bad("architectures", "a non-empty array of strings");
        hf_arch = (*ai)[0].get<std::string>();
    } else if (f.has("model_type")) {
        hf_arch = f.str("model_type");
    } else {
        f.bad("architectures", "a non-empty array of strings");
    }
    const char* arch = nullptr;
    for (const arch_entry& e : k_archs)
        if (hf_arch == e.hf || hf_arch == e.model_type) arch = e.gguf;
    if (!arch)
        fail(errc::ERRC_UNSUPPORTED, name + ": architecture '" + hf_arch +
                                         "' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
    const std::string a = arch;

    // ---- hyper-parameters
    const int64_t n_embd = f.pos_int("hidden_size");
    const int64_t n_layer = f.pos_int("num_hidden_layers");
    const int64_t n_head = f.pos_int("num_attention_heads");
    const int64_t n_ff = f.pos_int("intermediate_size");
    const int64_t n_vocab = f.pos_int("vocab_size");
    const int64_t n_ctx = f.pos_int("max_position_embeddings", 2048);
    const int64_t n_head_kv = f.pos_int("num_key_value_heads", n_head);
    const double eps = f.pos_num("rms_norm_eps", 1e-6);
    const double theta = f.pos_num("rope_theta", 10000.0);
    f.boolean("tie_word_embeddings", false);  // validated; a missing lm_head.weight is what ties
    if (n_head % n_head_kv != 0)
        fail(errc::ERRC_FORMAT, name + ": field 'num_key_value_heads': " + std::to_string(n_head_kv) +
                                    " does not divide num_attention_heads " + std::to_string(n_head));
    const bool explicit_head_dim = f.has("head_dim");
    int64_t head_dim;
    if (explicit_head_dim) {
        head_dim = f.pos_int("head_dim");
    } else {
        if (n_embd % n_head != 0)
            fail(errc::ERRC_FORMAT, name + ": field 'hidden_size': " + std::to_string(n_embd) +
                                        " is not a multiple of num_attention_heads " + std::to_string(n_head));
        head_dim = n_embd / n_head;
    }
    if (head_dim % 2 != 0)
        fail(errc::ERRC_FORMAT, name + ": head dimension " + std::to_string(head_dim) + " is odd (RoPE needs pairs)");

    model_file m;
    m.path = name;
    m.set("general.architecture", meta_value::str(a));
    std::string model_name = folder_name(name);
    if (f.has("_name_or_path") && cfg.at("_name_or_path").is_string() && !cfg.at("_name_or_path").get<std::string>().empty()) {
        model_name = cfg.at("_name_or_path").get<std::string>();
        size_t s = model_name.find_last_of('/');
        if (s != std::string::npos && s + 1 < model_name.size()) model_name = model_name.substr(s + 1);
    }
    m.set("general.name", meta_value::str(model_name));
    auto u32 = [&](const std::string& key, int64_t v) { m.set(a + "." + key, meta_value::u32(uint32_t(v))); };
    u32("vocab_size", n_vocab);
    u32("context_length", n_ctx);
    u32("embedding_length", n_embd);
    u32("block_count", n_layer);
    u32("feed_forward_length", n_ff);
    u32("attention.head_count", n_head);
    u32("attention.head_count_kv", n_head_kv);
    m.set(a + ".rope.freq_base", meta_value::f32(float(theta)));
    m.set(a + ".attention.layer_norm_rms_epsilon", meta_value::f32(float(eps)));
    u32("rope.dimension_count", head_dim);
    if (explicit_head_dim) {
        u32("attention.key_length", head_dim);
        u32("attention.value_length", head_dim);
    }

    // ---- RoPE scaling
    auto rs = cfg.find("rope_scaling");
    if (rs != cfg.end() && !rs->is_null()) {
        if (!rs->is_object()) f.bad("rope_scaling", "an object or null");
        fields r(*rs, name, "rope_scaling.");
        std::string type = r.has("rope_type") ? r.str("rope_type") : r.has("type") ? r.str("type") : "";
        if (type == "linear") {
            m.set(a + ".rope.scaling.type", meta_value::str("linear"));
            m.set(a + ".rope.scaling.factor", meta_value::f32(float(r.pos_num("factor"))));
        } else if (type == "llama3") {
            const double factor = r.pos_num("factor", 8.0);
            const double low = r.pos_num("low_freq_factor", 1.0);
            const double high = r.pos_num("high_freq_factor", 4.0);
            const double old_ctx = double(r.pos_int("original_max_position_embeddings", 8192));
            if (!(high > low))
                fail(errc::ERRC_FORMAT, name + ": field 'rope_scaling.high_freq_factor': must be greater than low_freq_factor");
            const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
            const int64_t n = head_dim / 2;
            auto buf = std::make_shared<aligned_buffer>(size_t(n) * sizeof(float));
            float* out = buf->as<float>();
            for (int64_t k = 0; k < n; ++k) {
                // Base frequency as the converter computes it (float32), the rest in double.
                const float freq = 1.0f / std::pow(float(theta), float(2 * k) / float(head_dim));
                const double wavelen = 2.0 * M_PI / double(freq);
                double divisor;
                if (wavelen < high_wavelen) {
                    divisor = 1.0;
                } else if (wavelen > low_wavelen) {
                    divisor = factor;
                } else {
                    const double smooth = (old_ctx / wavelen - low) / (high - low);
                    divisor = 1.0 / ((1.0 - smooth) / factor + smooth);
                }
                out[k] = float(divisor);
                if (!(out[k] > 0) || std::isinf(out[k]))
                    fail(errc::ERRC_FORMAT, name + ": field 'rope_scaling': factors give an unusable frequency divisor " +
                                                std::to_string(divisor));
            }
            tensor_entry t;
            t.name = "rope_freqs.weight";
            t.type = dtype::DTYPE_F32;
            t.ne = {n};
            t.nbytes = uint64_t(n) * sizeof(float);
            t.data = buf->data();
            m.owned.push_back(std::move(buf));
            m.add_tensor(std::move(t));
        } else if (type == "default" || type.empty()) {
            // no scaling
        } else {
            fail(errc::ERRC_UNSUPPORTED, name + ": rope_scaling type '" + type + "' is not supported (linear, llama3)");
        }
    }
    if (a == "llama") m.set("fathom.rope.hf_order", meta_value::boolean(true));
    const int64_t bos = f.token_id("bos_token_id"), eos = f.token_id("eos_token_id");
    if (bos >= 0) m.set("tokenizer.ggml.bos_token_id", meta_value::u32(uint32_t(bos)));
    if (eos >= 0) m.set("tokenizer.ggml.eos_token_id", meta_value::u32(uint32_t(eos)));
    m.index();
    return m;
}

}  // namespace fathom::io
