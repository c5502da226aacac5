// Llama-family model: architecture registry, hyper-parameter reader, tensor binding and validation.
#include "models/llama.h"

#include <cmath>
#include <cstring>
#include <optional>

#include "core/error.h"
#include "kernels/kernels.h"
#include "nn/matmul.h"
#include "quant/quant.h"

namespace fathom {
namespace {

// Upper bounds on hyper-parameters, far above any released model, so hostile values cannot drive huge
// allocations later (the session sizes its cache and scratch from these).
constexpr int64_t k_max_embd = int64_t(1) << 16;
constexpr int64_t k_max_layer = 1024;
constexpr int64_t k_max_head = 1024;
constexpr int64_t k_max_head_dim = 1024;
constexpr int64_t k_max_ff = int64_t(1) << 20;
constexpr int64_t k_max_vocab = int64_t(1) << 26;
constexpr int64_t k_max_ctx = int64_t(1) << 27;

// ---- architecture registry: family-specific settings applied after the common hyper-parameters are read.

void configure_llama(llama_hparams& hp, const io::model_file& f) {
    // llama.cpp's converter permutes Q/K rows for the NORMAL pairing; HF folders keep HF (rotate-half) order.
    const std::string key = "fathom.rope.hf_order";
    const io::meta_value* v = f.find(key);
    const std::string where = f.path.empty() ? std::string("model") : f.path;
    hp.rope = (v && v->as_bool(where + ": key '" + key + "'")) ? rope_order::ROPE_ORDER_NEOX
                                                                : rope_order::ROPE_ORDER_NORMAL;
}

void configure_qwen2(llama_hparams& hp, const io::model_file&) { hp.rope = rope_order::ROPE_ORDER_NEOX; }

struct arch_entry {
    const char* name;  // GGUF general.architecture
    void (*configure)(llama_hparams& hp, const io::model_file& f);
};

const arch_entry k_archs[] = {
    {"llama", configure_llama},  // Llama 2/3, Mistral, DeepSeek-LLM dense
    {"qwen2", configure_qwen2},  // Qwen2 / Qwen2.5 (QKV bias)
};

const arch_entry* find_arch(const std::string& name) {
    for (const arch_entry& a : k_archs)
        if (name == a.name) return &a;
    return nullptr;
}

// A file-supplied string made safe for a one-line message: control characters replaced, at most 64 bytes.
std::string printable(const std::string& s) {
    std::string out;
    for (char c : s.substr(0, 64)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    return s.size() > 64 ? out + "..." : out;
}

std::string shape_str(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t k = 0; k < ne.size(); ++k) s += (k ? ", " : "") + std::to_string(ne[k]);
    return s + "]";
}

enum class tensor_role {
    TENSOR_ROLE_VECTOR,  // norms, biases, rope_freqs: F32, or F16/BF16 promoted to F32 at load
    TENSOR_ROLE_MATRIX,  // weights used by nn::matmul
    TENSOR_ROLE_ROWS,    // the token embedding, read by nn::get_row_f32 (and nn::matmul when tied)
};

// Reads keys and binds tensors of one model_file, producing errors that name the file and the key/tensor.
class binder {
public:
    explicit binder(const io::model_file& f) : f_(f), where_(f.path.empty() ? std::string("model") : f.path) {}

    const std::string& where() const { return where_; }

    [[noreturn]] void fail_key(errc code, const std::string& key, const std::string& problem) const {
        fail(code, where_ + ": key '" + key + "': " + problem);
    }

    int64_t int_key(const std::string& key, std::optional<int64_t> def, int64_t lo, int64_t hi) const {
        const io::meta_value* v = f_.find(key);
        if (!v) {
            if (!def) fail(errc::ERRC_FORMAT, where_ + ": missing key '" + key + "'");
            return *def;
        }
        int64_t x = v->as_int(where_ + ": key '" + key + "'");
        if (x < lo || x > hi)
            fail_key(errc::ERRC_FORMAT, key,
                     "value " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + "]");
        return x;
    }

    double float_key(const std::string& key, double def, double lo, double hi) const {
        const io::meta_value* v = f_.find(key);
        if (!v) return def;
        double x = v->as_float(where_ + ": key '" + key + "'");
        if (!std::isfinite(x) || x < lo || x > hi)
            fail_key(errc::ERRC_FORMAT, key, "value " + v->to_display() + " is out of range");
        return x;
    }

    const io::tensor_entry* bind(const std::string& name, std::vector<int64_t> shape, tensor_role role,
                                 bool required) const {
        const io::tensor_entry* t = f_.find_tensor(name);
        if (!t) {
            if (required) fail(errc::ERRC_FORMAT, where_ + ": missing tensor '" + name + "'");
            return nullptr;
        }
        const std::string tn = where_ + ": tensor '" + name + "'";
        // Trailing dimensions of 1 beyond the expected rank are harmless.
        std::vector<int64_t> ne = t->ne;
        while (ne.size() > shape.size() && ne.back() == 1) ne.pop_back();
        if (ne != shape)
            fail(errc::ERRC_FORMAT, tn + ": shape " + shape_str(t->ne) + " does not match expected " + shape_str(shape));
        if (!dtype_known(uint32_t(t->type)))
            fail(errc::ERRC_UNSUPPORTED, tn + ": unknown type id " + std::to_string(uint32_t(t->type)));
        const char* type_name = dtype_name(t->type);
        if (role == tensor_role::TENSOR_ROLE_VECTOR) {
            if (t->type != dtype::DTYPE_F32 && t->type != dtype::DTYPE_F16 && t->type != dtype::DTYPE_BF16)
                fail(errc::ERRC_UNSUPPORTED,
                     tn + ": type " + type_name + " is not supported for norms and biases (f32, f16, bf16)");
        } else {
            const bool plain = t->type == dtype::DTYPE_F32 || t->type == dtype::DTYPE_F16 || t->type == dtype::DTYPE_BF16;
            if (role == tensor_role::TENSOR_ROLE_ROWS) {  // rows are read with nn::get_row_f32 (dequantised)
                if (!plain && !quant::is_quantized(t->type))
                    fail(errc::ERRC_UNSUPPORTED, tn + ": embedding type " + type_name + " is not supported");
            } else if (!plain && !kernels::matmul_rows_q_for(kernels::active(), t->type)) {
                fail(errc::ERRC_UNSUPPORTED, tn + ": weight type " + type_name + " has no matmul kernel in this build");
            }
        }
        const dtype_traits& tr = dtype_info(t->type);
        if (shape[0] % tr.block_size != 0)
            fail(errc::ERRC_FORMAT, tn + ": row length " + std::to_string(shape[0]) + " is not a multiple of the " +
                                        type_name + " block size " + std::to_string(tr.block_size));
        uint64_t rows = 1;
        for (size_t k = 1; k < shape.size(); ++k) rows *= uint64_t(shape[k]);
        const uint64_t need = uint64_t(shape[0] / tr.block_size) * tr.type_size * rows;
        if (!t->data || t->nbytes < need)
            fail(errc::ERRC_FORMAT, tn + ": data holds " + std::to_string(t->data ? t->nbytes : 0) +
                                        " bytes, shape needs " + std::to_string(need));
        return t;
    }

private:
    const io::model_file& f_;
    std::string where_;
};

// Norms, biases and rope_freqs are used as F32 arrays; F16/BF16 ones (as HF half-precision checkpoints store
// them) are converted once here into buffers owned by the model's file. F32 ones are copied too: they sit between
// the large matmul weights in the file, and reading them from the mapping every forward pass would map back the
// page-cache folios around them (up to 2 MiB each) after nn::prepare_weight released the repacked weights' pages.
void promote_to_f32(io::model_file& f, const io::tensor_entry* bound) {
    if (!bound) return;
    io::tensor_entry& t = f.tensors[size_t(bound - f.tensors.data())];
    const int64_t n = t.nelements();
    auto buf = std::make_shared<aligned_buffer>(size_t(n) * sizeof(float));
    const uint8_t* src = static_cast<const uint8_t*>(t.data);
    float* dst = buf->as<float>();
    if (t.type == dtype::DTYPE_F32) {
        std::memcpy(dst, src, size_t(n) * sizeof(float));
    } else {
        for (int64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            dst[i] = t.type == dtype::DTYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
    }
    t.type = dtype::DTYPE_F32;
    t.data = buf->data();
    t.nbytes = uint64_t(n) * sizeof(float);
    f.owned.push_back(std::move(buf));
}

void read_hparams(const binder& b, const io::model_file& f, llama_hparams& hp) {
    const std::string a = hp.arch + ".";
    hp.n_ctx_train = b.int_key(a + "context_length", std::nullopt, 1, k_max_ctx);
    hp.n_embd = b.int_key(a + "embedding_length", std::nullopt, 1, k_max_embd);
    hp.n_layer = b.int_key(a + "block_count", std::nullopt, 1, k_max_layer);
    hp.n_ff = b.int_key(a + "feed_forward_length", std::nullopt, 1, k_max_ff);
    hp.n_head = b.int_key(a + "attention.head_count", std::nullopt, 1, k_max_head);
    hp.n_head_kv = b.int_key(a + "attention.head_count_kv", hp.n_head, 1, k_max_head);
    if (hp.n_head % hp.n_head_kv != 0)
        b.fail_key(errc::ERRC_FORMAT, a + "attention.head_count_kv",
                   "head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
                       std::to_string(hp.n_head_kv));

    std::optional<int64_t> def_head_dim;
    if (hp.n_embd % hp.n_head == 0) def_head_dim = hp.n_embd / hp.n_head;
    else if (!f.find(a + "attention.key_length"))
        b.fail_key(errc::ERRC_FORMAT, a + "embedding_length",
                   std::to_string(hp.n_embd) + " is not a multiple of head_count " + std::to_string(hp.n_head) +
                       " and attention.key_length is absent");
    hp.head_dim = b.int_key(a + "attention.key_length", def_head_dim, 2, k_max_head_dim);
    if (hp.head_dim % 2 != 0)
        b.fail_key(errc::ERRC_FORMAT, a + "attention.key_length", "head dimension " + std::to_string(hp.head_dim) + " is odd");
    const int64_t v_len = b.int_key(a + "attention.value_length", hp.head_dim, 1, k_max_head_dim);
    if (v_len != hp.head_dim)
        b.fail_key(errc::ERRC_UNSUPPORTED, a + "attention.value_length",
                   std::to_string(v_len) + " differs from key_length " + std::to_string(hp.head_dim));
    if (hp.n_head * hp.head_dim > 4 * k_max_embd)
        b.fail_key(errc::ERRC_FORMAT, a + "attention.head_count", "head_count * head_dim is too large");

    hp.n_rot = b.int_key(a + "rope.dimension_count", hp.head_dim, 2, hp.head_dim);
    if (hp.n_rot % 2 != 0)
        b.fail_key(errc::ERRC_FORMAT, a + "rope.dimension_count", "rotary dimension " + std::to_string(hp.n_rot) + " is odd");
    hp.norm_eps = float(b.float_key(a + "attention.layer_norm_rms_epsilon", 1e-5, 1e-12, 1.0));
    hp.rope_theta = float(b.float_key(a + "rope.freq_base", 10000.0, 1.0, 1e12));

    // RoPE scaling: "none" or "linear" (positions divided by the factor); Llama-3 style comes as rope_freqs.weight.
    hp.scaling = rope_scaling::ROPE_SCALING_NONE;
    hp.rope_scale = 1.0f;
    const std::string type_key = a + "rope.scaling.type";
    std::string type = "none";
    if (const io::meta_value* v = f.find(type_key)) type = v->as_string(b.where() + ": key '" + type_key + "'");
    if (type == "linear") {
        const std::string fk = a + "rope.scaling.factor";
        if (!f.find(fk)) fail(errc::ERRC_FORMAT, b.where() + ": missing key '" + fk + "' (rope.scaling.type is linear)");
        hp.rope_scale = float(b.float_key(fk, 1.0, 1e-3, 1e6));
        hp.scaling = rope_scaling::ROPE_SCALING_LINEAR;
    } else if (type == "none") {
        // Older llama.cpp files carry a linear factor as rope.scale_linear.
        double lin = b.float_key(a + "rope.scale_linear", 1.0, 1e-3, 1e6);
        if (lin != 1.0) {
            hp.rope_scale = float(lin);
            hp.scaling = rope_scaling::ROPE_SCALING_LINEAR;
        }
    } else {
        b.fail_key(errc::ERRC_UNSUPPORTED, type_key, "RoPE scaling '" + printable(type) + "' is not supported (supported: none, linear)");
    }

    hp.bos_id = int32_t(b.int_key("tokenizer.ggml.bos_token_id", -1, -1, k_max_vocab));
    hp.eos_id = int32_t(b.int_key("tokenizer.ggml.eos_token_id", -1, -1, k_max_vocab));
}

void bind_tensors(const binder& b, llama_model& m) {
    const llama_hparams& hp = m.hp;
    using R = tensor_role;
    const int64_t n_q = hp.n_head * hp.head_dim, n_kv = hp.n_head_kv * hp.head_dim;

    // The vocabulary size comes from the embedding's shape; a vocab_size key, when present, must agree.
    const io::tensor_entry* te = m.file.find_tensor("token_embd.weight");
    if (!te) fail(errc::ERRC_FORMAT, b.where() + ": missing tensor 'token_embd.weight'");
    const int64_t rows = te->ne.size() >= 2 ? te->ne[1] : 0;
    m.hp.n_vocab = b.int_key(hp.arch + ".vocab_size", rows, 1, k_max_vocab);
    m.w.tok_embd = b.bind("token_embd.weight", {hp.n_embd, hp.n_vocab}, R::TENSOR_ROLE_ROWS, true);
    m.w.output_norm = b.bind("output_norm.weight", {hp.n_embd}, R::TENSOR_ROLE_VECTOR, true);
    m.w.output = b.bind("output.weight", {hp.n_embd, hp.n_vocab}, R::TENSOR_ROLE_MATRIX, false);
    if (!m.w.output) {  // tied embeddings: the embedding is also the output head's matmul weight
        m.w.output = m.w.tok_embd;
        const dtype et = m.w.tok_embd->type;
        const bool plain = et == dtype::DTYPE_F32 || et == dtype::DTYPE_F16 || et == dtype::DTYPE_BF16;
        if (!plain && !kernels::matmul_rows_q_for(kernels::active(), et))
            fail(errc::ERRC_UNSUPPORTED, b.where() + ": tensor 'token_embd.weight': type " + dtype_name(et) +
                                             " has no matmul kernel, and it is also the (tied) output head");
    }
    m.w.rope_freqs = b.bind("rope_freqs.weight", {hp.n_rot / 2}, R::TENSOR_ROLE_VECTOR, false);

    m.w.layers.resize(size_t(hp.n_layer));
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        llama_layer& L = m.w.layers[size_t(l)];
        const std::string p = "blk." + std::to_string(l) + ".";
        L.attn_norm = b.bind(p + "attn_norm.weight", {hp.n_embd}, R::TENSOR_ROLE_VECTOR, true);
        L.wq = b.bind(p + "attn_q.weight", {hp.n_embd, n_q}, R::TENSOR_ROLE_MATRIX, true);
        L.wk = b.bind(p + "attn_k.weight", {hp.n_embd, n_kv}, R::TENSOR_ROLE_MATRIX, true);
        L.wv = b.bind(p + "attn_v.weight", {hp.n_embd, n_kv}, R::TENSOR_ROLE_MATRIX, true);
        L.wo = b.bind(p + "attn_output.weight", {n_q, hp.n_embd}, R::TENSOR_ROLE_MATRIX, true);
        L.bq = b.bind(p + "attn_q.bias", {n_q}, R::TENSOR_ROLE_VECTOR, false);
        L.bk = b.bind(p + "attn_k.bias", {n_kv}, R::TENSOR_ROLE_VECTOR, false);
        L.bv = b.bind(p + "attn_v.bias", {n_kv}, R::TENSOR_ROLE_VECTOR, false);
        L.ffn_norm = b.bind(p + "ffn_norm.weight", {hp.n_embd}, R::TENSOR_ROLE_VECTOR, true);
        L.w_gate = b.bind(p + "ffn_gate.weight", {hp.n_embd, hp.n_ff}, R::TENSOR_ROLE_MATRIX, true);
        L.w_up = b.bind(p + "ffn_up.weight", {hp.n_embd, hp.n_ff}, R::TENSOR_ROLE_MATRIX, true);
        L.w_down = b.bind(p + "ffn_down.weight", {hp.n_ff, hp.n_embd}, R::TENSOR_ROLE_MATRIX, true);
        for (const io::tensor_entry* t : {L.attn_norm, L.ffn_norm, L.bq, L.bk, L.bv}) promote_to_f32(m.file, t);
    }
    promote_to_f32(m.file, m.w.output_norm);
    promote_to_f32(m.file, m.w.rope_freqs);
}

void compute_inv_freq(const binder& b, llama_model& m) {
    const llama_hparams& hp = m.hp;
    const int64_t n_pairs = hp.n_rot / 2;
    const float* divisors = m.w.rope_freqs ? static_cast<const float*>(m.w.rope_freqs->data) : nullptr;
    m.inv_freq.resize(size_t(n_pairs));
    for (int64_t i = 0; i < n_pairs; ++i) {
        double f = std::pow(double(hp.rope_theta), -2.0 * double(i) / double(hp.n_rot));
        if (divisors) {
            const double d = divisors[i];
            if (!std::isfinite(d) || d <= 0)
                fail(errc::ERRC_FORMAT, b.where() + ": tensor 'rope_freqs.weight': element " + std::to_string(i) +
                                            " is not a positive finite number");
            f /= d;
        }
        m.inv_freq[size_t(i)] = float(f / double(hp.rope_scale));
    }
}

}  // namespace

bool llama_model::supports_arch(const std::string& arch) { return find_arch(arch) != nullptr; }

std::unique_ptr<llama_model> llama_model::load(io::model_file file) {
    auto m = std::make_unique<llama_model>();
    m->file = std::move(file);  // tensor pointers below point into m->file, which stays put
    const io::model_file& f = m->file;
    binder b(f);

    const io::meta_value* arch = f.find("general.architecture");
    if (!arch) fail(errc::ERRC_FORMAT, b.where() + ": missing key 'general.architecture'");
    m->hp.arch = arch->as_string(b.where() + ": key 'general.architecture'");
    const arch_entry* entry = find_arch(m->hp.arch);
    if (!entry) {
        std::string known;
        for (const arch_entry& a : k_archs) known += std::string(known.empty() ? "" : ", ") + a.name;
        fail(errc::ERRC_UNSUPPORTED, b.where() + ": unknown architecture '" + printable(m->hp.arch) + "' (supported: " + known + ")");
    }

    read_hparams(b, f, m->hp);
    entry->configure(m->hp, f);
    bind_tensors(b, *m);
    if (m->w.rope_freqs && m->hp.scaling == rope_scaling::ROPE_SCALING_NONE)
        m->hp.scaling = rope_scaling::ROPE_SCALING_LLAMA3;
    auto check_token = [&](const char* key, int32_t id) {
        if (id >= m->hp.n_vocab)
            b.fail_key(errc::ERRC_FORMAT, key,
                       "token id " + std::to_string(id) + " is outside the vocabulary of " +
                           std::to_string(m->hp.n_vocab));
    };
    check_token("tokenizer.ggml.bos_token_id", m->hp.bos_id);
    check_token("tokenizer.ggml.eos_token_id", m->hp.eos_id);
    compute_inv_freq(b, *m);
    // Matmul weights with an interleaved form are repacked once here (the embedding only when it is also the
    // output head: its rows are then read back through nn::get_row_f32).
    for (llama_layer& L : m->w.layers)
        for (const io::tensor_entry* t : {L.wq, L.wk, L.wv, L.wo, L.w_gate, L.w_up, L.w_down})
            nn::prepare_weight(m->file, t);
    nn::prepare_weight(m->file, m->w.output);
    return m;
}

}  // namespace fathom
