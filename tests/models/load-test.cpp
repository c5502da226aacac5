// llama_model::load: hyper-parameters, RoPE settings, tensor binding, and errors for hostile or broken files.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "core/error.h"
#include "io/model-file.h"
#include "models/llama.h"
#include "models/model-test-util.h"

namespace fathom {
namespace {

using test::make_tiny_model;
using test::tiny_spec;

// Loads `f`, expecting an error; returns its message and checks its code.
std::string load_error(io::model_file f, errc expected = errc::ERRC_FORMAT) {
    try {
        llama_model::load(std::move(f));
    } catch (const error& e) {
        EXPECT_EQ(int(e.code()), int(expected)) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "load succeeded";
    return "";
}

io::model_file with(std::function<void(io::model_file&)> edit, const tiny_spec& s = tiny_spec()) {
    io::model_file f = make_tiny_model(s);
    edit(f);
    return f;
}

TEST(llama_load, reads_hparams_and_binds_tensors) {
    tiny_spec s;
    auto m = llama_model::load(make_tiny_model(s));
    const llama_hparams& hp = m->hp;
    EXPECT_EQ(hp.arch, "llama");
    EXPECT_EQ(hp.n_vocab, 96);
    EXPECT_EQ(hp.n_ctx_train, 1024);
    EXPECT_EQ(hp.n_embd, 64);
    EXPECT_EQ(hp.n_layer, 2);
    EXPECT_EQ(hp.n_head, 4);
    EXPECT_EQ(hp.n_head_kv, 2);
    EXPECT_EQ(hp.head_dim, 16);
    EXPECT_EQ(hp.n_rot, 16);
    EXPECT_EQ(hp.n_ff, 96);
    EXPECT_FLOAT_EQ(hp.norm_eps, 1e-5f);
    EXPECT_EQ(hp.rope, rope_order::ROPE_ORDER_NORMAL);
    EXPECT_EQ(hp.scaling, rope_scaling::ROPE_SCALING_NONE);
    EXPECT_EQ(hp.bos_id, 1);
    EXPECT_EQ(hp.eos_id, 2);
    ASSERT_EQ(m->w.layers.size(), 2u);
    EXPECT_EQ(m->w.layers[1].wk->name, "blk.1.attn_k.weight");
    EXPECT_EQ(m->w.layers[0].bq, nullptr);
    EXPECT_NE(m->w.output, m->w.tok_embd);
    ASSERT_EQ(m->inv_freq.size(), 8u);
    for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(m->inv_freq[i], std::pow(10000.0, -double(i) / 8.0), 1e-7);
}

TEST(llama_load, family_settings) {
    tiny_spec q;
    q.arch = "qwen2";
    q.qkv_bias = true;
    q.tied = true;
    auto m = llama_model::load(make_tiny_model(q));
    EXPECT_EQ(m->hp.rope, rope_order::ROPE_ORDER_NEOX);
    EXPECT_NE(m->w.layers[1].bv, nullptr);
    EXPECT_EQ(m->w.output, m->w.tok_embd);  // tied

    auto hf = llama_model::load(with([](io::model_file& f) { f.set("fathom.rope.hf_order", io::meta_value::boolean(true)); }));
    EXPECT_EQ(hf->hp.rope, rope_order::ROPE_ORDER_NEOX);
    EXPECT_TRUE(llama_model::supports_arch("llama"));
    EXPECT_TRUE(llama_model::supports_arch("qwen2"));
    EXPECT_FALSE(llama_model::supports_arch("gpt2"));
}

TEST(llama_load, rope_scaling) {
    auto lin = llama_model::load(with([](io::model_file& f) {
        f.set("llama.rope.scaling.type", io::meta_value::str("linear"));
        f.set("llama.rope.scaling.factor", io::meta_value::f32(4.0f));
        f.set("llama.rope.freq_base", io::meta_value::f32(500000.0f));
        f.set("llama.rope.dimension_count", io::meta_value::u32(8));  // partial rotary
    }));
    EXPECT_EQ(lin->hp.scaling, rope_scaling::ROPE_SCALING_LINEAR);
    EXPECT_FLOAT_EQ(lin->hp.rope_scale, 4.0f);
    EXPECT_EQ(lin->hp.n_rot, 8);
    ASSERT_EQ(lin->inv_freq.size(), 4u);
    for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(lin->inv_freq[i], std::pow(500000.0, -double(i) / 4.0) / 4.0, 1e-7);

    // rope_freqs.weight divides the frequencies (ggml semantics), and half-precision norms are promoted.
    io::model_file f = make_tiny_model(tiny_spec());
    test::replace_tensor(f, "rope_freqs.weight", {8});
    test::replace_tensor(f, "blk.0.ffn_norm.weight", {64}, dtype::DTYPE_BF16);
    io::tensor_entry* rf = nullptr;
    for (auto& t : f.tensors)
        if (t.name == "rope_freqs.weight") rf = &t;
    ASSERT_NE(rf, nullptr);
    float* d = static_cast<float*>(const_cast<void*>(rf->data));
    for (int i = 0; i < 8; ++i) d[i] = 1.0f + float(i);
    auto l3 = llama_model::load(std::move(f));
    EXPECT_EQ(l3->hp.scaling, rope_scaling::ROPE_SCALING_LLAMA3);
    for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(l3->inv_freq[i], std::pow(10000.0, -double(i) / 8.0) / (1.0 + double(i)), 1e-7);
    EXPECT_EQ(l3->w.layers[0].ffn_norm->type, dtype::DTYPE_F32);

    std::string e = load_error(with([](io::model_file& f) { f.set("llama.rope.scaling.type", io::meta_value::str("yarn")); }),
                               errc::ERRC_UNSUPPORTED);
    EXPECT_EQ(e, "tiny-llama.gguf: key 'llama.rope.scaling.type': RoPE scaling 'yarn' is not supported (supported: none, linear)");
    e = load_error(with([](io::model_file& f) { f.set("llama.rope.scaling.type", io::meta_value::str("linear")); }));
    EXPECT_NE(e.find("missing key 'llama.rope.scaling.factor'"), std::string::npos) << e;
    e = load_error(with([](io::model_file& f) {
        f.set("llama.rope.scaling.type", io::meta_value::str("linear"));
        f.set("llama.rope.scaling.factor", io::meta_value::f32(-2.0f));
    }));
    EXPECT_NE(e.find("'llama.rope.scaling.factor'"), std::string::npos) << e;
}

TEST(llama_load, unknown_architecture) {
    std::string e = load_error(with([](io::model_file& f) { f.set("general.architecture", io::meta_value::str("gpt2")); }),
                               errc::ERRC_UNSUPPORTED);
    EXPECT_EQ(e, "tiny-llama.gguf: unknown architecture 'gpt2' (supported: llama, qwen2)");
    e = load_error(with([](io::model_file& f) {
        f.set("general.architecture", io::meta_value::str("evil\n" + std::string(5000, 'x')));
    }), errc::ERRC_UNSUPPORTED);
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;  // one line, bounded length
    EXPECT_LT(e.size(), 200u) << e;
    e = load_error(with([](io::model_file& f) { f.erase("general.architecture"); }));
    EXPECT_EQ(e, "tiny-llama.gguf: missing key 'general.architecture'");
    e = load_error(with([](io::model_file& f) { f.set("general.architecture", io::meta_value::u32(3)); }));
    EXPECT_NE(e.find("general.architecture"), std::string::npos) << e;
}

TEST(llama_load, missing_and_misshapen_tensors) {
    std::string e = load_error(with([](io::model_file& f) { test::remove_tensor(f, "blk.0.ffn_up.weight"); }));
    EXPECT_EQ(e, "tiny-llama.gguf: missing tensor 'blk.0.ffn_up.weight'");
    e = load_error(with([](io::model_file& f) { test::replace_tensor(f, "blk.1.attn_k.weight", {64, 16}); }));
    EXPECT_EQ(e, "tiny-llama.gguf: tensor 'blk.1.attn_k.weight': shape [64, 16] does not match expected [64, 32]");
    e = load_error(with([](io::model_file& f) { test::replace_tensor(f, "output.weight", {64, 95}); }));
    EXPECT_EQ(e, "tiny-llama.gguf: tensor 'output.weight': shape [64, 95] does not match expected [64, 96]");
    e = load_error(with([](io::model_file& f) { test::replace_tensor(f, "blk.0.attn_norm.weight", {64, 2}); }));
    EXPECT_NE(e.find("shape [64, 2] does not match expected [64]"), std::string::npos) << e;
    e = load_error(with([](io::model_file& f) { test::replace_tensor(f, "rope_freqs.weight", {4}); }));
    EXPECT_NE(e.find("tensor 'rope_freqs.weight': shape [4] does not match expected [8]"), std::string::npos) << e;
    e = load_error(with([](io::model_file& f) { test::replace_tensor(f, "blk.0.attn_q.bias", {32}); }));
    EXPECT_NE(e.find("tensor 'blk.0.attn_q.bias': shape [32] does not match expected [64]"), std::string::npos) << e;
    // A trailing dimension of 1 is accepted.
    EXPECT_NO_THROW(llama_model::load(with([](io::model_file& f) { test::replace_tensor(f, "output_norm.weight", {64, 1}); })));

    // Types: block types without a kernel, and norms in a matrix-only type.
    e = load_error(with([](io::model_file& f) { test::replace_tensor(f, "blk.0.ffn_gate.weight", {64, 96}, dtype::DTYPE_I32); }),
                   errc::ERRC_UNSUPPORTED);
    EXPECT_NE(e.find("tensor 'blk.0.ffn_gate.weight': weight type i32 has no matmul kernel"), std::string::npos) << e;
    e = load_error(with([](io::model_file& f) { test::replace_tensor(f, "output_norm.weight", {64}, dtype::DTYPE_I32); }),
                   errc::ERRC_UNSUPPORTED);
    EXPECT_NE(e.find("tensor 'output_norm.weight': type i32 is not supported"), std::string::npos) << e;

    // Data shorter than the shape says, or absent.
    e = load_error(with([](io::model_file& f) {
        for (auto& t : f.tensors)
            if (t.name == "blk.1.ffn_down.weight") t.nbytes -= 4;
    }));
    EXPECT_NE(e.find("tensor 'blk.1.ffn_down.weight': data holds"), std::string::npos) << e;
    e = load_error(with([](io::model_file& f) {
        for (auto& t : f.tensors)
            if (t.name == "token_embd.weight") t.data = nullptr;
    }));
    EXPECT_NE(e.find("tensor 'token_embd.weight': data holds 0 bytes"), std::string::npos) << e;
    // Non-positive rope_freqs divisors.
    e = load_error(with([](io::model_file& f) {
        test::replace_tensor(f, "rope_freqs.weight", {8});
        for (auto& t : f.tensors)
            if (t.name == "rope_freqs.weight") {
                float* d = static_cast<float*>(const_cast<void*>(t.data));
                for (int i = 0; i < 8; ++i) d[i] = i == 3 ? -1.0f : 1.0f;
            }
    }));
    EXPECT_NE(e.find("tensor 'rope_freqs.weight': element 3 is not a positive finite number"), std::string::npos) << e;
}

struct bad_key {
    const char* key;
    io::meta_value value;
    const char* expect;  // substring of the message
    errc code = errc::ERRC_FORMAT;
};

TEST(llama_load, hostile_hparams) {
    using mv = io::meta_value;
    const bad_key cases[] = {
        {"llama.attention.head_count", mv::u32(0), "key 'llama.attention.head_count': value 0 is out of range [1, 1024]"},
        {"llama.attention.head_count", mv::u32(3), "head_count 3 is not a multiple of head_count_kv 2"},
        {"llama.attention.head_count_kv", mv::u32(3), "head_count 4 is not a multiple of head_count_kv 3"},
        {"llama.attention.head_count_kv", mv::u32(0), "'llama.attention.head_count_kv': value 0 is out of range"},
        {"llama.embedding_length", mv::u64(uint64_t(1) << 40), "'llama.embedding_length': value 1099511627776 is out of range"},
        {"llama.embedding_length", mv::i32(-64), "'llama.embedding_length': value -64 is out of range"},
        {"llama.block_count", mv::u64(~uint64_t(0)), "llama.block_count"},
        {"llama.block_count", mv::str("2"), "key 'llama.block_count': expected an integer, found string"},
        {"llama.block_count", mv::u32(100000), "'llama.block_count': value 100000 is out of range"},
        {"llama.feed_forward_length", mv::u32(0), "'llama.feed_forward_length': value 0 is out of range"},
        {"llama.context_length", mv::u64(uint64_t(1) << 50), "'llama.context_length'"},
        {"llama.attention.key_length", mv::u32(15), "head dimension 15 is odd"},
        {"llama.attention.key_length", mv::u32(1 << 20), "'llama.attention.key_length': value 1048576 is out of range"},
        {"llama.attention.value_length", mv::u32(8), "differs from key_length 16", errc::ERRC_UNSUPPORTED},
        {"llama.rope.dimension_count", mv::u32(32), "'llama.rope.dimension_count': value 32 is out of range [2, 16]"},
        {"llama.rope.dimension_count", mv::u32(7), "rotary dimension 7 is odd"},
        {"llama.attention.layer_norm_rms_epsilon", mv::f32(-1e-5f), "'llama.attention.layer_norm_rms_epsilon': value"},
        {"llama.attention.layer_norm_rms_epsilon", mv::f32(std::numeric_limits<float>::quiet_NaN()), "layer_norm_rms_epsilon"},
        {"llama.rope.freq_base", mv::f32(std::numeric_limits<float>::infinity()), "'llama.rope.freq_base'"},
        {"llama.rope.freq_base", mv::str("x"), "key 'llama.rope.freq_base': expected a number, found string"},
        {"llama.vocab_size", mv::u32(95), "tensor 'token_embd.weight': shape [64, 96] does not match expected [64, 95]"},
        {"llama.vocab_size", mv::u64(uint64_t(1) << 40), "'llama.vocab_size': value"},
        {"tokenizer.ggml.bos_token_id", mv::u32(96), "key 'tokenizer.ggml.bos_token_id': token id 96 is outside the vocabulary of 96"},
        {"tokenizer.ggml.eos_token_id", mv::u32(1u << 31), "'tokenizer.ggml.eos_token_id'"},
        {"fathom.rope.hf_order", mv::str("yes"), "key 'fathom.rope.hf_order': expected a bool"},
    };
    for (const bad_key& c : cases) {
        io::model_file f = make_tiny_model(tiny_spec());
        f.set(c.key, c.value);
        std::string e = load_error(std::move(f), c.code);
        EXPECT_EQ(e.rfind("tiny-llama.gguf: ", 0), 0u) << e;
        EXPECT_NE(e.find(c.expect), std::string::npos) << c.key << " = " << c.value.to_display() << ": " << e;
    }
    {
        // head_count 6 divides neither n_embd 64 nor leaves a default head_dim (no key_length).
        io::model_file f = make_tiny_model(tiny_spec());
        f.set("llama.attention.head_count", mv::u32(6));
        f.set("llama.attention.head_count_kv", mv::u32(6));
        EXPECT_NE(load_error(std::move(f)).find("64 is not a multiple of head_count 6 and attention.key_length is absent"),
                  std::string::npos);
    }
    for (const char* key : {"llama.context_length", "llama.embedding_length", "llama.block_count",
                            "llama.feed_forward_length", "llama.attention.head_count"}) {
        io::model_file f = make_tiny_model(tiny_spec());
        f.erase(key);
        EXPECT_EQ(load_error(std::move(f)), std::string("tiny-llama.gguf: missing key '") + key + "'");
    }
}

TEST(llama_load, hostile_file_through_gguf_writer) {
    // The same validation applies to a model that went through the GGUF writer and reader.
    test::temp_dir tmp;
    io::model_file f = make_tiny_model(tiny_spec());
    f.set("llama.attention.head_count_kv", io::meta_value::u32(3));
    const std::string path = tmp.path() + "/bad.gguf";
    io::write_gguf(path, f);
    std::string e = load_error(io::read_gguf(path));
    EXPECT_EQ(e.rfind(path + ": key 'llama.attention.head_count_kv'", 0), 0u) << e;

    io::model_file g = make_tiny_model(tiny_spec());
    test::replace_tensor(g, "blk.0.attn_v.weight", {64, 48});
    io::write_gguf(path, g);
    e = load_error(io::read_gguf(path));
    EXPECT_EQ(e, path + ": tensor 'blk.0.attn_v.weight': shape [64, 48] does not match expected [64, 32]");
}

}  // namespace
}  // namespace fathom
