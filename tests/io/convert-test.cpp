// convert_to_gguf tests: Q/K row permutation into llama.cpp order, dtype conversion, metadata rewriting.
#include "io/model-file.h"
#include "io/io-test-util.h"

namespace fathom::io {
namespace {

using nlohmann::json;
using test::expect_error;
using test::st_tensor;
using test::temp_dir;

// (rows, cols) F32 tensor with value = base + r * 100 + c, so a row tells where it came from.
st_tensor rows_tensor(const std::string& name, int64_t rows, int64_t cols, float base) {
    std::vector<float> v;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) v.push_back(base + float(r * 100 + c));
    return {name, "F32", rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{rows, cols}, test::as_bytes(v)};
}

// A one-layer llama folder: n_embd = heads*head_dim, kv heads `kv`, FFN 4, vocab 4.
void write_model(const temp_dir& d, int heads, int kv, int head_dim) {
    const int n = heads * head_dim;
    json cfg = {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", n},       {"num_hidden_layers", 1},
                {"num_attention_heads", heads},           {"num_key_value_heads", kv}, {"intermediate_size", 4},
                {"vocab_size", 4},                        {"rms_norm_eps", 1e-6},  {"general_extra", "x"}};
    test::write_file(d.file("config.json"), cfg.dump());
    std::vector<st_tensor> ts = {
        rows_tensor("model.embed_tokens.weight", 4, n, 0.5f),
        rows_tensor("model.layers.0.input_layernorm.weight", 1, n, 0.25f),
        rows_tensor("model.layers.0.self_attn.q_proj.weight", n, n, 0),
        rows_tensor("model.layers.0.self_attn.k_proj.weight", kv * head_dim, n, 100000),
        rows_tensor("model.layers.0.self_attn.v_proj.weight", kv * head_dim, n, 200000),
        rows_tensor("model.layers.0.self_attn.o_proj.weight", n, n, 300000),
        rows_tensor("model.layers.0.post_attention_layernorm.weight", 1, n, 0.75f),
        rows_tensor("model.layers.0.mlp.gate_proj.weight", 4, n, 400000),
        rows_tensor("model.layers.0.mlp.up_proj.weight", 4, n, 500000),
        rows_tensor("model.layers.0.mlp.down_proj.weight", n, 4, 600000),
        rows_tensor("model.norm.weight", 1, n, 1.5f),
    };
    test::write_safetensors(d.file("model.safetensors"), ts);
}

float elem(const tensor_entry& t, int64_t i) {
    const uint8_t* p = static_cast<const uint8_t*>(t.data);
    uint16_t h;
    switch (t.type) {
        case dtype::DTYPE_F32: {
            float v;
            std::memcpy(&v, p + 4 * i, 4);
            return v;
        }
        case dtype::DTYPE_F16: std::memcpy(&h, p + 2 * i, 2); return f16_to_f32(h);
        default: std::memcpy(&h, p + 2 * i, 2); return bf16_to_f32(h);
    }
}

// HF row each converted row came from, read back from the row's values.
std::vector<int64_t> source_rows(const tensor_entry& t, float base) {
    std::vector<int64_t> out;
    for (int64_t r = 0; r < t.ne[1]; ++r) {
        float v = elem(t, r * t.ne[0]) - base;
        out.push_back(int64_t(v) / 100);
        for (int64_t c = 0; c < t.ne[0]; ++c)  // the whole row moved together
            EXPECT_EQ(elem(t, r * t.ne[0] + c), base + float(out.back() * 100 + c)) << t.name << " row " << r;
    }
    return out;
}

TEST(convert, permutes_q_and_k_into_llama_cpp_order) {
    temp_dir d;
    write_model(d, 2, 1, 4);
    model_file src = read_hf(d.path());
    convert_to_gguf(src, d.file("out.gguf"), dtype::DTYPE_F32);
    model_file g = read_gguf(d.file("out.gguf"));
    // head_dim 4: HF rows (x0, x1 | y0, y1) become interleaved (x0, y0, x1, y1) within each head.
    EXPECT_EQ(source_rows(*g.find_tensor("blk.0.attn_q.weight"), 0), (std::vector<int64_t>{0, 2, 1, 3, 4, 6, 5, 7}));
    EXPECT_EQ(source_rows(*g.find_tensor("blk.0.attn_k.weight"), 100000), (std::vector<int64_t>{0, 2, 1, 3}));
    // other weights untouched
    EXPECT_EQ(source_rows(*g.find_tensor("blk.0.attn_v.weight"), 200000), (std::vector<int64_t>{0, 1, 2, 3}));
    EXPECT_EQ(source_rows(*g.find_tensor("blk.0.attn_output.weight"), 300000),
              (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
    EXPECT_EQ(g.find("fathom.rope.hf_order"), nullptr);
    EXPECT_EQ(g.find("general.file_type")->as_int("f"), 0);
    EXPECT_EQ(g.meta[2].first, "general.file_type");  // right after general.architecture, general.name

    // Converting the converted file again does not permute twice.
    convert_to_gguf(g, d.file("again.gguf"), dtype::DTYPE_F32);
    model_file g2 = read_gguf(d.file("again.gguf"));
    EXPECT_EQ(source_rows(*g2.find_tensor("blk.0.attn_q.weight"), 0), (std::vector<int64_t>{0, 2, 1, 3, 4, 6, 5, 7}));
}

TEST(convert, permutation_formula_for_larger_heads) {
    temp_dir d;
    write_model(d, 4, 2, 8);
    convert_to_gguf(read_hf(d.path()), d.file("out.gguf"), dtype::DTYPE_F32);
    model_file g = read_gguf(d.file("out.gguf"));
    // numpy: w.reshape(n_head, 2, hd/2, n_in).swapaxes(1, 2) -> new (h, j, c) takes old (h, c, j)
    auto expected = [](int heads, int hd) {
        std::vector<int64_t> v;
        for (int h = 0; h < heads; ++h)
            for (int j = 0; j < hd / 2; ++j)
                for (int c = 0; c < 2; ++c) v.push_back(h * hd + c * (hd / 2) + j);
        return v;
    };
    EXPECT_EQ(source_rows(*g.find_tensor("blk.0.attn_q.weight"), 0), expected(4, 8));
    EXPECT_EQ(source_rows(*g.find_tensor("blk.0.attn_k.weight"), 100000), expected(2, 8));
    EXPECT_EQ(expected(1, 8), (std::vector<int64_t>{0, 4, 1, 5, 2, 6, 3, 7}));
}

TEST(convert, f16_and_bf16_targets) {
    temp_dir d;
    write_model(d, 2, 1, 4);
    model_file src = read_hf(d.path());
    for (dtype t : {dtype::DTYPE_F16, dtype::DTYPE_BF16}) {
        convert_to_gguf(src, d.file("out.gguf"), t);
        model_file g = read_gguf(d.file("out.gguf"));
        EXPECT_EQ(g.find("general.file_type")->as_int("f"), t == dtype::DTYPE_F16 ? 1 : 32);
        for (const tensor_entry& e : g.tensors) {
            EXPECT_EQ(e.type, e.ne.size() >= 2 ? t : dtype::DTYPE_F32) << e.name;
            const tensor_entry* s = src.find_tensor(e.name);
            ASSERT_NE(s, nullptr);
            EXPECT_EQ(s->ne, e.ne);
            if (e.name == "blk.0.attn_q.weight" || e.name == "blk.0.attn_k.weight") continue;
            for (int64_t i = 0; i < e.nelements(); ++i) {
                float x = elem(*s, i);
                float want = e.type == dtype::DTYPE_F32   ? x
                             : e.type == dtype::DTYPE_F16 ? f16_to_f32(f32_to_f16(x))
                                                          : bf16_to_f32(f32_to_bf16(x));
                ASSERT_EQ(elem(e, i), want) << e.name << "[" << i << "]";
            }
        }
    }
}

TEST(convert, bf16_rounds_to_nearest_even) {
    temp_dir d;
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0, 0x3f80);
    // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (0x3f82); 1 + 2^-8 + 2^-12 rounds up.
    std::vector<float> v = {1.00390625f, 1.01171875f, 1.0f + 1.0f / 256 + 1.0f / 4096, -2.0f};
    float scalar = 3.0f;
    model_file m;
    m.set("general.architecture", meta_value::str("llama"));
    m.add_tensor({"w", dtype::DTYPE_F32, {2, 2}, v.data(), 16});
    m.add_tensor({"n", dtype::DTYPE_F32, {1}, &scalar, 4});
    convert_to_gguf(m, d.file("b.gguf"), dtype::DTYPE_BF16);
    model_file g = read_gguf(d.file("b.gguf"));
    const uint16_t* h = static_cast<const uint16_t*>(g.find_tensor("w")->data);
    EXPECT_EQ(h[0], 0x3f80);
    EXPECT_EQ(h[1], 0x3f82);
    EXPECT_EQ(h[2], 0x3f81);
    EXPECT_EQ(h[3], 0xc000);
    EXPECT_EQ(g.find_tensor("n")->type, dtype::DTYPE_F32);
    EXPECT_EQ(elem(*g.find_tensor("n"), 0), 3.0f);
    expect_error([&] { convert_to_gguf(m, d.file("q.gguf"), dtype::DTYPE_Q4_0); }, errc::ERRC_INVALID_ARGUMENT,
                 {"q.gguf", "f32, f16 and bf16"});
}

}  // namespace
}  // namespace fathom::io
