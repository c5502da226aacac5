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

// ln(x) for x in (0, 1]: exponent from the bits, mantissa folded into [sqrt(1/2), sqrt(2)), atanh series.
// Branch-free float arithmetic so that loops over it vectorise; relative error ~1e-7.
inline float fast_log(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    uint32_t mb = (bits & 0x7fffffu) | 0x3f800000u;  // mantissa as a float in [1, 2)
    const uint32_t big = mb > 0x3fb504f3u ? 1u : 0u;     // > sqrt(2): halve it, bump the exponent
    mb -= big << 23;
    const int32_t e = int32_t(bits >> 23) - 127 + int32_t(big);
    float m;
    std::memcpy(&m, &mb, 4);
    const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;  // |t| <= 0.1716
    const float series = t * (2.0f + t2 * (0.666666667f + t2 * (0.4f + t2 * (0.285714286f + t2 * 0.222222222f))));
    return float(e) * 0.693147181f + series;
}

// Fills out[0, 2n) with n pairs (pairs j0 .. j0+n-1 of the stream `key`) of independent normal(0, sd) values:
// Box-Muller on 2 x 24 random bits of mix64(key + (j + 1) * gamma), with polynomial log/sin/cos so the loop
// vectorises. n <= k_block.
constexpr int64_t k_block = 256;
void normal_pairs(uint64_t key, uint64_t j0, int64_t n, float* out) {
    float u1[k_block], u2[k_block];
    for (int64_t j = 0; j < n; ++j) {
        const uint64_t h = mix64(key + (j0 + uint64_t(j) + 1) * k_gamma);
        u1[j] = (float(h >> 40) + 1.0f) * 0x1.0p-24f;  // (0, 1], exact in float
        u2[j] = float(h & 0xffffffu) * 0x1.0p-24f;     // [0, 1)
    }
    for (int64_t j = 0; j < n; ++j) {
        const float x = -2.0f * fast_log(u1[j]);  // in [0, 34]
        // sqrt(x) = x * rsqrt(x): bit-trick estimate and three Newton steps (no libm call, so this vectorises)
        uint32_t xb;
        std::memcpy(&xb, &x, 4);
        const uint32_t yb = 0x5f3759dfu - (xb >> 1);
        float y;
        std::memcpy(&y, &yb, 4);
        y = y * (1.5f - 0.5f * x * y * y);
        y = y * (1.5f - 0.5f * x * y * y);
        y = y * (1.5f - 0.5f * x * y * y);
        const float r = k_weight_sd * x * y;
        // angle 2*pi*u2 = q*pi/2 + phi with q = round(4*u2) (u2 >= 0, so truncation rounds), |phi| <= pi/4
        const int32_t qi = int32_t(u2[j] * 4.0f + 0.5f);
        const float phi = (u2[j] - float(qi) * 0.25f) * 6.28318531f, p2 = phi * phi;
        const float sn = phi * (1.0f + p2 * (-1.66666667e-1f + p2 * (8.33333333e-3f + p2 * -1.98412698e-4f)));
        const float cs = 1.0f + p2 * (-0.5f + p2 * (4.16666667e-2f + p2 * (-1.38888889e-3f + p2 * 2.48015873e-5f)));
        // cos(q*pi/2 + phi), sin(q*pi/2 + phi): odd q swaps sin and cos; signs from the quadrant
        uint32_t snb, csb;
        std::memcpy(&snb, &sn, 4);
        std::memcpy(&csb, &cs, 4);
        const uint32_t q = uint32_t(qi), swap = 0u - (q & 1u);
        uint32_t cb = ((csb & ~swap) | (snb & swap)) ^ (((q + 1u) & 2u) << 30);
        uint32_t sb = ((snb & ~swap) | (csb & swap)) ^ ((q & 2u) << 30);
        float c, sv;
        std::memcpy(&c, &cb, 4);
        std::memcpy(&sv, &sb, 4);
        out[2 * j] = r * c;
        out[2 * j + 1] = r * sv;
    }
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
        {"mini", 256, 4, 4, 2, 768, 1024, 512},  // every row length a multiple of 256: all quantised types apply
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
    float pair[2];
    normal_pairs(tensor_key(seed, tensor), i / 2, 1, pair);
    return pair[i & 1];
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
                // pairs never straddle chunks (k_chunk is even); an odd tail drops the last pair's second value
                for (int64_t i = 0; i < len; i += 2 * k_block) {
                    const int64_t pairs = std::min(k_block, (len - i + 1) / 2);
                    float tmp[2 * k_block];
                    normal_pairs(key, uint64_t(i0 + i) / 2, pairs, tmp);
                    std::memcpy(buf + i, tmp, size_t(std::min(2 * pairs, len - i)) * sizeof(float));
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
