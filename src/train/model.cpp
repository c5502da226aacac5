// The trainable Llama decoder: parameter layout, initialisation, forward with saved activations, backward, and
// GGUF conversion (see model.h).
#include "train/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "models/llama.h"
#include "models/synth.h"
#include "nn/matmul.h"
#include "train/ops.h"

namespace fathom::train {

namespace {

std::string blk(int64_t l, const char* what) { return "blk." + std::to_string(l) + "." + what; }

[[noreturn]] void bad_config(const std::string& field, const std::string& problem) {
    fail(errc::ERRC_INVALID_ARGUMENT, "train config: " + field + ": " + problem);
}

// The training shape of a loaded Llama model; `what` ("training", "LoRA training") names the use in the errors for
// what the training model does not implement.
train_config trainable_config(const llama_model& model, const std::string& path, const std::string& what) {
    const llama_hparams& hp = model.hp;
    auto unsupported = [&](const std::string& feature) {
        fail(errc::ERRC_UNSUPPORTED, path + ": " + what + " does not support " + feature);
    };
    if (hp.arch != "llama") unsupported("architecture '" + hp.arch + "' (only llama)");
    if (hp.rope != rope_order::ROPE_ORDER_NORMAL)
        unsupported("Hugging Face Q/K order (convert the model to GGUF with fathom convert first)");
    if (hp.scaling != rope_scaling::ROPE_SCALING_NONE || model.w.rope_freqs) unsupported("RoPE scaling");
    if (hp.n_rot != hp.head_dim) unsupported("partial rotary dimensions");
    if (hp.head_dim * hp.n_head != hp.n_embd) unsupported("a head dimension other than n_embd / n_head");
    if (!model.w.layers.empty() && (model.w.layers[0].bq || model.w.layers[0].bk || model.w.layers[0].bv))
        unsupported("attention biases");
    train_config c;
    c.n_vocab = hp.n_vocab;
    c.n_ctx = hp.n_ctx_train;
    c.n_embd = hp.n_embd;
    c.n_layer = hp.n_layer;
    c.n_head = hp.n_head;
    c.n_head_kv = hp.n_head_kv;
    c.n_ff = hp.n_ff;
    c.norm_eps = hp.norm_eps;
    c.rope_theta = hp.rope_theta;
    c.tie_embeddings = model.w.output == model.w.tok_embd;
    return c;
}

void resize(std::vector<float>& v, int64_t n) {
    if (int64_t(v.size()) != n) v.assign(size_t(n), 0.0f);
}
void zero(std::vector<float>& v) { std::fill(v.begin(), v.end(), 0.0f); }

}  // namespace

// One linear layer's weights for a forward / backward: trainable F32 (w, dw), or a frozen base tensor run through
// the inference kernels; plus an optional LoRA adapter (a: rank x in, b: out x rank, their gradients, the saved
// x A^T).
struct train_model::linear {
    const float* w = nullptr;
    float* dw = nullptr;
    const io::tensor_entry* frozen = nullptr;
    const float* a = nullptr;
    const float* b = nullptr;
    float* da = nullptr;
    float* db = nullptr;
    int64_t rank = 0;
    float scale = 0.0f;
    std::vector<float>* xa = nullptr;
};

const char* train_model::linear_name(int i) {
    static const char* const names[k_linears] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                                 "ffn_gate", "ffn_up", "ffn_down"};
    return names[i];
}
const char* train_model::linear_target(int i) {
    static const char* const names[k_linears] = {"q", "k", "v", "o", "gate", "up", "down"};
    return names[i];
}

void lora_config::validate() const {
    if (rank <= 0 || rank > 4096)
        fail(errc::ERRC_INVALID_ARGUMENT, "lora: rank: must be 1..4096 (got " + std::to_string(rank) + ")");
    if (!(alpha > 0.0f) || !std::isfinite(alpha)) fail(errc::ERRC_INVALID_ARGUMENT, "lora: alpha: must be positive");
    if (targets.empty()) fail(errc::ERRC_INVALID_ARGUMENT, "lora: targets: none given");
    for (const std::string& t : targets) {
        bool known = false;
        for (int i = 0; i < train_model::k_linears; ++i) known = known || t == train_model::linear_target(i);
        if (!known)
            fail(errc::ERRC_INVALID_ARGUMENT,
                 "lora: targets: unknown target '" + t + "' (expected q, k, v, o, gate, up, down)");
    }
}

int64_t train_config::n_params() const {
    const int64_t hd = head_dim(), q = n_head * hd, kv = n_head_kv * hd;
    const int64_t per_layer = 2 * n_embd + n_embd * q + 2 * n_embd * kv + q * n_embd + 3 * n_embd * n_ff;
    return n_vocab * n_embd * (tie_embeddings ? 1 : 2) + n_embd + n_layer * per_layer;
}

void train_config::validate() const {
    auto positive = [](const char* f, int64_t v) {
        if (v <= 0) bad_config(f, "must be positive (got " + std::to_string(v) + ")");
    };
    positive("n_vocab", n_vocab);
    positive("n_ctx", n_ctx);
    positive("n_embd", n_embd);
    positive("n_layer", n_layer);
    positive("n_head", n_head);
    positive("n_head_kv", n_head_kv);
    positive("n_ff", n_ff);
    if (n_embd % n_head != 0)
        bad_config("n_head", "must divide n_embd (" + std::to_string(n_embd) + " / " + std::to_string(n_head) + ")");
    if (head_dim() % 2 != 0) bad_config("n_head", "head dimension " + std::to_string(head_dim()) + " must be even");
    if (n_head % n_head_kv != 0)
        bad_config("n_head_kv",
                   "must divide n_head (" + std::to_string(n_head) + " / " + std::to_string(n_head_kv) + ")");
    if (n_vocab > (int64_t(1) << 31) - 1) bad_config("n_vocab", "too large");
    if (!(norm_eps > 0.0f) || !std::isfinite(norm_eps)) bad_config("norm_eps", "must be a positive number");
    if (!(rope_theta > 0.0f) || !std::isfinite(rope_theta)) bad_config("rope_theta", "must be a positive number");
}

train_model::train_model(const train_config& cfg) : train_model(cfg, no_params{}) {
    int64_t total = 0;
    for (const param_tensor& t : tensors_) total += t.size;
    params.assign(size_t(total), 0.0f);
    grads.assign(size_t(total), 0.0f);
}

train_model::train_model(const train_config& cfg, no_params) : cfg_(cfg) {
    cfg_.validate();
    const int64_t e = cfg_.n_embd, hd = cfg_.head_dim(), q = cfg_.n_head * hd, kv = cfg_.n_head_kv * hd;
    int64_t off = 0;
    auto add = [&](const std::string& name, std::vector<int64_t> ne) {
        param_tensor t;
        t.name = name;
        t.ne = std::move(ne);
        t.size = 1;
        for (int64_t d : t.ne) t.size *= d;
        t.offset = off;
        t.matrix = t.ne.size() == 2;
        off += t.size;
        tensors_.push_back(std::move(t));
    };
    add("token_embd.weight", {e, cfg_.n_vocab});
    add("output_norm.weight", {e});
    if (!cfg_.tie_embeddings) add("output.weight", {e, cfg_.n_vocab});
    for (int64_t l = 0; l < cfg_.n_layer; ++l) {
        add(blk(l, "attn_norm.weight"), {e});
        add(blk(l, "attn_q.weight"), {e, q});
        add(blk(l, "attn_k.weight"), {e, kv});
        add(blk(l, "attn_v.weight"), {e, kv});
        add(blk(l, "attn_output.weight"), {q, e});
        add(blk(l, "ffn_norm.weight"), {e});
        add(blk(l, "ffn_gate.weight"), {e, cfg_.n_ff});
        add(blk(l, "ffn_up.weight"), {e, cfg_.n_ff});
        add(blk(l, "ffn_down.weight"), {cfg_.n_ff, e});
    }
    inv_freq_.resize(size_t(hd / 2));
    for (int64_t i = 0; i < hd / 2; ++i)
        inv_freq_[size_t(i)] = float(std::pow(double(cfg_.rope_theta), -2.0 * double(i) / double(hd)));
    acts_.resize(size_t(cfg_.n_layer));
}

const param_tensor* train_model::find(const std::string& name) const {
    for (const param_tensor& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

float* train_model::p(const std::string& name) {
    const param_tensor* t = find(name);
    return t ? params.data() + t->offset : nullptr;
}

void train_model::init_random(uint64_t seed) {
    const float sd = 0.02f, sd_proj = 0.02f / std::sqrt(2.0f * float(cfg_.n_layer));
    for (size_t k = 0; k < tensors_.size(); ++k) {
        const param_tensor& t = tensors_[k];
        float* d = params.data() + t.offset;
        if (!t.matrix) {
            std::fill(d, d + t.size, 1.0f);
            continue;
        }
        const bool proj = t.name.find("attn_output") != std::string::npos || t.name.find("ffn_down") != std::string::npos;
        const float s = (proj ? sd_proj : sd) / 0.02f;  // synth_weight draws normal(0, 0.02)
        for (int64_t i = 0; i < t.size; ++i) d[i] = s * synth_weight(seed, k, uint64_t(i));
    }
}

void train_model::zero_grad() { zero(grads); }

train_model train_model::from_model_file(const io::model_file& f) {
    const std::string& path = f.path;
    auto model = llama_model::load(f);  // validates shapes and reads the hyper-parameters
    const train_config c = trainable_config(*model, path, "training");
    train_model m(c);
    for (const param_tensor& t : m.tensors_) {
        const io::tensor_entry* e = model->file.find_tensor(t.name);
        if (!e) fail(errc::ERRC_FORMAT, path + ": tensor '" + t.name + "' is missing");
        if (e->layout == io::weight_layout::WEIGHT_LAYOUT_ROWS && e->nelements() != t.size)
            fail(errc::ERRC_FORMAT, path + ": tensor '" + t.name + "' has the wrong size");
        float* dst = m.params.data() + t.offset;
        if (e->type == dtype::DTYPE_F32 && e->layout == io::weight_layout::WEIGHT_LAYOUT_ROWS) {
            std::memcpy(dst, e->data, size_t(t.size) * sizeof(float));
        } else if (t.ne.size() == 2) {
            for (int64_t r = 0; r < t.ne[1]; ++r) nn::get_row_f32(*e, r, dst + r * t.ne[0]);
        } else {
            fail(errc::ERRC_UNSUPPORTED, path + ": tensor '" + t.name + "': training reads 1-D tensors in F32 only");
        }
    }
    return m;
}

train_model train_model::for_lora(io::model_file base, const lora_config& lc, uint64_t seed) {
    lc.validate();
    // The base's hyper-parameters and restrictions are from_model_file's; its tensors are not copied.
    const std::string path = base.path;
    std::unique_ptr<llama_model> probe = llama_model::load(std::move(base));
    const train_config c = trainable_config(*probe, path, "LoRA training");
    train_model m(c, no_params{});
    m.lora_ = true;
    m.lcfg_ = lc;
    // The loaded model owns a prepared copy of the file (matmul weights possibly repacked); keep it.
    m.base_ = std::shared_ptr<io::model_file>(new io::model_file(std::move(probe->file)));
    // Norm weights in F32.
    for (const io::tensor_entry& t : m.base_->tensors) {
        if (t.name.find("norm.weight") == std::string::npos) continue;
        m.base_norm_index_.emplace_back(t.name, int64_t(m.base_norms_.size()));
        const size_t at = m.base_norms_.size();
        m.base_norms_.resize(at + size_t(t.nelements()));
        nn::get_row_f32(t, 0, m.base_norms_.data() + at);
    }
    // Adapter tensors replace the full parameter list.
    const int64_t e = c.n_embd, hd = c.head_dim(), q = c.n_head * hd, kv = c.n_head_kv * hd;
    const int64_t in_of[k_linears] = {e, e, e, q, e, e, c.n_ff};
    const int64_t out_of[k_linears] = {q, kv, kv, e, c.n_ff, c.n_ff, e};
    m.tensors_.clear();
    int64_t off = 0;
    for (int64_t l = 0; l < c.n_layer; ++l)
        for (int i = 0; i < k_linears; ++i) {
            bool on = false;
            for (const std::string& t : lc.targets) on = on || t == linear_target(i);
            if (!on) continue;
            const std::string w = blk(l, linear_name(i)) + ".weight";
            for (int ab = 0; ab < 2; ++ab) {
                param_tensor pt;
                pt.name = w + (ab == 0 ? ".lora_a" : ".lora_b");
                pt.ne = ab == 0 ? std::vector<int64_t>{in_of[i], lc.rank} : std::vector<int64_t>{lc.rank, out_of[i]};
                pt.size = pt.ne[0] * pt.ne[1];
                pt.offset = off;
                pt.matrix = true;
                off += pt.size;
                m.tensors_.push_back(std::move(pt));
            }
        }
    m.params.assign(size_t(off), 0.0f);
    m.grads.assign(size_t(off), 0.0f);
    for (size_t k = 0; k < m.tensors_.size(); ++k) {
        const param_tensor& pt = m.tensors_[k];
        if (pt.name.compare(pt.name.size() - 7, 7, ".lora_a") != 0) continue;  // B stays zero
        const float s = 1.0f / std::sqrt(float(pt.ne[0])) / 0.02f;          // synth_weight draws normal(0, 0.02)
        for (int64_t i = 0; i < pt.size; ++i) m.params[size_t(pt.offset + i)] = s * synth_weight(seed, k, uint64_t(i));
    }
    return m;
}

const float* train_model::norm_weight(const std::string& name) {
    if (!lora_) return p(name);
    for (const auto& [n, off] : base_norm_index_)
        if (n == name) return base_norms_.data() + off;
    fail(errc::ERRC_FORMAT, base_->path + ": tensor '" + name + "' is missing");
}

float* train_model::norm_grad(const std::string& name) {
    if (!lora_) return grads.data() + find(name)->offset;
    resize(norm_dw_scratch_, cfg_.n_embd);
    return norm_dw_scratch_.data();
}

train_model::linear train_model::lin(int64_t layer, int which) {
    linear L;
    const std::string w = blk(layer, linear_name(which)) + ".weight";
    if (!lora_) {
        const param_tensor* t = find(w);
        L.w = params.data() + t->offset;
        L.dw = grads.data() + t->offset;
        return L;
    }
    L.frozen = base_->find_tensor(w);
    if (const param_tensor* a = find(w + ".lora_a")) {
        const param_tensor* b = find(w + ".lora_b");
        L.a = params.data() + a->offset;
        L.da = grads.data() + a->offset;
        L.b = params.data() + b->offset;
        L.db = grads.data() + b->offset;
        L.rank = lcfg_.rank;
        L.scale = lcfg_.alpha / float(lcfg_.rank);
        L.xa = &acts_[size_t(layer)].xa[which];
    }
    return L;
}

train_model::linear train_model::head() {
    linear L;
    const char* name = cfg_.tie_embeddings ? "token_embd.weight" : "output.weight";
    if (lora_) {
        L.frozen = base_->find_tensor(name);
    } else {
        L.w = p(name);
        L.dw = grads.data() + find(name)->offset;
    }
    return L;
}

void train_model::linear_forward(thread_pool& pool, const linear& L, float* out, const float* x, int64_t n,
                                 int64_t in, int64_t oc) {
    if (L.frozen) nn::matmul(pool, *L.frozen, x, in, n, out, oc);
    else matmul_forward(pool, out, x, L.w, nullptr, n, in, oc);
    if (L.a) {
        resize(*L.xa, n * L.rank);
        gemm(pool, false, true, n, L.rank, in, 1.0f, x, in, L.a, in, 0.0f, L.xa->data(), L.rank);
        gemm(pool, false, true, n, oc, L.rank, L.scale, L.xa->data(), L.rank, L.b, L.rank, 1.0f, out, oc);
    }
}

void train_model::linear_backward(thread_pool& pool, const linear& L, float* dx, const float* dout, const float* x,
                                  int64_t n, int64_t in, int64_t oc) {
    if (!L.frozen) {
        matmul_backward(pool, dx, L.dw, nullptr, dout, x, L.w, n, in, oc);
    } else {
        // dx += dout W for a frozen weight of any type: 256-row panels of W in F32, one gemm each.
        constexpr int64_t k_rows = 256;
        std::vector<float> panel(size_t(std::min(k_rows, oc) * in));
        for (int64_t r0 = 0; r0 < oc; r0 += k_rows) {
            const int64_t nr = std::min(k_rows, oc - r0);
            pool.parallel_for(nr, 16, [&](int64_t i0, int64_t i1, int) {
                for (int64_t r = i0; r < i1; ++r) nn::get_row_f32(*L.frozen, r0 + r, panel.data() + r * in);
            });
            gemm(pool, false, false, n, in, nr, 1.0f, dout + r0, oc, panel.data(), in, 1.0f, dx, in);
        }
    }
    if (L.a) {
        // out += s (x A^T) B^T:  dB += s dout^T xa;  dxa = s dout B;  dA += dxa^T x;  dx += dxa A
        std::vector<float> dxa(size_t(n * L.rank));
        gemm(pool, true, false, oc, L.rank, n, L.scale, dout, oc, L.xa->data(), L.rank, 1.0f, L.db, L.rank);
        gemm(pool, false, false, n, L.rank, oc, L.scale, dout, oc, L.b, L.rank, 0.0f, dxa.data(), L.rank);
        gemm(pool, true, false, L.rank, in, n, 1.0f, dxa.data(), L.rank, x, in, 1.0f, L.da, in);
        gemm(pool, false, false, n, in, L.rank, 1.0f, dxa.data(), L.rank, L.a, in, 1.0f, dx, in);
    }
}

void train_model::reserve(int64_t b, int64_t t) {
    const int64_t n = b * t, e = cfg_.n_embd, hd = cfg_.head_dim(), q = cfg_.n_head * hd, kv = cfg_.n_head_kv * hd;
    for (layer_acts& a : acts_) {
        resize(a.x, n * e);
        resize(a.xn1, n * e);
        resize(a.rstd1, n);
        resize(a.q, n * q);
        resize(a.k, n * kv);
        resize(a.v, n * kv);
        resize(a.att, n * q);
        resize(a.lse, b * cfg_.n_head * t);
        resize(a.x2, n * e);
        resize(a.xn2, n * e);
        resize(a.rstd2, n);
        resize(a.g, n * cfg_.n_ff);
        resize(a.u, n * cfg_.n_ff);
        resize(a.h, n * cfg_.n_ff);
    }
    resize(x_final_, n * e);
    resize(xnf_, n * e);
    resize(rstdf_, n);
    resize(logits_, n * cfg_.n_vocab);
    resize(losses_, n);
}

float train_model::forward(thread_pool& pool, const int32_t* tokens, const int32_t* targets, int64_t b, int64_t t) {
    if (b <= 0 || t <= 0 || t > cfg_.n_ctx)
        fail(errc::ERRC_INVALID_ARGUMENT, "train forward: " + std::to_string(b) + " x " + std::to_string(t) +
                                              " tokens (sequence length must be 1.." + std::to_string(cfg_.n_ctx) + ")");
    reserve(b, t);
    b_ = b;
    t_ = t;
    const int64_t n = b * t, e = cfg_.n_embd, hd = cfg_.head_dim(), q = cfg_.n_head * hd, kv = cfg_.n_head_kv * hd;
    const int64_t ff = cfg_.n_ff, V = cfg_.n_vocab;
    tokens_.assign(tokens, tokens + n);
    targets_.assign(targets, targets + n);
    pos_.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) pos_[size_t(i)] = int32_t(i % t);

    float* x0 = acts_[0].x.data();
    if (!lora_) {
        embedding_forward(pool, x0, tokens, p("token_embd.weight"), n, e);
    } else {
        const io::tensor_entry* te = base_->find_tensor("token_embd.weight");
        pool.parallel_for(n, 16, [&](int64_t i0, int64_t i1, int) {
            for (int64_t i = i0; i < i1; ++i) nn::get_row_f32(*te, tokens[i], x0 + i * e);
        });
    }
    for (int64_t l = 0; l < cfg_.n_layer; ++l) {
        layer_acts& a = acts_[size_t(l)];
        rmsnorm_forward(pool, a.xn1.data(), a.rstd1.data(), a.x.data(), norm_weight(blk(l, "attn_norm.weight")), n, e,
                        cfg_.norm_eps);
        linear_forward(pool, lin(l, 0), a.q.data(), a.xn1.data(), n, e, q);
        linear_forward(pool, lin(l, 1), a.k.data(), a.xn1.data(), n, e, kv);
        linear_forward(pool, lin(l, 2), a.v.data(), a.xn1.data(), n, e, kv);
        rope_forward(pool, a.q.data(), pos_.data(), inv_freq_.data(), n, cfg_.n_head, hd, hd);
        rope_forward(pool, a.k.data(), pos_.data(), inv_freq_.data(), n, cfg_.n_head_kv, hd, hd);
        attention_forward(pool, a.att.data(), a.lse.data(), a.q.data(), a.k.data(), a.v.data(), b, t, cfg_.n_head,
                          cfg_.n_head_kv, hd);
        linear_forward(pool, lin(l, 3), a.x2.data(), a.att.data(), n, q, e);
        for (int64_t i = 0; i < n * e; ++i) a.x2[size_t(i)] += a.x[size_t(i)];
        rmsnorm_forward(pool, a.xn2.data(), a.rstd2.data(), a.x2.data(), norm_weight(blk(l, "ffn_norm.weight")), n, e,
                        cfg_.norm_eps);
        linear_forward(pool, lin(l, 4), a.g.data(), a.xn2.data(), n, e, ff);
        linear_forward(pool, lin(l, 5), a.u.data(), a.xn2.data(), n, e, ff);
        swiglu_forward(pool, a.h.data(), a.g.data(), a.u.data(), n * ff);
        float* next = l + 1 < cfg_.n_layer ? acts_[size_t(l + 1)].x.data() : x_final_.data();
        linear_forward(pool, lin(l, 6), next, a.h.data(), n, ff, e);
        for (int64_t i = 0; i < n * e; ++i) next[i] += a.x2[size_t(i)];
    }
    rmsnorm_forward(pool, xnf_.data(), rstdf_.data(), x_final_.data(), norm_weight("output_norm.weight"), n, e,
                    cfg_.norm_eps);
    linear_forward(pool, head(), logits_.data(), xnf_.data(), n, e, V);
    n_scored_ = cross_entropy_forward(pool, losses_.data(), logits_.data(), targets, n, V);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(losses_[size_t(i)]);
    return n_scored_ > 0 ? float(sum / double(n_scored_)) : 0.0f;
}

void train_model::backward(thread_pool& pool, float loss_scale) {
    if (b_ == 0) fail(errc::ERRC_INVALID_ARGUMENT, "train backward: no forward pass to differentiate");
    const int64_t b = b_, t = t_, n = b * t, e = cfg_.n_embd, hd = cfg_.head_dim(), q = cfg_.n_head * hd,
                  kv = cfg_.n_head_kv * hd, ff = cfg_.n_ff, V = cfg_.n_vocab;
    resize(dres_, n * e);
    resize(dxn_, n * e);
    resize(dq_, n * q);
    resize(dk_, n * kv);
    resize(dv_, n * kv);
    resize(datt_, n * q);
    resize(dg_, n * ff);
    resize(du_, n * ff);
    resize(dh_, n * ff);

    // loss -> logits (in place: the logits are not needed any more) -> final norm
    const float scale = n_scored_ > 0 ? loss_scale / float(n_scored_) : 0.0f;
    cross_entropy_backward(pool, logits_.data(), logits_.data(), targets_.data(), n, V, scale);
    zero(dxn_);
    linear_backward(pool, head(), dxn_.data(), logits_.data(), xnf_.data(), n, e, V);
    zero(dres_);
    rmsnorm_backward(pool, dres_.data(), norm_grad("output_norm.weight"), dxn_.data(), x_final_.data(),
                     norm_weight("output_norm.weight"), rstdf_.data(), n, e);

    for (int64_t l = cfg_.n_layer - 1; l >= 0; --l) {
        layer_acts& a = acts_[size_t(l)];
        // x3 = x2 + (silu(xn2 Wg^T) * xn2 Wu^T) Wd^T
        zero(dh_);
        linear_backward(pool, lin(l, 6), dh_.data(), dres_.data(), a.h.data(), n, ff, e);
        zero(dg_);
        zero(du_);
        swiglu_backward(pool, dg_.data(), du_.data(), dh_.data(), a.g.data(), a.u.data(), n * ff);
        zero(dxn_);
        linear_backward(pool, lin(l, 4), dxn_.data(), dg_.data(), a.xn2.data(), n, e, ff);
        linear_backward(pool, lin(l, 5), dxn_.data(), du_.data(), a.xn2.data(), n, e, ff);
        rmsnorm_backward(pool, dres_.data(), norm_grad(blk(l, "ffn_norm.weight")), dxn_.data(), a.x2.data(),
                         norm_weight(blk(l, "ffn_norm.weight")), a.rstd2.data(), n, e);
        // x2 = x + attention(rope(xn1 Wq^T), rope(xn1 Wk^T), xn1 Wv^T) Wo^T
        zero(datt_);
        linear_backward(pool, lin(l, 3), datt_.data(), dres_.data(), a.att.data(), n, q, e);
        zero(dq_);
        zero(dk_);
        zero(dv_);
        attention_backward(pool, dq_.data(), dk_.data(), dv_.data(), datt_.data(), a.q.data(), a.k.data(), a.v.data(),
                           a.att.data(), a.lse.data(), b, t, cfg_.n_head, cfg_.n_head_kv, hd);
        rope_backward(pool, dq_.data(), pos_.data(), inv_freq_.data(), n, cfg_.n_head, hd, hd);
        rope_backward(pool, dk_.data(), pos_.data(), inv_freq_.data(), n, cfg_.n_head_kv, hd, hd);
        zero(dxn_);
        linear_backward(pool, lin(l, 0), dxn_.data(), dq_.data(), a.xn1.data(), n, e, q);
        linear_backward(pool, lin(l, 1), dxn_.data(), dk_.data(), a.xn1.data(), n, e, kv);
        linear_backward(pool, lin(l, 2), dxn_.data(), dv_.data(), a.xn1.data(), n, e, kv);
        rmsnorm_backward(pool, dres_.data(), norm_grad(blk(l, "attn_norm.weight")), dxn_.data(), a.x.data(),
                         norm_weight(blk(l, "attn_norm.weight")), a.rstd1.data(), n, e);
    }
    if (!lora_) embedding_backward(pool, grads.data() + find("token_embd.weight")->offset, dres_.data(), tokens_.data(), n, e);
    b_ = 0;  // the logits were overwritten: a second backward needs a new forward
}

io::model_file train_model::to_model_file(const io::model_file* tokenizer, const std::string& name) const {
    io::model_file m;
    m.path = name;
    auto u32 = [](int64_t v) { return io::meta_value::u32(uint32_t(v)); };
    if (lora_) {
        m.set("general.architecture", io::meta_value::str("llama"));
        m.set("general.type", io::meta_value::str("adapter"));
        m.set("general.name", io::meta_value::str(name));
        m.set("adapter.type", io::meta_value::str("lora"));
        m.set("adapter.lora.alpha", io::meta_value::f32(lcfg_.alpha));
        for (const param_tensor& t : tensors_) {
            io::tensor_entry te;
            te.name = t.name;
            te.type = dtype::DTYPE_F32;
            te.ne = t.ne;
            te.data = params.data() + t.offset;
            te.nbytes = uint64_t(t.size) * sizeof(float);
            m.add_tensor(std::move(te));
        }
        return m;
    }
    m.set("general.architecture", io::meta_value::str("llama"));
    m.set("general.name", io::meta_value::str(name));
    m.set("general.file_type", u32(0));
    m.set("llama.vocab_size", u32(cfg_.n_vocab));
    m.set("llama.context_length", u32(cfg_.n_ctx));
    m.set("llama.embedding_length", u32(cfg_.n_embd));
    m.set("llama.block_count", u32(cfg_.n_layer));
    m.set("llama.feed_forward_length", u32(cfg_.n_ff));
    m.set("llama.rope.dimension_count", u32(cfg_.head_dim()));
    m.set("llama.attention.head_count", u32(cfg_.n_head));
    m.set("llama.attention.head_count_kv", u32(cfg_.n_head_kv));
    m.set("llama.attention.layer_norm_rms_epsilon", io::meta_value::f32(cfg_.norm_eps));
    m.set("llama.rope.freq_base", io::meta_value::f32(cfg_.rope_theta));
    if (tokenizer)
        for (const auto& kv : tokenizer->meta)
            if (kv.first.rfind("tokenizer.", 0) == 0) m.set(kv.first, kv.second);
    for (const param_tensor& t : tensors_) {
        io::tensor_entry te;
        te.name = t.name;
        te.type = dtype::DTYPE_F32;
        te.ne = t.ne;
        te.data = params.data() + t.offset;
        te.nbytes = uint64_t(t.size) * sizeof(float);
        m.add_tensor(std::move(te));
    }
    return m;
}

}  // namespace fathom::train
