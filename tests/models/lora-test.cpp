// LoRA adapters at inference time and merged: session logits against the trainable decoder's LoRA forward and
// against models merged here in double precision, scale 0 and no adapters against the base, fathom's merge against
// the runtime path, a Q8_0 base, several adapters at once, F16 adapters, the C API, and one-line load errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "fathom/fathom.h"
#include "models/llama.h"
#include "models/lora.h"
#include "models/model-test-util.h"
#include "quant/quantize-model.h"
#include "runtime/session.h"
#include "train/model.h"

namespace fathom {
namespace {

using train::lora_config;
using train::param_tensor;
using train::train_config;
using train::train_model;

train_config base_config() {
    train_config c;
    c.n_vocab = 80;
    c.n_ctx = 32;
    c.n_embd = 64;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_head_kv = 2;
    c.n_ff = 96;
    return c;
}

// Random non-zero A and B of the size that makes the adapter change the logits clearly.
void randomise(train_model& a, uint64_t seed, float sd = 0.1f) {
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::normal_distribution<float> nd(0.0f, sd);
    for (float& p : a.params) p = nd(rng);
}

// An adapter model with the params of `like` under another alpha (the oracle for a user scale: s * alpha).
train_model with_alpha(const std::string& base_path, const train_model& like, float alpha) {
    lora_config lc = like.lora();
    lc.alpha = alpha;
    train_model m = train_model::for_lora(io::read_gguf(base_path), lc, 1);
    m.params = like.params;
    return m;
}

using logits_t = std::vector<std::vector<float>>;

logits_t train_logits(train_model& m, const std::vector<int32_t>& tokens) {
    thread_pool pool(2);
    std::vector<int32_t> targets(tokens.size(), -1);
    m.forward(pool, tokens.data(), targets.data(), 1, int64_t(tokens.size()));
    const int64_t nv = m.config().n_vocab;
    logits_t out;
    for (size_t i = 0; i < tokens.size(); ++i) out.emplace_back(m.logits() + i * nv, m.logits() + (i + 1) * nv);
    return out;
}

// Logits of every token, run as one batch (one_batch) or one token per decode; the session is cleared first.
logits_t session_logits(session& s, const std::vector<int32_t>& tokens, bool one_batch) {
    s.truncate(0, 0);
    const int64_t nv = s.model().hp.n_vocab;
    logits_t out;
    if (one_batch) {
        std::vector<batch_token> b;
        for (size_t i = 0; i < tokens.size(); ++i) b.push_back({tokens[i], int32_t(i), 0, true});
        s.decode(b);
        for (int64_t i = 0; i < s.n_logits(); ++i) out.emplace_back(s.logits(i), s.logits(i) + nv);
    } else {
        for (size_t i = 0; i < tokens.size(); ++i) {
            s.decode({{tokens[i], int32_t(i), 0, true}});
            out.emplace_back(s.logits(0), s.logits(0) + nv);
        }
    }
    return out;
}

session_params sp() {
    session_params p;
    p.n_ctx = 32;
    p.n_threads = 2;
    return p;
}

// Base + sum of s * alpha / rank * B A, in double, written as an F32 GGUF (independent of lora_merge).
std::string merge_by_hand(const train_model& base, const std::vector<std::pair<const train_model*, float>>& ads,
                          const std::string& path) {
    train_model m = base;
    for (const auto& [a, s] : ads) {
        const double f = double(s) * a->lora().alpha / double(a->lora().rank);
        for (const param_tensor& pa : a->tensors()) {
            if (pa.name.size() < 7 || pa.name.compare(pa.name.size() - 7, 7, ".lora_a") != 0) continue;
            const std::string w = pa.name.substr(0, pa.name.size() - 7);
            const param_tensor* pb = a->find(w + ".lora_b");
            const param_tensor* pw = m.find(w);
            const int64_t n_in = pa.ne[0], rank = pa.ne[1], n_out = pb->ne[1];
            for (int64_t o = 0; o < n_out; ++o)
                for (int64_t i = 0; i < n_in; ++i) {
                    double acc = 0;
                    for (int64_t r = 0; r < rank; ++r)
                        acc += double(a->params[size_t(pb->offset + o * rank + r)]) *
                               double(a->params[size_t(pa.offset + r * n_in + i)]);
                    float& wv = m.params[size_t(pw->offset + o * n_in + i)];
                    wv = float(double(wv) + f * acc);
                }
        }
    }
    io::write_gguf(path, m.to_model_file(nullptr, "merged"));
    return path;
}

std::unique_ptr<llama_model> load_model(const std::string& path) { return llama_model::load(io::read_gguf(path)); }

// Shared files: an F32 base, its Q8_0 quantisation, an adapter on all seven linears and one on three.
struct files {
    test::temp_dir dir;
    std::string base, q8, ad, ad2;
    train_model bm{base_config()};
    train_model am{base_config()}, am2{base_config()};
    std::vector<int32_t> tokens;
    files() {
        base = dir.path() + "/base.gguf";
        q8 = dir.path() + "/base-q8.gguf";
        ad = dir.path() + "/a.gguf";
        ad2 = dir.path() + "/b.gguf";
        bm.init_random(5);
        io::write_gguf(base, bm.to_model_file(nullptr, "base"));
        quant::quantize_params qp;
        qp.type = "q8_0";
        quant::quantize_model(io::read_gguf(base), q8, qp);
        lora_config lc;
        lc.rank = 4;
        lc.alpha = 8.0f;
        am = train_model::for_lora(io::read_gguf(base), lc, 2);
        randomise(am, 11);
        io::write_gguf(ad, am.to_model_file(nullptr, "a"));
        lora_config lc2;
        lc2.rank = 2;
        lc2.alpha = 3.0f;
        lc2.targets = {"q", "v", "down"};
        am2 = train_model::for_lora(io::read_gguf(base), lc2, 3);
        randomise(am2, 12);
        io::write_gguf(ad2, am2.to_model_file(nullptr, "b"));
        tokens = test::random_tokens(20, base_config().n_vocab, 9);
    }
};

files& shared() {
    static files f;
    return f;
}

TEST(lora, adapter_at_scale_one_matches_the_training_forward) {
    files& f = shared();
    auto m = load_model(f.base);
    auto ad = lora_adapter::load(f.ad, *m);
    EXPECT_EQ(ad->weights.size(), size_t(2 * 7));
    EXPECT_FLOAT_EQ(ad->alpha, 8.0f);
    session s(*m, sp());
    const logits_t base = session_logits(s, f.tokens, true);
    s.set_lora({{ad, 1.0f}});
    const logits_t want = train_logits(f.am, f.tokens);
    const logits_t batch = session_logits(s, f.tokens, true);    // 20 tokens: the sgemm path
    const logits_t decode = session_logits(s, f.tokens, false);  // one token at a time: the dot/axpy path
    EXPECT_LT(test::max_rel_diff(batch, want), 1e-4);
    EXPECT_LT(test::max_rel_diff(decode, want), 1e-4);
    EXPECT_GT(test::max_rel_diff(base, want), 0.05) << "the adapter must change the logits for this test to mean anything";
}

TEST(lora, scale_half_matches_half_alpha_and_a_model_merged_by_hand) {
    files& f = shared();
    auto m = load_model(f.base);
    session s(*m, sp());
    s.set_lora({{lora_adapter::load(f.ad, *m), 0.5f}});
    train_model half = with_alpha(f.base, f.am, 4.0f);
    const logits_t want = train_logits(half, f.tokens);
    EXPECT_LT(test::max_rel_diff(session_logits(s, f.tokens, true), want), 1e-4);
    EXPECT_LT(test::max_rel_diff(session_logits(s, f.tokens, false), want), 1e-4);
    auto merged = load_model(merge_by_hand(f.bm, {{&f.am, 0.5f}}, f.dir.path() + "/hand-half.gguf"));
    EXPECT_LT(test::max_rel_diff(session_logits(s, f.tokens, true), test::run_one_batch(*merged, f.tokens)), 1e-4);
}

TEST(lora, scale_zero_and_no_adapters_give_the_base) {
    files& f = shared();
    auto m = load_model(f.base);
    session s(*m, sp());
    const logits_t base = session_logits(s, f.tokens, true);
    auto ad = lora_adapter::load(f.ad, *m);
    s.set_lora({{ad, 0.0f}});
    EXPECT_EQ(session_logits(s, f.tokens, true), base);
    s.set_lora({{ad, 1.0f}});
    EXPECT_NE(session_logits(s, f.tokens, true), base);
    s.set_lora({});
    EXPECT_EQ(session_logits(s, f.tokens, true), base);
    EXPECT_TRUE(s.lora().empty());
}

TEST(lora, two_adapters_at_once_match_a_model_merged_by_hand) {
    files& f = shared();
    auto m = load_model(f.base);
    session s(*m, sp());
    s.set_lora({{lora_adapter::load(f.ad, *m), 0.8f}, {lora_adapter::load(f.ad2, *m), -1.5f}});
    auto merged = load_model(merge_by_hand(f.bm, {{&f.am, 0.8f}, {&f.am2, -1.5f}}, f.dir.path() + "/hand-2.gguf"));
    const logits_t want = test::run_one_batch(*merged, f.tokens);
    EXPECT_LT(test::max_rel_diff(session_logits(s, f.tokens, true), want), 1e-4);
    EXPECT_LT(test::max_rel_diff(session_logits(s, f.tokens, false), want), 1e-4);
}

TEST(lora, merged_file_matches_the_runtime_adapters) {
    files& f = shared();
    auto m = load_model(f.base);
    const io::model_file base = io::read_gguf(f.base);
    std::vector<lora_merge_input> in = {{lora_adapter::load(io::read_gguf(f.ad), base), 0.5f},
                                        {lora_adapter::load(io::read_gguf(f.ad2), base), 2.0f}};
    const std::string out = f.dir.path() + "/merged.gguf";
    const lora_merge_result r = lora_merge(base, in, out, {});
    EXPECT_EQ(r.n_merged, 2 * 7);
    EXPECT_EQ(r.n_copied, int64_t(base.tensors.size()) - 14);
    const io::model_file mf = io::read_gguf(out);
    EXPECT_EQ(mf.find_tensor("blk.0.attn_q.weight")->type, dtype::DTYPE_F32);
    // Untouched tensors are byte copies.
    const io::tensor_entry* e0 = base.find_tensor("token_embd.weight");
    const io::tensor_entry* e1 = mf.find_tensor("token_embd.weight");
    ASSERT_EQ(e0->nbytes, e1->nbytes);
    EXPECT_EQ(std::memcmp(e0->data, e1->data, e0->nbytes), 0);
    session s(*m, sp());
    s.set_lora({{in[0].adapter, 0.5f}, {in[1].adapter, 2.0f}});
    const logits_t runtime = session_logits(s, f.tokens, true);
    auto merged = llama_model::load(io::read_gguf(out));
    EXPECT_LT(test::max_rel_diff(test::run_one_batch(*merged, f.tokens), runtime), 1e-4);
    // The same merge written as F16: close, not equal.
    lora_merge_params p16;
    p16.type = "f16";
    lora_merge(base, in, f.dir.path() + "/merged-f16.gguf", p16);
    auto m16 = load_model(f.dir.path() + "/merged-f16.gguf");
    EXPECT_EQ(m16->file.find_tensor("blk.1.ffn_down.weight")->type, dtype::DTYPE_F16);
    EXPECT_EQ(m16->file.find_tensor("token_embd.weight")->type, dtype::DTYPE_F32);  // copied as it is
    const double d16 = test::max_rel_diff(test::run_one_batch(*m16, f.tokens), runtime);
    EXPECT_LT(d16, 1e-2);
    EXPECT_GT(d16, 0.0);
}

TEST(lora, q8_0_base_with_the_adapter_stays_close_to_f32) {
    files& f = shared();
    auto m32 = load_model(f.base);
    auto m8 = load_model(f.q8);
    ASSERT_EQ(io::read_gguf(f.q8).find_tensor("blk.0.attn_q.weight")->type, dtype::DTYPE_Q8_0);
    session s32(*m32, sp()), s8(*m8, sp());
    s32.set_lora({{lora_adapter::load(f.ad, *m32), 1.0f}});
    s8.set_lora({{lora_adapter::load(f.ad, *m8), 1.0f}});
    const logits_t want = session_logits(s32, f.tokens, true);
    const logits_t got = session_logits(s8, f.tokens, true);
    const double d = test::max_rel_diff(got, want);
    EXPECT_LT(d, 0.02);
    EXPECT_GT(d, 0.0);
    EXPECT_LT(test::max_rel_diff(session_logits(s8, f.tokens, false), want), 0.02);
    // Merged into the Q8_0 base (stays Q8_0), against the F32 runtime result.
    const io::model_file b8 = io::read_gguf(f.q8);
    lora_merge(b8, {{lora_adapter::load(io::read_gguf(f.ad), b8), 1.0f}}, f.dir.path() + "/merged-q8.gguf", {});
    auto mq = load_model(f.dir.path() + "/merged-q8.gguf");
    EXPECT_EQ(io::read_gguf(f.dir.path() + "/merged-q8.gguf").find_tensor("blk.0.ffn_up.weight")->type,
              dtype::DTYPE_Q8_0);
    EXPECT_LT(test::max_rel_diff(test::run_one_batch(*mq, f.tokens), want), 0.03);
    // An adapter loaded against one model runs on another of the same shapes.
    s8.set_lora({{lora_adapter::load(f.ad, *m32), 1.0f}});
    EXPECT_LT(test::max_rel_diff(session_logits(s8, f.tokens, true), want), 0.02);
}

TEST(lora, f16_and_bf16_adapters_are_converted) {
    files& f = shared();
    auto m = load_model(f.base);
    session s(*m, sp());
    s.set_lora({{lora_adapter::load(f.ad, *m), 1.0f}});
    const logits_t want = session_logits(s, f.tokens, true);
    for (dtype t : {dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
        io::model_file a = io::read_gguf(f.ad);
        std::vector<std::vector<uint16_t>> keep;
        for (io::tensor_entry& e : a.tensors) {
            const float* src = static_cast<const float*>(e.data);
            keep.emplace_back(size_t(e.nelements()));
            for (int64_t i = 0; i < e.nelements(); ++i)
                keep.back()[size_t(i)] = t == dtype::DTYPE_F16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
            e.type = t;
            e.data = keep.back().data();
            e.nbytes = uint64_t(e.nelements()) * 2;
        }
        const std::string p = f.dir.path() + "/a-" + dtype_name(t) + ".gguf";
        io::write_gguf(p, a);
        auto ad = lora_adapter::load(p, *m);
        s.set_lora({{ad, 1.0f}});
        const double d = test::max_rel_diff(session_logits(s, f.tokens, true), want);
        EXPECT_LT(d, t == dtype::DTYPE_F16 ? 2e-3 : 2e-2) << dtype_name(t);
        EXPECT_GT(d, 0.0) << dtype_name(t);
    }
}

// Writes a changed copy of the adapter and returns the one-line error of loading it against the base.
std::string load_error(const std::string& path, const llama_model& m) {
    try {
        lora_adapter::load(path, m);
    } catch (const error& e) {
        return e.what();
    }
    return "(no error)";
}

void expect_error(const std::string& msg, const std::string& file, const std::string& what) {
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(lora, bad_adapters_fail_with_one_line_naming_file_and_tensor_or_key) {
    files& f = shared();
    auto m = load_model(f.base);
    const std::string d = f.dir.path();
    auto edit = [&](const std::string& name, const std::function<void(io::model_file&)>& fn) {
        io::model_file a = io::read_gguf(f.ad);
        fn(a);
        a.index();
        const std::string p = d + "/" + name;
        io::write_gguf(p, a);
        return p;
    };
    // Missing lora_b.
    std::string p = edit("no-b.gguf", [](io::model_file& a) {
        for (size_t i = 0; i < a.tensors.size(); ++i)
            if (a.tensors[i].name == "blk.1.ffn_up.weight.lora_b") a.tensors.erase(a.tensors.begin() + std::ptrdiff_t(i));
    });
    expect_error(load_error(p, *m), p, "blk.1.ffn_up.weight.lora_b");
    // Wrong general.type, adapter.type, architecture, alpha.
    p = edit("type.gguf", [](io::model_file& a) { a.set("general.type", io::meta_value::str("model")); });
    expect_error(load_error(p, *m), p, "general.type");
    p = edit("no-type.gguf", [](io::model_file& a) { a.erase("general.type"); });
    expect_error(load_error(p, *m), p, "general.type");
    p = edit("atype.gguf", [](io::model_file& a) { a.set("adapter.type", io::meta_value::str("ia3")); });
    expect_error(load_error(p, *m), p, "adapter.type");
    p = edit("arch.gguf", [](io::model_file& a) { a.set("general.architecture", io::meta_value::str("qwen2")); });
    expect_error(load_error(p, *m), p, "general.architecture");
    p = edit("alpha.gguf", [](io::model_file& a) { a.set("adapter.lora.alpha", io::meta_value::str("16")); });
    expect_error(load_error(p, *m), p, "adapter.lora.alpha");
    p = edit("alpha-neg.gguf", [](io::model_file& a) { a.set("adapter.lora.alpha", io::meta_value::f32(-2.0f)); });
    expect_error(load_error(p, *m), p, "adapter.lora.alpha");
    // A base weight the model lacks, and a weight adapters may not target.
    p = edit("layer.gguf", [](io::model_file& a) {
        for (io::tensor_entry& t : a.tensors)
            if (t.name.rfind("blk.1.attn_k.weight", 0) == 0) t.name.replace(0, 5, "blk.7");
    });
    expect_error(load_error(p, *m), p, "blk.7.attn_k.weight");
    p = edit("output.gguf", [](io::model_file& a) {
        for (io::tensor_entry& t : a.tensors)
            if (t.name.rfind("blk.1.attn_k.weight", 0) == 0) t.name.replace(0, 19, "output.weight");
    });
    expect_error(load_error(p, *m), p, "output.weight");
    // Rank of A and B disagree; an unsupported tensor type.
    std::vector<float> big(64 * 5, 0.5f);
    p = edit("rank.gguf", [&](io::model_file& a) {
        for (io::tensor_entry& t : a.tensors)
            if (t.name == "blk.0.attn_v.weight.lora_a") {
                t.ne = {64, 5};
                t.data = big.data();
                t.nbytes = big.size() * 4;
            }
    });
    expect_error(load_error(p, *m), p, "blk.0.attn_v.weight.lora_b");
    std::vector<int32_t> ints(64 * 4, 1);
    p = edit("i32.gguf", [&](io::model_file& a) {
        for (io::tensor_entry& t : a.tensors)
            if (t.name == "blk.0.attn_q.weight.lora_a") {
                t.type = dtype::DTYPE_I32;
                t.data = ints.data();
            }
    });
    std::string msg = load_error(p, *m);
    expect_error(msg, p, "blk.0.attn_q.weight.lora_a");
    EXPECT_NE(msg.find("i32"), std::string::npos) << msg;
    // A model file is not an adapter.
    expect_error(load_error(f.base, *m), f.base, "general.type");
    // An adapter trained for another shape.
    train_config c = base_config();
    c.n_embd = 32;
    c.n_ff = 48;
    train_model other(c);
    other.init_random(1);
    io::write_gguf(d + "/other-base.gguf", other.to_model_file(nullptr, "other"));
    train_model oa = train_model::for_lora(io::read_gguf(d + "/other-base.gguf"), lora_config{}, 1);
    io::write_gguf(d + "/other-a.gguf", oa.to_model_file(nullptr, "oa"));
    msg = load_error(d + "/other-a.gguf", *m);
    expect_error(msg, d + "/other-a.gguf", "blk.0.attn_q.weight.lora_a");
    // Truncated files (every cut point from the header into the tensor data) never crash.
    std::ifstream in(f.ad, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t cut : {size_t(0), size_t(3), size_t(20), size_t(100), size_t(400), bytes.size() / 2, bytes.size() - 1}) {
        const std::string tp = d + "/cut.gguf";
        std::ofstream(tp, std::ios::binary).write(bytes.data(), std::streamsize(cut));
        expect_error(load_error(tp, *m), tp, "");
        EXPECT_NE(load_error(tp, *m), "(no error)") << cut;
    }
    // set_lora: an adapter that does not fit the session's model leaves the session unchanged.
    auto om = load_model(d + "/other-base.gguf");
    session s(*m, sp());
    auto good = lora_adapter::load(f.ad, *m);
    s.set_lora({{good, 1.0f}});
    auto misfit = lora_adapter::load(d + "/other-a.gguf", *om);
    EXPECT_THROW(s.set_lora({{good, 1.0f}, {misfit, 1.0f}}), error);
    EXPECT_THROW(s.set_lora({{good, NAN}}), error);
    EXPECT_THROW(s.set_lora({{nullptr, 1.0f}}), error);
    ASSERT_EQ(s.lora().size(), 1u);
    EXPECT_EQ(s.lora()[0].adapter, good);
    // Merge errors name the option or tensor.
    const io::model_file base = io::read_gguf(f.base);
    lora_merge_params bad;
    bad.type = "q9_9";
    try {
        lora_merge(base, {{good, 1.0f}}, d + "/x.gguf", bad);
        ADD_FAILURE() << "merge accepted type q9_9";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("q9_9"), std::string::npos) << e.what();
    }
    bad.type = "q4_k";  // rows of 64 do not fit 256-element super-blocks
    try {
        lora_merge(base, {{good, 1.0f}}, d + "/x.gguf", bad);
        ADD_FAILURE() << "merge accepted q4_k for rows of 64";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos) << e.what();
    }
    EXPECT_THROW(lora_merge(base, {{good, 1.0f}}, f.base, {}), error);  // would overwrite its own input
}

TEST(lora, c_api_loads_sets_and_merges) {
    files& f = shared();
    fathom_model* m = nullptr;
    ASSERT_EQ(fathom_model_load(f.base.c_str(), nullptr, &m), FATHOM_OK) << fathom_last_error();
    fathom_lora* a = nullptr;
    ASSERT_EQ(fathom_lora_load(m, f.ad.c_str(), &a), FATHOM_OK) << fathom_last_error();
    fathom_lora* bad = nullptr;
    EXPECT_NE(fathom_lora_load(m, f.base.c_str(), &bad), FATHOM_OK);
    EXPECT_EQ(bad, nullptr);
    EXPECT_NE(std::string(fathom_last_error()).find("general.type"), std::string::npos) << fathom_last_error();
    EXPECT_EQ(fathom_lora_load(m, (f.dir.path() + "/missing.gguf").c_str(), &bad), FATHOM_ERR_IO);

    fathom_session_options so;
    fathom_session_options_init(&so);
    so.n_ctx = 32;
    so.n_threads = 2;
    fathom_session* s = nullptr;
    ASSERT_EQ(fathom_session_create(m, &so, &s), FATHOM_OK) << fathom_last_error();
    const fathom_lora* list[] = {a};
    const float scales[] = {0.5f};
    ASSERT_EQ(fathom_session_set_lora(s, list, scales, 1), FATHOM_OK) << fathom_last_error();
    fathom_lora_free(a);  // the session keeps its own reference
    fathom_batch b{};
    b.struct_size = sizeof b;
    b.n_tokens = int64_t(f.tokens.size());
    b.tokens = f.tokens.data();
    ASSERT_EQ(fathom_session_decode(s, &b), FATHOM_OK) << fathom_last_error();
    const float* lg = nullptr;
    ASSERT_EQ(fathom_session_logits(s, -1, &lg), FATHOM_OK);
    train_model half = with_alpha(f.base, f.am, 4.0f);
    const logits_t want = train_logits(half, f.tokens);
    EXPECT_LT(test::rel_diff(lg, want.back().data(), base_config().n_vocab), 1e-4);
    const fathom_lora* null_list[] = {nullptr};
    EXPECT_EQ(fathom_session_set_lora(s, null_list, nullptr, 1), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(fathom_session_set_lora(s, nullptr, nullptr, -1), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(fathom_session_set_lora(s, nullptr, nullptr, 0), FATHOM_OK);  // back to the base
    fathom_session_free(s);

    fathom_lora_merge_options mo;
    fathom_lora_merge_options_init(&mo);
    const char* paths[] = {f.ad.c_str()};
    mo.adapters = paths;
    mo.scales = scales;
    mo.n_adapters = 1;
    const std::string out = f.dir.path() + "/c-merged.gguf";
    ASSERT_EQ(fathom_lora_merge(f.base.c_str(), out.c_str(), &mo), FATHOM_OK) << fathom_last_error();
    auto merged = load_model(out);
    EXPECT_LT(test::max_rel_diff(test::run_one_batch(*merged, f.tokens), want), 1e-4);
    mo.n_adapters = 0;
    EXPECT_EQ(fathom_lora_merge(f.base.c_str(), out.c_str(), &mo), FATHOM_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(fathom_lora_merge(f.base.c_str(), out.c_str(), nullptr), FATHOM_ERR_INVALID_ARGUMENT);
    fathom_lora_free(nullptr);
    fathom_model_free(m);
}

}  // namespace
}  // namespace fathom
