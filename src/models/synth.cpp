// Synthetic random-weight Llama models: named shapes, llama.cpp GGUF keys, parallel counter-based normal fill.
#include "models/synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/thread-pool.h"
#include "kernels/kernels.h"

namespace fathom {

namespace {

constexpr float k_weight_sd = 0.02f;
constexpr int64_t k_chunk = int64_t(1) << 16;  // elements per parallel work item (even, so pairs never straddle)

// splitmix64's output function: a bijective 64-bit mixer.
uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

constexpr uint64_t k_gamma = 0x9e3779b97f4a7c15ull;

uint64_t tensor_key(uint64_t seed, uint64_t tensor) { return mix64(mix64(seed + k_gamma) ^ (tensor + 1) * k_gamma); }

// Two independent normal(0, sd) values for pair j of a tensor's stream (Box-Muller on 2 x 24 random bits).
inline void normal_pair(uint64_t key, uint64_t j, float* a, float* b) {
    const uint64_t h = mix64(key + (j + 1) * k_gamma);
    const float u1 = (float(h >> 40) + 0.5f) * 0x1.0p-24f;  // (0, 1)
    const float u2 = float(h & 0xffffffu) * 0x1.0p-24f;     // [0, 1)
    const float r = k_weight_sd * std::sqrt(-2.0f * std::log(u1));
    const float t = 6.28318530717958647692f * u2;
    *a = r * std::cos(t);
    *b = r * std::sin(t);
}

const synth_shape* find_shape(const std::string& name) {
    for (const auto& s : synth_shapes())
        if (name == s.name) return &s;
    return nullptr;
}

bool is_norm(const std::string& name) { return name.find("_norm.") != std::string::npos; }

uint32_t file_type_of(dtype t) {  // llama.cpp's LLAMA_FTYPE numbering
    switch (t) {
        case dtype::DTYPE_F16: return 1;
        case dtype::DTYPE_BF16: return 32;
        default: return 0;
    }
}

}  // namespace

const std::vector<synth_shape>& synth_shapes() {
    static const std::vector<synth_shape> shapes = {
        // name, n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx
        {"tiny", 64, 2, 4, 2, 128, 256, 256},
        {"llama-125m", 768, 12, 12, 12, 2048, 32000, 32768},
        {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048},
    };
    return shapes;
}

std::string synth_shape_list() {
    std::string s;
    for (const auto& sh : synth_shapes()) s += (s.empty() ? "" : ", ") + std::string(sh.name);
    return s;
}

float synth_weight(uint64_t seed, uint64_t tensor, uint64_t i) {
    float a, b;
    normal_pair(tensor_key(seed, tensor), i / 2, &a, &b);
    return (i & 1) ? b : a;
}

io::model_file synth_layout(const synth_params& p) {
    if (p.arch != "llama")
        fail(errc::ERRC_INVALID_ARGUMENT, "synth: unknown architecture '" + p.arch + "' (expected llama)");
    const synth_shape* sh = find_shape(p.shape);
    if (!sh) fail(errc::ERRC_INVALID_ARGUMENT, "synth: unknown shape '" + p.shape + "' (expected " + synth_shape_list() + ")");
    if (p.type != dtype::DTYPE_F32 && p.type != dtype::DTYPE_F16 && p.type != dtype::DTYPE_BF16)
        fail(errc::ERRC_INVALID_ARGUMENT, std::string("synth: type ") + dtype_name(p.type) + " is not f32, f16 or bf16");

    io::model_file m;
    m.path = "synthetic " + p.shape;
    auto u32 = [](int64_t v) { return io::meta_value::u32(uint32_t(v)); };
    const int64_t head_dim = sh->n_embd / sh->n_head;
    m.set("general.architecture", io::meta_value::str("llama"));
    m.set("general.name", io::meta_value::str("synthetic " + p.shape + " (untrained)"));
    m.set("general.file_type", u32(file_type_of(p.type)));
    m.set("llama.vocab_size", u32(sh->n_vocab));
    m.set("llama.context_length", u32(sh->n_ctx));
    m.set("llama.embedding_length", u32(sh->n_embd));
    m.set("llama.block_count", u32(sh->n_layer));
    m.set("llama.feed_forward_length", u32(sh->n_ff));
    m.set("llama.rope.dimension_count", u32(head_dim));
    m.set("llama.attention.head_count", u32(sh->n_head));
    m.set("llama.attention.head_count_kv", u32(sh->n_head_kv));
    m.set("llama.attention.layer_norm_rms_epsilon", io::meta_value::f32(1e-5f));
    m.set("llama.rope.freq_base", io::meta_value::f32(10000.0f));
    m.set("tokenizer.ggml.bos_token_id", u32(1));
    m.set("tokenizer.ggml.eos_token_id", u32(2));

    auto add = [&](const std::string& name, std::vector<int64_t> ne) {
        io::tensor_entry t;
        t.name = name;
        t.type = is_norm(name) ? dtype::DTYPE_F32 : p.type;
        t.ne = std::move(ne);
        t.nbytes = dtype_row_bytes(t.type, t.ne[0]) * uint64_t(t.nelements() / t.ne[0]);
        m.add_tensor(std::move(t));
    };
    const int64_t e = sh->n_embd, q = sh->n_head * head_dim, kv = sh->n_head_kv * head_dim;
    add("token_embd.weight", {e, sh->n_vocab});
    add("output_norm.weight", {e});
    add("output.weight", {e, sh->n_vocab});
    for (int64_t l = 0; l < sh->n_layer; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        add(b + "attn_norm.weight", {e});
        add(b + "attn_q.weight", {e, q});
        add(b + "attn_k.weight", {e, kv});
        add(b + "attn_v.weight", {e, kv});
        add(b + "attn_output.weight", {q, e});
        add(b + "ffn_norm.weight", {e});
        add(b + "ffn_gate.weight", {e, sh->n_ff});
        add(b + "ffn_up.weight", {e, sh->n_ff});
        add(b + "ffn_down.weight", {sh->n_ff, e});
    }
    return m;
}

void synth_model(const synth_params& p, const std::string& path) {
    const io::model_file m = synth_layout(p);
    thread_pool pool(p.n_threads);
    const kernels::table& kt = kernels::active();
    std::vector<std::vector<float>> scratch(size_t(pool.size()), std::vector<float>(size_t(k_chunk)));

    io::write_gguf_streaming(path, m, [&](size_t k, uint8_t* dst) {
        const io::tensor_entry& t = m.tensors[k];
        const int64_t n = t.nelements();
        if (is_norm(t.name)) {
            float* y = reinterpret_cast<float*>(dst);
            for (int64_t i = 0; i < n; ++i) y[i] = 1.0f;
            return;
        }
        const uint64_t key = tensor_key(p.seed, k);
        const int64_t n_chunks = (n + k_chunk - 1) / k_chunk;
        pool.parallel_for(n_chunks, 1, [&](int64_t cb, int64_t ce, int th) {
            float* buf = scratch[size_t(th)].data();
            for (int64_t c = cb; c < ce; ++c) {
                const int64_t i0 = c * k_chunk, len = std::min(k_chunk, n - i0);
                for (int64_t i = 0; i < len; i += 2) {
                    float a, b;
                    normal_pair(key, uint64_t(i0 + i) / 2, &a, &b);
                    buf[i] = a;
                    if (i + 1 < len) buf[i + 1] = b;
                }
                switch (t.type) {
                    case dtype::DTYPE_F16:
                        kt.f32_to_f16(buf, reinterpret_cast<uint16_t*>(dst) + i0, len);
                        break;
                    case dtype::DTYPE_BF16:
                        kt.f32_to_bf16(buf, reinterpret_cast<uint16_t*>(dst) + i0, len);
                        break;
                    default:
                        std::memcpy(reinterpret_cast<float*>(dst) + i0, buf, size_t(len) * sizeof(float));
                        break;
                }
            }
        });
    });
}

}  // namespace fathom
