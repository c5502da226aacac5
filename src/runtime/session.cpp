// Session: KV cache, scratch buffers and the batched Llama-family forward pass.
#include "runtime/session.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "kernels/kernels.h"
#include "models/lora.h"
#include "nn/attention.h"
#include "nn/matmul.h"
#include "nn/rope.h"

namespace fathom {
namespace {

constexpr int64_t k_max_ctx = int64_t(1) << 24;
constexpr int32_t k_max_seq = 1 << 16;
constexpr int64_t k_max_batch = int64_t(1) << 16;
constexpr int32_t k_max_threads = 1024;

// Floats of work below which a per-row loop runs on the calling thread alone.
constexpr int64_t k_parallel_floats = 16384;

const float* f32(const io::tensor_entry* t) { return t ? static_cast<const float*>(t->data) : nullptr; }

double physical_memory_bytes() {
    long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
}

std::string gib(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(1ull << 30));
    return buf;
}

float* alloc_floats(aligned_buffer& b, int64_t n) {
    b.reset(size_t(n) * sizeof(float));
    return b.as<float>();
}

}  // namespace

struct session::impl {
    const llama_model& model;
    const llama_hparams& hp;
    int64_t n_ctx, n_batch;
    int32_t n_seq;
    int64_t n_q, n_kv;       // n_head*head_dim, n_head_kv*head_dim
    size_t block_floats;     // floats of one (layer, sequence) K or V block: n_head_kv * n_ctx * head_dim

    // KV cache, see nn/attention.h: K [layer][seq][kv_head][n_ctx][head_dim], V transposed per block.
    aligned_buffer k_cache, v_cache;
    std::vector<int32_t> seq_len;

    // Scratch for one chunk of up to n_batch tokens (row t of each is token t of the chunk).
    aligned_buffer x_buf, xb_buf, q_buf, k_buf, v_buf, ao_buf, gate_buf, up_buf, cos_buf, sin_buf;
    float *x, *xb, *q, *k, *v, *ao, *gate, *up, *rcos, *rsin;
    std::vector<int32_t> tok, pos, seq, rows;
    std::vector<nn::attention_seq> att_seqs;
    std::vector<int32_t> att_seq_id;
    nn::attention_scratch att_scratch;

    std::vector<float> logits;
    int64_t n_logits = 0;

    activation_observer observe;  // sees the input of every matmul (calibration); empty = off

    void see(const io::tensor_entry* w, const float* x, int64_t ldx, int64_t n_tok) {
        if (observe) observe(*w, x, ldx, n_tok);
    }

    // Active LoRA adapters: the list as set, and per (layer, linear) the terms to add after that matmul.
    std::vector<session_lora> lora_active;
    std::vector<std::vector<lora_term>> lora_slots;  // [layer * k_lora_targets + target]
    std::vector<float> lora_tmp;                      // n_batch * largest rank
    bool lora_on = false;

    // Adds the active adapters' low-rank path of linear `which` of layer l (no-op without adapters).
    void add_lora(thread_pool& pool, int64_t l, lora_target which, const float* x, int64_t ldx, int64_t n_tok, float* y,
                  int64_t ldy, int64_t n_in, int64_t n_out) {
        if (!lora_on) return;
        const std::vector<lora_term>& v = lora_slots[size_t(l * k_lora_targets + int(which))];
        if (!v.empty()) lora_apply(pool, v.data(), v.size(), x, ldx, n_tok, y, ldy, n_in, n_out, lora_tmp.data());
    }

    impl(const llama_model& m, int64_t ctx, int32_t nseq, int64_t nbatch)
        : model(m), hp(m.hp), n_ctx(ctx), n_batch(nbatch), n_seq(nseq) {
        n_q = hp.n_head * hp.head_dim;
        n_kv = hp.n_head_kv * hp.head_dim;
        block_floats = size_t(hp.n_head_kv) * size_t(n_ctx) * size_t(hp.head_dim);

        // Refuse sizes the machine cannot hold before touching any memory (buffers are zero-filled).
        const double phys = physical_memory_bytes();
        const double kv_bytes = 2.0 * double(hp.n_layer) * double(n_seq) * double(n_ctx) * double(n_kv) * 4.0;
        if ((phys > 0 && kv_bytes > phys) || kv_bytes > double(SIZE_MAX) / 2)
            fail(errc::ERRC_OUT_OF_MEMORY,
                 "session: KV cache needs " + gib(kv_bytes) + " (" + std::to_string(hp.n_layer) + " layers x " +
                     std::to_string(n_seq) + " sequences x " + std::to_string(n_ctx) + " positions x " +
                     std::to_string(n_kv) + " K/V floats), more than this machine's " + gib(phys) +
                     "; lower n_ctx or n_seq");
        const double row_floats = double(2 * hp.n_embd + 2 * n_q + 2 * n_kv + 2 * hp.n_ff + hp.n_rot);
        const double scratch_bytes = double(n_batch) * row_floats * 4.0;
        if ((phys > 0 && kv_bytes + scratch_bytes > phys) || scratch_bytes > double(SIZE_MAX) / 2)
            fail(errc::ERRC_OUT_OF_MEMORY, "session: scratch for n_batch " + std::to_string(n_batch) + " needs " +
                                               gib(scratch_bytes) + " besides a KV cache of " + gib(kv_bytes) +
                                               ", more than this machine's " + gib(phys) + "; lower n_batch");
        const size_t cache_floats = size_t(hp.n_layer) * size_t(n_seq) * block_floats;
        k_cache.reset(cache_floats * sizeof(float));
        v_cache.reset(cache_floats * sizeof(float));
        seq_len.assign(size_t(n_seq), 0);

        x = alloc_floats(x_buf, n_batch * hp.n_embd);
        xb = alloc_floats(xb_buf, n_batch * hp.n_embd);
        q = alloc_floats(q_buf, n_batch * n_q);
        k = alloc_floats(k_buf, n_batch * n_kv);
        v = alloc_floats(v_buf, n_batch * n_kv);
        ao = alloc_floats(ao_buf, n_batch * n_q);
        gate = alloc_floats(gate_buf, n_batch * hp.n_ff);
        up = alloc_floats(up_buf, n_batch * hp.n_ff);
        rcos = alloc_floats(cos_buf, n_batch * std::max<int64_t>(1, hp.n_rot / 2));
        rsin = alloc_floats(sin_buf, n_batch * std::max<int64_t>(1, hp.n_rot / 2));
        tok.resize(size_t(n_batch));
        pos.resize(size_t(n_batch));
        seq.resize(size_t(n_batch));
        rows.resize(size_t(n_batch));
    }

    float* k_block(int64_t layer, int32_t s) { return k_cache.as<float>() + (size_t(layer) * n_seq + size_t(s)) * block_floats; }
    float* v_block(int64_t layer, int32_t s) { return v_cache.as<float>() + (size_t(layer) * n_seq + size_t(s)) * block_floats; }

    // Runs fn over rows [0, n) on the pool when the work (n * row_floats) is worth spreading.
    static void for_rows(thread_pool& pool, int64_t n, int64_t row_floats, function_ref<void(int64_t, int64_t, int)> fn) {
        const int64_t grain = std::max<int64_t>(1, k_parallel_floats / std::max<int64_t>(1, row_floats));
        pool.parallel_for(n, grain, fn);
    }

    void forward_chunk(thread_pool& pool, const batch_token* batch, int64_t n, float* logits_out);
};

void session::impl::forward_chunk(thread_pool& pool, const batch_token* batch, int64_t n, float* logits_out) {
    const kernels::table& kt = kernels::active();
    const llama_weights& w = model.w;
    const int64_t n_embd = hp.n_embd, n_ff = hp.n_ff, hd = hp.head_dim, n_pairs = hp.n_rot / 2;
    const float eps = hp.norm_eps;

    for (int64_t t = 0; t < n; ++t) {
        tok[size_t(t)] = batch[t].token;
        pos[size_t(t)] = batch[t].pos;
        seq[size_t(t)] = batch[t].seq;
    }

    // Group the chunk's rows by sequence (batch order within a sequence is position order).
    att_seqs.clear();
    att_seq_id.clear();
    {
        std::vector<int64_t> count(size_t(n_seq), 0);
        for (int64_t t = 0; t < n; ++t) ++count[size_t(seq[size_t(t)])];
        std::vector<int64_t> start(size_t(n_seq), 0);
        int64_t off = 0;
        for (int32_t s = 0; s < n_seq; ++s) {
            start[size_t(s)] = off;
            if (count[size_t(s)] > 0) {
                nn::attention_seq a;
                a.rows = rows.data() + off;
                a.n_tok = count[size_t(s)];
                a.pos0 = -1;
                att_seqs.push_back(a);
                att_seq_id.push_back(s);
            }
            off += count[size_t(s)];
        }
        for (int64_t t = 0; t < n; ++t) rows[size_t(start[size_t(seq[size_t(t)])]++)] = int32_t(t);
        for (auto& a : att_seqs) a.pos0 = pos[size_t(a.rows[0])];
    }

    // Embeddings and the RoPE tables for the chunk's positions.
    for_rows(pool, n, n_embd, [&](int64_t b, int64_t e, int) {
        for (int64_t t = b; t < e; ++t) nn::get_row_f32(*w.tok_embd, tok[size_t(t)], x + t * n_embd);
    });
    for_rows(pool, n, 16 * n_pairs, [&](int64_t b, int64_t e, int) {
        nn::rope_tables(model.inv_freq.data(), n_pairs, pos.data() + b, e - b, rcos + b * n_pairs, rsin + b * n_pairs);
    });

    nn::attention_dims dims;
    dims.n_head = hp.n_head;
    dims.n_head_kv = hp.n_head_kv;
    dims.head_dim = hd;
    dims.n_ctx = n_ctx;

    int64_t n_out = 0;  // rows that asked for logits
    for (int64_t t = 0; t < n; ++t) n_out += batch[t].logits ? 1 : 0;
    int64_t n_rows = n;  // rows still computed: after the last layer's attention, only the n_out marked ones

    const float* first_norm = f32(w.layers[0].attn_norm);
    for_rows(pool, n, n_embd, [&](int64_t b, int64_t e, int) {
        for (int64_t t = b; t < e; ++t) kt.rms_norm_f32(x + t * n_embd, first_norm, eps, xb + t * n_embd, n_embd);
    });

    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const llama_layer& L = w.layers[size_t(l)];
        see(L.wq, xb, n_embd, n);
        see(L.wk, xb, n_embd, n);
        see(L.wv, xb, n_embd, n);
        nn::matmul(pool, *L.wq, xb, n_embd, n, q, n_q, f32(L.bq));
        nn::matmul(pool, *L.wk, xb, n_embd, n, k, n_kv, f32(L.bk));
        nn::matmul(pool, *L.wv, xb, n_embd, n, v, n_kv, f32(L.bv));
        add_lora(pool, l, lora_target::LORA_TARGET_Q, xb, n_embd, n, q, n_q, n_embd, n_q);
        add_lora(pool, l, lora_target::LORA_TARGET_K, xb, n_embd, n, k, n_kv, n_embd, n_kv);
        add_lora(pool, l, lora_target::LORA_TARGET_V, xb, n_embd, n, v, n_kv, n_embd, n_kv);

        // RoPE on Q and K, then K/V into the cache at (sequence, position).
        for_rows(pool, n, n_q + 2 * n_kv, [&](int64_t b, int64_t e, int) {
            for (int64_t t = b; t < e; ++t) {
                const float* c = rcos + t * n_pairs;
                const float* s = rsin + t * n_pairs;
                float* kt_row = k + t * n_kv;
                const float* vt_row = v + t * n_kv;
                nn::rope_apply(hp.rope, q + t * n_q, hp.n_head, hd, hp.n_rot, c, s);
                nn::rope_apply(hp.rope, kt_row, hp.n_head_kv, hd, hp.n_rot, c, s);
                const int64_t p = pos[size_t(t)];
                float* kc = k_block(l, seq[size_t(t)]);
                float* vc = v_block(l, seq[size_t(t)]);
                for (int64_t h = 0; h < hp.n_head_kv; ++h) {
                    std::memcpy(kc + (h * n_ctx + p) * hd, kt_row + h * hd, size_t(hd) * sizeof(float));
                    float* vcol = vc + h * hd * n_ctx + p;
                    const float* src = vt_row + h * hd;
                    for (int64_t d = 0; d < hd; ++d) vcol[d * n_ctx] = src[d];
                }
            }
        });

        const bool last = l + 1 == hp.n_layer;
        if (last && n_out == 0) break;  // K/V are written; nothing downstream is needed
        for (size_t i = 0; i < att_seqs.size(); ++i) {
            att_seqs[i].k = k_block(l, att_seq_id[i]);
            att_seqs[i].vt = v_block(l, att_seq_id[i]);
        }
        nn::attention(pool, dims, att_seqs.data(), int64_t(att_seqs.size()), q, n_q, ao, n_q, att_scratch);

        if (last && n_out < n) {
            // The rest of the last layer and the output only matter for marked rows: move them to the front.
            int64_t j = 0;
            for (int64_t t = 0; t < n; ++t) {
                if (!batch[t].logits) continue;
                if (j != t) {
                    std::memcpy(ao + j * n_q, ao + t * n_q, size_t(n_q) * sizeof(float));
                    std::memcpy(x + j * n_embd, x + t * n_embd, size_t(n_embd) * sizeof(float));
                }
                ++j;
            }
            n_rows = n_out;
        }

        see(L.wo, ao, n_q, n_rows);
        nn::matmul(pool, *L.wo, ao, n_q, n_rows, xb, n_embd);
        add_lora(pool, l, lora_target::LORA_TARGET_O, ao, n_q, n_rows, xb, n_embd, n_q, n_embd);
        const float* ffn_norm = f32(L.ffn_norm);
        for_rows(pool, n_rows, 2 * n_embd, [&](int64_t b, int64_t e, int) {
            for (int64_t t = b; t < e; ++t) {
                kt.axpy_f32(1.0f, xb + t * n_embd, x + t * n_embd, n_embd);
                kt.rms_norm_f32(x + t * n_embd, ffn_norm, eps, xb + t * n_embd, n_embd);
            }
        });

        see(L.w_gate, xb, n_embd, n_rows);
        see(L.w_up, xb, n_embd, n_rows);
        nn::matmul(pool, *L.w_gate, xb, n_embd, n_rows, gate, n_ff);
        nn::matmul(pool, *L.w_up, xb, n_embd, n_rows, up, n_ff);
        add_lora(pool, l, lora_target::LORA_TARGET_GATE, xb, n_embd, n_rows, gate, n_ff, n_embd, n_ff);
        add_lora(pool, l, lora_target::LORA_TARGET_UP, xb, n_embd, n_rows, up, n_ff, n_embd, n_ff);
        for_rows(pool, n_rows, 2 * n_ff, [&](int64_t b, int64_t e, int) {
            kt.silu_mul_f32(gate + b * n_ff, up + b * n_ff, gate + b * n_ff, (e - b) * n_ff);
        });
        see(L.w_down, gate, n_ff, n_rows);
        nn::matmul(pool, *L.w_down, gate, n_ff, n_rows, xb, n_embd);
        add_lora(pool, l, lora_target::LORA_TARGET_DOWN, gate, n_ff, n_rows, xb, n_embd, n_ff, n_embd);

        const float* next_norm = l + 1 < hp.n_layer ? f32(w.layers[size_t(l + 1)].attn_norm) : nullptr;
        for_rows(pool, n_rows, 2 * n_embd, [&](int64_t b, int64_t e, int) {
            for (int64_t t = b; t < e; ++t) {
                kt.axpy_f32(1.0f, xb + t * n_embd, x + t * n_embd, n_embd);
                if (next_norm) kt.rms_norm_f32(x + t * n_embd, next_norm, eps, xb + t * n_embd, n_embd);
            }
        });
    }

    // Final norm and output projection of the marked rows, which are rows [0, n_out) now (all rows if all marked).
    if (n_out == 0) return;
    const float* out_norm = f32(w.output_norm);
    for_rows(pool, n_out, n_embd, [&](int64_t b, int64_t e, int) {
        for (int64_t t = b; t < e; ++t) kt.rms_norm_f32(x + t * n_embd, out_norm, eps, xb + t * n_embd, n_embd);
    });
    see(w.output, xb, n_embd, n_out);
    nn::matmul(pool, *w.output, xb, n_embd, n_out, logits_out, hp.n_vocab);
}

session::session(const llama_model& model, const session_params& params)
    : model_(model), n_ctx_(params.n_ctx), n_seq_(params.n_seq) {
    const llama_hparams& hp = model.hp;
    if (params.n_ctx < 0 || params.n_ctx > k_max_ctx)
        fail(errc::ERRC_INVALID_ARGUMENT,
             "session: n_ctx " + std::to_string(params.n_ctx) + " is out of range [0, " + std::to_string(k_max_ctx) + "]");
    if (n_ctx_ == 0) n_ctx_ = std::min<int64_t>(hp.n_ctx_train, 4096);
    if (params.n_seq < 1 || params.n_seq > k_max_seq)
        fail(errc::ERRC_INVALID_ARGUMENT,
             "session: n_seq " + std::to_string(params.n_seq) + " is out of range [1, " + std::to_string(k_max_seq) + "]");
    if (params.n_batch < 1 || params.n_batch > k_max_batch)
        fail(errc::ERRC_INVALID_ARGUMENT, "session: n_batch " + std::to_string(params.n_batch) + " is out of range [1, " +
                                              std::to_string(k_max_batch) + "]");
    if (params.n_threads < 0 || params.n_threads > k_max_threads)
        fail(errc::ERRC_INVALID_ARGUMENT, "session: n_threads " + std::to_string(params.n_threads) +
                                              " is out of range [0, " + std::to_string(k_max_threads) + "]");
    const int64_t n_batch = std::min<int64_t>(params.n_batch, n_ctx_ * int64_t(n_seq_));
    impl_ = std::make_unique<impl>(model, n_ctx_, n_seq_, n_batch);
    pool_ = std::make_unique<thread_pool>(params.n_threads);
}

session::~session() = default;

void session::decode(const std::vector<batch_token>& batch) {
    impl& s = *impl_;
    const int64_t n_vocab = model_.hp.n_vocab;

    // Validate everything first, so a rejected batch leaves the session unchanged.
    std::vector<int32_t> next(s.seq_len);
    int64_t n_marked = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
        const batch_token& b = batch[i];
        const std::string where = "decode: batch token " + std::to_string(i) + ": ";
        if (b.seq < 0 || b.seq >= n_seq_)
            fail(errc::ERRC_INVALID_ARGUMENT,
                 where + "sequence " + std::to_string(b.seq) + " is out of range [0, " + std::to_string(n_seq_) + ")");
        if (b.token < 0 || b.token >= n_vocab)
            fail(errc::ERRC_INVALID_ARGUMENT,
                 where + "token id " + std::to_string(b.token) + " is out of range [0, " + std::to_string(n_vocab) + ")");
        if (b.pos < 0 || b.pos >= n_ctx_)
            fail(errc::ERRC_INVALID_ARGUMENT,
                 where + "position " + std::to_string(b.pos) + " is out of range [0, " + std::to_string(n_ctx_) + ")");
        int32_t& nx = next[size_t(b.seq)];
        if (b.pos != nx)
            fail(errc::ERRC_INVALID_ARGUMENT, where + "position " + std::to_string(b.pos) + " of sequence " +
                                                  std::to_string(b.seq) + " does not continue it (expected " +
                                                  std::to_string(nx) + "; truncate first to rewrite positions)");
        ++nx;
        if (b.logits) ++n_marked;
    }

    s.logits.resize(size_t(n_marked) * size_t(n_vocab));
    s.n_logits = n_marked;
    int64_t marked_before = 0;
    for (size_t c0 = 0; c0 < batch.size(); c0 += size_t(s.n_batch)) {
        const size_t c1 = std::min(batch.size(), c0 + size_t(s.n_batch));
        s.forward_chunk(*pool_, batch.data() + c0, int64_t(c1 - c0), s.logits.data() + size_t(marked_before) * size_t(n_vocab));
        for (size_t i = c0; i < c1; ++i) {
            s.seq_len[size_t(batch[i].seq)] = batch[i].pos + 1;
            if (batch[i].logits) ++marked_before;
        }
    }
}

const float* session::logits(int64_t i) const {
    if (i < 0 || i >= impl_->n_logits)
        fail(errc::ERRC_INVALID_ARGUMENT, "session: logits index " + std::to_string(i) + " is out of range [0, " +
                                              std::to_string(impl_->n_logits) + ")");
    return impl_->logits.data() + size_t(i) * size_t(model_.hp.n_vocab);
}

int64_t session::n_logits() const { return impl_->n_logits; }

void session::truncate(int32_t seq, int32_t pos) {
    if (seq < 0 || seq >= n_seq_)
        fail(errc::ERRC_INVALID_ARGUMENT,
             "truncate: sequence " + std::to_string(seq) + " is out of range [0, " + std::to_string(n_seq_) + ")");
    if (pos < 0) fail(errc::ERRC_INVALID_ARGUMENT, "truncate: position " + std::to_string(pos) + " is negative");
    int32_t& len = impl_->seq_len[size_t(seq)];
    len = std::min(len, pos);
}

void session::set_lora(const std::vector<session_lora>& adapters) {
    impl& s = *impl_;
    // Validate everything first, so a rejected list leaves the session unchanged.
    for (size_t i = 0; i < adapters.size(); ++i) {
        if (!adapters[i].adapter)
            fail(errc::ERRC_INVALID_ARGUMENT, "set_lora: adapter " + std::to_string(i) + " is null");
        if (!std::isfinite(adapters[i].scale))
            fail(errc::ERRC_INVALID_ARGUMENT, "set_lora: " + adapters[i].adapter->path + ": scale " +
                                                  std::to_string(adapters[i].scale) + " is not a finite number");
        adapters[i].adapter->check_fits(model_);
    }
    std::vector<std::vector<lora_term>> slots(size_t(model_.hp.n_layer * k_lora_targets));
    int64_t max_rank = 0;
    bool on = false;
    for (const session_lora& a : adapters) {
        if (a.scale == 0.0f) continue;
        for (const lora_weight& w : a.adapter->weights) {
            lora_term t;
            t.a = w.a.data();
            t.bt = w.bt.data();
            t.rank = w.rank;
            t.scale = a.scale * a.adapter->base_scale(w);
            slots[size_t(w.layer * k_lora_targets + int(w.target))].push_back(t);
            max_rank = std::max(max_rank, w.rank);
            on = true;
        }
    }
    std::vector<float> tmp(size_t(s.n_batch * max_rank));
    s.lora_slots = std::move(slots);
    s.lora_tmp = std::move(tmp);
    s.lora_active = adapters;
    s.lora_on = on;
}

const std::vector<session_lora>& session::lora() const { return impl_->lora_active; }

void session::set_activation_observer(activation_observer fn) { impl_->observe = std::move(fn); }

int32_t session::seq_len(int32_t seq) const {
    if (seq < 0 || seq >= n_seq_)
        fail(errc::ERRC_INVALID_ARGUMENT,
             "seq_len: sequence " + std::to_string(seq) + " is out of range [0, " + std::to_string(n_seq_) + ")");
    return impl_->seq_len[size_t(seq)];
}

}  // namespace fathom
