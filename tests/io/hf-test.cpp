// Hugging Face folder tests: safetensors parsing, sharding, name/hparam translation, Llama-3 RoPE, tokenizer.
#include <cmath>
#include <map>

#include "io/model-file.h"
#include "io/io-test-util.h"

namespace fathom::io {
namespace {

using nlohmann::json;
using test::expect_error;
using test::st_tensor;
using test::temp_dir;

// Floats with value base + index, as F32 or BF16 bytes (BF16 values chosen to be exact).
st_tensor make_tensor(const std::string& name, const std::string& dt, std::vector<int64_t> shape, float base) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    st_tensor t{name, dt, shape, {}};
    for (int64_t k = 0; k < n; ++k) {
        float v = base + float(k);
        if (dt == "F32") {
            uint8_t b[4];
            std::memcpy(b, &v, 4);
            t.data.insert(t.data.end(), b, b + 4);
        } else {
            uint16_t h = dt == "BF16" ? f32_to_bf16(v) : f32_to_f16(v);
            t.data.push_back(uint8_t(h & 0xff));
            t.data.push_back(uint8_t(h >> 8));
        }
    }
    return t;
}

json tiny_config(const std::string& arch = "LlamaForCausalLM") {
    return json{{"architectures", {arch}},
                {"hidden_size", 8},
                {"num_hidden_layers", 2},
                {"num_attention_heads", 2},
                {"num_key_value_heads", 1},
                {"intermediate_size", 12},
                {"vocab_size", 16},
                {"max_position_embeddings", 64},
                {"rms_norm_eps", 1e-5},
                {"rope_theta", 500000.0},
                {"bos_token_id", 1},
                {"eos_token_id", 2},
                {"tie_word_embeddings", true}};
}

// HF tensors of a 2-layer model with n_embd 8, 2 heads of 4, 1 KV head, FFN 12, vocab 16.
std::vector<st_tensor> tiny_tensors(bool lm_head, bool qkv_bias) {
    std::vector<st_tensor> ts;
    float base = 0;
    auto add = [&](const std::string& n, std::vector<int64_t> s, const std::string& dt = "F32") {
        ts.push_back(make_tensor(n, dt, s, base));
        base += 1000;
    };
    add("model.embed_tokens.weight", {16, 8}, "BF16");
    for (int l = 0; l < 2; ++l) {
        std::string p = "model.layers." + std::to_string(l) + ".";
        add(p + "input_layernorm.weight", {8});
        add(p + "self_attn.q_proj.weight", {8, 8});
        add(p + "self_attn.k_proj.weight", {4, 8});
        add(p + "self_attn.v_proj.weight", {4, 8}, "F16");
        add(p + "self_attn.o_proj.weight", {8, 8});
        if (qkv_bias) {
            add(p + "self_attn.q_proj.bias", {8});
            add(p + "self_attn.k_proj.bias", {4});
            add(p + "self_attn.v_proj.bias", {4});
        }
        add(p + "self_attn.rotary_emb.inv_freq", {2});
        add(p + "post_attention_layernorm.weight", {8});
        add(p + "mlp.gate_proj.weight", {12, 8});
        add(p + "mlp.up_proj.weight", {12, 8});
        add(p + "mlp.down_proj.weight", {8, 12});
    }
    add("model.norm.weight", {8});
    if (lm_head) add("lm_head.weight", {16, 8});
    return ts;
}

void write_folder(const temp_dir& d, const json& cfg, const std::vector<st_tensor>& ts) {
    test::write_file(d.file("config.json"), cfg.dump(2));
    test::write_safetensors(d.file("model.safetensors"), ts);
}

float f32_at(const tensor_entry& t, int64_t i) {
    if (t.type == dtype::DTYPE_F32) {
        float v;
        std::memcpy(&v, static_cast<const uint8_t*>(t.data) + 4 * i, 4);
        return v;
    }
    uint16_t h;
    std::memcpy(&h, static_cast<const uint8_t*>(t.data) + 2 * i, 2);
    return t.type == dtype::DTYPE_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

TEST(safetensors, parses_shapes_dtypes_and_offsets) {
    temp_dir d;
    std::vector<st_tensor> ts = {make_tensor("a", "F32", {2, 3}, 1), make_tensor("b", "BF16", {4}, 10),
                                 make_tensor("c", "F16", {1, 2, 3, 4}, -5)};
    test::write_safetensors(d.file("x.safetensors"), ts);
    auto bytes = test::read_file(d.file("x.safetensors"));
    auto out = parse_safetensors(bytes.data(), bytes.size(), "x.safetensors");
    ASSERT_EQ(out.size(), 3u);
    std::map<std::string, tensor_entry> by;
    for (auto& t : out) by[t.name] = t;
    EXPECT_EQ(by["a"].ne, (std::vector<int64_t>{3, 2}));  // reversed: innermost first
    EXPECT_EQ(by["a"].type, dtype::DTYPE_F32);
    EXPECT_EQ(by["b"].type, dtype::DTYPE_BF16);
    EXPECT_EQ(by["c"].ne, (std::vector<int64_t>{4, 3, 2, 1}));
    EXPECT_EQ(by["c"].type, dtype::DTYPE_F16);
    EXPECT_EQ(f32_at(by["a"], 4), 5.0f);
    EXPECT_EQ(f32_at(by["b"], 3), 13.0f);
    EXPECT_EQ(f32_at(by["c"], 23), 18.0f);
    // points into the given buffer
    EXPECT_GE(static_cast<const uint8_t*>(by["c"].data), bytes.data());
    EXPECT_LE(static_cast<const uint8_t*>(by["c"].data) + by["c"].nbytes, bytes.data() + bytes.size());
}

TEST(read_hf, translates_names_hparams_and_keeps_data) {
    temp_dir d;
    auto ts = tiny_tensors(false, false);
    write_folder(d, tiny_config(), ts);
    model_file m = read_hf(d.path());
    EXPECT_EQ(m.find("general.architecture")->s, "llama");
    struct u32_key {
        const char* key;
        int64_t v;
    };
    for (const u32_key& k : {u32_key{"llama.context_length", 64}, {"llama.embedding_length", 8}, {"llama.block_count", 2},
                             {"llama.feed_forward_length", 12}, {"llama.attention.head_count", 2},
                             {"llama.attention.head_count_kv", 1}, {"llama.rope.dimension_count", 4},
                             {"llama.vocab_size", 16}, {"tokenizer.ggml.bos_token_id", 1},
                             {"tokenizer.ggml.eos_token_id", 2}}) {
        const meta_value* v = m.find(k.key);
        ASSERT_NE(v, nullptr) << k.key;
        EXPECT_EQ(int(v->type), int(gguf_type::GGUF_UINT32)) << k.key;
        EXPECT_EQ(v->as_int(k.key), k.v) << k.key;
    }
    EXPECT_EQ(int(m.find("llama.attention.layer_norm_rms_epsilon")->type), int(gguf_type::GGUF_FLOAT32));
    EXPECT_FLOAT_EQ(float(m.find("llama.attention.layer_norm_rms_epsilon")->f), 1e-5f);
    EXPECT_FLOAT_EQ(float(m.find("llama.rope.freq_base")->f), 500000.0f);
    EXPECT_TRUE(m.find("fathom.rope.hf_order")->as_bool("x"));
    EXPECT_EQ(m.find("llama.attention.key_length"), nullptr);  // head_dim not given explicitly
    EXPECT_EQ(m.find("llama.rope.scaling.type"), nullptr);
    EXPECT_EQ(m.find_tensor("rope_freqs.weight"), nullptr);

    // names, order, shapes (GGUF order), dtypes, data
    std::vector<std::string> names;
    for (const auto& t : m.tensors) names.push_back(t.name);
    std::vector<std::string> expect = {"token_embd.weight"};
    for (int l = 0; l < 2; ++l)
        for (const char* s : {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                              "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"})
            expect.push_back("blk." + std::to_string(l) + "." + s);
    expect.push_back("output_norm.weight");
    EXPECT_EQ(names, expect);  // tied: no output.weight; inv_freq dropped
    const tensor_entry* q = m.find_tensor("blk.1.attn_q.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->ne, (std::vector<int64_t>{8, 8}));
    const tensor_entry* k = m.find_tensor("blk.0.attn_k.weight");
    EXPECT_EQ(k->ne, (std::vector<int64_t>{8, 4}));  // HF (4, 8) -> ne {in 8, out 4}
    EXPECT_EQ(m.find_tensor("blk.0.ffn_down.weight")->ne, (std::vector<int64_t>{12, 8}));
    EXPECT_EQ(m.find_tensor("token_embd.weight")->type, dtype::DTYPE_BF16);
    EXPECT_EQ(m.find_tensor("blk.0.attn_v.weight")->type, dtype::DTYPE_F16);
    // values: find the HF tensor's base value and compare element 5
    for (const auto& t : ts) {
        if (t.name != "model.layers.1.self_attn.q_proj.weight") continue;
        float base;
        std::memcpy(&base, t.data.data(), 4);
        EXPECT_EQ(f32_at(*q, 5), base + 5);
        EXPECT_EQ(f32_at(*q, 63), base + 63);
    }
    EXPECT_EQ(f32_at(*m.find_tensor("token_embd.weight"), 7), 7.0f);
    // data is mmap'd from the safetensors file
    ASSERT_EQ(m.maps.size(), 1u);
    const uint8_t* p = static_cast<const uint8_t*>(q->data);
    EXPECT_TRUE(p >= m.maps[0]->data() && p + q->nbytes <= m.maps[0]->data() + m.maps[0]->size());
}

TEST(read_hf, qwen2_with_biases_and_explicit_lm_head) {
    temp_dir d;
    json cfg = tiny_config("Qwen2ForCausalLM");
    cfg["head_dim"] = 4;
    cfg["tie_word_embeddings"] = false;
    write_folder(d, cfg, tiny_tensors(true, true));
    model_file m = read_hf(d.path());
    EXPECT_EQ(m.find("general.architecture")->s, "qwen2");
    EXPECT_EQ(m.find("qwen2.embedding_length")->as_int("x"), 8);
    EXPECT_EQ(m.find("qwen2.attention.key_length")->as_int("x"), 4);
    EXPECT_EQ(m.find("qwen2.attention.value_length")->as_int("x"), 4);
    EXPECT_EQ(m.find("fathom.rope.hf_order"), nullptr);  // qwen2 is NeoX order in llama.cpp too
    EXPECT_NE(m.find_tensor("blk.0.attn_q.bias"), nullptr);
    EXPECT_EQ(m.find_tensor("blk.1.attn_k.bias")->ne, (std::vector<int64_t>{4}));
    EXPECT_NE(m.find_tensor("output.weight"), nullptr);
    EXPECT_EQ(m.tensors.back().name, "output.weight");
}

TEST(read_hf, sharded_folder_with_index) {
    temp_dir d;
    auto ts = tiny_tensors(true, false);
    test::write_file(d.file("config.json"), tiny_config().dump());
    std::vector<st_tensor> a(ts.begin(), ts.begin() + 10), b(ts.begin() + 10, ts.end());
    // A stray copy of a tensor in the other shard: the index decides which one is used.
    st_tensor stray = make_tensor(ts[0].name, "BF16", {16, 8}, 77);
    b.push_back(stray);
    test::write_safetensors(d.file("model-00001-of-00002.safetensors"), a);
    test::write_safetensors(d.file("model-00002-of-00002.safetensors"), b);
    json idx;
    idx["metadata"] = {{"total_size", 0}};
    for (const auto& t : a) idx["weight_map"][t.name] = "model-00001-of-00002.safetensors";
    for (size_t k = 10; k < ts.size(); ++k) idx["weight_map"][ts[k].name] = "model-00002-of-00002.safetensors";
    test::write_file(d.file("model.safetensors.index.json"), idx.dump());
    model_file m = read_hf(d.path());
    EXPECT_EQ(m.maps.size(), 2u);  // each shard mapped once
    EXPECT_EQ(m.tensors.size(), 1u + 2u * 9u + 2u);
    EXPECT_EQ(f32_at(*m.find_tensor("token_embd.weight"), 3), 3.0f);  // from shard 1, not the stray copy
    EXPECT_NE(m.find_tensor("output.weight"), nullptr);

    idx["weight_map"]["model.layers.1.mlp.up_proj.weight"] = "model-00001-of-00002.safetensors";
    test::write_file(d.file("model.safetensors.index.json"), idx.dump());
    expect_error([&] { read_hf(d.path()); }, errc::ERRC_FORMAT,
                 {"model.safetensors.index.json", "'model.layers.1.mlp.up_proj.weight' is not in model-00001-of-00002"});
    idx["weight_map"]["model.norm.weight"] = "../etc/passwd";
    test::write_file(d.file("model.safetensors.index.json"), idx.dump());
    expect_error([&] { read_hf(d.path()); }, errc::ERRC_FORMAT, {"bad shard file name '../etc/passwd'"});
}

// Llama-3 RoPE scaling: divisors computed independently here (the published formula, in double).
TEST(read_hf, llama3_rope_freqs) {
    temp_dir d;
    json cfg = tiny_config();
    cfg["hidden_size"] = 128;  // head_dim 64 so the three regions all occur
    cfg["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
    model_file m = parse_hf_config(cfg.dump(), "cfg/config.json");
    const tensor_entry* rf = m.find_tensor("rope_freqs.weight");
    ASSERT_NE(rf, nullptr);
    ASSERT_EQ(rf->ne, (std::vector<int64_t>{32}));
    EXPECT_EQ(rf->type, dtype::DTYPE_F32);
    ASSERT_EQ(m.owned.size(), 1u);
    const double pi = 3.14159265358979323846;
    int n_one = 0, n_factor = 0, n_mid = 0;
    for (int i = 0; i < 32; ++i) {
        double freq = std::pow(500000.0, -2.0 * i / 64.0);
        double wavelen = 2 * pi / freq;
        double expect;
        if (wavelen < 8192.0 / 4.0) {
            expect = 1.0;
            ++n_one;
        } else if (wavelen > 8192.0 / 1.0) {
            expect = 8.0;
            ++n_factor;
        } else {
            double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
            expect = 1.0 / ((1 - smooth) / 8.0 + smooth);
            ++n_mid;
        }
        EXPECT_NEAR(f32_at(*rf, i), expect, 1e-5 * expect) << "i=" << i;
    }
    EXPECT_GT(n_one, 0);
    EXPECT_GT(n_factor, 0);
    EXPECT_GT(n_mid, 0);
    EXPECT_EQ(m.find("llama.rope.scaling.type"), nullptr);

    // it travels with read_hf as an owned tensor
    cfg["hidden_size"] = 8;
    write_folder(d, cfg, tiny_tensors(false, false));
    model_file h = read_hf(d.path());
    ASSERT_NE(h.find_tensor("rope_freqs.weight"), nullptr);
    EXPECT_EQ(h.find_tensor("rope_freqs.weight")->ne, (std::vector<int64_t>{2}));
    EXPECT_EQ(h.tensors[1].name, "rope_freqs.weight");
}

TEST(read_hf, linear_rope_scaling_and_unsupported_types) {
    json cfg = tiny_config("MistralForCausalLM");
    cfg["rope_scaling"] = {{"type", "linear"}, {"factor", 4}};
    model_file m = parse_hf_config(cfg.dump(), "c/config.json");
    EXPECT_EQ(m.find("general.architecture")->s, "llama");
    EXPECT_EQ(m.find("llama.rope.scaling.type")->s, "linear");
    EXPECT_FLOAT_EQ(float(m.find("llama.rope.scaling.factor")->f), 4.0f);
    cfg["rope_scaling"] = {{"type", "yarn"}, {"factor", 4}};
    expect_error([&] { parse_hf_config(cfg.dump(), "c/config.json"); }, errc::ERRC_UNSUPPORTED,
                 {"c/config.json", "rope_scaling type 'yarn' is not supported"});
}

TEST(read_hf, config_errors_name_file_and_field) {
    const std::string f = "m/config.json";
    json cfg = tiny_config();
    cfg.erase("hidden_size");
    expect_error([&] { parse_hf_config(cfg.dump(), f); }, errc::ERRC_FORMAT,
                 {"m/config.json: field 'hidden_size': expected a positive integer", "missing"});
    cfg = tiny_config();
    cfg["num_hidden_layers"] = "2";
    expect_error([&] { parse_hf_config(cfg.dump(), f); }, errc::ERRC_FORMAT,
                 {"m/config.json: field 'num_hidden_layers': expected a positive integer, found string"});
    cfg = tiny_config();
    cfg["vocab_size"] = -3;
    expect_error([&] { parse_hf_config(cfg.dump(), f); }, errc::ERRC_FORMAT, {"field 'vocab_size'", "-3"});
    cfg = tiny_config();
    cfg["rms_norm_eps"] = "small";
    expect_error([&] { parse_hf_config(cfg.dump(), f); }, errc::ERRC_FORMAT, {"field 'rms_norm_eps': expected a positive number"});
    cfg = tiny_config();
    cfg["num_key_value_heads"] = 3;
    expect_error([&] { parse_hf_config(cfg.dump(), f); }, errc::ERRC_FORMAT, {"num_key_value_heads", "does not divide"});
    cfg = tiny_config("GPT2LMHeadModel");
    expect_error([&] { parse_hf_config(cfg.dump(), f); }, errc::ERRC_UNSUPPORTED, {f, "architecture 'GPT2LMHeadModel' is not supported"});
    expect_error([&] { parse_hf_config("{\"hidden_size\": 8,\n \"x\": }", f); }, errc::ERRC_FORMAT,
                 {"m/config.json: invalid JSON", "line 2"});
    expect_error([&] { parse_hf_config("[1, 2]", f); }, errc::ERRC_FORMAT, {f, "JSON object"});
}

TEST(read_hf, tensor_errors_name_the_tensor) {
    temp_dir d;
    auto ts = tiny_tensors(false, false);
    ts.push_back(make_tensor("model.layers.0.mlp.extra.weight", "F32", {2}, 0));
    write_folder(d, tiny_config(), ts);
    expect_error([&] { read_hf(d.path()); }, errc::ERRC_UNSUPPORTED,
                 {"model.safetensors", "unknown tensor 'model.layers.0.mlp.extra.weight'"});
    ts.pop_back();
    ts.push_back(make_tensor("model.layers.2.input_layernorm.weight", "F32", {8}, 0));
    write_folder(d, tiny_config(), ts);
    expect_error([&] { read_hf(d.path()); }, errc::ERRC_FORMAT, {"model.layers.2.input_layernorm.weight", "layer 2 >= num_hidden_layers 2"});
    ts.pop_back();
    ts.push_back(make_tensor("model.layers.0.self_attn.q_proj.weight_scale", "F32", {1}, 0));
    ts.back().dtype = "I64";
    ts.back().data.resize(8);
    write_folder(d, tiny_config(), ts);
    expect_error([&] { read_hf(d.path()); }, errc::ERRC_UNSUPPORTED,
                 {"model.safetensors", "tensor 'model.layers.0.self_attn.q_proj.weight_scale'", "dtype I64 is not supported"});
    std::filesystem::remove(d.file("model.safetensors"));
    expect_error([&] { read_hf(d.path()); }, errc::ERRC_IO, {"no model.safetensors"});
}

TEST(read_hf, tokenizer_json_llama_style) {
    temp_dir d;
    write_folder(d, tiny_config(), tiny_tensors(false, false));
    json tok;
    tok["model"] = {{"type", "BPE"}, {"byte_fallback", true},
                    {"vocab", {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"<0x0A>", 3}, {"\xe2\x96\x81", 4}, {"a", 5},
                               {"b", 6}, {"ab", 7}, {"\xe2\x96\x81" "ab", 8}}},
                    {"merges", json::array({"a b", json::array({"\xe2\x96\x81", "ab"})})}};
    tok["added_tokens"] = json::array({{{"id", 1}, {"content", "<s>"}, {"special", true}},
                                       {{"id", 2}, {"content", "</s>"}, {"special", true}},
                                       {{"id", 10}, {"content", "<tool>"}, {"special", false}}});
    test::write_file(d.file("tokenizer.json"), tok.dump());
    json tc = {{"bos_token", {{"content", "<s>"}}}, {"eos_token", "</s>"}, {"add_bos_token", true},
               {"chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}"}};
    test::write_file(d.file("tokenizer_config.json"), tc.dump());
    model_file m = read_hf(d.path());
    EXPECT_EQ(m.find("tokenizer.ggml.model")->s, "llama");
    EXPECT_EQ(m.find("tokenizer.ggml.pre")->s, "default");
    const auto& toks = m.find("tokenizer.ggml.tokens")->as_array("t");
    ASSERT_EQ(toks.size(), 16u);  // padded up to vocab_size
    EXPECT_EQ(toks[0].s, "<unk>");
    EXPECT_EQ(toks[8].s, "\xe2\x96\x81" "ab");
    EXPECT_EQ(toks[9].s, "[PAD9]");
    EXPECT_EQ(toks[10].s, "<tool>");
    const auto& types = m.find("tokenizer.ggml.token_type")->as_array("t");
    EXPECT_EQ(int(m.find("tokenizer.ggml.token_type")->arr_type), int(gguf_type::GGUF_INT32));
    std::vector<int64_t> tv;
    for (const auto& v : types) tv.push_back(v.i);
    EXPECT_EQ(tv, (std::vector<int64_t>{1, 3, 3, 6, 1, 1, 1, 1, 1, 5, 4, 5, 5, 5, 5, 5}));
    const auto& scores = m.find("tokenizer.ggml.scores")->as_array("s");
    ASSERT_EQ(scores.size(), 16u);
    // scores are minus the rank of the merge that makes the token ("a b" -> "ab" is rank 0, "▁ ab" rank 1)
    EXPECT_FLOAT_EQ(float(scores[7].f), 0.0f);
    EXPECT_FLOAT_EQ(float(scores[8].f), -1.0f);
    EXPECT_FLOAT_EQ(float(scores[5].f), 0.0f);  // single characters need no merge
    const auto& merges = m.find("tokenizer.ggml.merges")->as_array("m");
    ASSERT_EQ(merges.size(), 2u);
    EXPECT_EQ(merges[0].s, "a b");
    EXPECT_EQ(merges[1].s, "\xe2\x96\x81 ab");
    EXPECT_EQ(m.find("tokenizer.ggml.bos_token_id")->u, 1u);
    EXPECT_EQ(m.find("tokenizer.ggml.eos_token_id")->u, 2u);
    EXPECT_EQ(m.find("tokenizer.ggml.unknown_token_id")->u, 0u);
    EXPECT_TRUE(m.find("tokenizer.ggml.add_bos_token")->as_bool("x"));
    EXPECT_EQ(m.find("tokenizer.chat_template")->s, "{% for m in messages %}{{ m.content }}{% endfor %}");

    // an HF folder written as GGUF keeps all of it
    write_gguf(d.file("out.gguf"), m);
    model_file g = read_gguf(d.file("out.gguf"));
    EXPECT_EQ(g.find("tokenizer.ggml.tokens")->arr[10].s, "<tool>");
    EXPECT_EQ(g.tensors.size(), m.tensors.size());

    test::write_file(d.file("tokenizer.json"), std::string("{\"model\": {\"type\": \"BPE\", \"vocab\": [}"));
    expect_error([&] { read_hf(d.path()); }, errc::ERRC_FORMAT, {"tokenizer.json: invalid JSON"});
    tok["model"]["vocab"]["zz"] = 99;
    test::write_file(d.file("tokenizer.json"), tok.dump());
    expect_error([&] { read_hf(d.path()); }, errc::ERRC_FORMAT, {"tokenizer.json", "outside the model vocabulary"});
}

TEST(read_hf, tokenizer_json_gpt2_style) {
    temp_dir d;
    write_folder(d, tiny_config(), tiny_tensors(false, false));
    json tok;
    tok["model"] = {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}};
    tok["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern",
            {{"Regex",
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}}},
          {{"type", "ByteLevel"}}}}};
    tok["added_tokens"] = json::array({{{"id", 3}, {"content", "<|end|>"}, {"special", true}}});
    test::write_file(d.file("tokenizer.json"), tok.dump());
    model_file m = read_hf(d.path());
    EXPECT_EQ(m.find("tokenizer.ggml.model")->s, "gpt2");
    EXPECT_EQ(m.find("tokenizer.ggml.pre")->s, "llama-bpe");
    EXPECT_EQ(m.find("tokenizer.ggml.scores"), nullptr);
    EXPECT_EQ(m.find("tokenizer.ggml.token_type")->arr[3].i, 3);
    EXPECT_EQ(m.find("tokenizer.ggml.token_type")->arr[0].i, 1);
    EXPECT_EQ(m.find("tokenizer.ggml.merges")->arr.size(), 1u);
}

}  // namespace
}  // namespace fathom::io
