// Helpers for the model tests (see model-test-util.h).
#include "models/model-test-util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>

#include "core/dtype.h"
#include "core/tensor.h"

namespace fathom::test {

namespace {

void add_f32(io::model_file& f, const std::string& name, std::vector<int64_t> ne, std::mt19937_64& rng, float mean,
             float stddev, dtype type) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    std::normal_distribution<float> dist(mean, stddev);
    const size_t esize = dtype_info(type).type_size;  // F32/F16/BF16 values; other 4-byte types get F32 bits
    auto buf = std::make_shared<aligned_buffer>(size_t(n) * esize);
    for (int64_t i = 0; i < n; ++i) {
        const float v = dist(rng);
        if (esize == 4) buf->as<float>()[i] = v;
        else if (type == dtype::DTYPE_F16) buf->as<uint16_t>()[i] = f32_to_f16(v);
        else if (type == dtype::DTYPE_BF16) buf->as<uint16_t>()[i] = f32_to_bf16(v);
    }
    io::tensor_entry t;
    t.name = name;
    t.type = type;
    t.ne = std::move(ne);
    t.data = buf->data();
    t.nbytes = uint64_t(n) * esize;
    f.owned.push_back(std::move(buf));
    f.add_tensor(std::move(t));
}

}  // namespace

io::model_file make_tiny_model(const tiny_spec& s) {
    io::model_file f;
    f.path = "tiny-" + s.arch + ".gguf";
    const std::string a = s.arch + ".";
    f.set("general.architecture", io::meta_value::str(s.arch));
    f.set(a + "context_length", io::meta_value::u32(uint32_t(s.n_ctx_train)));
    f.set(a + "embedding_length", io::meta_value::u32(uint32_t(s.n_embd)));
    f.set(a + "block_count", io::meta_value::u32(uint32_t(s.n_layer)));
    f.set(a + "feed_forward_length", io::meta_value::u32(uint32_t(s.n_ff)));
    f.set(a + "attention.head_count", io::meta_value::u32(uint32_t(s.n_head)));
    f.set(a + "attention.head_count_kv", io::meta_value::u32(uint32_t(s.n_head_kv)));
    f.set(a + "attention.layer_norm_rms_epsilon", io::meta_value::f32(1e-5f));
    f.set(a + "rope.freq_base", io::meta_value::f32(10000.0f));
    if (s.head_dim != s.n_embd / s.n_head) f.set(a + "attention.key_length", io::meta_value::u32(uint32_t(s.head_dim)));
    f.set("tokenizer.ggml.bos_token_id", io::meta_value::u32(1));
    f.set("tokenizer.ggml.eos_token_id", io::meta_value::u32(2));

    std::mt19937_64 rng(s.seed);
    const dtype wt = s.weight_type, f32 = dtype::DTYPE_F32;
    const int64_t n_q = s.n_head * s.head_dim, n_kv = s.n_head_kv * s.head_dim;
    auto g = [](int64_t n_in, float gain) { return gain / std::sqrt(float(n_in)); };
    add_f32(f, "token_embd.weight", {s.n_embd, s.n_vocab}, rng, 0, 1, wt);
    for (int64_t l = 0; l < s.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add_f32(f, p + "attn_norm.weight", {s.n_embd}, rng, 1, 0.2f, f32);
        add_f32(f, p + "attn_q.weight", {s.n_embd, n_q}, rng, 0, g(s.n_embd, 2), wt);
        add_f32(f, p + "attn_k.weight", {s.n_embd, n_kv}, rng, 0, g(s.n_embd, 2), wt);
        add_f32(f, p + "attn_v.weight", {s.n_embd, n_kv}, rng, 0, g(s.n_embd, 1), wt);
        if (s.qkv_bias) {
            add_f32(f, p + "attn_q.bias", {n_q}, rng, 0, 0.5f, f32);
            add_f32(f, p + "attn_k.bias", {n_kv}, rng, 0, 0.5f, f32);
            add_f32(f, p + "attn_v.bias", {n_kv}, rng, 0, 0.5f, f32);
        }
        add_f32(f, p + "attn_output.weight", {n_q, s.n_embd}, rng, 0, g(n_q, 1), wt);
        add_f32(f, p + "ffn_norm.weight", {s.n_embd}, rng, 1, 0.2f, f32);
        add_f32(f, p + "ffn_gate.weight", {s.n_embd, s.n_ff}, rng, 0, g(s.n_embd, 1), wt);
        add_f32(f, p + "ffn_up.weight", {s.n_embd, s.n_ff}, rng, 0, g(s.n_embd, 1), wt);
        add_f32(f, p + "ffn_down.weight", {s.n_ff, s.n_embd}, rng, 0, g(s.n_ff, 1), wt);
    }
    add_f32(f, "output_norm.weight", {s.n_embd}, rng, 1, 0.2f, f32);
    if (!s.tied) add_f32(f, "output.weight", {s.n_embd, s.n_vocab}, rng, 0, g(s.n_embd, 2), wt);
    return f;
}

void replace_tensor(io::model_file& f, const std::string& name, std::vector<int64_t> ne, dtype type) {
    remove_tensor(f, name);
    std::mt19937_64 rng(7);
    add_f32(f, name, std::move(ne), rng, 0, 1, type);
}

void remove_tensor(io::model_file& f, const std::string& name) {
    f.tensors.erase(std::remove_if(f.tensors.begin(), f.tensors.end(),
                                   [&](const io::tensor_entry& t) { return t.name == name; }),
                    f.tensors.end());
    f.index();
}

std::vector<std::vector<float>> run_one_batch(const llama_model& m, const std::vector<int32_t>& tokens, int n_threads,
                                              int64_t n_batch) {
    session_params p;
    p.n_ctx = std::max<int64_t>(int64_t(tokens.size()), 8);
    p.n_threads = n_threads;
    p.n_batch = n_batch;
    session s(m, p);
    std::vector<batch_token> batch;
    for (size_t i = 0; i < tokens.size(); ++i) batch.push_back({tokens[i], int32_t(i), 0, true});
    s.decode(batch);
    std::vector<std::vector<float>> out;
    for (int64_t i = 0; i < s.n_logits(); ++i) out.emplace_back(s.logits(i), s.logits(i) + m.hp.n_vocab);
    return out;
}

double rel_diff(const float* a, const float* ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) {
        num = std::max(num, std::fabs(double(a[i]) - double(ref[i])));
        den = std::max(den, std::fabs(double(ref[i])));
    }
    if (!std::isfinite(num)) return INFINITY;
    return den > 0 ? num / den : num;
}

double max_rel_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& ref) {
    if (a.size() != ref.size()) return INFINITY;
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].size() != ref[i].size()) return INFINITY;
        worst = std::max(worst, rel_diff(a[i].data(), ref[i].data(), int64_t(a[i].size())));
    }
    return worst;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (auto& x : t) x = int32_t(rng() % uint64_t(n_vocab));
    return t;
}

temp_dir::temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/fathom-models-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = buf.data();
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

int run_command(const std::string& cmd, std::string* log) {
    std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        if (log) log->append(buf, n);
    int st = ::pclose(p);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace fathom::test
